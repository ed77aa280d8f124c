import Foundation

/// A visitor's request to chat, as the agent sees it. `declineNotes` is present only for the
/// agent who declined; visitors and events never carry it.
public struct ChatRequest: Codable, Sendable {
    public enum Status: String, Codable, Sendable, CaseIterable {
        case pending, accepted, declined, expired
    }

    /// Where it came from: a public website's form, or an agent's Request Chat in the directory.
    public enum Source: String, Codable, Sendable, CaseIterable {
        case website, agent
    }

    public let id: String
    /// Always `incoming` here: the agent being asked sees it. The asking agent's side is a
    /// `SentChatRequest` (`outgoing`), in the same event types.
    public var direction: String = "incoming"
    public let source: Source
    public let agentId: String
    /// For `source: agent`: the asking agent's public directory profile, with their brokerage.
    public let requester: DirectoryMember?
    public let name: String
    public let email: String?
    public let phone: String?
    public let message: String
    public let property: Listing?
    public let preferredContactMethod: ContactMethod
    public let status: Status
    public let createdAt: Date
    /// When a pending request expires (creation + the tenant's TTL).
    public let expiresAt: Date
    public let decidedAt: Date?
    public let sessionId: String?
    public let contactId: String?
    public var declineNotes: String?

    /// Without the decliner's notes (events, other viewers).
    var withoutNotes: ChatRequest {
        var copy = self
        copy.declineNotes = nil
        return copy
    }
}

/// An agent's request to another agent, as the asking agent sees it: whom they asked, and what
/// became of it (never the other side's decline notes).
public struct SentChatRequest: Codable, Sendable {
    public var direction: String = "outgoing"
    public let id: String
    /// The asked agent's public directory profile, with their brokerage.
    public let to: DirectoryMember
    public let message: String
    public let property: Listing?
    public let status: ChatRequest.Status
    public let createdAt: Date
    public let expiresAt: Date
    public let decidedAt: Date?
    /// The agent-to-agent session, once accepted.
    public let sessionId: String?
}
