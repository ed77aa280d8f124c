import Foundation

/// What the visitor sees with their token: never notes, never the agent's CRM.
public struct VisitorChatRequest: Codable, Sendable {
    public let id: String
    public let status: ChatRequest.Status
    public let createdAt: Date
    public let expiresAt: Date
    /// The chat session, once the agent has accepted.
    public let sessionId: String?
}
