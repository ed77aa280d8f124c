import Database
import Logging

extension TenantStore {
    /// How one brokerage's upgrade went.
    public struct MigrationOutcome: Sendable {
        public let slug: String
        public let applied: [Int]
        public let error: (any Error)?
        /// Recorded as migrated by this build: nothing was asked of its schema.
        public var skipped: Bool = false
    }

    /// Upgrades the control schema, then every brokerage in slug order, `lanes` at a time. One
    /// that fails is reported and skipped; the others still run, and a second run resumes where
    /// this one stopped (applied migrations are recorded per schema). A brokerage recorded as
    /// migrated by this very build (`migrated_checksum`) is skipped without a query in its
    /// schema, unless `recheck` (decision 0030).
    ///
    /// At most one lane fewer than the pool has connections: each lane holds one for as long
    /// as its brokerage's migration runs (which may wait for a lock or rewrite a table, without
    /// the requests' timeouts), and a lane that waited for one past the pool's acquire timeout
    /// failed a brokerage whose migration was fine (and every server then refused it). The one
    /// left over records outcomes.
    public func migrateAll(recheck: Bool = false, lanes: Int = 4, progress: (MigrationOutcome) -> Void) async throws -> [MigrationOutcome] {
        let lanes = max(1, min(lanes, database.configuration.maxConnections - 1))
        let migrator = Migrator(database: database, logger: logger)
        try await migrator.migrateControl()
        var outcomes: [MigrationOutcome] = []
        var after: String?
        while true {
            let page = try await list(after: after, limit: 500)
            // Not a brokerage an import is filling: its import sets it up, and would find it
            // taken for a finished one.
            let todo = page.filter {
                $0.migrationError != Self.importing
                    && (recheck || $0.migratedChecksum != Migrations.tenantChecksum || $0.migrationError != nil)
            }
            var done: [String: MigrationOutcome] = [:]
            try await withThrowingTaskGroup(of: MigrationOutcome.self) { group in
                var next = todo.makeIterator()
                func add() {
                    guard let tenant = next.next() else { return }
                    group.addTask { await self.migrate(tenant, with: migrator) }
                }
                for _ in 0..<lanes { add() }
                while let outcome = try await group.next() {
                    done[outcome.slug] = outcome
                    add()
                }
            }
            for tenant in page {
                let outcome = done[tenant.slug.rawValue] ?? MigrationOutcome(slug: tenant.slug.rawValue, applied: [], error: nil, skipped: true)
                progress(outcome)
                outcomes.append(outcome)
            }
            guard page.count == 500, let last = page.last else { return outcomes }
            after = last.slug.rawValue
        }
    }

    private func migrate(_ tenant: Tenant, with migrator: Migrator) async -> MigrationOutcome {
        do {
            let applied = try await migrator.migrateTenant(tenant.scope)
            try await record(tenant, error: nil)
            return MigrationOutcome(slug: tenant.slug.rawValue, applied: applied, error: nil, skipped: false)
        } catch {
            logger.error("tenant migration failed", metadata: ["tenant": "\(tenant.slug)", "error": "\(String(reflecting: error))"])
            // Recorded so every process refuses the brokerage until a run succeeds.
            try? await record(tenant, error: error)
            return MigrationOutcome(slug: tenant.slug.rawValue, applied: [], error: error, skipped: false)
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
                    UPDATE parley.tenants SET migrated_version = $3, migration_error = $2, migration_failed_at = now(), migrated_checksum = NULL
                    WHERE id = $1
                    """, [tenant.id, String(String(describing: error).prefix(2000)), complete])
            } else {
                try await tx.query("""
                    UPDATE parley.tenants
                    SET migrated_version = greatest(migrated_version, $2), migration_error = NULL, migration_failed_at = NULL,
                        migrated_checksum = $3
                    WHERE id = $1
                    """, [tenant.id, Migrations.tenantVersion, Migrations.tenantChecksum])
            }
        }
    }
}
