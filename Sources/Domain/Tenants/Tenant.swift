import Database
import Foundation

/// A brokerage: one schema, one role, its own signing keys.
public struct Tenant: Sendable, Hashable {
    public let id: UUID
    public let slug: TenantSlug
    public let displayName: String
    public let scope: TenantScope
    public let createdAt: Date
    public var settings: TenantSettings = TenantSettings()
}
