import Database
import DatabaseTesting
import Domain
import Foundation

/// A fresh brokerage on the test database for store tests: provisioned by `TenantStore` exactly
/// as the API does it, with callers made directly (no tokens, no HTTP).
struct TenantFixture: Sendable {
    let database: Database
    let tenant: Tenant

    /// Provisions a tenant with a random slug. Pass `database` to share a pool; otherwise the
    /// fixture opens its own, which `close()` ends.
    static func make(_ database: Database? = nil, prefix: String = "d") async throws -> TenantFixture {
        let pool = if let database { database } else { try await TestDatabase.shared.makeDatabase() }
        let suffix = randomName("")
        guard let slug = TenantSlug(prefix + suffix) else { preconditionFailure("generated slug is valid") }
        let (tenant, _) = try await TenantStore(database: pool, logger: testLogger).create(slug: slug, displayName: "Store Test \(suffix)")
        return TenantFixture(database: pool, tenant: tenant)
    }

    var slug: TenantSlug { tenant.slug }
    var scope: TenantScope { tenant.scope }

    /// A user of this tenant, as a verified token would present them.
    func caller(_ userID: String, _ role: Caller.Role = .agent, name: String? = nil) -> Caller {
        Caller(tenant: tenant, userID: userID, role: role, name: name ?? userID.capitalized)
    }

    func close() async { await database.close() }
}
