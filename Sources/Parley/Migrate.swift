import ArgumentParser
import Database
import Domain

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Upgrade the control schema and every tenant schema (resumes after a failure).")

    @Flag(help: "Check every brokerage schema, also those recorded as migrated by this build.") var recheck = false
    @Option(help: "Brokerages migrated at once (each on a connection of its own).") var lanes = 4
    @OptionGroup var database: DatabaseOptions

    func validate() throws {
        guard (1...64).contains(lanes) else { throw ValidationError("--lanes must be 1 to 64") }
    }

    func run() async throws {
        let logger = try bootstrapLogging(level: database.logLevel)
        // A connection per lane, and one to record outcomes.
        let failed = try await withDatabase(database, logger: logger, maxConnections: lanes + 1) { _, db in
            var seen = 0
            let started = ContinuousClock.now
            let outcomes = try await TenantStore(database: db, logger: logger).migrateAll(recheck: recheck, lanes: lanes) { outcome in
                seen += 1
                if let error = outcome.error {
                    print("tenant \(outcome.slug): FAILED (\(error)); the next run resumes here")
                } else if !outcome.applied.isEmpty {
                    print("tenant \(outcome.slug): applied \(outcome.applied.map(String.init).joined(separator: ", "))")
                }
                if seen % 1000 == 0 { print("… \(seen) brokerages done (\(ContinuousClock.now - started))") }
            }
            let skipped = outcomes.filter(\.skipped).count
            print("\(outcomes.count) brokerage(s): \(outcomes.count - skipped) checked, \(skipped) already current, "
                + "\(outcomes.filter { !$0.applied.isEmpty }.count) migrated, \(outcomes.filter { $0.error != nil }.count) failed "
                + "(\(ContinuousClock.now - started))")
            return outcomes.filter { $0.error != nil }.count
        }
        if failed > 0 { throw ExitCode(1) }
    }
}
