import Database
import DatabaseTesting
import Domain

/// Rows a store call read from one table, from the server's own counts (`pg_stat_user_tables`:
/// rows read by whole-table scans plus rows fetched through its indexes). For calls that run
/// their own transactions: the fixture's pool must have one connection, so the backend that did
/// the work is the one whose counts are flushed (`pg_stat_force_next_flush()`) before reading.
enum RowsRead {
    static func during<T>(_ fixture: TenantFixture, _ table: String, _ body: () async throws -> T) async throws -> (T, Int64) {
        func counted() async throws -> Int64 {
            try await fixture.database.withTenant(fixture.tenant.scope) { tx in
                _ = try await tx.query("SELECT pg_stat_clear_snapshot()")
                return try await tx.query("""
                    SELECT (coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0))::int8 AS n FROM pg_stat_user_tables
                    WHERE relid = $1::regclass
                    """, [table]).rows[0].decode(Int64.self, "n")
            }
        }
        func flush() async throws {
            _ = try await fixture.database.withTenant(fixture.tenant.scope) { tx in try await tx.query("SELECT pg_stat_force_next_flush()") }
        }
        try await flush()
        let before = try await counted()
        let result = try await body()
        try await flush()
        return (result, try await counted() - before)
    }
}
