import Foundation

/// One forward-only migration: `sql/<set>/NNN_name.sql` (tables, indexes, data changes).
public struct Migration: Sendable, Hashable {
    public let version: Int
    public let name: String
    public let sql: String

    /// FNV-1a of the SQL, recorded when applied so an edited, already-applied file is noticed.
    public var checksum: String { FNV1a.hex(sql) }

    /// Tables the migration rewrites, named on a line `-- parley:vacuum-after a, b`: once it is
    /// applied to an existing schema they are vacuumed and analyzed (outside its transaction).
    /// A rewritten table has no visibility map, so index-only scans read the heap again, and a
    /// column whose type changed has lost its statistics; autovacuum counts neither.
    public var vacuumAfter: [SQLName] {
        let marker = "-- parley:vacuum-after "
        return sql.split(separator: "\n").filter { $0.hasPrefix(marker) }.flatMap { line in
            line.dropFirst(marker.count).split(separator: ",").map { name in
                // A name that is not a plain identifier is a build mistake: fail loudly at start-up.
                guard let table = SQLName(name.trimmingCharacters(in: .whitespaces)) else {
                    preconditionFailure("migration \(version): \(name) is not a table name")
                }
                return table
            }
        }
    }
}

/// One repeatable file: `sql/<set>/functions/name.sql`, a function (or a trigger function and
/// its trigger) written with `CREATE OR REPLACE`. Applied after the versioned migrations
/// whenever its text changed (docs/decisions/0011-sql-functions.md).
public struct FunctionFile: Sendable, Hashable {
    public let name: String
    public let sql: String

    public var checksum: String { FNV1a.hex(sql) }
}

/// The SQL compiled into the binary from `sql/` (see EmbedPlugin).
public enum Migrations {
    /// `sql/control/*.sql`, applied to the `parley` schema.
    public static let control: [Migration] = load(set: "control")
    /// `sql/tenant/*.sql`, applied to every tenant schema.
    public static let tenant: [Migration] = load(set: "tenant")
    /// The newest tenant migration: a brokerage whose schema has not reached it is not served.
    public static let tenantVersion: Int = tenant.last?.version ?? 0
    /// `sql/control/functions/*.sql`, in name order.
    public static let controlFunctions: [FunctionFile] = functions(set: "control")
    /// `sql/tenant/functions/*.sql`, in name order.
    public static let tenantFunctions: [FunctionFile] = functions(set: "tenant")
    /// One checksum of everything a brokerage schema gets from this build: its migrations, its
    /// function files and the reporting views. A schema recorded with it is up to date.
    public static let tenantChecksum: String = FNV1a.hex(
        (tenant.map { "m\($0.version):\($0.checksum)" } + tenantFunctions.map { "f\($0.name):\($0.checksum)" }
            + reporting.map { "r\($0.name):\($0.checksum)" }).joined(separator: ","))
    /// `sql/baseline/tenant.sql`: the tables, indexes, constraints, sequences and seed rows of a
    /// brokerage made by replaying every migration and function file, as `pg_dump` writes them
    /// (its functions and triggers are left to the function files; decision 0045).
    /// nil when the file is missing or was generated from other sources than this build's
    /// (its first line names `tenantChecksum`): provisioning then replays the files.
    public static let tenantBaseline: String? = {
        guard let file = EmbeddedSQL.files.first(where: { $0.path == "baseline/tenant.sql" }) else { return nil }
        return file.contents.hasPrefix(TenantBaseline.header + tenantChecksum + "\n") ? file.contents : nil
    }()
    /// `sql/reporting/*.sql`, in name order: the reporting views of every tenant schema
    /// (docs/REPORTING.md), applied all together whenever one of them changed.
    public static let reporting: [FunctionFile] = EmbeddedSQL.files
        .filter { $0.path.hasPrefix("reporting/") && $0.path.hasSuffix(".sql") }
        .map { FunctionFile(name: String($0.path.dropFirst("reporting/".count).dropLast(4)), sql: $0.contents) }
        .sorted { $0.name < $1.name }

    /// Applied migrations whose text was deliberately rewritten: the checksum each had before.
    /// A schema that recorded that checksum is re-recorded with the new one instead of warned
    /// about. (2026-11-30: their functions moved to `functions/`; what they create is unchanged.
    /// 2026-12-05: 028's conversion moved to `functions/convert_archived_sessions.sql`, which finds
    /// nothing left to convert where 028 had converted it; 029's table got the autovacuum
    /// thresholds every table has, which its first form lacked.)
    static let rewritten: [String: [Int: String]] = [
        "control": [2: "e199baaaf2000783"],
        "tenant": [
            4: "6106c09a84118365", 7: "4bca6ba5ba31556e", 8: "12919e149c5234f9", 9: "3b105034e6b8c15f", 28: "54ecf3767b0e8d19",
            29: "05a1e9f713438239",
        ],
    ]

    static func load(set: String) -> [Migration] {
        var migrations: [Migration] = []
        for file in EmbeddedSQL.files where file.path.hasPrefix(set + "/") && !file.path.hasPrefix(set + "/functions/") {
            let fileName = file.path.dropFirst(set.count + 1)
            // A file not named NNN_name.sql is a build mistake: fail loudly at start-up.
            guard fileName.hasSuffix(".sql"), let underscore = fileName.firstIndex(of: "_"),
                let version = Int(fileName[..<underscore]), version > 0
            else { preconditionFailure("sql/\(file.path): migrations are named NNN_name.sql") }
            let name = String(fileName[fileName.index(after: underscore)...].dropLast(4))
            migrations.append(Migration(version: version, name: name, sql: file.contents))
        }
        migrations.sort { $0.version < $1.version }
        for (previous, next) in zip(migrations, migrations.dropFirst()) where previous.version == next.version {
            preconditionFailure("sql/\(set): two migrations numbered \(next.version)")
        }
        return migrations
    }

    static func functions(set: String) -> [FunctionFile] {
        let prefix = set + "/functions/"
        return EmbeddedSQL.files.filter { $0.path.hasPrefix(prefix) && $0.path.hasSuffix(".sql") }
            .map { FunctionFile(name: String($0.path.dropFirst(prefix.count).dropLast(4)), sql: $0.contents) }
            .sorted { $0.name < $1.name }
    }
}
