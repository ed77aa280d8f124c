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
    /// The newest tenant migration applied completely to its schema.
    public var migratedVersion: Int = 0
    /// Why the last migration attempt failed (nil after a success).
    public var migrationError: String?
    /// `Migrations.tenantChecksum` of the build that last migrated the schema completely.
    public var migratedChecksum: String?

    /// Served only when its schema has every migration this build knows: a brokerage whose
    /// migration failed is refused (503 `tenant_unavailable`), not served on an old schema.
    public var isServable: Bool { migratedVersion >= Migrations.tenantVersion }
}
