import Domain
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOWebSocket

/// The request context of the WebSocket router.
public struct StreamRequestContext: RequestContext, WebSocketRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let webSocket: WebSocketHandlerReference<Self>

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.webSocket = .init()
    }
}

/// GET /v1/stream: the live event stream (protocol in docs/STREAM.md).
struct StreamRoutes {
    let verifier: TokenVerifier
    let dispatcher: EventDispatcher
    let typing: TypingService

    /// Close codes (RFC 6455 allows 4000–4999 for applications).
    enum CloseCode {
        static let unauthorized: UInt16 = 4401
        static let authTimeout: UInt16 = 4408
    }

    func register(on router: Router<StreamRequestContext>) {
        router.ws("v1/stream", shouldUpgrade: { request, _ in
            // A bad token, or a bad cursor, is refused before the upgrade with a 401/422
            // problem. No token at all is allowed: the first frame must then be `auth`.
            _ = try Self.cursor(request)
            if let token = Self.token(request) { _ = try await verifier.verify(token) }
            return .upgrade([:])
        }, onUpgrade: { inbound, outbound, context in
            try await session(inbound: inbound, outbound: outbound, request: context.request, logger: context.logger)
        })
    }

    static func token(_ request: Request) -> String? {
        bearerToken(request) ?? request.uri.queryParameters["access_token"].map(String.init).flatMap { $0.isEmpty ? nil : $0 }
    }

    static func cursor(_ request: Request) throws -> Int64? {
        try request.queryInt("after", range: 0...Int64.max)
    }

    private func session(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, request: Request, logger: Logger) async throws {
        var frames = inbound.messages(maxSize: 16 * 1024).makeAsyncIterator()
        let caller: Caller
        do {
            caller = try await authenticate(request, frames: &frames, outbound: outbound)
        } catch let failure as StreamFailure {
            try await outbound.write(.text(Frames.error(code: failure.code, message: failure.message)))
            try await outbound.close(.unknown(failure.closeCode), reason: failure.code)
            return
        }
        let (subscription, cursor) = try await dispatcher.subscribe(caller, after: try Self.cursor(request))
        try await outbound.write(.text(Frames.hello(cursor: cursor, caller: caller)))
        var logger = logger
        logger[metadataKey: "tenant"] = "\(caller.tenant.slug)"
        logger[metadataKey: "user"] = "\(caller.userID)"
        let reader = Reader(caller: caller, subscription: subscription, typing: typing, logger: logger)
        // The writer drains the subscription's outbox into the socket; when the dispatcher
        // ends the stream on purpose (slow consumer, shutdown) it closes the socket with that code.
        let writer = Task {
            for await frame in subscription.frames {
                do {
                    try await outbound.write(.text(Frames.encode(frame)))
                } catch {
                    break
                }
                subscription.didWrite(frame)
            }
            if let termination = subscription.termination, termination != .clientClosed {
                logger.info("closing stream", metadata: ["code": "\(termination.closeCode)", "reason": "\(termination.reason)"])
                try? await outbound.close(.unknown(termination.closeCode), reason: termination.reason)
            }
        }
        await reader.read(&frames)
        subscription.terminate(.clientClosed)
        dispatcher.unsubscribe(subscription)
        await writer.value
    }

    struct StreamFailure: Error {
        let code: String
        let message: String
        let closeCode: UInt16
    }

    /// The caller from the header or `access_token`, or from a first `auth` frame within 10 s.
    private func authenticate(_ request: Request, frames: inout WebSocketMessageIterator, outbound: WebSocketOutboundWriter) async throws -> Caller {
        if let token = Self.token(request) { return try await verify(token) }
        // No token in the request: the first frame must bring one, within 10 s.
        let timer = Task {
            try await Task.sleep(for: .seconds(10))
            try await outbound.write(.text(Frames.error(code: "auth_timeout", message: "send an auth frame first")))
            try await outbound.close(.unknown(CloseCode.authTimeout), reason: "auth_timeout")
        }
        defer { timer.cancel() }
        guard let message = try await frames.next() else {
            throw StreamFailure(code: "auth_timeout", message: "send an auth frame first", closeCode: CloseCode.authTimeout)
        }
        timer.cancel()
        guard case .text(let text) = message, let frame = ClientFrame.decode(text), frame.type == "auth", let token = frame.token else {
            throw StreamFailure(code: "auth_required", message: "the first frame must be {\"type\":\"auth\",\"token\":…}", closeCode: CloseCode.unauthorized)
        }
        return try await verify(token)
    }

    private func verify(_ token: String) async throws -> Caller {
        do {
            return try await verifier.verify(token)
        } catch let problem as Problem {
            throw StreamFailure(code: problem.code, message: problem.detail ?? "invalid token", closeCode: CloseCode.unauthorized)
        }
    }
}

typealias WebSocketMessageIterator = WebSocketInboundMessageStream.AsyncIterator

/// Handles what the client sends: `typing`, `ping`.
struct Reader: Sendable {
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

struct ClientFrame: Decodable {
    let type: String
    let token: String?
    let sessionId: String?

    static func decode(_ text: String) -> ClientFrame? {
        try? JSONDecoder().decode(ClientFrame.self, from: Data(text.utf8))
    }
}

/// Server frames as JSON text (docs/STREAM.md).
enum Frames {
    static func hello(cursor: Int64?, caller: Caller) -> String {
        object([
            "type": "hello", "cursor": cursor.map { String($0) }, "tenant": caller.tenant.slug.rawValue,
            "userId": caller.userID, "role": caller.role.rawValue,
        ])
    }

    static func error(code: String, message: String) -> String {
        object(["type": "error", "code": code, "message": message])
    }

    static func encode(_ frame: StreamFrame) -> String {
        switch frame {
        case .event(let event):
            // `data` is stored JSON; it is spliced as is, not re-encoded.
            var text = #"{"type":"event","id":"\#(event.id)","event":"\#(event.type)""#
            if let session = event.sessionID { text += #","sessionId":"\#(session)""# }
            return text + #","data":\#(event.data)}"#
        case .typing(let sessionID, let userID, let name, let until):
            return object(["type": "typing", "sessionId": sessionID, "userId": userID, "name": name, "until": ParleyJSON.format(until)])
        case .error(let code, let message):
            return error(code: code, message: message)
        case .pong:
            return #"{"type":"pong"}"#
        }
    }

    private static func object(_ fields: [String: String?]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(fields)).map { String(decoding: $0, as: UTF8.self) } ?? #"{"type":"error"}"#
    }
}
