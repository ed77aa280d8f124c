@testable import Database
import DatabaseTesting
import Foundation
import Testing

/// Decision 0045: a new brokerage is created from `sql/baseline/tenant.sql` instead of by
/// replaying every migration, function file and reporting view. What it creates must be what
/// the replay creates, to the last default, trigger, function setting and seed row: both are
/// dumped with `pg_dump` and compared. `PARLEY_WRITE_BASELINE=1` writes the file from the replay.
@Suite("Database: the tenant baseline")
struct TenantBaselineTests {
    @Test("a brokerage created from the baseline dumps exactly as one created by replaying every file, and the committed baseline is this build's")
    func baselineIsTheReplay() async throws {
        let conninfo = try await TestDatabase.shared.conninfo()
        let database = Database(configuration: .init(conninfo: conninfo, maxConnections: 2), logger: testLogger)
        defer { Task { await database.close() } }

        func provision(baseline: Bool) async throws -> TenantScope {
            let scope = try await makeBareScope(database, prefix: "bl")
            try await database.withTenant(scope) { tx in
                try await Migrator.applyTenantMigrations(in: tx, scope: scope, baseline: baseline, logger: testLogger)
            }
            return scope
        }
        func dump(_ scope: TenantScope) throws -> String {
            let schema = scope.schema.rawValue
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("parley-\(schema).sql").path
            let log = file + ".log"
            defer { try? FileManager.default.removeItem(atPath: file); try? FileManager.default.removeItem(atPath: log) }
            let status = try Spawn.run([
                try EmbeddedCluster.findProgram("pg_dump"), "--dbname=" + conninfo, "--schema=" + schema, "--inserts",
                "--exclude-table=\(schema).schema_migrations", "--exclude-table=\(schema).schema_functions",
                "--exclude-table=\(schema).schema_reporting", "--exclude-table=\(schema).report_*", "--file=" + file,
            ], logPath: log)
            #expect(status == 0, "pg_dump: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
            return TenantBaseline.text(fromDump: try String(contentsOfFile: file, encoding: .utf8), schema: schema, role: scope.role.rawValue)
        }

        let replayed = try dump(try await provision(baseline: false))
        #expect(replayed.contains("CREATE TABLE @SCHEMA@.messages"), "the dump names the schema by its placeholder")

        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("sql/baseline/tenant.sql").path
        if ProcessInfo.processInfo.environment["PARLEY_WRITE_BASELINE"] == "1" {
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try replayed.write(toFile: path, atomically: true, encoding: .utf8)
            return
        }
        let committed = try #require(
            Migrations.tenantBaseline,
            "sql/baseline/tenant.sql is missing or was generated from other files: PARLEY_WRITE_BASELINE=1 swift test --filter TenantBaselineTests")
        #expect(committed == replayed, "sql/baseline/tenant.sql differs from what the replay creates: PARLEY_WRITE_BASELINE=1 swift test --filter TenantBaselineTests")

        let fromBaseline = try dump(try await provision(baseline: true))
        if fromBaseline != replayed {
            let folder = FileManager.default.temporaryDirectory.path
            try replayed.write(toFile: folder + "/parley-baseline-replayed.sql", atomically: true, encoding: .utf8)
            try fromBaseline.write(toFile: folder + "/parley-baseline-created.sql", atomically: true, encoding: .utf8)
            Issue.record("a brokerage created from the baseline differs from a replayed one: diff \(folder)/parley-baseline-replayed.sql \(folder)/parley-baseline-created.sql")
        }
    }
}
