import Foundation
import HTTPTypes
import HummingbirdWSClient
import Logging
import NIOWebSocket
import Synchronization

/// A real WebSocket client on /v1/stream, for end-to-end tests; `next` takes frames in order.
public final class TestStream: Sendable {
    /// Frames received and not yet taken. (Not an AsyncStream: a timed-out `next` must not end
    /// the stream, and cancelling an AsyncStream's waiting iterator finishes it.)
    private let received = Mutex<[String]>([])
    private let outbound = Mutex<WebSocketOutboundWriter?>(nil)
    private let closed = Mutex<(code: UInt16?, done: Bool)>((nil, false))
    private let task = Mutex<Task<Void, Never>?>(nil)

    private init() {}

    /// Connects with the token in the Authorization header (or none, to test first-frame auth).
    public static func connect(port: Int, token: String?, query: String = "") async throws -> TestStream {
        let stream = TestStream()
        var headers = HTTPFields()
        if let token { headers[.authorization] = "Bearer \(token)" }
        let configuration = WebSocketClientConfiguration(maxFrameSize: 1 << 20, additionalHeaders: headers)
        let url = "ws://127.0.0.1:\(port)/v1/stream" + (query.isEmpty ? "" : "?" + query)
        let connected = AsyncStream.makeStream(of: Void.self)
        stream.task.withLock {
            $0 = Task {
                let close = try? await WebSocketClient.connect(url: url, configuration: configuration, logger: Logger(label: "test-stream")) { inbound, outbound, _ in
                    stream.outbound.withLock { $0 = outbound }
                    connected.continuation.yield()
                    for try await message in inbound.messages(maxSize: 1 << 22) {
                        if case .text(let text) = message { stream.received.withLock { $0.append(text) } }
                    }
                }
                stream.closed.withLock { $0 = (close.map { UInt16(webSocketErrorCode: $0.closeCode) }, true) }
                connected.continuation.finish()
            }
        }
        for await _ in connected.stream { break }
        return stream
    }

    /// The next frame as a JSON object, or nil if none comes within `timeout` or the stream ended.
    public func next(timeout: Duration = .seconds(5)) async -> [String: Any]? {
        guard let text = await nextText(timeout: timeout) else { return nil }
        return (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any]
    }

    public func nextText(timeout: Duration = .seconds(5)) async -> String? {
        let deadline = ContinuousClock.now + timeout
        while true {
            let frame = received.withLock { $0.isEmpty ? nil : $0.removeFirst() }
            if let frame { return frame }
            if isClosed || ContinuousClock.now >= deadline { return nil }
            try? await Task.sleep(for: .milliseconds(2))
        }
    }

    /// The next `event` frame of one of `types` (skipping others), or nil.
    public func nextEvent(_ types: Set<String>, timeout: Duration = .seconds(5)) async -> [String: Any]? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            guard let frame = await next(timeout: deadline - ContinuousClock.now) else { return nil }
            if frame["type"] as? String == "event", let type = frame["event"] as? String, types.contains(type) { return frame }
        }
        return nil
    }

    public func send(_ text: String) async throws {
        try await outbound.withLock { $0 }?.write(.text(text))
    }

    /// The close code the server sent, once the connection is over.
    public var closeCode: UInt16? { closed.withLock { $0.code } }
    public var isClosed: Bool { closed.withLock { $0.done } }

    public func close() async {
        try? await outbound.withLock { $0 }?.close(.normalClosure, reason: nil)
        await task.withLock { $0 }?.value
    }
}
