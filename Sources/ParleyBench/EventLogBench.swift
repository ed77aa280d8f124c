import Database
import DatabaseTesting
import Domain
import Foundation
import ParleyTesting
import PQ

/// `--stall`: send→deliver latency while a transaction holds an xid open in the cluster's
/// `postgres` database the whole time (issue 13: it used to hold delivery back until it ended).
func stallBenchmark(_ app: TestApp, port: Int) async throws {
    let conninfo = try await TestDatabase.shared.conninfo()
    let holder = try Connection.connect(conninfo + " dbname=postgres", applicationName: "bench-holder")
    defer { holder.finish() }
    _ = try holder.execAll("BEGIN; SELECT pg_current_xact_id()")
    print("send→deliver while another database holds an xid open (5 msgs/s for 10 s):")
    try await latency(try await makeFixture(app, port: port), rate: 5, count: 50, connections: 1, label: "1 session, xid held elsewhere")
    _ = try holder.exec("ROLLBACK")
}

/// `--events`: the event log at 1,000,000 events: numbering them (sequence_events), replaying
/// one user's missed events over the stream, and deleting the older ones (retention).
func eventLogBenchmark(_ app: TestApp, port: Int, events count: Int) async throws {
    let tenant = try await TestTenant.make(app.database, prefix: "events")
    let users = 1000
    func timed<T>(_ body: () async throws -> T) async rethrows -> (T, Double) {
        let start = Stopwatch.now()
        let value = try await body()
        return (value, Double(Stopwatch.now() - start) / 1_000_000)
    }
    // 1M events over the last 10 days, each for one of 1,000 users: about 30 % are older than
    // the default 7-day retention.
    let (_, insertMs) = try await timed {
        try await app.database.withTenant(tenant.scope) { tx in
            try await tx.query("""
                INSERT INTO event_outbox (type, recipients, data, created_at)
                SELECT 'badge.updated', ARRAY['user-' || (g % \(users))],
                       '{"unreadMessages":1,"pendingRequests":0,"total":1}'::jsonb,
                       now() - interval '10 days' + g * (interval '10 days' / \(count))
                FROM generate_series(1, \(count)) AS g
                """)
        }
    }
    print("event log at \(count) events (\(users) users; created over 10 days):")
    print("  PostgreSQL alone: INSERT of the \(count) rows in one statement: \(String(format: "%.0f", insertMs)) ms")
    var batches: [Double] = []
    var head: Int64 = 0
    while true {
        let (position, ms) = try await timed {
            try await app.database.withTenant(tenant.scope) { tx in
                try await tx.query("SELECT sequence_events(10000) AS head").rows[0].decode(Int64.self, "head")
            }
        }
        if position == head { break }
        batches.append(ms)
        head = position
    }
    let total = batches.reduce(0, +)
    batches.sort()
    print("  sequence_events(10000) over the backlog: \(batches.count) calls, \(String(format: "%.0f", total)) ms in all (\(String(format: "%.0f", Double(count) / total * 1000)) events/s), per call p50 \(format(percentile(batches, 50))), max \(format(batches.last ?? .nan))")
    _ = try await app.database.withTenant(tenant.scope) { tx in try await tx.query("ANALYZE events") }

    // Replay: a user who missed the last 100,000 positions (~100 events of theirs).
    let after = head - 100_000
    for (label, predicate) in [("recipients @> ARRAY[$1] (GIN)", "recipients @> ARRAY[$1]::text[]"), ("$1 = ANY (recipients) (the old form)", "$1 = ANY (recipients)")] {
        let plan = try await app.database.withTenant(tenant.scope) { tx in
            try await tx.query("""
                EXPLAIN (ANALYZE, FORMAT JSON) SELECT pos FROM events
                WHERE \(predicate) AND pos > $2 AND pos <= $3 ORDER BY pos LIMIT 200
                """, ["user-7", after, head]).rows[0].decode(String.self, at: 0)
        }
        let time = (try? JSONSerialization.jsonObject(with: Data(plan.utf8)) as? [[String: Any]])?.first?["Execution Time"] as? Double
        print("  replay query, \(label): \(String(format: "%.2f", time ?? .nan)) ms")
    }
    let token = try await tenant.token(sub: "user-7", role: .client, name: "User Seven", ttl: .seconds(3600))
    let (received, replayMs) = try await timed { () async throws -> Int in
        let stream = try await TestStream.connect(port: port, token: token, query: "after=\(after)")
        _ = await stream.next()
        var received = 0
        while received < 100, await stream.nextEvent(["badge.updated"], timeout: .seconds(5)) != nil { received += 1 }
        await stream.close()
        return received
    }
    print("  stream resumed 100,000 positions back: \(received) events of the user's replayed in \(String(format: "%.1f", replayMs)) ms (connect included)")

    // Retention: the default 7 days, 5,000 rows per transaction.
    var slowest = 0.0
    var deleted = 0
    let (_, trimMs) = try await timed {
        while true {
            let before = Date().addingTimeInterval(-7 * 86400)
            let (n, ms) = try await timed {
                try await app.database.withTenant(tenant.scope) { tx in
                    try await tx.query("SELECT trim_events($1, 5000) AS n", [before]).rows[0].decode(Int.self, "n")
                }
            }
            slowest = max(slowest, ms)
            deleted += n
            if n < 5000 { break }
        }
    }
    print("  retention (7 days, 5,000 per transaction): \(deleted) deleted in \(String(format: "%.0f", trimMs)) ms (\(String(format: "%.0f", Double(deleted) / trimMs * 1000)) rows/s), slowest transaction \(format(slowest))")
    let (alone, deleteAloneMs) = try await timed {
        try await app.database.withTenant(tenant.scope) { tx in
            try await tx.query("WITH gone AS (DELETE FROM events WHERE created_at < now() - interval '6 days' RETURNING 1) SELECT count(*) AS n FROM gone")
                .rows[0].decode(Int.self, "n")
        }
    }
    print("  PostgreSQL alone: one DELETE of the next day's \(alone) events by created_at: \(String(format: "%.0f", deleteAloneMs)) ms (\(String(format: "%.0f", Double(alone) / deleteAloneMs * 1000)) rows/s)")
}
