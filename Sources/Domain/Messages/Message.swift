import Foundation

/// One message as a member sees it.
///
/// The shape is defined once, in SQL: `message_json()` (sql/tenant/functions/message_json.sql)
/// builds the object every member may see — the `message.created` event carries it as is — and
/// the REST API decodes it here and adds the caller's own fields with `viewed(by:members:)`.
public struct Message: Codable, Sendable, Hashable {
    public struct Sender: Codable, Sendable, Hashable {
        public let userId: String
        public let name: String
        public let role: String
    }

    public enum Delivery: String, Codable, Sendable {
        /// ✓ — stored and delivered to the session.
        case sent
        /// ✓✓ — every other member has read it.
        case read
    }

    public let id: String
    public let sessionId: String
    /// Per-session sequence number: 1, 2, 3, … with no gaps.
    public let seq: Int64
    public let sender: Sender
    /// The sender's idempotency key (only shown to the sender).
    public private(set) var clientMessageId: String?
    /// The text exactly as sent.
    public let text: String
    /// A safe HTML rendering of the formatting subset (see MessageFormatter).
    public let html: String
    public let listing: Listing?
    /// The files sent with the message, in order.
    public let attachments: [Attachment]
    public let createdAt: Date
    /// For the caller's own messages: ✓ sent or ✓✓ read by every other member.
    public private(set) var delivery: Delivery?
    /// For the caller's own messages: the other members who have read it.
    public private(set) var readBy: [String]?

    enum CodingKeys: String, CodingKey {
        case id, sessionId, seq, sender, clientMessageId, text, html, listing, attachments, createdAt, delivery, readBy
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(String.self, forKey: .id)
        sessionId = try container.decode(String.self, forKey: .sessionId)
        seq = try container.decode(Int64.self, forKey: .seq)
        sender = try container.decode(Sender.self, forKey: .sender)
        clientMessageId = try container.decodeIfPresent(String.self, forKey: .clientMessageId)
        text = try container.decode(String.self, forKey: .text)
        // Messages stored before their HTML was (migration 011) are rendered when read.
        html = try container.decodeIfPresent(String.self, forKey: .html) ?? MessageFormatter.html(text)
        listing = try container.decodeIfPresent(Listing.self, forKey: .listing)
        attachments = try container.decodeIfPresent([Attachment].self, forKey: .attachments) ?? []
        createdAt = try container.decode(Date.self, forKey: .createdAt)
        delivery = try container.decodeIfPresent(Delivery.self, forKey: .delivery)
        readBy = try container.decodeIfPresent([String].self, forKey: .readBy)
    }

    /// The message as `viewer` sees it, given every member's read position: the sender alone
    /// sees `clientMessageId`, ✓ / ✓✓ (`delivery`) and who has read it (`readBy`).
    public func viewed(by viewer: String, members: [String: Int64]) -> Message {
        var viewed = self
        guard sender.userId == viewer else {
            viewed.clientMessageId = nil
            viewed.delivery = nil
            viewed.readBy = nil
            return viewed
        }
        let others = members.filter { $0.key != viewer }
        let readers = others.filter { $0.value >= seq }.map(\.key).sorted()
        viewed.delivery = !others.isEmpty && readers.count == others.count ? .read : .sent
        viewed.readBy = readers
        return viewed
    }
}

/// The same JSON as the encoder writes (keys in sorted order): history pages and a send's answer.
extension Message: JSONWritable {
    public func write(to json: inout JSONWriter) {
        json.object { json in
            json.field("attachments", attachments)
            json.field("clientMessageId", clientMessageId)
            json.field("createdAt", createdAt)
            json.field("delivery", delivery?.rawValue)
            json.field("html", html)
            json.field("id", id)
            json.encoded("listing", listing)
            if let readBy { json.field("readBy", readBy) }
            json.field("sender", sender)
            json.field("seq", seq)
            json.field("sessionId", sessionId)
            json.field("text", text)
        }
    }
}

extension Message.Sender: JSONWritable {
    public func write(to json: inout JSONWriter) {
        json.object { json in
            json.field("name", name)
            json.field("role", role)
            json.field("userId", userId)
        }
    }
}
