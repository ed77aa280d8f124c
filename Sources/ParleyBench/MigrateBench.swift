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
func migrateBenchmark(count: Int, lanes: Int) async throws {
    let conninfo = try await TestDatabase.shared.makeScratchDatabase()
    let database = Database(configuration: .init(conninfo: conninfo, maxConnections: max(6, lanes + 1), applicationName: "parley-bench"), logger: testLogger)
    func footprint() async throws -> (bytes: Int64, relations: Int64) {
        let row = try await database.withConnection { connection in
            try await connection.simpleQuery("SELECT pg_database_size(current_database()) AS size, (SELECT count(*) FROM pg_class) AS relations")
        }.rows[0]
        return (try row.decode(Int64.self, "size"), try row.decode(Int64.self, "relations"))
    }
    let empty = try await footprint()
    print("provisioning \(count) brokerages (TenantStore.create, \(lanes) at a time):")
    let start = Stopwatch.now()
    let slugs = try await inLanes(lanes, count: count) { index in
        let tenant = try await TestTenant.make(database, prefix: "m")
        if (index + 1) % 500 == 0 { print(String(format: "  %d so far, %.1f s", index + 1, Double(Stopwatch.now() - start) / 1e9)) }
        return tenant.slug.rawValue
    }
    let provisioning = Double(Stopwatch.now() - start) / 1e9
    print(String(format: "  %d in %.1f s: %.1f brokerages/s (target ≥ 50/s)", count, provisioning, Double(count) / provisioning))
    let full = try await footprint()
    print(String(format: "  an empty brokerage: %.2f MB and %.0f relations",
                 Double(full.bytes - empty.bytes) / Double(count) / 1e6, Double(full.relations - empty.relations) / Double(count)))

    // One backend that serves every brokerage once, as a pooled connection may (each gets a
    // send-path's worth of compiled functions and plans: the badge counts and a session read).
    let memory = try await database.withConnection { connection -> (before: Int, after: Int) in
        let pid = try await connection.simpleQuery("SELECT pg_backend_pid() AS pid").rows[0].decode(Int.self, "pid")
        func rss() -> Int {
            guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
                let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") })
            else { return 0 }
            return Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
        }
        let before = rss()
        for slug in slugs {
            guard let scope = TenantSlug(slug)?.scope else { continue }
            _ = try await connection.simpleQueryAll(scope.beginSQL + """
                ; SELECT unread_messages('agent-1'), pending_requests('agent-1');
                SELECT count(*) FROM sessions s JOIN session_members m ON m.session_id = s.id WHERE m.user_id = 'agent-1'; COMMIT
                """)
        }
        return (before, rss())
    }
    if memory.after > 0 {
        print(String(format: "  one backend after serving all %d: RSS %.0f MB (from %.0f MB): %.0f KiB per brokerage",
                     count, Double(memory.after) / 1024, Double(memory.before) / 1024, Double(memory.after - memory.before) / Double(count)))
    }

    let store = TenantStore(database: database, logger: testLogger)
    for (label, recheck, migrateLanes) in [("nothing to do (skips what this build migrated)", false, 4),
                                    ("--recheck, every schema asked, 1 at a time (as before)", true, 1),
                                    ("--recheck, every schema asked, 4 at a time", true, 4)] {
        let began = Stopwatch.now()
        let outcomes = try await store.migrateAll(recheck: recheck, lanes: migrateLanes) { _ in }
        let seconds = Double(Stopwatch.now() - began) / 1e9
        print(String(format: "migrate, %@: %.2f s for %d brokerages (%.2f ms each)", label, seconds, outcomes.count, seconds / Double(outcomes.count) * 1000))
    }

    // A new migration for every brokerage. This build has none to add, so one is taken back:
    // 017 (autovacuum settings, 19 ALTER TABLEs, re-runnable) leaves every ledger and the
    // control rows forget that this build migrated them; `parley migrate` then applies it to
    // every schema, as it would a new file.
    let forgotten = try await database.withConnection { connection in
        try await connection.simpleQuery("""
            DO $$ DECLARE s text; BEGIN
                FOR s IN SELECT schema_name FROM parley.tenants LOOP
                    EXECUTE format('DELETE FROM %I.schema_migrations WHERE version = 17', s);
                END LOOP;
            END $$;
            WITH f AS (UPDATE parley.tenants SET migrated_checksum = NULL RETURNING 1) SELECT count(*) AS n FROM f
            """)
    }.rows[0].decode(Int.self, "n")
    let began = Stopwatch.now()
    let outcomes = try await store.migrateAll(lanes: 4) { _ in }
    let seconds = Double(Stopwatch.now() - began) / 1e9
    let applied = outcomes.filter { $0.applied == [17] }.count
    print(String(format: "migrate, a new migration (017 again) for %d brokerages, 4 at a time: %.1f s (%.2f ms each); applied to %d, failed %d",
                 forgotten, seconds, seconds / Double(max(forgotten, 1)) * 1000, applied, outcomes.filter { $0.error != nil }.count))
    await database.close()
}
