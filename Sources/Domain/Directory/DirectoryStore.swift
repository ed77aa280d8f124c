import Database
import Foundation

/// A brokerage's directory integration (a backend holding a token of role `integration`).
public struct Integration: Sendable, Hashable {
    public let tenant: Tenant
    /// The token's `sub`: which integration (logged, not stored).
    public let name: String

    public init(tenant: Tenant, name: String) {
        self.tenant = tenant
        self.name = name
    }
}

/// The agent directory (issue 16; docs/decisions/0027-agent-directory.md): brokerages'
/// integrations keep their agents' RESO Member records here, and agents of every brokerage
/// find listed agents by name, typo-tolerant, and filters.
public struct DirectoryStore: Sendable {
    public let database: Database

    public init(database: Database) {
        self.database = database
    }

    public static let maxBulk = 1000
    static let notFound = DomainError.notFound(code: "directory_member_not_found", message: "no directory record with this MemberKey")

    // MARK: - Integration API

    /// Creates or replaces one record. Returns the stored record and what happened to it: a
    /// record older than the stored `ModificationTimestamp` is ignored (`unchanged`, `stale`).
    public func upsert(_ integration: Integration, key: String, _ record: DirectoryRecord) async throws
        -> (member: DirectoryMember, result: DirectorySyncResult)
    {
        let validKey = try Self.validKey(key)
        let stored = try record.validated()
        let results = try await write(integration.tenant, [(validKey, stored)])
        guard let result = results.first, let member = try await fetch(integration.tenant, key: validKey) else { throw Self.notFound }
        return (member, result)
    }

    /// One element of a bulk sync as the API read it.
    public enum SyncItem: Sendable {
        case record(key: String?, DirectoryRecord)
        /// Not a directory record at all (a field of the wrong JSON type): rejected alone.
        case unreadable(key: String?, reason: String)
    }

    /// Up to `maxBulk` records in one transaction, each reported on its own, in order:
    /// `created`, `updated`, `unchanged` (`same` or `stale`) or `rejected` (with its bad fields,
    /// named `records[i].Field`). Idempotent: the same call again reports every record it stored
    /// `unchanged`.
    public func sync(_ integration: Integration, _ items: [SyncItem]) async throws -> [DirectorySyncResult] {
        guard items.count <= Self.maxBulk else {
            throw DomainError.validation([FieldError("records", "too_many", "a sync carries at most \(Self.maxBulk) records")])
        }
        var results = [DirectorySyncResult?](repeating: nil, count: items.count)
        var accepted: [(index: Int, key: String, record: DirectoryRecord)] = []
        var seen: Set<String> = []
        for (index, item) in items.enumerated() {
            let prefix = "records[\(index)]."
            switch item {
            case .unreadable(let key, let reason):
                results[index] = DirectorySyncResult(
                    MemberKey: key, outcome: .rejected, reason: "invalid_json", errors: [FieldError("records[\(index)]", "invalid_json", reason)])
            case .record(let key, let record):
                do {
                    guard let key else {
                        throw DomainError.validation([FieldError(prefix + "MemberKey", "required", "MemberKey is required")])
                    }
                    let validKey = try Self.validKey(key, field: prefix + "MemberKey")
                    guard seen.insert(validKey).inserted else {
                        throw DomainError.validation([FieldError(prefix + "MemberKey", "duplicate", "this MemberKey appears earlier in the same call")])
                    }
                    accepted.append((index, validKey, try record.validated(prefix: prefix)))
                } catch DomainError.validation(let errors) {
                    results[index] = DirectorySyncResult(MemberKey: key, outcome: .rejected, reason: "validation_failed", errors: errors)
                }
            }
        }
        let written = try await write(integration.tenant, accepted.map { ($0.key, $0.record) })
        for (item, result) in zip(accepted, written) { results[item.index] = result }
        return results.compactMap { $0 }
    }

    /// Unlists an agent (the record stays, so the integration can list them again).
    public func unlist(_ integration: Integration, key: String) async throws {
        let changed = try await database.withTransaction { tx in
            try await tx.query("""
                UPDATE parley.directory_members
                -- The agent's own `listed: true` goes (the brokerage unlists an agent who left);
                -- their own `listed: false` stays, so a later re-listing by a sync keeps it.
                SET record = jsonb_set(record, '{listed}', 'false'),
                    agent_fields = CASE WHEN (record ->> 'listed')::boolean IS TRUE THEN array_remove(agent_fields, 'listed') ELSE agent_fields END,
                    updated_at = now()
                WHERE tenant_id = $1 AND member_key = $2
                RETURNING 1
                """, [integration.tenant.id, key])
        }
        if changed.isEmpty { throw Self.notFound }
    }

    /// One record of the integration's brokerage, with every field.
    public func get(_ integration: Integration, key: String) async throws -> DirectoryMember {
        guard let member = try await fetch(integration.tenant, key: key) else { throw Self.notFound }
        return member
    }

    /// The brokerage's records changed at or after `modifiedSince` (ModificationTimestamp),
    /// oldest first, for reconciliation; listed and unlisted.
    public func changes(_ integration: Integration, modifiedSince: Date?, after: String?, limit: Int) async throws
        -> (items: [DirectoryMember], next: String?)
    {
        let position = try Keyset.decode(after)
        let since = try position.map {
            Date(timeIntervalSince1970: Double(try $0.integerKey(in: Keyset.microsecondsOfYears1To9999)) / 1_000_000)
        }
        let rows = try await database.withTransaction { tx in
            try await tx.query("""
                SELECT \(Self.columns), (extract(epoch FROM d.modified_at) * 1000000)::int8 AS modified_us
                FROM parley.directory_members d JOIN parley.tenants t ON t.id = d.tenant_id
                WHERE d.tenant_id = $1 AND ($2::timestamptz IS NULL OR d.modified_at >= $2)
                  AND ($3::timestamptz IS NULL OR (d.modified_at, d.id) > ($3, $4::uuid))
                ORDER BY d.modified_at, d.id
                LIMIT $5
                """, [integration.tenant.id, modifiedSince, since, position?.id, limit + 1]).rows
        }
        let items = try rows.prefix(limit).map { try Self.member($0, publicOnly: false) }
        var next: String?
        if rows.count > limit, let last = rows.prefix(limit).last {
            next = Keyset(key: String(try last.decode(Int64.self, "modified_us")), id: try last.decode(UUID.self, "id")).cursor
        }
        return (items, next)
    }

    // MARK: - An agent's own record

    /// The caller's own record, every field (agents only).
    public func own(_ caller: Caller) async throws -> DirectoryMember {
        try Self.requireAgent(caller)
        guard let member = try await fetch(caller.tenant, key: caller.userID) else {
            throw Self.notPublished
        }
        return member
    }

    /// The caller edits their own record: bio, photo, languages, areas, specialties, and their
    /// opt-ins. The record's ModificationTimestamp becomes now, so a sync the integration made
    /// from older data does not undo the edit (it is `stale`) — or just after the stored one,
    /// if that is later (an integration whose clock is ahead): the agent's own edit, an opt-out
    /// above all, is never the older one and never ignored.
    ///
    /// The fields edited are remembered as the agent's (`agent_fields`): a later sync, however
    /// new, keeps them, so an agent's bio, languages and opt-outs are theirs until they change
    /// them (decision 0060). The integration's DELETE still unlists.
    public func editOwn(_ caller: Caller, _ patch: DirectoryProfilePatch) async throws -> DirectoryMember {
        try Self.requireAgent(caller)
        // Read, patched and written under the row's lock: an integration's write in between
        // (an office change, an unlisting) is neither undone nor lost.
        try await database.withTransaction { tx in
            guard let row = try await tx.query(
                "SELECT record FROM parley.directory_members WHERE tenant_id = $1 AND member_key = $2 FOR UPDATE",
                [caller.tenant.id, caller.userID]).first
            else { throw Self.notPublished }
            let current = try row.decodeJSON(DirectoryRecord.self, "record", decoder: ParleyJSON.sharedDecoder)
            var record = patch.applied(to: current)
            let stored = current.ModificationTimestamp?.date ?? .distantPast
            let stamp = Timestamp(milliseconds: max(Date(), stored.addingTimeInterval(0.0015)))  // the next millisecond at least
            record.ModificationTimestamp = stamp
            let valid = try record.validated()
            try await tx.query("""
                UPDATE parley.directory_members
                SET record = $3::jsonb, languages = $4::text[], modified_at = $5,
                    agent_fields = ARRAY(SELECT DISTINCT f FROM unnest(agent_fields || $6::text[]) AS f ORDER BY f), updated_at = now()
                WHERE tenant_id = $1 AND member_key = $2
                """, [caller.tenant.id, caller.userID, try SQLJSON(encoding: valid, encoder: ParleyJSON.encoder()),
                      SQLArray.text((valid.MemberLanguages ?? []).map { $0.lowercased() }), stamp.date, SQLArray.text(patch.fields)])
        }
        guard let member = try await fetch(caller.tenant, key: caller.userID) else { throw Self.notPublished }
        return member
    }

    static let notPublished = DomainError.notFound(
        code: "directory_member_not_found", message: "your brokerage has not published a directory record for you")

    static func requireAgent(_ caller: Caller) throws {
        guard caller.role == .agent else {
            throw DomainError.forbidden(code: "agents_only", message: "only agents can use the agent directory")
        }
    }

    // MARK: - Find an agent

    public struct Filters: Sendable {
        public var q: String?
        public var city: String?
        public var language: String?
        public var designation: String?
        public var brokerage: String?

        public init(q: String? = nil, city: String? = nil, language: String? = nil, designation: String? = nil, brokerage: String? = nil) {
            self.q = q
            self.city = city
            self.language = language
            self.designation = designation
            self.brokerage = brokerage
        }
    }

    /// Listed agents of every brokerage, public fields only. With `q`: first the names in which
    /// every word of `q` begins a word (by name), then the names where some word of `q` is only
    /// within a small typo of a name's word (pg_trgm word similarity ≥ 0.4: `jonh` finds John),
    /// closest first. Without `q`: by name.
    ///
    /// Each statement is built for the filters given and planned for its values (no
    /// `$n IS NULL OR …`, which a cached generic plan turns into a scan of the whole directory:
    /// ~1 s at 100,000 agents). The exact matches come from walking the name index in order
    /// when they are common, or from the trigram index when rare; the typo statement runs only
    /// when the exact matches do not fill the page, and ranks only its own few rows.
    public func find(_ caller: Caller, _ filters: Filters, after: String?, limit: Int) async throws -> (items: [DirectoryMember], next: String?) {
        try Self.requireAgent(caller)
        var validator = Validator()
        func filter(_ value: String?, _ field: String) -> String? {
            guard let value = value?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
            return validator.requireText(value, field, maxLength: 100)
        }
        let q = filter(filters.q, "q")
        let city = filter(filters.city, "city")
        let language = filter(filters.language, "language")
        let designation = filter(filters.designation, "designation")
        let brokerage = filter(filters.brokerage, "brokerage")
        try validator.check()
        let words = (q ?? "").lowercased().split(whereSeparator: \.isWhitespace).prefix(Self.maxQueryWords).map(String.init)

        let from = "FROM parley.directory_members d JOIN parley.tenants t ON t.id = d.tenant_id"
        /// One statement: its text and the values it binds (each statement binds only what it uses).
        struct Builder {
            var params: [any SQLEncodable] = []
            mutating func bind(_ value: any SQLEncodable) -> String {
                params.append(value)
                return "$\(params.count)"
            }
        }
        func filtered(_ builder: inout Builder) -> [String] {
            var conditions = ["d.listed"]
            if let city { conditions.append("d.city_key = public.parley_unaccent(lower(\(builder.bind(city))))") }
            if let language { conditions.append("d.languages @> ARRAY[lower(\(builder.bind(language)))]") }
            if let designation { conditions.append("d.designations @> ARRAY[lower(\(builder.bind(designation)))]") }
            if let brokerage { conditions.append("d.tenant_id = (SELECT id FROM parley.tenants WHERE slug = \(builder.bind(brokerage)))") }
            return conditions
        }
        /// Per word: it begins a word of the name (`exact`); or it is within a small typo of one
        /// (`close`), with its similarity for ranking.
        func wordConditions(_ builder: inout Builder, typos: Bool) -> (exact: [String], close: [String], similarity: [String]) {
            var exact: [String] = []
            var close: [String] = []
            var similarity: [String] = []
            for word in words {
                let pattern = "public.parley_unaccent(\(builder.bind(ContactStore.likeEscape(word))))"
                let prefix = "(d.search_name LIKE \(pattern) || '%' OR d.search_name LIKE '% ' || \(pattern) || '%')"
                // Implied by the prefix test, and one the trigram index can intersect across
                // words: "maria lopez" reads the 52 names with both, not the 2,252 Lopezes.
                exact.append("d.search_name LIKE '%' || \(pattern) || '%' AND \(prefix)")
                if typos {
                    // A word that begins a word of the name is within the threshold too (a prefix
                    // shares every trigram but its last with the word it begins: word similarity
                    // ≥ 0.5), so the test is the trigram operator alone: one GIN scan intersects
                    // the words before any row is read ("jonh smiht": the ~125 names close to
                    // both, not the 2,250 close to "smiht", rechecked one by one).
                    let typed = "public.parley_unaccent(\(builder.bind(word)))"
                    close.append("\(typed) OPERATOR(public.<%) d.search_name")
                    similarity.append("word_similarity(\(typed), d.search_name)")
                }
            }
            return (exact, close, similarity)
        }

        if words.isEmpty {
            let position = try Keyset.decode(after)
            var builder = Builder()
            var browse = filtered(&builder)
            if let position { browse.append("(d.search_name, d.id) > (\(builder.bind(position.key)), \(builder.bind(position.id))::uuid)") }
            let sql = "SELECT \(Self.columns), d.search_name \(from) WHERE \(browse.joined(separator: " AND ")) ORDER BY d.search_name, d.id LIMIT \(builder.bind(limit + 1))"
            let params = builder.params
            let rows = try await database.withTransaction { tx in try await tx.queryUnprepared(sql, params).rows }
            let items = try rows.prefix(limit).map { try Self.member($0, publicOnly: true) }
            var next: String?
            if rows.count > limit, let last = rows.prefix(limit).last {
                next = Keyset(key: try last.decode(String.self, "search_name"), id: try last.decode(UUID.self, "id")).cursor
            }
            return (items, next)
        }

        var offset = 0
        if let after {
            let parts = try Cursor.decode(after, parts: 2)
            guard parts[0] == "q", let value = Int(parts[1]), value >= 0, value < 10_000 else { throw Cursor.invalid("after") }
            offset = value
        }
        let window = offset + limit + 1
        var exactBuilder = Builder()
        let exactFilters = filtered(&exactBuilder)
        let exactWords = wordConditions(&exactBuilder, typos: false)
        // The page is chosen on the index columns alone, and only its rows are then read whole
        // (the record's text, the brokerage): a common prefix ("ngu": 2,270 Nguyens) sorts
        // 2,270 short names, not 2,270 records.
        let exactSQL = """
            SELECT \(Self.columns) FROM (
                SELECT d.id, d.search_name FROM parley.directory_members d
                WHERE \((exactFilters + exactWords.exact).joined(separator: "\n  AND "))
                ORDER BY d.search_name, d.id LIMIT \(window)
            ) AS page
            JOIN parley.directory_members d ON d.id = page.id JOIN parley.tenants t ON t.id = d.tenant_id
            ORDER BY page.search_name, page.id
            """
        var closeBuilder = Builder()
        let closeFilters = filtered(&closeBuilder)
        let closeWords = wordConditions(&closeBuilder, typos: true)
        func closeSQL(limit: Int) -> String {
            """
            SELECT \(Self.columns) FROM (
                SELECT d.id, d.search_name, \(closeWords.similarity.joined(separator: " + ")) AS closeness
                FROM parley.directory_members d
                WHERE \((closeFilters + closeWords.close).joined(separator: "\n  AND "))
                  AND NOT (\(closeWords.exact.joined(separator: " AND ")))
                ORDER BY closeness DESC, d.search_name, d.id LIMIT \(limit)
            ) AS page
            JOIN parley.directory_members d ON d.id = page.id JOIN parley.tenants t ON t.id = d.tenant_id
            ORDER BY page.closeness DESC, page.search_name, page.id
            """
        }
        let exactParams = exactBuilder.params
        let closeParams = closeBuilder.params
        let rows = try await database.withTransaction { tx -> [Row] in
            var rows = try await tx.queryUnprepared(exactSQL, exactParams).rows
            if rows.count < window {
                // The typo threshold, for this transaction only (the exact statement needs none).
                _ = try await tx.query("SELECT set_config('pg_trgm.word_similarity_threshold', '0.4', true)")
                rows += try await tx.queryUnprepared(closeSQL(limit: window - rows.count), closeParams).rows
            }
            return rows
        }
        let page = rows.dropFirst(offset)
        let items = try page.prefix(limit).map { try Self.member($0, publicOnly: true) }
        return (items, page.count > limit ? Cursor.encode(["q", String(offset + limit)]) : nil)
    }

    /// Words of `q` beyond this many are ignored.
    static let maxQueryWords = 5

    // MARK: - Shared

    static let columns = "d.id, d.member_key, d.record::text AS record, d.updated_at, t.slug, t.display_name"

    static func validKey(_ key: String, field: String = "MemberKey") throws -> String {
        var validator = Validator()
        let valid = validator.requireText(key, field, maxLength: 200)
        if RemoteMember.isRemote(key) {
            validator.add(field, "invalid_value", "a MemberKey is the sub of the agent's tokens, which never begins with '@'")
        }
        try validator.check()
        return valid ?? key
    }

    private func fetch(_ tenant: Tenant, key: String) async throws -> DirectoryMember? {
        try await database.withTransaction { tx in
            try await tx.query("""
                SELECT \(Self.columns) FROM parley.directory_members d JOIN parley.tenants t ON t.id = d.tenant_id
                WHERE d.tenant_id = $1 AND d.member_key = $2
                """, [tenant.id, key]).first.map { try Self.member($0, publicOnly: false) }
        }
    }

    /// An agent's public directory entry and whether it is listed, read on the control plane
    /// inside another store's transaction (before it enters a brokerage's scope).
    static func publicMember(_ tx: Transaction, tenant: UUID, key: String) async throws -> (member: DirectoryMember, listed: Bool)? {
        guard let row = try await tx.query("""
            SELECT \(columns), d.listed FROM parley.directory_members d JOIN parley.tenants t ON t.id = d.tenant_id
            WHERE d.tenant_id = $1 AND d.member_key = $2
            """, [tenant, key]).first
        else { return nil }
        return (try member(row, publicOnly: true), try row.decode(Bool.self, "listed"))
    }

    /// Writes validated records in one statement; results in the order given.
    private func write(_ tenant: Tenant, _ records: [(key: String, record: DirectoryRecord)]) async throws -> [DirectorySyncResult] {
        guard !records.isEmpty else { return [] }
        let now = Timestamp(milliseconds: Date())
        struct Input: Encodable {
            let ord: Int
            let key: String
            let record: DirectoryRecord
            let full_name: String
            let languages: [String]
            let designations: [String]
            let modified_at: Timestamp
        }
        let inputs = records.enumerated().map { index, item -> Input in
            var record = item.record
            if record.ModificationTimestamp == nil { record.ModificationTimestamp = now }
            return Input(
                ord: index, key: item.key, record: record, full_name: record.MemberFullName ?? item.key,
                languages: (record.MemberLanguages ?? []).map { $0.lowercased() },
                designations: (record.MemberDesignation ?? []).map { $0.lowercased() },
                modified_at: record.ModificationTimestamp ?? now)
        }
        let payload = try SQLJSON(encoding: inputs, encoder: ParleyJSON.encoder())
        let rows = try await database.withTransaction { tx in
            try await tx.query("""
                WITH input AS (
                    SELECT x.* FROM jsonb_to_recordset($2::jsonb)
                        AS x(ord int, key text, record jsonb, full_name text, languages text[], designations text[], modified_at timestamptz)
                ), before AS (
                    SELECT d.member_key, d.record, d.modified_at, d.agent_fields FROM parley.directory_members d
                    WHERE d.tenant_id = $1 AND d.member_key IN (SELECT key FROM input)
                ), written AS (
                    INSERT INTO parley.directory_members AS d
                        (tenant_id, member_key, record, full_name, search_name, city_key, languages, designations, modified_at)
                    SELECT $1, i.key, i.record, i.full_name, public.parley_unaccent(lower(i.full_name)),
                           public.parley_unaccent(lower(i.record ->> 'MemberCity')), i.languages, i.designations, i.modified_at
                    FROM input i
                    -- The fields the agent set themselves keep their stored values (decision 0060).
                    ON CONFLICT (tenant_id, member_key) DO UPDATE
                        SET record = parley.directory_kept(EXCLUDED.record, d.record, d.agent_fields),
                            full_name = EXCLUDED.full_name, search_name = EXCLUDED.search_name, city_key = EXCLUDED.city_key,
                            languages = CASE WHEN 'MemberLanguages' = ANY (d.agent_fields) THEN d.languages ELSE EXCLUDED.languages END,
                            designations = EXCLUDED.designations, modified_at = EXCLUDED.modified_at, updated_at = now()
                        WHERE d.modified_at <= EXCLUDED.modified_at
                          AND d.record IS DISTINCT FROM parley.directory_kept(EXCLUDED.record, d.record, d.agent_fields)
                    RETURNING d.member_key, (d.xmax = 0) AS inserted
                )
                SELECT i.key,
                       CASE WHEN w.inserted THEN 'created'
                            WHEN b.modified_at > i.modified_at THEN 'stale'
                            WHEN (b.record - 'ModificationTimestamp')
                                 = (parley.directory_kept(i.record, b.record, b.agent_fields) - 'ModificationTimestamp') THEN 'same'
                            ELSE 'updated' END AS outcome
                FROM input i LEFT JOIN written w ON w.member_key = i.key LEFT JOIN before b ON b.member_key = i.key
                ORDER BY i.ord
                """, [tenant.id, payload]).rows
        }
        return try rows.map { row in
            let key = try row.decode(String.self, "key")
            switch try row.decode(String.self, "outcome") {
            case "created": return DirectorySyncResult(MemberKey: key, outcome: .created, reason: nil, errors: nil)
            case "updated": return DirectorySyncResult(MemberKey: key, outcome: .updated, reason: nil, errors: nil)
            case let reason: return DirectorySyncResult(MemberKey: key, outcome: .unchanged, reason: reason, errors: nil)
            }
        }
    }

    static func member(_ row: Row, publicOnly: Bool) throws -> DirectoryMember {
        let record = try row.decodeJSON(DirectoryRecord.self, "record", decoder: ParleyJSON.sharedDecoder)
        return DirectoryMember(
            MemberKey: try row.decode(String.self, "member_key"),
            brokerage: .init(slug: try row.decode(String.self, "slug"), name: try row.decode(String.self, "display_name")),
            record: publicOnly ? record.publicView : record, updatedAt: try row.decode(Date.self, "updated_at"))
    }
}
