@testable import Database
import Foundation
import DatabaseTesting
import Testing

/// SQL functions live in sql/tenant/functions/, one file each, applied after the versioned
/// migrations whenever their text changed (decision 0011).
@Suite("Database: repeatable function files")
struct FunctionFileTests {
    /// A bare schema and role, as provisioning makes them, migrated by the Migrator alone.
    static func schema(_ database: Database) async throws -> TenantScope {
        let scope = try await makeBareScope(database, prefix: "fn")
        try await Migrator(database: database, logger: testLogger).migrateTenant(scope)
        return scope
    }

    static func ledger(_ database: Database, _ scope: TenantScope) async throws -> [String: String] {
        try await database.withTenant(scope) { tx in
            var recorded: [String: String] = [:]
            for row in try await tx.query("SELECT name, checksum || '@' || applied_at::text AS value FROM schema_functions").rows {
                recorded[try row.decode(String.self, "name")] = try row.decode(String.self, "value")
            }
            return recorded
        }
    }

    @Test("every function file is applied and recorded once; an unchanged file is not applied again")
    func appliedOnce() async throws {
        let database = try await TestDatabase.shared.makeDatabase()
        defer { Task { await database.close() } }
        let scope = try await Self.schema(database)
        let first = try await Self.ledger(database, scope)
        #expect(Set(first.keys) == Set(Migrations.tenantFunctions.map(\.name)))
        for file in Migrations.tenantFunctions {
            #expect(first[file.name]?.hasPrefix(file.checksum + "@") == true)
        }
        try await Migrator(database: database, logger: testLogger).migrateTenant(scope)
        #expect(try await Self.ledger(database, scope) == first)
        // The versioned migrations create no function: each one has its own file.
        let owned = try await database.withTenant(scope) { tx in
            try await tx.query("""
                SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                WHERE n.nspname = $1 ORDER BY 1
                """, [scope.schema.rawValue]).rows.map { try $0.decode(String.self, "proname") }
        }
        #expect(owned == Migrations.tenantFunctions.map(\.name).sorted())
    }

    @Test("a function whose file changed is replaced on the next migration")
    func changedFileReapplied() async throws {
        let database = try await TestDatabase.shared.makeDatabase()
        defer { Task { await database.close() } }
        let scope = try await Self.schema(database)
        // What an older binary left behind: another body, recorded under another checksum.
        try await database.withTenant(scope) { tx in
            try await tx.simpleQuery("""
                CREATE OR REPLACE FUNCTION unread_messages(p_user text) RETURNS bigint LANGUAGE sql STABLE AS $$ SELECT 42::int8 $$;
                UPDATE schema_functions SET checksum = 'older' WHERE name = 'unread_messages';
                """)
        }
        try await Migrator(database: database, logger: testLogger).migrateTenant(scope)
        let unread = try await database.withTenant(scope) { tx in
            try await tx.query("SELECT unread_messages('nobody') AS n").rows.first?.decode(Int64.self, "n")
        }
        #expect(unread == 0)
        let current = try #require(Migrations.tenantFunctions.first { $0.name == "unread_messages" })
        #expect(try await Self.ledger(database, scope)["unread_messages"]?.hasPrefix(current.checksum + "@") == true)
    }

    @Test("a schema migrated before the functions moved out re-records the rewritten migrations' checksums")
    func rewrittenMigrationsRerecorded() async throws {
        let database = try await TestDatabase.shared.makeDatabase()
        defer { Task { await database.close() } }
        let scope = try await Self.schema(database)
        let rewritten = try #require(Migrations.rewritten["tenant"])
        try await database.withTenant(scope) { tx in
            for (version, checksum) in rewritten {
                try await tx.query("UPDATE schema_migrations SET checksum = $1 WHERE version = $2", [checksum, version])
            }
        }
        try await Migrator(database: database, logger: testLogger).migrateTenant(scope)
        let recorded = try await database.withTenant(scope) { tx in
            try await tx.query("SELECT version, checksum FROM schema_migrations").rows.map {
                (try $0.decode(Int.self, "version"), try $0.decode(String.self, "checksum"))
            }
        }
        for (version, checksum) in recorded {
            #expect(checksum == Migrations.tenant.first { $0.version == version }?.checksum)
        }
    }

    @Test("tables a migration rewrites are vacuumed and analyzed after it is applied to a schema")
    func vacuumAfterRewrite() async throws {
        // Migration 023 rewrites four tables (decision 0042): without a vacuum their index-only
        // scans read the heap again, and the retyped columns have no statistics.
        let rewritten = try #require(Migrations.tenant.first { $0.version == 23 }).vacuumAfter.map(\.rawValue)
        #expect(rewritten == ["sessions", "session_members", "messages", "event_outbox"])
        let database = try await TestDatabase.shared.makeDatabase()
        defer { Task { await database.close() } }
        let scope = try await Self.schema(database)
        var counts: [String: Int64] = [:]
        for _ in 0..<50 {
            counts = try await database.withTransaction { tx in
                try await tx.query("""
                    SELECT relname, vacuum_count + autovacuum_count AS vacuums, analyze_count + autoanalyze_count AS analyzes
                    FROM pg_stat_user_tables WHERE schemaname = $1
                    """, [scope.schema.rawValue]).rows.reduce(into: [String: Int64]()) {
                    $0[try $1.decode(String.self, "relname")] = min(try $1.decode(Int64.self, "vacuums"), try $1.decode(Int64.self, "analyzes"))
                }
            }
            if rewritten.allSatisfy({ (counts[$0] ?? 0) > 0 }) { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        for table in rewritten { #expect((counts[table] ?? 0) > 0, "\(table) was not vacuumed and analyzed") }
        #expect((counts["users"] ?? 0) == 0)
    }
}
