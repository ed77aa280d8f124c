import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import Synchronization

/// Limits on the process's TCP connections (AppConfiguration; docs/decisions/0015).
public struct ConnectionLimits: Sendable {
    /// Open connections at most (HTTP and upgraded WebSocket alike); one more is answered
    /// 503 `too_many_connections` and closed.
    public var maxConnections: Int
    /// A new connection must deliver its first request head within this (a slowloris that
    /// dribbles header bytes is closed). Later requests on the connection fall under `idle`.
    public var headerTimeout: Duration
    /// An HTTP connection that moves no request bytes for this long — between requests, or in
    /// the middle of a head or body — is closed. (Not while a response is being produced.)
    public var idleTimeout: Duration

    public init(maxConnections: Int = 4096, headerTimeout: Duration = .seconds(30), idleTimeout: Duration = .seconds(60)) {
        self.maxConnections = maxConnections
        self.headerTimeout = headerTimeout
        self.idleTimeout = idleTimeout
    }
}

/// The process's count of open connections.
final class ConnectionGate: Sendable {
    let limit: Int
    private let open = Atomic<Int>(0)

    init(limit: Int) { self.limit = limit }

    var count: Int { open.load(ordering: .relaxed) }

    /// Counts a connection in; false if it is one too many (it still counts until `leave`).
    func enter() -> Bool { open.add(1, ordering: .relaxed).newValue <= limit }
    func leave() { open.subtract(1, ordering: .relaxed) }
}

/// First in every connection's pipeline, on raw bytes:
/// - counts the connection against the process's limit; one too many gets a canned 503
///   `too_many_connections` problem for whatever it sends first, and is closed;
/// - closes a connection whose first request head (up to the blank line) has not arrived
///   within the header timeout. After that it only passes bytes through (later requests are
///   watched by Hummingbird's idle timeout; an upgraded WebSocket by its pings).
final class ConnectionGuard: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let gate: ConnectionGate
    private let headerTimeout: TimeAmount
    private var admitted = true
    private var answered = false
    /// Still waiting for the end of the first head; the last bytes seen (a CRLFCRLF may span reads).
    private var awaitingHead = true
    private var tail: [UInt8] = []
    private var headerDeadline: Scheduled<Void>?

    init(gate: ConnectionGate, headerTimeout: TimeAmount) {
        self.gate = gate
        self.headerTimeout = headerTimeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        admitted = gate.enter()
        guard admitted else { return }
        let loop = context.eventLoop.assumeIsolated()
        let context = NIOLoopBound(context, eventLoop: context.eventLoop)
        headerDeadline = loop.scheduleTask(in: headerTimeout) { [weak self] in
            guard let self, self.awaitingHead else { return }
            context.value.close(promise: nil)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        headerDeadline?.cancel()
        gate.leave()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard admitted else {
            // Answer the first bytes, then close; nothing reaches the HTTP decoder.
            guard !answered else { return }
            answered = true
            let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
            context.writeAndFlush(wrapInboundOut(Self.tooManyConnections)).whenComplete { _ in
                bound.value.close(promise: nil)
            }
            return
        }
        if awaitingHead {
            let buffer = unwrapInboundIn(data)
            tail += buffer.readableBytesView.suffix(4096)
            if Self.containsEndOfHead(tail) {
                awaitingHead = false
                headerDeadline?.cancel()
                tail = []
            } else if tail.count > 8 {
                tail.removeFirst(tail.count - 3)
            }
        }
        context.fireChannelRead(data)
    }

    static func containsEndOfHead(_ bytes: [UInt8]) -> Bool {
        guard bytes.count >= 4 else { return false }
        for index in 0...(bytes.count - 4) where bytes[index] == 13 && bytes[index + 1] == 10 && bytes[index + 2] == 13 && bytes[index + 3] == 10 {
            return true
        }
        return false
    }

    static let tooManyConnections: ByteBuffer = {
        let body = #"{"code":"too_many_connections","detail":"the server has too many open connections; retry shortly","status":503,"title":"Service Unavailable","type":"urn:parley:problem:too_many_connections"}"#
        let head = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/problem+json\r\nCache-Control: no-store\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: \(body.utf8.count)\r\n\r\n"
        return ByteBuffer(string: head + body)
    }()
}
