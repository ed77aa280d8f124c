import Foundation

/// One message as a member sees it.
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
    public let clientMessageId: String?
    /// The text exactly as sent.
    public let text: String
    /// A safe HTML rendering of the formatting subset (see MessageFormatter).
    public let html: String
    public let listing: Listing?
    /// The files sent with the message, in order.
    public let attachments: [Attachment]
    public let createdAt: Date
    /// For the caller's own messages: ✓ sent or ✓✓ read by every other member.
    public let delivery: Delivery?
    /// For the caller's own messages: the other members who have read it.
    public let readBy: [String]?
}
