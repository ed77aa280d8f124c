import Domain
import HummingbirdWebSocket
import Logging

/// Handles what the client sends: `typing`, `ping`.
struct StreamReader: Sendable {
    let caller: Caller
    let subscription: Subscription
    let typing: TypingService
    let logger: Logger

    func read(_ frames: inout WebSocketMessageIterator) async {
        while true {
            let message: WebSocketMessage?
            do { message = try await frames.next() } catch { return }
            guard let message else { return }
            guard case .text(let text) = message, let frame = ClientFrame.decode(text) else {
                subscription.push(.error(code: "invalid_frame", message: "frames are JSON objects with a type"))
                continue
            }
            switch frame.type {
            case "ping":
                subscription.push(.pong)
            case "typing":
                guard let sessionID = frame.sessionId else {
                    subscription.push(.error(code: "invalid_frame", message: "typing needs sessionId"))
                    continue
                }
                do {
                    _ = try await typing.typing(caller, sessionID: sessionID)
                } catch {
                    subscription.push(.error(code: "session_not_found", message: "no such session"))
                }
            case "auth":
                subscription.push(.error(code: "already_authenticated", message: "this stream is authenticated"))
            default:
                subscription.push(.error(code: "unknown_frame", message: "unknown frame type"))
            }
        }
    }
}
