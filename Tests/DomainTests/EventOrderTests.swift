import Database
import DatabaseTesting
import Domain
import Foundation
import Testing

@Suite("Domain: event positions follow the order of each session's sends")
struct EventOrderTests {
    /// A session's sends run one after another (the session row's lock), so a later message's
    /// event has the larger outbox id and commits after the earlier one's. The numbering took
    /// the outbox's oldest id in one statement and numbered from there in the next, after it
    /// waited for the clock: an event that committed between the two with a smaller id was left
    /// to the next run, while the same session's next message, committed meanwhile, was numbered
    /// in this one — before it. A stream then delivered seq 78, 79, 80 and then 77 (FaultTests,
    /// two servers). The numbering now reads the oldest id in the statement that numbers, in one
    /// snapshot (decision 0053).
    @Test("an event that commits while a numbering waits for the clock keeps its place before its session's next message")
    func lateEventKeepsItsPlace() async throws {
        let fixture = try await TenantFixture.make(try await TestDatabase.shared.makeDatabase(maxConnections: 6))
        defer { Task { await fixture.close() } }
        let sessions = SessionStore(database: fixture.database)
        let agent = fixture.caller("agent-1")
        let (first, _) = try await sessions.create(agent, with: .newClient(userID: "c1", name: "C1", email: nil, phone: nil))
        let (other, _) = try await sessions.create(agent, with: .newClient(userID: "c2", name: "C2", email: nil, phone: nil))
        let scope = fixture.tenant.scope
        let number = "SELECT sequence_events() AS p"
        _ = try await fixture.database.withTenant(scope) { tx in try await tx.query(number) }

        // A: the first session's message, written and not yet committed (its transaction waits).
        let sentA = Gate(), commitA = Gate(), lockTaken = Gate(), releaseClock = Gate()
        // Whatever fails, every gate opens at the end, so no task waits forever.
        func openAll() async { for gate in [sentA, commitA, lockTaken, releaseClock] { await gate.open() } }
        let a = Task {
            do {
                try await fixture.database.withTenant(scope) { tx in
                    _ = try await tx.query("SELECT outcome FROM send_message($1, 'c1', 'a', 'message a', 'a', 'a', NULL, NULL)",
                                           [UUID(uuidString: first.id)])
                    await sentA.open()
                    await commitA.wait()
                }
            } catch { await openAll(); throw error }
        }
        await sentA.wait()
        do {
            // C: another session's message, with a larger id, committed.
            _ = try await sessions.send(fixture.caller("c2", .client), sessionID: other.id, .init(clientMessageId: "c", text: "message c"))
            // The clock, held by another numbering.
            let clock = Task {
                do {
                    try await fixture.database.withTenant(scope) { tx in
                        _ = try await tx.query("SELECT position FROM event_clock WHERE singleton FOR UPDATE")
                        await lockTaken.open()
                        await releaseClock.wait()
                    }
                } catch { await openAll(); throw error }
            }
            await lockTaken.wait()
            // A numbering that has looked at the outbox (it sees C, not A) and waits for the clock.
            let numbering = Task { try await fixture.database.withTenant(scope) { tx in _ = try await tx.query(number) } }
            try await waitForLockWait(fixture.database, query: "sequence_events")
            // A commits, then the first session's next message B.
            await commitA.open()
            try await a.value
            _ = try await sessions.send(fixture.caller("c1", .client), sessionID: first.id, .init(clientMessageId: "b", text: "message b"))
            await releaseClock.open()
            try await clock.value
            try await numbering.value
        } catch {
            await openAll()
            throw error
        }
        _ = try await fixture.database.withTenant(scope) { tx in try await tx.query(number) }

        let order = try await fixture.database.withTenant(scope) { tx in
            try await tx.query("""
                SELECT (data ->> 'seq')::int8 AS seq FROM events
                WHERE type = 'message.created' AND session_id = $1 ORDER BY pos
                """, [UUID(uuidString: first.id)]).rows.map { try $0.decode(Int64.self, "seq") }
        }
        #expect(order == [1, 2], "the first session's messages in position order, by seq: \(order)")
    }

    /// Waits until a backend of this pool runs `query` and waits for a lock.
    func waitForLockWait(_ database: Database, query: String) async throws {
        for _ in 0..<200 {
            // As the pool's login role: a brokerage's role sees no other backend's query.
            let waiting = try await database.withConnection { connection in
                try await connection.query("""
                    SELECT count(*) AS n FROM pg_stat_activity
                    WHERE wait_event_type = 'Lock' AND query LIKE '%' || $1 || '%' AND pid <> pg_backend_pid()
                    """, [query]).rows[0].decode(Int64.self, "n")
            }
            if waiting > 0 { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        Issue.record("no backend waited for a lock running \(query)")
    }
}

/// Opened once; every waiter, before or after, goes on.
actor Gate {
    private var isOpen = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    func open() {
        isOpen = true
        for waiter in waiters { waiter.resume() }
        waiters = []
    }

    func wait() async {
        if isOpen { return }
        await withCheckedContinuation { waiters.append($0) }
    }
}
