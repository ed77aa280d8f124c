@testable import Database
import DatabaseTesting
import Testing

/// Decision 0026: a brokerage's transactions go to connections that suit it (served it
/// already, or its preferred slot), waiting up to the patience for one before taking
/// any. Real connections to the test server; the pool's own slots and rankings.
@Suite("Database: pool affinity")
struct PoolAffinityTests {
    /// Three connections opened without a brokerage (slots 0, 1, 2, in that order), all leased;
    /// a brokerage's transaction waits; the slot it ranks just after its preferred ones comes
    /// back first (its second choice, by default: one that suited it when a brokerage preferred
    /// two), and its preferred slot 300 ms later. Returns the connection the transaction got,
    /// and which of the two that was.
    private static func contest(patience: Duration) async throws -> (gotSuited: Bool, gotOther: Bool) {
        let database = Database(
            configuration: .init(conninfo: try await TestDatabase.shared.conninfo(), maxConnections: 3, affinityPatience: patience),
            logger: testLogger)
        let pool = database.pool
        var leased: [DatabaseConnection] = []
        for _ in 0..<3 { leased.append(try await pool.acquire()) }
        let brokerage = "t_affinity_test"
        let affinity = ConnectionPool.Affinity(brokerage)
        let preferred = database.configuration.preferredSlots
        let other = try #require((0..<3).first {
            affinity.ranks($0, amongFirst: preferred + 1, of: 3) && !affinity.ranks($0, amongFirst: preferred, of: 3)
        })
        let suited = try #require((0..<3).first { affinity.ranks($0, amongFirst: preferred, of: 3) })

        let waiter = Task { try await pool.acquire(tenant: brokerage) }
        try await Task.sleep(for: .milliseconds(50))
        await pool.release(leased[other], discard: false)
        try await Task.sleep(for: .milliseconds(300))
        await pool.release(leased[suited], discard: false)
        let got = try await waiter.value
        let outcome = (gotSuited: got === leased[suited], gotOther: got === leased[other])
        await pool.release(got, discard: false)
        for (slot, connection) in leased.enumerated() where slot != other && slot != suited {
            await pool.release(connection, discard: false)
        }
        await database.close()
        return outcome
    }

    @Test("a brokerage's transaction waits within the patience for a connection that suits it, though another is idle")
    func waitsForItsConnection() async throws {
        let outcome = try await Self.contest(patience: .seconds(5))
        #expect(outcome.gotSuited && !outcome.gotOther)
    }

    @Test("past the patience it takes the idle connection that does not suit it")
    func takesAnyAfterPatience() async throws {
        let outcome = try await Self.contest(patience: .milliseconds(10))
        #expect(outcome.gotOther && !outcome.gotSuited)
    }
}
