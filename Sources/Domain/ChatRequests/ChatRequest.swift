import Foundation

/// A visitor's request to chat, as the agent sees it. `declineNotes` is present only for the
/// agent who declined; visitors and events never carry it.
public struct ChatRequest: Codable, Sendable {
    public enum Status: String, Codable, Sendable, CaseIterable {
        case pending, accepted, declined, expired
    }

    public let id: String
    public let agentId: String
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

/// What the visitor sees with their token: never notes, never the agent's CRM.
public struct VisitorChatRequest: Codable, Sendable {
    public let id: String
    public let status: ChatRequest.Status
    public let createdAt: Date
    public let expiresAt: Date
    /// The chat session, once the agent has accepted.
    public let sessionId: String?
}

/// A public website's submission, as received (validated by the store).
public struct ChatRequestSubmission: Sendable {
    public var agentId: String?
    public var name: String?
    public var email: String?
    public var phone: String?
    public var message: String?
    public var property: Listing?
    public var preferredContactMethod: String?

    public init(
        agentId: String?, name: String?, email: String?, phone: String?, message: String?, property: Listing?,
        preferredContactMethod: String?
    ) {
        self.agentId = agentId
        self.name = name
        self.email = email
        self.phone = phone
        self.message = message
        self.property = property
        self.preferredContactMethod = preferredContactMethod
    }
}
