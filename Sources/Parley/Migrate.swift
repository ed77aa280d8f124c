import ArgumentParser
import Database
import Domain

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Upgrade the control schema and every tenant schema (resumes after a failure).")

    @OptionGroup var database: DatabaseOptions

    func run() async throws {
        let logger = bootstrapLogging(level: database.logLevel)
        let failed = try await withDatabase(database, logger: logger) { _, db in
            let outcomes = try await TenantStore(database: db, logger: logger).migrateAll { outcome in
                if let error = outcome.error {
                    print("tenant \(outcome.slug): FAILED (\(error)); the next run resumes here")
                } else if outcome.applied.isEmpty {
                    print("tenant \(outcome.slug): up to date")
                } else {
                    print("tenant \(outcome.slug): applied \(outcome.applied.map(String.init).joined(separator: ", "))")
                }
            }
            print("\(outcomes.count) tenant(s) checked, \(outcomes.filter { $0.error != nil }.count) failed")
            return outcomes.filter { $0.error != nil }.count
        }
        if failed > 0 { throw ExitCode(1) }
    }
}
