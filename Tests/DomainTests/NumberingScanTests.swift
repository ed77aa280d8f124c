import DatabaseTesting
import Domain
import Foundation
import Testing

@Suite("Domain: the numbering reads its hot tables through their indexes")
struct NumberingScanTests {
    /// The clock row is updated and the two queues are emptied by every numbering, so between
    /// two autovacuum visits they hold thousands of dead versions in pages a whole-table scan
    /// reads at every run: sends fell from ~700 to ~400 a second over a minute under load
    /// (decision 0047). A new brokerage's tables are one page each, where the planner prefers
    /// such a scan, and the numbering's generic plans keep what they were first given.
    @Test("numbering sends in a new brokerage scans none of the clock, the queues and the kept counts whole")
    func noWholeTableScans() async throws {
        // One connection, so every round runs on the same backend and its plans.
        let fixture = try await TenantFixture.make(try await TestDatabase.shared.makeDatabase(maxConnections: 1))
        defer { Task { await fixture.close() } }
        let sessions = SessionStore(database: fixture.database)
        let agent = fixture.caller("agent-1")
        let client = fixture.caller("c1", .client)
        let (session, _) = try await sessions.create(agent, with: .newClient(userID: "c1", name: "C1", email: nil, phone: nil))
        // Seven rounds: past the five custom plans PostgreSQL makes before it settles on a
        // generic one.
        for round in 0..<7 {
            let sender = round % 2 == 0 ? client : agent
            _ = try await sessions.send(sender, sessionID: session.id, .init(clientMessageId: "m\(round)", text: "round \(round)"))
            let scans = try await fixture.database.withTenant(fixture.tenant.scope) { tx in
                _ = try await tx.query("SELECT sequence_events() AS p")
                // This transaction's own scans, per table (pg_stat_xact_user_tables).
                return try await tx.query("""
                    SELECT relname, seq_scan FROM pg_stat_xact_user_tables
                    WHERE schemaname = current_schema()
                      AND relname IN ('event_clock', 'event_outbox', 'badge_deltas', 'badge_counts', 'chat_requests')
                    ORDER BY relname
                    """).rows.map { "\(try $0.decode(String.self, "relname")) \(try $0.decode(Int64.self, "seq_scan"))" }
            }
            #expect(scans.contains("event_clock 0") && scans.contains("badge_deltas 0"), "round \(round): \(scans)")
            #expect(scans.allSatisfy { $0.hasSuffix(" 0") }, "round \(round): \(scans)")
        }
        // And the badges are still right: the client sent last.
        #expect(try await BadgeStore(database: fixture.database).badge(agent).unreadMessages == 1)
        #expect(try await BadgeStore(database: fixture.database).badge(client).unreadMessages == 0)
        #expect(try await BadgeCountTests.usersOffOnceFolded(fixture) == 0)
    }
}
