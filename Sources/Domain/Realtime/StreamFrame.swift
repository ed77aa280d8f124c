import Foundation

/// An event as stored and as delivered: `id` is the client's resume cursor.
public struct StoredEvent: Sendable, Hashable {
    public let id: Int64
    /// The transaction id, the first half of the delivery order (xid, id).
    let xid: String
    public let type: String
    public let sessionID: String?
    public let recipients: [String]
    /// The event's JSON payload, as stored.
    public let data: String
}

/// What a subscriber's socket is sent (docs/STREAM.md).
public enum StreamFrame: Sendable {
    case event(StoredEvent)
    case typing(sessionID: String, userID: String, name: String, until: Date)
    case error(code: String, message: String)
    case pong
}

/// Ends a stream on purpose; the WebSocket closes with `closeCode`.
public struct StreamTermination: Sendable, Hashable {
    public let closeCode: UInt16
    public let reason: String

    public init(closeCode: UInt16, reason: String) {
        self.closeCode = closeCode
        self.reason = reason
    }

    /// 1000: the client closed the stream.
    public static let clientClosed = StreamTermination(closeCode: 1000, reason: "client closed")

    /// 4008: the client fell too far behind; resume with `?after=<last event id>`.
    public static func slowConsumer(lastDelivered: Int64?) -> StreamTermination {
        StreamTermination(closeCode: 4008, reason: "slow consumer; resume with after=\(lastDelivered.map(String.init) ?? "")")
    }

    /// 1001: the server is shutting down; reconnect (to another instance) with `after`.
    public static let goingAway = StreamTermination(closeCode: 1001, reason: "server shutting down")
}
