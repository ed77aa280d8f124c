/// One forward-only migration: `sql/<set>/NNN_name.sql`.
public struct Migration: Sendable, Hashable {
    public let version: Int
    public let name: String
    public let sql: String

    /// FNV-1a of the SQL, recorded when applied so an edited, already-applied file is noticed.
    public var checksum: String { FNV1a.hex(sql) }
}

/// The migrations compiled into the binary from `sql/` (see EmbedPlugin).
public enum Migrations {
    /// `sql/control/*.sql`, applied to the `parley` schema.
    public static let control: [Migration] = load(set: "control")
    /// `sql/tenant/*.sql`, applied to every tenant schema.
    public static let tenant: [Migration] = load(set: "tenant")

    static func load(set: String) -> [Migration] {
        var migrations: [Migration] = []
        for file in EmbeddedSQL.files where file.path.hasPrefix(set + "/") {
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
}
