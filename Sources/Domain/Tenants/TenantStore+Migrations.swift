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
                    outcome = MigrationOutcome(slug: tenant.slug.rawValue, applied: try await migrator.migrateTenant(tenant.scope), error: nil)
                } catch {
                    logger.error("tenant migration failed", metadata: ["tenant": "\(tenant.slug)", "error": "\(String(reflecting: error))"])
                    outcome = MigrationOutcome(slug: tenant.slug.rawValue, applied: [], error: error)
                }
                progress(outcome)
                outcomes.append(outcome)
            }
            guard page.count == 500, let last = page.last else { return outcomes }
            after = last.slug.rawValue
        }
    }
}
