import Database
import Foundation

/// A brokerage's data out and gone (issue 17, point 4): export as JSON lines, import again,
/// delete.
///
/// The export is one consistent snapshot (a repeatable-read, read-only transaction), streamed
/// table by table through a cursor, 500 rows at a time: line 1 is the header (the brokerage, its
/// settings, its signing keys, its directory records); every other line is `{"table": …,
/// "row": {…}}`, a row as `row_to_json` writes it (bytea as `\x…` hex: attachments' bytes are
/// `blob_chunks` rows). Derived tables are left out and rebuilt on import by the same triggers
/// that keep them (search terms, badge counts, storage usage). The file holds the brokerage's
/// signing secrets: keep it like them.
extension TenantStore {
    /// The tables of a brokerage schema, in the order an import inserts them (references first).
    /// Any other table of the schema follows them; these are never exported.
    static let exportOrder = [
        "users", "contacts", "sessions", "session_members", "messages", "attachments", "blob_chunks", "chat_requests",
        "contact_listings", "sent_chat_requests", "agent_blocks", "events", "event_clock",
        "webhook_endpoints", "webhook_deliveries", "webhook_attempts",
    ]
    static let derivedTables: Set<String> = [
        "session_terms", "badge_counts", "badge_deltas", "event_outbox", "storage_usage",
        "schema_migrations", "schema_functions", "schema_reporting",
    ]

    struct ExportHeader: Codable {
        struct Key: Codable {
            let kid: String
            let secret: String
            let createdAt: Date
            let retiredAt: Date?
        }

        let parley: String
        let version: Int
        let exportedAt: Date
        let slug: String
        let displayName: String
        let settings: TenantSettings
        let schemaVersion: Int
        let signingKeys: [Key]
        /// `parley.directory_members` rows of the brokerage (row_to_json text).
        let directory: [String]
    }

    /// The line an export ends with (version 2): the rows it holds. An import refuses a file
    /// without it, or with another count: an export cut short (a dropped connection, a full
    /// disk) is not a smaller brokerage.
    struct ExportEnd: Codable {
        let end: Bool
        let rows: Int
    }

    /// Writes the brokerage as JSON lines to `line` (each without its newline), the header
    /// first and `ExportEnd` last; returns the number of rows.
    public func export(_ tenant: Tenant, _ line: (String) async throws -> Void) async throws -> Int {
        // Events still in the outbox get their positions first: the export carries `events`.
        try await database.withTenant(tenant.scope) { tx in _ = try await tx.query("SELECT sequence_events()") }
        return try await database.withTransaction { tx in
            try await tx.simpleQuery("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            let keys = try await tx.query("""
                SELECT kid, secret, created_at, retired_at FROM parley.tenant_signing_keys WHERE tenant_id = $1 ORDER BY created_at, kid
                """, [tenant.id]).rows.map {
                ExportHeader.Key(
                    kid: try $0.decode(String.self, "kid"), secret: Base64URL.encode(try $0.decode([UInt8].self, "secret")),
                    createdAt: try $0.decode(Date.self, "created_at"), retiredAt: try $0.decode(Date?.self, "retired_at"))
            }
            let directory = try await tx.query("""
                SELECT row_to_json(d)::text AS j FROM parley.directory_members d WHERE d.tenant_id = $1 ORDER BY d.member_key
                """, [tenant.id]).rows.map { try $0.decode(String.self, "j") }
            let header = ExportHeader(
                parley: "tenant-export", version: 2, exportedAt: Date(), slug: tenant.slug.rawValue, displayName: tenant.displayName,
                settings: tenant.settings, schemaVersion: tenant.migratedVersion, signingKeys: keys, directory: directory)
            try await line(String(decoding: try ParleyJSON.encoder().encode(header), as: UTF8.self))

            try await tx.enter(tenant.scope)
            let present = Set(try await tx.query("""
                SELECT c.relname FROM pg_class c WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r'
                """).rows.map { try $0.decode(String.self, "relname") })
            let tables = Self.exportOrder.filter(present.contains)
                + present.subtracting(Self.exportOrder).subtracting(Self.derivedTables).sorted()
            var rows = 0
            for table in tables {
                guard let name = SQLName(table) else { continue }
                try await tx.simpleQuery("DECLARE export_rows NO SCROLL CURSOR FOR SELECT row_to_json(t)::text AS j FROM \(name.quoted) t")
                while true {
                    let batch = try await tx.simpleQuery("FETCH 500 FROM export_rows").rows
                    for row in batch {
                        try await line("{\"table\":\"\(table)\",\"row\":\(try row.decode(String.self, "j"))}")
                    }
                    rows += batch.count
                    if batch.count < 500 { break }
                }
                try await tx.simpleQuery("CLOSE export_rows")
            }
            try await line(String(decoding: try ParleyJSON.encoder().encode(ExportEnd(end: true, rows: rows)), as: UTF8.self))
            return rows
        }
    }

    /// The `migration_error` of a brokerage an import is filling (unfinished, if it stays).
    public static let importing = "an import is filling this brokerage (if it stays, the import was interrupted: import it again)"

    /// Provisions the brokerage of an export again and fills it: its slug, name, settings,
    /// signing keys (tokens signed before keep working), directory records and every row. Lines
    /// come from `next` (nil at the end). One transaction: if anything fails, the brokerage is
    /// removed again and the error thrown. Returns the brokerage and the number of rows.
    public func importTenant(_ next: () async throws -> String?) async throws -> (Tenant, rows: Int) {
        guard let first = try await next(),
            let header = try? ParleyJSON.sharedDecoder.decode(ExportHeader.self, from: Data(first.utf8)),
            header.parley == "tenant-export", (1...2).contains(header.version)
        else { throw DomainError.validation([FieldError("file", "invalid_format", "not a Parley tenant export (line 1)")]) }
        guard header.schemaVersion <= Migrations.tenantVersion else {
            throw DomainError.validation([FieldError("file", "invalid_value",
                "exported at schema version \(header.schemaVersion); this Parley knows up to \(Migrations.tenantVersion)")])
        }
        guard let slug = TenantSlug(header.slug) else { throw DomainError.validation([FieldError("slug", "invalid_format", TenantSlug.rule)]) }
        // What an import that was killed midway left (its own clean-up never ran): removed, and
        // imported again, rather than refused as `tenant_exists` for ever.
        if let left = try await find(slug), left.migrationError == Self.importing {
            try await delete(left)
        }
        let (created, _) = try await create(slug: slug, displayName: header.displayName)
        // Not served until its rows are in (503 tenant_unavailable), and recognisable as an
        // unfinished import if this process dies before the end.
        try await database.withTransaction { tx in
            try await tx.query("UPDATE parley.tenants SET migrated_version = 0, migration_error = $2 WHERE id = $1", [created.id, Self.importing])
        }
        do {
            let rows = try await database.withTransaction { tx -> Int in
                try await tx.query("""
                    UPDATE parley.tenants SET migrated_version = $2, migration_error = NULL WHERE id = $1
                    """, [created.id, created.migratedVersion])
                try await tx.query("UPDATE parley.tenants SET settings = $2::jsonb WHERE id = $1", [created.id, try SQLJSON(encoding: header.settings)])
                try await tx.query("DELETE FROM parley.tenant_signing_keys WHERE tenant_id = $1", [created.id])
                for key in header.signingKeys {
                    guard let secret = Base64URL.decode(key.secret) else { throw DatabaseError.undecodable("a signing key's secret") }
                    try await tx.query("""
                        INSERT INTO parley.tenant_signing_keys (kid, tenant_id, secret, created_at, retired_at) VALUES ($1, $2, $3, $4, $5)
                        """, [key.kid, created.id, secret, key.createdAt, key.retiredAt])
                }
                if !header.directory.isEmpty {
                    let list = try await Self.insertableColumns(tx, "parley.directory_members").joined(separator: ", ")
                    // A record populates every column, NULL where the export has no key: columns
                    // added since an export was made get their values here (agent_fields: control
                    // migration 009).
                    try await tx.query("""
                        INSERT INTO parley.directory_members (\(list))
                        SELECT \(list) FROM jsonb_populate_recordset(NULL::parley.directory_members,
                            (SELECT jsonb_agg(jsonb_build_object('agent_fields', '[]'::jsonb) || r || jsonb_build_object('tenant_id', $2::uuid))
                             FROM jsonb_array_elements($1::jsonb) AS r))
                        """, ["[" + header.directory.joined(separator: ",") + "]", created.id])
                }
                try await tx.enter(created.scope)
                let rows = try await Self.importRows(tx, next, ended: header.version >= 2)
                // Rows of an export made before tenant migration 028 (decision 0061): sessions
                // archived the old way are archived for whoever archived them.
                if header.schemaVersion < 28 { try await tx.query("SELECT convert_archived_sessions()") }
                // …and before 029: the closes of its closed sessions, for the reports.
                if header.schemaVersion < 29 { try await tx.query("SELECT backfill_session_closures()") }
                try await ChatRequestStore.detachImported(tx, slug: slug.rawValue, ttl: header.settings.chatRequestTTLHours)
                return rows
            }
            guard let tenant = try await find(slug) else { throw DatabaseError.undecodable("the imported brokerage vanished") }
            // Endpoints came with it: the webhook deliverers must know to look (deliveries still
            // pending are sent from here; at least once, with their webhook-id).
            let hasEndpoints = try await database.withTenant(tenant.scope) { tx in
                try await tx.query("SELECT EXISTS (SELECT 1 FROM webhook_endpoints) AS e").first?.decode(Bool.self, "e") ?? false
            }
            if hasEndpoints { try await markWebhooks(tenant) }
            // Positions folded, badge differences counted, as after any write.
            try await database.withTenant(tenant.scope) { tx in _ = try await tx.query("SELECT sequence_events()") }
            return (tenant, rows)
        } catch {
            try? await delete(created)
            throw error
        }
    }

    /// A table's columns an INSERT may name (not generated, not dropped), quoted.
    static func insertableColumns(_ tx: Transaction, _ table: String) async throws -> [String] {
        try await tx.query("""
            SELECT a.attname FROM pg_attribute a
            WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '' AND a.attidentity <> 'a'
            ORDER BY a.attnum
            """, [table]).rows.compactMap { SQLName(try $0.decode(String.self, "attname"))?.quoted }
    }

    /// Inserts the export's rows, 500 of a table per statement, into the transaction's brokerage
    /// schema. Only the columns a row has are written (a column added since the export takes its
    /// default); generated columns are computed again.
    /// `ended`: the file must end with its `ExportEnd` line, naming the rows read (version 2).
    private static func importRows(_ tx: Transaction, _ next: () async throws -> String?, ended: Bool) async throws -> Int {
        /// A line's table and its row's column names; the row itself is passed on as written.
        struct Line: Decodable {
            struct Skip: Decodable {
                init(from decoder: any Decoder) throws {}
            }

            let table: String
            let row: [String: Skip]
        }
        var insertable: [String: Set<String>] = [:]
        for row in try await tx.query("""
            SELECT c.relname, a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
            WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
              AND a.attgenerated = '' AND a.attidentity <> 'a'
            """).rows {
            insertable[try row.decode(String.self, "relname"), default: []].insert(try row.decode(String.self, "attname"))
        }
        var total = 0
        var table = ""
        var columns: [String] = []
        var batch: [String] = []
        func flush() async throws {
            guard !batch.isEmpty, let name = SQLName(table) else { return }
            let list = columns.compactMap { SQLName($0)?.quoted }.joined(separator: ", ")
            if table == "event_clock" {
                // One row, made by the migrations: the export's position replaces it.
                try await tx.query("UPDATE event_clock SET position = ($1::jsonb ->> 'position')::bigint", [batch[0]])
            } else {
                try await tx.query(
                    "INSERT INTO \(name.quoted) (\(list)) SELECT \(list) FROM jsonb_populate_recordset(NULL::\(name.quoted), $1::jsonb)",
                    ["[" + batch.joined(separator: ",") + "]"])
            }
            total += batch.count
            batch.removeAll(keepingCapacity: true)
        }
        var end: ExportEnd?
        while let text = try await next() {
            guard !text.isEmpty else { continue }
            guard end == nil else {
                throw DomainError.validation([FieldError("file", "invalid_format", "a line follows the export's end line")])
            }
            if text.hasPrefix("{\"end\":") {
                end = try? ParleyJSON.sharedDecoder.decode(ExportEnd.self, from: Data(text.utf8))
                guard end != nil else { throw DomainError.validation([FieldError("file", "invalid_format", "the end line is not {\"end\": true, \"rows\": …}")]) }
                continue
            }
            let marker = "\",\"row\":"
            guard let line = try? ParleyJSON.sharedDecoder.decode(Line.self, from: Data(text.utf8)),
                text.hasPrefix("{\"table\":\"\(line.table)\(marker)"), text.hasSuffix("}")
            else {
                throw DomainError.validation([FieldError("file", "invalid_format", "line \(total + 2) is not {\"table\": …, \"row\": {…}}")])
            }
            let fields = line.row
            guard let allowed = insertable[line.table] else {
                throw DomainError.validation([FieldError("file", "invalid_value", "unknown table '\(line.table)'")])
            }
            let rowColumns = fields.keys.filter(allowed.contains).sorted()
            if line.table != table || rowColumns != columns || batch.count >= 500 {
                try await flush()
                table = line.table
                columns = rowColumns
            }
            // The row as written: `{"table":"<table>","row":` … `}`.
            batch.append(String(text.dropFirst("{\"table\":\"\(line.table)\(marker)".count).dropLast()))
        }
        try await flush()
        if ended {
            guard let end else {
                throw DomainError.validation([FieldError("file", "invalid_format", "the file ends before the export's end line: the export is incomplete")])
            }
            guard end.rows == total else {
                throw DomainError.validation([FieldError("file", "invalid_value", "the export's end line counts \(end.rows) rows, the file has \(total)")])
            }
        }
        return total
    }

    /// Removes a brokerage: its schema with every row and file, its roles (the reporting login
    /// too), its control rows (signing keys, directory records). Other brokerages' copies of
    /// sessions shared with it stay theirs, and stop naming it as a peer; its agents' pending
    /// requests to their agents expire.
    public func delete(_ tenant: Tenant) async throws {
        // The schema's tables are locked one by one as the DROP reaches them, while the
        // brokerage's own traffic (a numbering, a send) may hold some and want others: a deadlock
        // PostgreSQL ends by cancelling one side. When it is this side, the drop is made again.
        for attempt in 1... {
            do {
                try await database.withTransaction { tx in
                    guard try await tx.query("SELECT 1 FROM parley.tenants WHERE id = $1 FOR UPDATE", [tenant.id]).first != nil else {
                        throw DomainError.notFound(code: "tenant_not_found", message: "no tenant '\(tenant.slug)'")
                    }
                    var statements = ["DROP SCHEMA IF EXISTS \(tenant.scope.schema.quoted) CASCADE"]
                    if let reporting = Migrator.reportingRole(tenant.scope) { statements.append("DROP ROLE IF EXISTS \(reporting.quoted)") }
                    statements.append("DROP ROLE IF EXISTS \(tenant.scope.role.quoted)")
                    try await tx.simpleQuery(statements.joined(separator: "; "))
                    try await tx.query("DELETE FROM parley.tenants WHERE id = $1", [tenant.id])
                }
                break
            } catch DatabaseError.contention(let error) where attempt < 5 {
                logger.info("brokerage deletion lost a lock race; dropping again", metadata: ["tenant": "\(tenant.slug)", "error": "\(error)"])
                try await Task.sleep(for: .milliseconds(100 * attempt))
            }
        }
        // Sessions other brokerages shared with it: their copies stay, without it as a peer.
        var after: String?
        repeat {
            let page = try await list(after: after, limit: 200)
            for other in page where other.isServable {
                // Best effort, brokerage by brokerage: one that cannot be written now (its schema
                // broken, say) keeps the name until the next send in such a session finds it gone
                // and unlinks it (SessionStore.send); the deletion itself is done.
                do {
                    try await database.withTenant(other.scope) { tx in
                        try await tx.query("UPDATE sessions SET peers = array_remove(peers, $1) WHERE $1 = ANY (peers)", [tenant.slug.rawValue])
                        try await ChatRequestStore.expireFromDeleted(tx, brokerage: tenant.slug.rawValue, ttl: other.settings.chatRequestTTLHours)
                    }
                } catch {
                    logger.warning("could not unlink a deleted brokerage's shared sessions", metadata: [
                        "deleted": "\(tenant.slug)", "tenant": "\(other.slug)", "error": "\(error)",
                    ])
                }
            }
            after = page.count == 200 ? page.last?.slug.rawValue : nil
        } while after != nil
    }
}
