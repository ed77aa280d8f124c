import Database
import DatabaseTesting
import Domain
import Foundation
import ParleyTesting

/// `--provision [N] [--lanes 1,2,4,8]`: provisioning rate (issue 17, point 6) — N brokerages
/// through `TenantStore.create` at each number of lanes, on a scratch database of the test
/// server (`PARLEY_TEST_DATABASE_URL`: point it at a cluster with durable settings; the
/// throwaway cluster runs with fsync off, and provisioning is mostly fsyncs: PostgreSQL 15
/// fsyncs every B-tree it builds, decision 0031). Prints the server's durability settings.
func provisionBenchmark(count: Int, lanes: [Int]) async throws {
    let conninfo = try await TestDatabase.shared.makeScratchDatabase()
    let database = Database(configuration: .init(conninfo: conninfo, maxConnections: (lanes.max() ?? 2) + 1, applicationName: "parley-bench"), logger: testLogger)
    let settings = try await database.withConnection { connection in
        try await connection.simpleQuery("SELECT current_setting('fsync') AS fsync, current_setting('synchronous_commit') AS sc, current_setting('full_page_writes') AS fpw")
    }.rows[0]
    print("server: fsync=\(try settings.decode(String.self, "fsync")) synchronous_commit=\(try settings.decode(String.self, "sc")) full_page_writes=\(try settings.decode(String.self, "fpw"))")
    for width in lanes {
        let start = Stopwatch.now()
        let latencies = Shared<[Double]>([])
        _ = try await inLanes(width, count: count) { _ in
            let began = Stopwatch.now()
            let tenant = try await TestTenant.make(database, prefix: "p")
            latencies.with { $0.append(Double(Stopwatch.now() - began) / 1e6) }
            return tenant.slug.rawValue
        }
        let seconds = Double(Stopwatch.now() - start) / 1e9
        let sorted = latencies.with { $0.sorted() }
        print(String(format: "provisioning %d brokerages, %2d at a time: %.1f s, %.1f brokerages/s (each: p50 %.0f ms, p95 %.0f ms)",
                     count, width, seconds, Double(count) / seconds, percentile(sorted, 50), percentile(sorted, 95)))
    }
    await database.close()
}
