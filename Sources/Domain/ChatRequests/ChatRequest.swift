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
