import Database
import DatabaseTesting
import Domain
import Foundation
import Testing

@Suite("Domain: the send and its numbering read their hot tables through their indexes")
struct NumberingScanTests {
    /// The clock row is updated and the two queues are emptied by every numbering, so between
    /// two autovacuum visits they hold thousands of dead versions in pages a whole-table scan
    /// reads at every run: sends fell from ~700 to ~400 a second over a minute under load
    /// (decision 0047). A new brokerage's tables are one page each, where the planner prefers
    /// such a scan, and the numbering's generic plans keep what they were first given.
    @Test("numbering sends in a new brokerage scans none of the clock, the queues and the kept counts whole")
    func noWholeTableScans() async throws {
        let (fixture, sessions, session) = try await Self.clientSession()
        defer { Task { await fixture.close() } }
        let agent = fixture.caller("agent-1")
        let client = fixture.caller("c1", .client)
        // Seven rounds: past the five custom plans PostgreSQL makes before it settles on a
        // generic one.
        for round in 0..<7 {
            let sender = round % 2 == 0 ? client : agent
            _ = try await sessions.send(sender, sessionID: session.id, .init(clientMessageId: "m\(round)", text: "round \(round)"))
            let scanned = try await fixture.database.withTenant(fixture.tenant.scope) { tx in
                try await Self.wholeTableScans(tx) { _ = try await tx.query("SELECT sequence_events() AS p") }
            }
            #expect(scanned.isEmpty, "round \(round): \(scanned)")
        }
        // And the badges are still right: the client sent last.
        #expect(try await BadgeStore(database: fixture.database).badge(agent).unreadMessages == 1)
        #expect(try await BadgeStore(database: fixture.database).badge(client).unreadMessages == 0)
        #expect(try await BadgeCountTests.usersOffOnceFolded(fixture) == 0)
    }

    /// The send itself updates the session's row and its sender's membership at every send, and
    /// its generic plans (decision 0044) are made at a new brokerage's first send: none of them
    /// may be a whole-table scan, which would stay while the tables grow.
    @Test("a send in a new brokerage, its triggers included, scans no table whole")
    func sendScansNoTableWhole() async throws {
        let (fixture, _, session) = try await Self.clientSession()
        defer { Task { await fixture.close() } }
        for round in 0..<7 {
            let scanned = try await fixture.database.withTenant(fixture.tenant.scope) { tx in
                try await Self.wholeTableScans(tx) {
                    let outcome = try await tx.query(
                        "SELECT outcome FROM send_message($1, $2, $3, $4, $4, $4, NULL, NULL)",
                        [UUID(uuidString: session.id), round % 2 == 0 ? "c1" : "agent-1", "s\(round)", "hello there \(round)"]
                    ).rows[0].decode(String.self, "outcome")
                    #expect(outcome == "created")
                }
            }
            #expect(scanned.isEmpty, "round \(round): \(scanned)")
        }
    }

    /// A send looks for an earlier message of its sender under the same client id (a retry).
    /// Planned at a new brokerage's first send, with every table empty, the lookup walked the
    /// session's history index (`session_id, seq`) and filtered sender and client id: the same
    /// estimated cost as the key, and the backend kept that plan (decision 0044) until an
    /// ANALYZE of the messages replaced it. Until then every send read every message of its
    /// session, more at each send. The send now finds a retry by the key itself, through the
    /// insert's conflict (decision 0052).
    @Test("a send planned in a new brokerage does not read its session's history")
    func sendReadsNoHistory() async throws {
        let (fixture, _, session) = try await Self.clientSession()
        defer { Task { await fixture.close() } }
        let sessionID = try #require(UUID(uuidString: session.id))
        func send(_ key: String) async throws -> (outcome: String, fetched: Int64) {
            try await fixture.database.withTenant(fixture.tenant.scope) { tx in
                try await Self.rowsFetched(tx, through: "messages") {
                    try await tx.query(
                        "SELECT outcome FROM send_message($1, 'c1', $2, 'is the loft still available', 'x', 'x', NULL, NULL)",
                        [sessionID, key]).rows[0].decode(String.self, "outcome")
                }
            }
        }
        // Kept away before the first send (the ALTER itself makes the backend plan again).
        try await Self.withoutAutovacuum(fixture, "messages")
        // Seven sends, past the custom plans: the lookup is planned on an empty table.
        for round in 0..<7 { #expect(try await send("first-\(round)").outcome == "created") }
        // The session's history grows by 2,000 messages.
        try await fixture.database.withTenant(fixture.tenant.scope) { tx in
            _ = try await tx.query("""
                WITH s AS (UPDATE sessions SET last_seq = last_seq + 2000 WHERE id = $1 RETURNING last_seq)
                INSERT INTO messages (session_id, seq, sender_id, client_message_id, text)
                SELECT $1, s.last_seq - 2000 + i, 'agent-1', 'bulk-' || i, 'message ' || i FROM s, generate_series(1, 2000) AS i
                """, [sessionID])
        }
        let created = try await send("after")
        #expect(created.outcome == "created")
        #expect(created.fetched < 10, "messages fetched by one send: \(created.fetched)")
        // A retry still finds the message it retries, and writes nothing.
        let retry = try await send("after")
        #expect(retry.outcome == "existing")
        #expect(retry.fetched < 10, "messages fetched by a retry: \(retry.fetched)")
    }

    /// The numbering counts each announced agent's pending chat requests. Planned on an empty
    /// table, that count walked `chat_requests_pending_age` (every pending request of the
    /// brokerage, by age) and filtered the agent, and the numbering kept the plan: each badge it
    /// announced read every pending request of the brokerage (decision 0052). So did
    /// `GET /v1/badge`, through `pending_requests()`.
    @Test("a numbering planned in a new brokerage counts an agent's pending requests through the agent's index")
    func pendingCountReadsOnlyTheAgents() async throws {
        let (fixture, sessions, session) = try await Self.clientSession()
        defer { Task { await fixture.close() } }
        let agent = fixture.caller("agent-1")
        try await Self.withoutAutovacuum(fixture, "chat_requests")
        // Seven sends and numberings, past the custom plans, with no chat request yet; the
        // client's sends announce the agent's badge.
        for round in 0..<7 {
            _ = try await sessions.send(fixture.caller("c1", .client), sessionID: session.id, .init(clientMessageId: "m\(round)", text: "round \(round)"))
            _ = try await fixture.database.withTenant(fixture.tenant.scope) { tx in try await tx.query("SELECT sequence_events() AS p") }
        }
        // 2,000 requests wait for other agents, 2 for agent-1.
        try await fixture.database.withTenant(fixture.tenant.scope) { tx in
            _ = try await tx.query("""
                INSERT INTO chat_requests (agent_id, visitor_id, name, email, preferred_contact_method)
                SELECT CASE WHEN i <= 2 THEN 'agent-1' ELSE 'agent-' || (i % 50 + 2) END, 'v' || i, 'Visitor ' || i,
                       'v' || i || '@example.com', 'email'
                FROM generate_series(1, 2000) AS i
                """)
        }
        _ = try await sessions.send(fixture.caller("c1", .client), sessionID: session.id, .init(clientMessageId: "after", text: "after"))
        let (_, fetched) = try await fixture.database.withTenant(fixture.tenant.scope) { tx in
            try await Self.rowsFetched(tx, through: "chat_requests") { _ = try await tx.query("SELECT sequence_events() AS p") }
        }
        #expect(fetched < 10, "chat requests fetched by one numbering: \(fetched)")
        let badge = try await BadgeStore(database: fixture.database).badge(agent)
        #expect(badge.pendingRequests == 2)
        let announced = try await fixture.database.withTenant(fixture.tenant.scope) { tx in
            try await tx.query("""
                SELECT (data ->> 'pendingRequests')::int8 AS n FROM events
                WHERE type = 'badge.updated' AND recipients = ARRAY['agent-1'] ORDER BY pos DESC LIMIT 1
                """).rows[0].decode(Int64.self, "n")
        }
        #expect(announced == 2)
    }

    /// Numbering deletes the oldest events of the outbox, whose ids only grow, so its index keeps
    /// the entries of every row numbered since autovacuum last came by at its low end (under a
    /// send load, tens of thousands a minute), and nothing is inserted there to clean them up. A
    /// scan from the start of the index steps over all of them. The numbering did that three
    /// times a run (the look at the outbox, the bound of the batch, the delete); it does it once
    /// and starts the others at the oldest event (decision 0049).
    @Test("a numbering steps over the outbox's entries of numbered events once, not at every scan")
    func outboxLowEndWalkedOnce() async throws {
        let (fixture, sessions, session) = try await Self.clientSession()
        defer { Task { await fixture.close() } }
        // 20,000 events numbered, their rows deleted and not vacuumed (autovacuum kept away).
        try await Self.withoutAutovacuum(fixture, "event_outbox")
        try await fixture.database.withTenant(fixture.tenant.scope) { tx in
            _ = try await tx.query("INSERT INTO event_outbox (type, recipients, data) SELECT 'badge.updated', ARRAY['c1'], '{}' FROM generate_series(1, 20000)")
        }
        _ = try await fixture.database.withTenant(fixture.tenant.scope) { tx in try await tx.query("SELECT sequence_events(100000) AS p") }
        let (pages, fetched) = try await Self.indexBlocksPerNumbering(fixture, "event_outbox_pkey") { round in
            _ = try await sessions.send(fixture.caller("c1", .client), sessionID: session.id, .init(clientMessageId: "m\(round)", text: "round \(round)"))
        }
        #expect(pages > 20)
        // Three walks a round were at least 9 × the pages in three rounds. One walk a round is
        // 3 ×, and at most one more: the walk that first meets an entry of a row no snapshot
        // still sees marks it dead, and may read its page again for that (once per entry).
        #expect(fetched.reduce(0, +) < 6 * pages, "index blocks read per round: \(fetched), for an index of \(pages)")
    }

    /// The badge differences are deleted at every fold too, and a user who receives every send
    /// (an agent with thousands of clients) has thousands of entries of folded differences in
    /// `badge_deltas_user` between two vacuums. The fold steps over them once; the numbering
    /// used to step over that user's again to add the differences not folded yet to their
    /// count. Folded in the numbering's own statement, there are none it could see (decision
    /// 0050).
    @Test("a numbering steps over a busy recipient's folded badge differences once")
    func badgeDifferencesWalkedOnce() async throws {
        let (fixture, sessions, session) = try await Self.clientSession()
        defer { Task { await fixture.close() } }
        // 20,000 differences of the client's, folded (with an event, so that a numbering runs),
        // their rows deleted and not vacuumed.
        try await Self.withoutAutovacuum(fixture, "badge_deltas")
        try await fixture.database.withTenant(fixture.tenant.scope) { tx in
            _ = try await tx.query("INSERT INTO badge_deltas (user_id, delta) SELECT 'c1', 0 FROM generate_series(1, 20000)")
            _ = try await tx.query("INSERT INTO event_outbox (type, recipients, data) VALUES ('badge.updated', ARRAY['c1'], '{}')")
        }
        _ = try await fixture.database.withTenant(fixture.tenant.scope) { tx in try await tx.query("SELECT sequence_events() AS p") }
        let (pages, fetched) = try await Self.indexBlocksPerNumbering(fixture, "badge_deltas_user") { round in
            _ = try await sessions.send(fixture.caller("agent-1"), sessionID: session.id, .init(clientMessageId: "m\(round)", text: "round \(round)"))
        }
        #expect(pages > 10)  // duplicates of one key share posting lists: ~18 pages
        // Two walks a round were at least 6 × the pages in three rounds; one is 3 ×, and at most
        // one more for marking the entries dead (as above).
        #expect(fetched.reduce(0, +) < 5 * pages, "index blocks read per round: \(fetched), for an index of \(pages)")
        // The client's badge, announced and kept, is still the three messages.
        #expect(try await BadgeStore(database: fixture.database).badge(fixture.caller("c1", .client)).unreadMessages == 3)
        let announced = try await fixture.database.withTenant(fixture.tenant.scope) { tx in
            try await tx.query("""
                SELECT (data ->> 'unreadMessages')::int8 AS n FROM events
                WHERE type = 'badge.updated' AND recipients = ARRAY['c1'] ORDER BY pos DESC LIMIT 1
                """).rows[0].decode(Int64.self, "n")
        }
        #expect(announced == 3)
    }

    /// A new brokerage on a pool of one connection (so every round runs on the same backend and
    /// its plans), with agent-1's session with client c1.
    static func clientSession() async throws -> (TenantFixture, SessionStore, Session) {
        let fixture = try await TenantFixture.make(try await TestDatabase.shared.makeDatabase(maxConnections: 1))
        let sessions = SessionStore(database: fixture.database)
        let (session, _) = try await sessions.create(fixture.caller("agent-1"), with: .newClient(userID: "c1", name: "C1", email: nil, phone: nil))
        return (fixture, sessions, session)
    }

    /// Keeps autovacuum off `table`: neither its vacuum (dead entries stay) nor its ANALYZE
    /// (which would replace the plans a test is about).
    static func withoutAutovacuum(_ fixture: TenantFixture, _ table: String) async throws {
        try await fixture.database.withTenant(fixture.tenant.scope) { tx in
            _ = try await tx.query("ALTER TABLE \(table) SET (autovacuum_enabled = false)")
        }
    }

    /// `body`'s result and the rows it fetched through `table`'s indexes, in `tx` (PostgreSQL
    /// counts them on each index).
    static func rowsFetched<T>(_ tx: Transaction, through table: String, _ body: () async throws -> T) async throws -> (T, Int64) {
        let count = "SELECT sum(pg_stat_get_xact_tuples_fetched(indexrelid))::int8 AS n FROM pg_index WHERE indrelid = $1::regclass"
        let before = try await tx.query(count, [table]).rows[0].decode(Int64.self, "n")
        let result = try await body()
        return (result, try await tx.query(count, [table]).rows[0].decode(Int64.self, "n") - before)
    }

    /// Three rounds of `send`, then a numbering in a transaction of its own: the index's size in
    /// pages, and the blocks of it each numbering read (counted before and after it, in its
    /// transaction).
    static func indexBlocksPerNumbering(
        _ fixture: TenantFixture, _ index: String, send: (Int) async throws -> Void
    ) async throws -> (pages: Int64, fetched: [Int64]) {
        let pages = try await fixture.database.withTenant(fixture.tenant.scope) { tx in
            try await tx.query("SELECT pg_relation_size($1::regclass) / current_setting('block_size')::int AS n", [index]).rows[0].decode(Int64.self, "n")
        }
        var fetched: [Int64] = []
        for round in 0..<3 {
            try await send(round)
            fetched.append(try await fixture.database.withTenant(fixture.tenant.scope) { tx in
                let blocks = "SELECT pg_stat_get_xact_blocks_fetched($1::regclass) AS n"
                let before = try await tx.query(blocks, [index]).rows[0].decode(Int64.self, "n")
                _ = try await tx.query("SELECT sequence_events() AS p")
                return try await tx.query(blocks, [index]).rows[0].decode(Int64.self, "n") - before
            })
        }
        return (pages, fetched)
    }

    /// The brokerage's tables that `body` scanned whole, with how often: the difference of the
    /// backend's counts before and after it, in one transaction. (PostgreSQL 15's "xact" counts
    /// also hold earlier transactions' until the backend reports them, at most once a second
    /// and only when idle; nothing is reported inside a transaction.)
    static func wholeTableScans(_ tx: Transaction, _ body: () async throws -> Void) async throws -> [String: Int64] {
        func counts() async throws -> [String: Int64] {
            var counts: [String: Int64] = [:]
            for row in try await tx.query("SELECT relname, seq_scan FROM pg_stat_xact_user_tables WHERE schemaname = current_schema()").rows {
                counts[try row.decode(String.self, "relname")] = try row.decode(Int64.self, "seq_scan")
            }
            return counts
        }
        let before = try await counts()
        try await body()
        return try await counts().reduce(into: [:]) { scanned, entry in
            let more = entry.value - (before[entry.key] ?? 0)
            if more > 0 { scanned[entry.key] = more }
        }
    }
}
