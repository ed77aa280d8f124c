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
    /// As the caller sees it: `archived` while the caller has archived it (each member's own,
    /// decision 0061), else `active` or `closed`, which are everyone's.
    public let status: Status
    /// Whether the conversation has ended, for every member: true for a closed session, also
    /// while the caller has it archived (it takes no messages until reopened).
    public let closed: Bool
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

/// The same JSON as the encoder writes (keys in sorted order), for lists of sessions (`JSONWritable`).
extension Session: JSONWritable {
    public func write(to json: inout JSONWriter) {
        json.object { json in
            json.field("agentToAgent", agentToAgent)
            json.field("closed", closed)
            json.field("contactId", contactId)
            json.field("createdAt", createdAt)
            json.field("id", id)
            json.field("kind", kind.rawValue)
            json.field("lastActivityAt", lastActivityAt)
            json.field("lastMessage", lastMessage)
            json.field("lastReadSeq", lastReadSeq)
            json.field("lastSeq", lastSeq)
            json.field("members", members)
            json.field("status", status.rawValue)
            json.field("title", title)
            json.field("unreadCount", unreadCount)
        }
    }
}

extension Session.Member: JSONWritable {
    public func write(to json: inout JSONWriter) {
        json.object { json in
            json.field("brokerage", brokerage)
            json.field("lastReadSeq", lastReadSeq)
            json.field("name", name)
            json.field("role", role)
            json.field("userId", userId)
        }
    }
}

extension Session.LastMessage: JSONWritable {
    public func write(to json: inout JSONWriter) {
        json.object { json in
            json.field("createdAt", createdAt)
            json.field("preview", preview)
            json.field("senderId", senderId)
            json.field("seq", seq)
        }
    }
}
