import Database
import Logging

extension TenantStore {
    /// How one brokerage's upgrade went.
    public struct MigrationOutcome: Sendable {
        public let slug: String
        public let applied: [Int]
        public let error: (any Error)?
    }

    /// Upgrades the control schema, then every brokerage in slug order. One that fails is
    /// reported and skipped; the others still run, and a second run resumes where this one
    /// stopped (applied migrations are recorded per schema).
    public func migrateAll(progress: (MigrationOutcome) -> Void) async throws -> [MigrationOutcome] {
        let migrator = Migrator(database: database, logger: logger)
        try await migrator.migrateControl()
        var outcomes: [MigrationOutcome] = []
        var after: String?
        while true {
            let page = try await list(after: after, limit: 500)
            for tenant in page {
                let outcome: MigrationOutcome
                do {
                    let applied = try await migrator.migrateTenant(tenant.scope)
                    try await record(tenant, error: nil)
                    outcome = MigrationOutcome(slug: tenant.slug.rawValue, applied: applied, error: nil)
                } catch {
                    logger.error("tenant migration failed", metadata: ["tenant": "\(tenant.slug)", "error": "\(String(reflecting: error))"])
                    outcome = MigrationOutcome(slug: tenant.slug.rawValue, applied: [], error: error)
                    // Recorded so every process refuses the brokerage until a run succeeds.
                    try? await record(tenant, error: error)
                }
                progress(outcome)
                outcomes.append(outcome)
            }
            guard page.count == 500, let last = page.last else { return outcomes }
            after = last.slug.rawValue
        }
    }

    /// Records how a brokerage's migration went. After a success its schema has every
    /// migration of this build (a newer build's higher version is kept). After a failure its
    /// version is what its ledger shows applied without a gap (below this build's newest: not
    /// served) and the error is kept for the operator API.
    private func record(_ tenant: Tenant, error: (any Error)?) async throws {
        // Its own transaction: a schema without a ledger must not abort the update.
        let recorded = error == nil ? [] : (try? await database.withTransaction { tx in
            try await tx.queryUnprepared("SELECT version FROM \(tenant.scope.schema.quoted).schema_migrations").rows
                .map { try $0.decode(Int.self, "version") }
        }) ?? []
        try await database.withTransaction { tx in
            if let error {
                let migrations = Migrations.tenant.map(\.version)
                let complete = zip(migrations, migrations.map(Set(recorded).contains)).prefix { $0.1 }.last?.0 ?? 0
                try await tx.query("""
                    UPDATE parley.tenants SET migrated_version = $3, migration_error = $2, migration_failed_at = now() WHERE id = $1
                    """, [tenant.id, String(String(describing: error).prefix(2000)), complete])
            } else {
                try await tx.query("""
                    UPDATE parley.tenants
                    SET migrated_version = greatest(migrated_version, $2), migration_error = NULL, migration_failed_at = NULL
                    WHERE id = $1
                    """, [tenant.id, Migrations.tenantVersion])
            }
        }
    }
}
