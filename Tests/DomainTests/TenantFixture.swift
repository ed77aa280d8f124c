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

/// Runs `body` and returns the `DomainError` it threw, or nil if it threw none (any other error
/// is rethrown, so a test fails on it).
func domainError(_ body: () async throws -> Void) async throws -> DomainError? {
    do {
        try await body()
        return nil
    } catch let error as DomainError {
        return error
    }
}

extension DomainError {
    /// The stable code (`session_closed`, `validation_failed` for validation errors).
    var problemCode: String {
        switch self {
        case .validation: "validation_failed"
        case .notFound(let code, _), .conflict(let code, _), .forbidden(let code, _), .tooLarge(let code, _),
            .unsupportedMediaType(let code, _), .rateLimited(let code, _, _), .quotaExceeded(let code, _):
            code
        }
    }
}
