import Foundation
import NIOCore

/// An event as stored and as delivered. `position` is its place in the brokerage's delivery
/// order and the client's resume cursor (the frame's `id`).
///
/// `wire` is the event's whole WebSocket text frame — header and JSON text (docs/STREAM.md) —
/// built once when the event is read: every socket it goes to is handed the same bytes (a
/// `ByteBuffer` is shared, not copied), so fan-out costs no encoding per socket, not even of
/// the frame header (docs/decisions/0020-stream-fan-out.md, 0040). `frame` is its text: a
/// view of the same storage.
public struct StoredEvent: Sendable, Hashable {
    public let position: Int64
    public let type: String
    public let sessionID: String?
    public let recipients: [String]
    public let wire: ByteBuffer

    /// The frame's JSON text (`wire` without its header).
    public var frame: ByteBuffer {
        let header = Self.headerLength(wire)
        return wire.getSlice(at: wire.readerIndex + header, length: wire.readableBytes - header) ?? ByteBuffer()
    }

    /// `data` is the event's JSON payload as stored; it is spliced into the frame as is.
    public init(position: Int64, type: String, sessionID: String?, recipients: [String], data: String) {
        self.position = position
        self.type = type
        self.sessionID = sessionID
        self.recipients = recipients
        var text = #"{"type":"event","id":"\#(position)","event":"\#(type)""#
        if let sessionID { text += #","sessionId":"\#(sessionID)""# }
        text += #","data":\#(data)}"#
        self.wire = Self.textFrame(text)
    }

    /// A server's WebSocket text frame (RFC 6455 §5.2: FIN, opcode 1, no mask) holding `text`.
    public static func textFrame(_ text: String) -> ByteBuffer {
        let length = text.utf8.count
        var buffer = ByteBuffer()
        buffer.reserveCapacity(length + 10)
        buffer.writeInteger(UInt8(0x81))
        if length < 126 {
            buffer.writeInteger(UInt8(length))
        } else if length <= Int(UInt16.max) {
            buffer.writeInteger(UInt8(126))
            buffer.writeInteger(UInt16(length))
        } else {
            buffer.writeInteger(UInt8(127))
            buffer.writeInteger(UInt64(length))
        }
        buffer.writeString(text)
        return buffer
    }

    /// The header's length in a frame `textFrame` built: 2, 4 or 10 bytes, by its length byte.
    private static func headerLength(_ wire: ByteBuffer) -> Int {
        switch wire.getInteger(at: wire.readerIndex + 1, as: UInt8.self) {
        case 126: 4
        case 127: 10
        default: 2
        }
    }
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

    /// 4008: the client fell too far behind. The close reason names the cursor to resume from
    /// (`Subscription.closeReason`): the last event queued, which the socket carries ahead of
    /// the close frame.
    public static let slowConsumer = StreamTermination(closeCode: 4008, reason: "slow consumer")

    /// 1001: the server is shutting down; reconnect (to another instance) with `after`.
    public static let goingAway = StreamTermination(closeCode: 1001, reason: "server shutting down")

    /// 4401: the stream's token expired, its signing key was retired, or (a visitor's token)
    /// its chat request was declined or expired. `code` is the problem code a new request with
    /// the same token would get.
    public static func credentialsEnded(_ code: String) -> StreamTermination {
        StreamTermination(closeCode: 4401, reason: code)
    }

    /// 1013 (try again later): the events after the client's cursor could not be replayed (the
    /// database failed). The stream ends rather than going on live past events it could not
    /// send; the close reason names the cursor to resume from (`Subscription.closeReason`): the
    /// last event replayed ahead of the close.
    public static let replayFailed = StreamTermination(closeCode: 1013, reason: "replay failed")

    /// 1013 (try again later): the stream's brokerage became unavailable while it was open (a
    /// migration of it failed, decision 0016). The token is still good: the client reconnects
    /// after a pause, as when a stream is refused for the same reason at its opening.
    public static func unavailable(_ code: String) -> StreamTermination {
        StreamTermination(closeCode: 1013, reason: code)
    }
}

/// Caps on live streams (docs/decisions/0015).
public struct StreamLimits: Sendable {
    /// Streams open in this process at most.
    public var maxStreams: Int
    /// Streams one user (of one brokerage) may have open in this process at most.
    public var maxStreamsPerUser: Int

    public init(maxStreams: Int = 10_000, maxStreamsPerUser: Int = 16) {
        self.maxStreams = maxStreams
        self.maxStreamsPerUser = maxStreamsPerUser
    }
}

/// A stream refused by `StreamLimits`.
public enum StreamLimitReached: Error, Sendable {
    /// The process has `maxStreams` open: 503 `server_busy` / close 1013 (try again later).
    case process
    /// The user has `maxStreamsPerUser` open: 429 `too_many_streams` / close 4429.
    case user
}
