@testable import Database
import DatabaseTesting
import Foundation
import Testing

@Suite("SQL files split into statements")
struct SQLScriptTests {
    @Test("semicolons inside strings, quoted names, dollar quotes and comments do not end a statement")
    func lexemes() {
        let sql = """
            -- a comment; with a semicolon
            CREATE TABLE "odd;name" (a text DEFAULT 'it''s; here', b text DEFAULT E'back\\\\slash\\'; quote');
            /* block; /* nested; */ still comment; */
            CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $body$
            BEGIN
                PERFORM 1; RETURN $$;$$::text::int;
            END
            $body$;
            SELECT $1::int, 'DELETE' AS e;;
            ;  -- only a comment after the last one
            """
        let statements = SQLScript.statements(sql)
        #expect(statements.count == 3)
        #expect(statements[0].hasPrefix("-- a comment; with a semicolon\nCREATE TABLE \"odd;name\""))
        #expect(statements[0].hasSuffix("quote')"))
        guard statements.count == 3 else { return }
        #expect(statements[1].hasPrefix("/* block; /* nested; */ still comment; */\nCREATE FUNCTION f()"))
        #expect(statements[1].hasSuffix("PERFORM 1; RETURN $$;$$::text::int;\nEND\n$body$"))
        #expect(statements[2] == "SELECT $1::int, 'DELETE' AS e")
    }

    @Test("every SQL file of Parley splits into statements that each parse on their own")
    func projectFiles() {
        for file in Migrations.tenant.map(\.sql) + Migrations.tenantFunctions.map(\.sql) + Migrations.reporting.map(\.sql) + Migrations.control.map(\.sql) {
            let statements = SQLScript.statements(file)
            // A file of nothing but comments (a migration kept for its number) has no statement.
            let hasCode = file.split(separator: "\n").contains { !$0.trimmingCharacters(in: .whitespaces).isEmpty && !$0.trimmingCharacters(in: .whitespaces).hasPrefix("--") }
            #expect(statements.isEmpty == !hasCode)
            for statement in statements {
                #expect(!statement.hasSuffix(";"))
                // Every piece holds a keyword that starts a statement, not a fragment of one.
                let code = statement.split(separator: "\n").filter { !$0.trimmingCharacters(in: .whitespaces).hasPrefix("--") }.joined(separator: "\n")
                let first = code.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "(" }).first.map { $0.uppercased() } ?? ""
                #expect(["CREATE", "ALTER", "DROP", "INSERT", "UPDATE", "DELETE", "SELECT", "DO", "COMMENT", "GRANT", "REVOKE", "WITH", "SET", "TRUNCATE", "CLUSTER", "ANALYZE", "LOCK", "/*"].contains(first), "\(statement.prefix(80))")
            }
        }
    }
}

@Suite("SQL files split into statements, on PostgreSQL")
struct SQLScriptDatabaseTests {
    /// Every object of a schema as text with the schema's name taken out: relations and their
    /// options, columns (type, default, generation, storage), constraints, indexes, triggers,
    /// functions and views. The migration ledgers are left out.
    static func fingerprint(_ database: Database, _ schema: SQLName) async throws -> Set<String> {
        let rows = try await database.withTransaction { tx in
            try await tx.query("""
                WITH n AS (SELECT oid, nspname FROM pg_namespace WHERE nspname = $1),
                rels AS (SELECT c.* FROM pg_class c, n WHERE c.relnamespace = n.oid AND c.relname NOT LIKE 'schema\\_%')
                SELECT replace(line, (SELECT nspname::text FROM n) || '.', '') AS line FROM (
                    SELECT 'relation ' || relname || ' ' || relkind::text || ' ' || coalesce(array_to_string(reloptions, ','), '') AS line FROM rels
                    UNION ALL
                    SELECT 'column ' || r.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod) || ' notnull=' || a.attnotnull::text
                        || ' default=' || coalesce(pg_get_expr(d.adbin, d.adrelid), '') || ' generated=' || a.attgenerated::text
                        || ' identity=' || a.attidentity::text || ' storage=' || a.attstorage::text
                    FROM rels r JOIN pg_attribute a ON a.attrelid = r.oid LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
                    WHERE a.attnum > 0 AND NOT a.attisdropped
                    UNION ALL
                    SELECT 'constraint ' || r.relname || '.' || co.conname || ' ' || pg_get_constraintdef(co.oid)
                    FROM rels r JOIN pg_constraint co ON co.conrelid = r.oid
                    UNION ALL
                    SELECT 'index ' || pg_get_indexdef(i.indexrelid) FROM rels r JOIN pg_index i ON i.indrelid = r.oid
                    UNION ALL
                    SELECT 'trigger ' || pg_get_triggerdef(t.oid) FROM rels r JOIN pg_trigger t ON t.tgrelid = r.oid WHERE NOT t.tgisinternal
                    UNION ALL
                    SELECT 'function ' || pg_get_functiondef(p.oid) FROM pg_proc p, n WHERE p.pronamespace = n.oid
                    UNION ALL
                    SELECT 'view ' || relname || ' ' || pg_get_viewdef(oid) FROM rels WHERE relkind = 'v'
                ) lines
                """, [schema.rawValue]).rows
        }
        return Set(try rows.map { try $0.decode(String.self, "line") })
    }

    @Test("every tenant migration, function file and reporting view run statement by statement, in the form sent to Citus, builds the schema that running each file whole builds")
    func sameSchema() async throws {
        let database = try await TestDatabase.shared.makeDatabase()
        let whole = try await FunctionFileTests.schema(database)
        let split = try await makeBareScope(database, prefix: "sp")
        var statements = 0
        for files in [Migrations.tenant.map(\.sql), Migrations.tenantFunctions.map(\.sql), Migrations.reporting.map(\.sql)] {
            for file in files {
                statements += try await database.withTenant(split) { tx in
                    try await tx.simpleQuery("SET LOCAL check_function_bodies = off")
                    let pieces = SQLScript.statements(file)
                    for statement in pieces {
                        for step in Migrator.citusForm(statement) {
                            do { try await tx.simpleQuery(step.sql) } catch {
                                Issue.record("\(String(reflecting: error)) in: \(step.sql.prefix(300))")
                                throw error
                            }
                        }
                    }
                    return pieces.count
                }
            }
        }
        #expect(statements > 100)
        // The Citus form rewrote something (019's checks on new columns), and still matches.
        #expect(Migrations.tenant.flatMap { SQLScript.statements($0.sql) }.contains { Migrator.citusForm($0).count == 2 })
        let expected = try await Self.fingerprint(database, whole.schema)
        let actual = try await Self.fingerprint(database, split.schema)
        #expect(expected.count > 300)
        #expect(actual.subtracting(expected).isEmpty, "only in the split build: \(actual.subtracting(expected).sorted().prefix(5))")
        #expect(expected.subtracting(actual).isEmpty, "only in the whole build: \(expected.subtracting(actual).sorted().prefix(5))")
        await database.close()
    }
}
