/// The counts behind the sidebar badge.
public struct Badge: Codable, Sendable, Hashable {
    /// Unread messages in the user's *active* sessions.
    public let unreadMessages: Int64
    /// Chat requests waiting for the user's answer.
    public let pendingRequests: Int64
    public let total: Int64

    public init(unreadMessages: Int64, pendingRequests: Int64) {
        self.unreadMessages = unreadMessages
        self.pendingRequests = pendingRequests
        self.total = unreadMessages + pendingRequests
    }
}
