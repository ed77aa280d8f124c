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
        /// The member's brokerage (slug) when it is not the viewer's: an agent of another
        /// brokerage in a shared session (decision 0028). Their `userId` is `@<slug>:<MemberKey>`.
        public let brokerage: String?
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
