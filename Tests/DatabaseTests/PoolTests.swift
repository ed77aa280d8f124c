import Database
import DatabaseTesting
import Foundation
import PQ
import Testing

@Suite("Database: pool")
struct PoolTests {
    @Test("pooled connections end a statement past statement_timeout and a lock wait past lock_timeout; migrations are not bound")
    func timeouts() async throws {
        let conninfo = try await TestDatabase.shared.conninfo()
        let database = Database(
            configuration: .init(conninfo: conninfo, maxConnections: 1, statementTimeout: .milliseconds(300), lockTimeout: .milliseconds(200)),
            logger: testLogger)
        defer { Task { await database.close() } }
        let started = ContinuousClock.now
        await #expect {
            try await database.withConnection { connection in _ = try await connection.query("SELECT pg_sleep(5)") }
        } throws: { error in
            if case DatabaseError.timeout = error { return true }
            return false
        }
        #expect(ContinuousClock.now - started < .seconds(3))
        // A lock held elsewhere: the wait ends as contention (retryable), not a hang.
        let key = Int64.random(in: 1...Int64.max)
        let holder = try await HeldTransaction(database: nil, "BEGIN; SELECT pg_advisory_xact_lock(\(key))")
        await #expect {
            try await database.withTransaction { tx in _ = try await tx.query("SELECT pg_advisory_xact_lock($1)", [key]) }
        } throws: { error in
            if case DatabaseError.contention = error { return true }
            return false
        }
        await holder.release()
        // The same pool still works, and its settings are what the connection reports.
        let settings = try await database.withConnection { connection in
            try await connection.query("SELECT current_setting('statement_timeout') AS s, current_setting('lock_timeout') AS l").rows[0]
        }
        #expect(try settings.decode(String.self, "s") == "300ms")
        #expect(try settings.decode(String.self, "l") == "200ms")
    }

    @Test("a terminated backend is replaced: the next transaction gets a new connection")
    func killedBackendIsReplaced() async throws {
        let database = try await TestDatabase.shared.makeDatabase(maxConnections: 1)
        defer { Task { await database.close() } }
        let first = try await database.withTransaction { tx in
            try await tx.query("SELECT pg_backend_pid() AS pid").rows[0].decode(Int32.self, "pid")
        }
        try await withRawConnection { admin in
            _ = try admin.execParams("SELECT pg_terminate_backend($1::int)", [.text(String(first))])
        }
        // The pooled connection is dead; BEGIN fails on it and the pool opens another.
        let second = try await database.withTransaction { tx in
            try await tx.query("SELECT pg_backend_pid() AS pid").rows[0].decode(Int32.self, "pid")
        }
        #expect(second != first)
        let stats = await database.poolStats()
        #expect(stats.open == 1)
    }

    @Test("an idle connection whose backend was terminated is not handed out: a pipelined send, a batch and a plain call after a restart all succeed")
    func deadIdleConnectionsSkipped() async throws {
        let database = try await TestDatabase.shared.makeDatabase(maxConnections: 3)
        defer { Task { await database.close() } }
        let scope = try await makeBareScope(database, prefix: "dead")
        // Three idle connections, each used once; then every backend is terminated, as a
        // PostgreSQL restart or failover does.
        let pids = try await withThrowingTaskGroup(of: Int32.self) { group in
            for _ in 0..<3 {
                group.addTask {
                    try await database.withTransaction { tx in
                        let pid = try await tx.query("SELECT pg_backend_pid() AS pid, pg_sleep(0.2)").rows[0].decode(Int32.self, "pid")
                        return pid
                    }
                }
            }
            return try await group.reduce(into: [Int32]()) { $0.append($1) }
        }
        #expect(Set(pids).count == 3)
        try await withRawConnection { admin in
            for pid in pids { _ = try admin.execParams("SELECT pg_terminate_backend($1::int, 5000)", [.text(String(pid))]) }
        }
        // Only `transaction` used to recover (its BEGIN failed and it retried): the others sent
        // their work on a dead connection and failed with .unavailable (a 503 to the user).
        _ = try await database.tenantPipelined(scope, "SELECT 1 AS one", [])
        _ = try await database.tenantBatch(scope, "SELECT 1 AS one")
        _ = try await database.withConnection { connection in try await connection.query("SELECT 1 AS one") }
    }

    @Test("a transaction whose failed statement was caught is not reported kept: COMMIT answered ROLLBACK throws rolledBack")
    func swallowedFailureIsNoCommit() async throws {
        let database = try await TestDatabase.shared.makeDatabase(maxConnections: 1)
        defer { Task { await database.close() } }
        let table = "kept_" + UUID().uuidString.prefix(8).lowercased()
        try await database.withTransaction { tx in try await tx.simpleQuery("CREATE TABLE \(table) (n int)") }
        await #expect {
            try await database.withTransaction { tx in
                try await tx.query("INSERT INTO \(table) VALUES (1)")
                _ = try? await tx.query("SELECT 1 / 0 AS boom")  // caught, and the body goes on
            }
        } throws: { error in
            if case .rolledBack = error as? DatabaseError { return true }
            return false
        }
        let count = try await database.withTransaction { tx in
            try await tx.query("SELECT count(*) AS n FROM \(table)").rows[0].decode(Int64.self, "n")
        }
        #expect(count == 0)
    }

    @Test("a connection killed in the middle of a transaction fails that call, then the pool recovers")
    func killedMidTransaction() async throws {
        let database = try await TestDatabase.shared.makeDatabase(maxConnections: 1)
        defer { Task { await database.close() } }
        await #expect {
            try await database.withTransaction { tx in
                let pid = try await tx.query("SELECT pg_backend_pid() AS pid").rows[0].decode(Int32.self, "pid")
                try await withRawConnection { admin in
                    _ = try admin.execParams("SELECT pg_terminate_backend($1::int)", [.text(String(pid))])
                }
                try await tx.query("SELECT 1")
            }
        } throws: { error in
            if case .unavailable = error as? DatabaseError { true } else { false }
        }
        let value = try await database.withTransaction { tx in try await tx.query("SELECT 42 AS v").rows[0].decode(Int.self, "v") }
        #expect(value == 42)
    }

    @Test("waiting for a connection times out with poolTimeout instead of hanging")
    func acquireTimeout() async throws {
        let database = try await TestDatabase.shared.makeDatabase(maxConnections: 1, acquireTimeout: .milliseconds(200))
        defer { Task { await database.close() } }
        let holder = Task {
            try await database.withConnection { connection in _ = try await connection.query("SELECT pg_sleep(1.5)") }
        }
        try await Task.sleep(for: .milliseconds(200))
        let started = ContinuousClock.now
        await #expect {
            try await database.withConnection { connection in _ = try await connection.query("SELECT 1") }
        } throws: { error in
            if case DatabaseError.poolTimeout = error { return true }
            return false
        }
        #expect(ContinuousClock.now - started < .seconds(1))
        try await holder.value
        // After the holder returns its connection, the pool serves again.
        let value = try await database.withConnection { try await $0.query("SELECT 1 AS v").rows[0].decode(Int.self, "v") }
        #expect(value == 1)
    }

    @Test("queries beyond the pool size wait their turn and all complete")
    func queuedQueries() async throws {
        let database = try await TestDatabase.shared.makeDatabase(maxConnections: 2)
        defer { Task { await database.close() } }
        let results = try await withThrowingTaskGroup(of: Int.self) { group in
            for index in 0..<10 {
                group.addTask {
                    try await database.withTransaction { tx in
                        try await tx.query("SELECT $1::int AS v, pg_sleep(0.05)", [index]).rows[0].decode(Int.self, "v")
                    }
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.sorted() == Array(0..<10))
        #expect(await database.poolStats().open <= 2)
    }

    @Test("a failed statement rolls the transaction back and the connection is reused")
    func rollbackOnError() async throws {
        let database = try await TestDatabase.shared.makeDatabase(maxConnections: 1)
        defer { Task { await database.close() } }
        let table = "rollback_\(UInt32.random(in: 0...UInt32.max))"
        try await database.withTransaction { tx in try await tx.simpleQuery("CREATE TABLE \(table) (v int)") }
        await #expect(throws: DatabaseError.self) {
            try await database.withTransaction { tx in
                try await tx.query("INSERT INTO \(table) VALUES (1)")
                try await tx.query("SELECT 1/0")
            }
        }
        let count = try await database.withTransaction { tx in
            try await tx.query("SELECT count(*) AS n FROM \(table)").rows[0].decode(Int.self, "n")
        }
        #expect(count == 0)
        try await database.withTransaction { tx in try await tx.simpleQuery("DROP TABLE \(table)") }
    }
    @Test("pipelined prepared statements are created once per connection, even when the pipeline that created one failed")
    func pipelinePrepared() async throws {
        let conninfo = try await TestDatabase.shared.conninfo()
        let database = Database(configuration: .init(conninfo: conninfo, maxConnections: 1), logger: testLogger)
        defer { Task { await database.close() } }
        let tag = Int.random(in: 1...1_000_000_000)
        let first = "SELECT $1::int + \(tag) AS n"
        let second = "SELECT $1::text || '-\(tag)' AS t"
        try await database.withTransaction { tx in
            let results = try await tx.pipelinePrepared([(first, [1]), (second, ["a"]), (first, [2])])
            #expect(results.map { $0.rows.count } == [1, 1, 1])
            #expect(try results[0].rows[0].decode(Int.self, "n") == 1 + tag)
            #expect(try results[1].rows[0].decode(String.self, "t") == "a-\(tag)")
            #expect(try results[2].rows[0].decode(Int.self, "n") == 2 + tag)
        }
        // A pipeline that creates a statement and then fails: the statement exists anyway, and
        // the next pipeline must use it, not create it again.
        let third = "SELECT $1::int * 2 AS m, '\(tag)' AS tag"
        await #expect(throws: (any Error).self) {
            try await database.withTransaction { tx in
                _ = try await tx.pipelinePrepared([(third, [3]), ("SELECT 1 / $1::int AS boom", [0])])
            }
        }
        let again = try await database.withTransaction { tx in
            try await tx.pipelinePrepared([(third, [4]), (first, [5])])
        }
        #expect(try again[0].rows[0].decode(Int.self, "m") == 8)
        #expect(try again[1].rows[0].decode(Int.self, "n") == 5 + tag)
        let count = try await database.withConnection { connection in
            try await connection.query("SELECT count(*) AS n FROM pg_prepared_statements WHERE statement LIKE '%' || $1 || '%'", [String(tag)]).rows[0]
        }
        #expect(try count.decode(Int64.self, "n") >= 3)
    }

    @Test("a column that becomes a domain under statements the pool prepared: transactions and pipelined ones still answer, on fresh connections")
    func preparedBeforeTypeChange() async throws {
        let conninfo = try await TestDatabase.shared.conninfo()
        let database = Database(configuration: .init(conninfo: conninfo, maxConnections: 2), logger: testLogger)
        defer { Task { await database.close() } }
        let scope = try await makeBareScope(database, prefix: "stale")
        try await database.withTenant(scope) { tx in
            try await tx.simpleQuery("CREATE TABLE items (id int PRIMARY KEY, status text); INSERT INTO items VALUES (1, 'active')")
        }
        let read = "SELECT status FROM items WHERE id = $1"
        func pipelined() async throws -> String {
            try await database.tenantPipelined(scope, [PipelinedStatement(read, [1], prepared: true)])[0].rows[0].decode(String.self, "status")
        }
        // Both connections prepare the statement, in both ways (two transactions at once).
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<2 {
                group.addTask {
                    try await database.withTenant(scope) { tx in
                        _ = try await tx.query(read, [1])
                        _ = try await tx.query("SELECT pg_sleep(0.2)")
                    }
                }
            }
            try await group.waitForAll()
        }
        for _ in 0..<4 { #expect(try await pipelined() == "active") }
        // What migration 023 does to a column: it becomes a domain, so the statement's result
        // type changes, and PostgreSQL refuses to run the statement prepared before.
        try await database.withTenant(scope) { tx in
            try await tx.simpleQuery("""
                CREATE DOMAIN item_status AS text CHECK (VALUE IN ('active', 'closed'));
                ALTER TABLE items ALTER COLUMN status TYPE item_status
                """)
        }
        #expect(try await pipelined() == "active")
        let status = try await database.withTenant(scope) { tx in try await tx.query(read, [1]).rows[0].decode(String.self, "status") }
        #expect(status == "active")
        for _ in 0..<4 { #expect(try await pipelined() == "active") }
        // The domain's check holds.
        await #expect(throws: (any Error).self) {
            try await database.withTenant(scope) { tx in _ = try await tx.query("UPDATE items SET status = $1", ["bogus"]) }
        }
        try await database.withTransaction { tx in
            try await tx.simpleQuery("DROP SCHEMA \(scope.schema.quoted) CASCADE; DROP ROLE \(scope.role.quoted)")
        }
    }
}
