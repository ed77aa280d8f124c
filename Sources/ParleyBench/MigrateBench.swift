import Database
import DatabaseTesting
import Domain
import Foundation
import ParleyTesting

/// `--migrate [N]`: N brokerages on one database (issue 17, point 6). Provisions them (the
/// operator API's code path, 2 at a time), then times `parley migrate`'s work (`migrateAll`,
/// in this process) with nothing to do: as it runs now (brokerages this build migrated are
/// skipped, decision 0030), and asking every schema as before, one at a time and four at a
/// time. Prints what an empty brokerage costs the database.
func migrateBenchmark(count: Int) async throws {
    let conninfo = try await TestDatabase.shared.makeScratchDatabase()
    let database = Database(configuration: .init(conninfo: conninfo, maxConnections: 6, applicationName: "parley-bench"), logger: testLogger)
    func footprint() async throws -> (bytes: Int64, relations: Int64) {
        let row = try await database.withConnection { connection in
            try await connection.simpleQuery("SELECT pg_database_size(current_database()) AS size, (SELECT count(*) FROM pg_class) AS relations")
        }.rows[0]
        return (try row.decode(Int64.self, "size"), try row.decode(Int64.self, "relations"))
    }
    let empty = try await footprint()
    print("provisioning \(count) brokerages (TenantStore.create, 2 at a time):")
    let start = Stopwatch.now()
    _ = try await inLanes(2, count: count) { index in
        let tenant = try await TestTenant.make(database, prefix: "m")
        if (index + 1) % 500 == 0 { print(String(format: "  %d so far, %.1f s", index + 1, Double(Stopwatch.now() - start) / 1e9)) }
        return tenant.slug.rawValue
    }
    let provisioning = Double(Stopwatch.now() - start) / 1e9
    print(String(format: "  %d in %.1f s: %.1f brokerages/s (target ≥ 50/s)", count, provisioning, Double(count) / provisioning))
    let full = try await footprint()
    print(String(format: "  an empty brokerage: %.2f MB and %.0f relations",
                 Double(full.bytes - empty.bytes) / Double(count) / 1e6, Double(full.relations - empty.relations) / Double(count)))

    let store = TenantStore(database: database, logger: testLogger)
    for (label, recheck, lanes) in [("nothing to do (skips what this build migrated)", false, 4),
                                    ("--recheck, every schema asked, 1 at a time (as before)", true, 1),
                                    ("--recheck, every schema asked, 4 at a time", true, 4)] {
        let began = Stopwatch.now()
        let outcomes = try await store.migrateAll(recheck: recheck, lanes: lanes) { _ in }
        let seconds = Double(Stopwatch.now() - began) / 1e9
        print(String(format: "migrate, %@: %.2f s for %d brokerages (%.2f ms each)", label, seconds, outcomes.count, seconds / Double(outcomes.count) * 1000))
    }
    await database.close()
}
