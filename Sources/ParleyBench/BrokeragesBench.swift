import Database
import DatabaseTesting
import Foundation
import ParleyTesting

/// `--brokerages [N]`: many brokerages on one deployment (issue 15, point 4). Provisions N
/// brokerages (default 1,000) through `TenantStore.create`, the operator API's code path, and
/// times it; gives each an agent–client session; then sends over the first 50 brokerages and
/// over all N, alternately, against `parley serve` in its own process, and prints the ratio.
/// Also prints what the brokerages cost the database (size, relations). Each brokerage has a
/// stream open throughout, so the events of every send are numbered and read.
///
/// Each side is warmed up first (`--warm-up`, 30 s): a backend's first send in a brokerage
/// compiles its functions and plans its statements (~10 ms of CPU; decision 0044), once per
/// connection that serves the brokerage — ~2,000 such first sends over 1,000 brokerages
/// (decision 0026), ~20 s of CPU. The warm-up's own rate is printed too.
func brokeragesBenchmark(count: Int, quick: Bool, roundSeconds: Double, warmUpSeconds: Double) async throws {
    let conninfo = try await TestDatabase.shared.makeScratchDatabase()
    let database = Database(configuration: .init(conninfo: conninfo, maxConnections: 4, applicationName: "parley-bench"), logger: testLogger)
    let server = try await ServerProcess.start(conninfo: conninfo, environment: serverEnvironment)
    defer { server.killNow() }

    print("provisioning \(count) brokerages (TenantStore.create, 2 at a time):")
    let start = Stopwatch.now()
    let tenants = try await inLanes(2, count: count) { index in
        let tenant = try await TestTenant.make(database, prefix: "b")
        if (index + 1) % 200 == 0 { print(String(format: "  %d so far, %.1f s", index + 1, Double(Stopwatch.now() - start) / 1e9)) }
        return tenant
    }
    let provisioning = Double(Stopwatch.now() - start) / 1e9
    print(String(format: "  %d brokerages in %.1f s (%.0f ms each; target: 1,000 in under 60 s)",
                 count, provisioning, provisioning / Double(count) * 1000))
    let footprint = try await database.withConnection { connection in
        try await connection.simpleQuery("""
            SELECT pg_size_pretty(pg_database_size(current_database())) AS size, (SELECT count(*) FROM pg_class) AS relations
            """)
    }
    if let row = footprint.rows.first {
        print("  database size \((try? row.decode(String.self, "size")) ?? "?"), \((try? row.decode(Int64.self, "relations")) ?? -1) relations")
    }

    // One session per brokerage (agent-1 with client-1), made over HTTP.
    print("one session in each:")
    let sessionsStart = Stopwatch.now()
    let fixtures = try await inLanes(4, count: tenants.count) { index in
        try await makeFixture(tenants[index], port: server.port, sessions: 1)
    }
    print(String(format: "  %d sessions in %.1f s", fixtures.count, Double(Stopwatch.now() - sessionsStart) / 1e9))

    // One stream in each brokerage, of a user in none of its sessions: it receives nothing, but
    // every brokerage's events are numbered and read as sends go, as wherever anyone is
    // connected (without a stream they wait for the maintenance pass; see fanOutBenchmark). Both
    // sides run with all of them open.
    let observerTokens = try await inLanes(4, count: tenants.count) { index in
        try await observerToken(tenants[index])
    }
    let observers = StreamSockets()
    try await observers.open(port: server.port, tokens: observerTokens)
    observers.startDraining(lanes: 1)
    defer { observers.close() }
    print("  a stream of another user of each brokerage open: \(observers.count)")

    // Sends spread over the brokerages: each message goes to the next brokerage's session.
    func spread(over brokerages: [Fixture], label: String, seconds: Double = roundSeconds) async throws -> Double {
        let sessions = brokerages.map { $0.sessions[0] }
        let spreadFixture = Fixture(port: server.port, tenant: brokerages[0].tenant, agent: brokerages[0].agent,
                                    client: brokerages[0].client, sessions: sessions)
        let before = try await server.poolAcquisitions() ?? 0
        let passesBefore = try await server.metric("parley_maintenance_passes_total") ?? 0
        let rate = try await throughput(spreadFixture, senders: 16, seconds: seconds, listeners: 0, label: label).rate
        let after = try await server.poolAcquisitions() ?? 0
        let passes = (try await server.metric("parley_maintenance_passes_total") ?? 0) - passesBefore
        print(String(format: "    server transactions per message: %.2f", Double(after - before) / max(rate * seconds, 1))
              + (passes > 0 ? "; \(passes) maintenance pass\(passes == 1 ? "" : "es") ended during the run" : ""))
        return rate
    }
    let few = Array(fixtures.prefix(50))
    _ = try await spread(over: few, label: "warm-up over 50 brokerages (not a result)", seconds: warmUpSeconds)
    _ = try await spread(over: fixtures, label: "warm-up over \(fixtures.count) brokerages (not a result)", seconds: warmUpSeconds)
    print("send throughput, 16 senders, each message to the next brokerage's session:")
    for round in 1...2 {
        let a = try await spread(over: few, label: "round \(round): over 50 brokerages")
        let b = try await spread(over: fixtures, label: "round \(round): over \(fixtures.count) brokerages")
        print(String(format: "  round %d: %d / 50 brokerages = %.2f (target ≥ 0.80)", round, fixtures.count, b / a))
    }
    if CommandLine.arguments.contains("--vacuum-wave") {
        // What autovacuum does when the 50 busy brokerages cross its thresholds together: each of
        // their tables vacuumed and analyzed, one after another, while sends go to all N. Twice:
        // - as fast as VACUUM goes, TOAST tables included (the worst case: its own CPU takes one
        //   of the machine's cores, and each TOAST table and its index is one more invalidation);
        // - as autovacuum does it: throttled (autovacuum_vacuum_cost_delay 2 ms per
        //   vacuum_cost_limit 200) and without the TOAST tables, which autovacuum visits on
        //   their own thresholds (these hold nothing: messages are short).
        // Before each, the 50 get a round of sends of their own, so that each wave finds as much
        // to do.
        let busy = Array(fixtures.prefix(50))
        let calm = try await spread(over: fixtures, label: "over \(fixtures.count) brokerages, nothing else")
        let waves = [("as fast as it goes, TOAST tables included", "SET vacuum_cost_delay = 0", "ANALYZE"),
                     ("as autovacuum does it", "SET vacuum_cost_delay = '2ms'; SET vacuum_cost_limit = 200", "ANALYZE, PROCESS_TOAST false")]
        for (name, settings, options) in waves {
            _ = try await spread(over: busy, label: "over the 50 busy brokerages, before the wave (not a result)")
            async let wave: Double = {
                let start = Stopwatch.now()
                for fixture in busy {
                    let schema = fixture.tenant.scope.schema.quoted
                    let tables = ["messages", "sessions", "session_members", "session_terms", "event_outbox", "badge_deltas"]
                    try await database.withConnection { connection in
                        // Three queries: VACUUM refuses to run in a string of several statements.
                        _ = try await connection.simpleQuery(settings)
                        _ = try await connection.simpleQuery("VACUUM (\(options)) " + tables.map { "\(schema).\($0)" }.joined(separator: ", "))
                        _ = try await connection.simpleQuery("RESET vacuum_cost_delay; RESET vacuum_cost_limit")
                    }
                }
                return Double(Stopwatch.now() - start) / 1e9
            }()
            let waved = try await spread(over: fixtures, label: "over \(fixtures.count) brokerages while the first 50 are vacuumed and analyzed, \(name)")
            print(String(format: "  the vacuum wave (%@) took %.1f s; sends during the run / without = %.2f", name, try await wave, waved / calm))
        }
    }
    if CommandLine.arguments.contains("--maintenance") {
        // The server's maintenance visits every brokerage each pass: wait for one to end.
        let waitStart = Stopwatch.now()
        while (try await server.metric("parley_maintenance_passes_total") ?? 0) < 2, Stopwatch.now() - waitStart < 600_000_000_000 {
            try await Task.sleep(for: .seconds(1))
        }
    }
    if let passes = try await server.metric("parley_maintenance_passes_total"), passes > 0,
       let milliseconds = try await server.metric("parley_maintenance_pass_milliseconds_total") {
        print(String(format: "server's maintenance passes over the %d brokerages: %d, %.1f s each on average (every PARLEY_MAINTENANCE_INTERVAL, 60 s)",
                     fixtures.count, passes, Double(milliseconds) / Double(passes) / 1000))
    }
    if let retired = try await server.metric("parley_db_pool_retired_total") {
        print("server's pool: \(retired) connections closed for having served PARLEY_DB_MAX_TENANTS_PER_CONNECTION brokerages")
    }
    if let served = try await server.metric("parley_db_pool_brokerages_served") {
        print(String(format: "server's pool: its connections have served %d brokerages in all, %.2f connections per brokerage",
                     served, Double(served) / Double(max(fixtures.count, 1))))
    }
    // What the server's database backends hold after serving every brokerage: each caches the
    // compiled functions, plans and relations of every brokerage it served (decision 0025).
    let pids = try await database.withConnection { connection in
        try await connection.simpleQuery("SELECT pid FROM pg_stat_activity WHERE application_name = 'parley' AND datname = current_database()")
    }.rows.compactMap { try? $0.decode(Int32.self, "pid") }
    let privateKiB = pids.compactMap { privateMemoryKiB(pid: $0) }
    if privateKiB.isEmpty {
        print("server's database backends: memory not readable here (a cluster on another machine?)")
    } else {
        print(String(format: "server's database backends: %d, private memory %.0f MiB in all, %.0f MiB the largest",
                     privateKiB.count, Double(privateKiB.reduce(0, +)) / 1024, Double(privateKiB.max() ?? 0) / 1024))
    }
    await database.close()
}

/// A process's memory of its own (not shared buffers): Private_Clean + Private_Dirty of
/// /proc/PID/smaps_rollup, in KiB; nil when it cannot be read.
func privateMemoryKiB(pid: Int32) -> Int? {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/smaps_rollup", encoding: .utf8) else { return nil }
    var total = 0
    for line in text.split(separator: "\n") where line.hasPrefix("Private_Clean:") || line.hasPrefix("Private_Dirty:") {
        total += line.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
    }
    return total
}

/// `body(0 ..< count)` on `lanes` concurrent lanes (lane k takes k, k + lanes, …); the results
/// in index order.
func inLanes<T: Sendable>(_ lanes: Int, count: Int, _ body: @escaping @Sendable (Int) async throws -> T) async throws -> [T] {
    try await withThrowingTaskGroup(of: [(Int, T)].self) { group in
        for lane in 0..<lanes {
            group.addTask {
                var made: [(Int, T)] = []
                for index in stride(from: lane, to: count, by: lanes) { made.append((index, try await body(index))) }
                return made
            }
        }
        return try await group.reduce(into: [(Int, T)]()) { $0 += $1 }.sorted { $0.0 < $1.0 }.map(\.1)
    }
}
