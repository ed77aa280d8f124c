import Dispatch
import Domain
import Foundation
import HTTPTypes
import HummingbirdWSClient
import Logging
import NIOWebSocket
import Synchronization

/// A real WebSocket client on /v1/stream, for end-to-end tests; `next` takes frames in order.
public final class TestStream: Sendable {
    /// Frames received and not yet taken, with their arrival time (uptime ns), and the one
    /// waiting reader. (Not an AsyncStream: a timed-out `next` must not end the stream, and
    /// cancelling an AsyncStream's waiting iterator finishes it.)
    private let inbox = Mutex<Inbox>(Inbox())

    private struct Inbox {
        var frames: [(text: String, arrived: UInt64)] = []
        var waiter: (id: UInt64, continuation: CheckedContinuation<(text: String, arrived: UInt64)?, Never>)?
        var nextWaiterID: UInt64 = 0
        var finished = false
    }
    private let outbound = Mutex<WebSocketOutboundWriter?>(nil)
    private let closed = Mutex<(code: UInt16?, reason: String?, done: Bool)>((nil, nil, false))
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
                        if case .text(let text) = message { stream.deliver(text) }
                    }
                }
                stream.closed.withLock { $0 = (close.map { UInt16(webSocketErrorCode: $0.closeCode) }, close?.reason, true) }
                stream.finish()
                connected.continuation.finish()
            }
        }
        for await _ in connected.stream { break }
        return stream
    }

    /// The next frame, decoded, or nil if none comes within `timeout`, the stream ended, or the
    /// frame is not a JSON object with a `type`.
    /// Generous by default: the suite runs its tests in parallel on two cores.
    public func next(timeout: Duration = .seconds(20)) async -> StreamMessage? {
        guard let text = await nextText(timeout: timeout) else { return nil }
        return StreamMessage(text)
    }

    /// Like `nextEvent`, with the frame's arrival time.
    public func nextEventTimed(_ types: Set<String>, timeout: Duration = .seconds(20)) async -> (frame: StreamMessage, arrived: UInt64)? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            guard let (text, arrived) = await nextTimed(timeout: deadline - ContinuousClock.now) else { return nil }
            guard let frame = StreamMessage(text) else { continue }
            if frame.type == "event", let type = frame.event, types.contains(type) { return (frame, arrived) }
        }
        return nil
    }

    public func nextText(timeout: Duration = .seconds(20)) async -> String? {
        await nextTimed(timeout: timeout)?.text
    }

    /// The next frame and when it arrived (DispatchTime uptime nanoseconds), or nil on timeout.
    public func nextTimed(timeout: Duration = .seconds(20)) async -> (text: String, arrived: UInt64)? {
        let id: UInt64 = inbox.withLock { $0.nextWaiterID += 1; return $0.nextWaiterID }
        return await withCheckedContinuation { continuation in
            let immediate = inbox.withLock { inbox -> (text: String, arrived: UInt64)?? in
                if !inbox.frames.isEmpty { return .some(inbox.frames.removeFirst()) }
                if inbox.finished { return .some(nil) }
                inbox.waiter = (id, continuation)
                return nil
            }
            if let immediate {
                continuation.resume(returning: immediate)
                return
            }
            Task {
                try? await Task.sleep(for: timeout)
                let expired = inbox.withLock { inbox -> CheckedContinuation<(text: String, arrived: UInt64)?, Never>? in
                    guard let waiter = inbox.waiter, waiter.id == id else { return nil }
                    inbox.waiter = nil
                    return waiter.continuation
                }
                expired?.resume(returning: nil)
            }
        }
    }

    private func deliver(_ text: String) {
        let arrived = DispatchTime.now().uptimeNanoseconds
        let waiter = inbox.withLock { inbox -> CheckedContinuation<(text: String, arrived: UInt64)?, Never>? in
            if let waiter = inbox.waiter {
                inbox.waiter = nil
                return waiter.continuation
            }
            inbox.frames.append((text, arrived))
            return nil
        }
        waiter?.resume(returning: (text, arrived))
    }

    private func finish() {
        let waiter = inbox.withLock { inbox -> CheckedContinuation<(text: String, arrived: UInt64)?, Never>? in
            inbox.finished = true
            defer { inbox.waiter = nil }
            return inbox.waiter?.continuation
        }
        waiter?.resume(returning: nil)
    }

    /// The next `event` frame of one of `types` (skipping others), or nil.
    public func nextEvent(_ types: Set<String>, timeout: Duration = .seconds(20)) async -> StreamMessage? {
        await nextEventTimed(types, timeout: timeout)?.frame
    }

    public func send(_ text: String) async throws {
        try await outbound.withLock { $0 }?.write(.text(text))
    }

    /// The close code the server sent, once the connection is over.
    public var closeCode: UInt16? { closed.withLock { $0.code } }
    /// The close reason the server sent, once the connection is over.
    public var closeReason: String? { closed.withLock { $0.reason } }
    public var isClosed: Bool { closed.withLock { $0.done } }

    /// Waits until the connection is over (or `limit` passes); true if it is.
    public func waitClosed(within limit: Duration = .seconds(20)) async -> Bool {
        let deadline = ContinuousClock.now + limit
        while !isClosed, ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        return isClosed
    }

    public func close() async {
        try? await outbound.withLock { $0 }?.close(.normalClosure, reason: nil)
        await task.withLock { $0 }?.value
    }
}

/// One server frame of /v1/stream (docs/STREAM.md): `hello`, `event`, `typing`, `error` or
/// `pong`, with the members each kind has; an event's `data` is decoded on demand into the
/// Domain type it carries (`Message`, `Badge`, `Session`, `ChatRequest`, …).
public struct StreamMessage: Sendable {
    /// The frame as received.
    public let text: String
    public let type: String
    /// Events: the event id (resume with `?after=`) and its type (`message.created`, …).
    public let id: String?
    public let event: String?
    /// Events of a session, and typing frames.
    public let sessionId: String?
    /// hello: the caller; typing: the typist.
    public let userId: String?
    public let name: String?
    public let tenant: String?
    public let role: String?
    public let cursor: String?
    public let until: Date?
    /// error frames.
    public let code: String?
    public let message: String?

    private struct Fields: Decodable {
        let type: String
        let id: String?, event: String?, sessionId: String?, userId: String?, name: String?
        let tenant: String?, role: String?, cursor: String?, until: Date?, code: String?, message: String?
    }

    private struct Envelope<T: Decodable>: Decodable {
        let data: T
    }

    /// Nil if `text` is not a JSON object with a string `type`.
    public init?(_ text: String) {
        guard let fields = try? ParleyJSON.decoder().decode(Fields.self, from: Data(text.utf8)) else { return nil }
        self.text = text
        type = fields.type
        id = fields.id
        event = fields.event
        sessionId = fields.sessionId
        userId = fields.userId
        name = fields.name
        tenant = fields.tenant
        role = fields.role
        cursor = fields.cursor
        until = fields.until
        code = fields.code
        message = fields.message
    }

    /// An event's `data` as `type`; throws if the frame has none or it is not that type.
    public func data<T: Decodable>(_ type: T.Type) throws -> T {
        try ParleyJSON.decoder().decode(Envelope<T>.self, from: Data(text.utf8)).data
    }
}
