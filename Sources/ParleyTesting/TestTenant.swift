import API
import Database
import DatabaseTesting
import Domain
import Foundation

/// A fresh brokerage for one test: its own schema, role and signing key.
public struct TestTenant: Sendable {
    public let tenant: Tenant
    public let key: SigningKey

    /// A scratch database (control schema migrated) with one brokerage in it, for a test that
    /// starts its own server process on it: the database's conninfo and the brokerage.
    public static func onScratchDatabase(prefix: String = "t") async throws -> (conninfo: String, tenant: TestTenant) {
        let conninfo = try await TestDatabase.shared.makeScratchDatabase()
        let database = Database(configuration: .init(conninfo: conninfo, maxConnections: 1), logger: testLogger)
        do {
            let tenant = try await make(database, prefix: prefix)
            await database.close()
            return (conninfo, tenant)
        } catch {
            await database.close()
            throw error
        }
    }

    /// Provisions a tenant with a random slug through the same code path as the API.
    public static func make(_ database: Database, prefix: String = "t") async throws -> TestTenant {
        let suffix = randomName("")
        guard let slug = TenantSlug(prefix + suffix) else { preconditionFailure("generated slug is valid") }
        let (tenant, key) = try await TenantStore(database: database, logger: testLogger).create(
            slug: slug, displayName: "Test Brokerage \(suffix)")
        return TestTenant(tenant: tenant, key: key)
    }

    public var slug: TenantSlug { tenant.slug }
    public var scope: TenantScope { tenant.scope }

    /// A token for a user of this tenant, as the brokerage backend would mint it.
    public func token(sub: String, role: Caller.Role = .agent, name: String? = nil, ttl: Duration = .seconds(600), now: Date = Date()) async throws -> String {
        try await TokenIssuer.sign(tenant: slug, key: key, sub: sub, role: role, name: name ?? sub.capitalized, ttl: ttl, now: now)
    }

    /// A directory integration's token for this brokerage.
    public func integrationToken(sub: String = "directory-sync", ttl: Duration = .seconds(600)) async throws -> String {
        try await TokenIssuer.signIntegration(tenant: slug, key: key, sub: sub, ttl: ttl)
    }
}
