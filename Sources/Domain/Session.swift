import Foundation

/// A conversation between an agent and a client, or between agents, as one member sees it.
public struct Session: Codable, Sendable, Hashable {
    public enum Kind: String, Codable, Sendable, CaseIterable {
        case client, agent
    }

    public enum Status: String, Codable, Sendable, CaseIterable {
        case active, closed, archived
    }

    public struct Member: Codable, Sendable, Hashable {
        public let userId: String
        public let name: String
        public let role: String
        public let lastReadSeq: Int64
    }

    public struct LastMessage: Codable, Sendable, Hashable {
        public let seq: Int64
        public let preview: String
        public let senderId: String
        public let createdAt: Date
    }

    public let id: String
    public let kind: Kind
    /// Agent-to-agent sessions carry a badge in the apps.
    public let agentToAgent: Bool
    public let status: Status
    public let members: [Member]
    /// The other members' names, for the session list ("Maria Lopez, Sam Lee").
    public let title: String
    public let contactId: String?
    public let lastMessage: LastMessage?
    /// The highest message sequence number in the session.
    public let lastSeq: Int64
    /// The caller's read position.
    public let lastReadSeq: Int64
    /// Messages after the caller's read position (at least 1 when marked unread).
    public let unreadCount: Int64
    public let lastActivityAt: Date
    public let createdAt: Date
}

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
