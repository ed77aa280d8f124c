/// Who is calling: a user of one brokerage, as asserted by a token that brokerage signed.
public struct Caller: Sendable, Hashable {
    public enum Role: String, Sendable, Codable, CaseIterable {
        case agent
        case client
    }

    public let tenant: Tenant
    /// The user's id in the brokerage (`sub`).
    public let userID: String
    public let role: Role
    public let name: String

    public init(tenant: Tenant, userID: String, role: Role, name: String) {
        self.tenant = tenant
        self.userID = userID
        self.role = role
        self.name = name
    }

    public var isAgent: Bool { role == .agent }
}
