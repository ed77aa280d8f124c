import Database
import Foundation

/// "Find conversations by participant name or message content": only sessions the caller is a
/// member of (any status unless filtered), grouped by session, participant matches first, then
/// relevance, then recency.
public struct SearchStore: Sendable {
    public let database: Database

    public init(database: Database) {
        self.database = database
    }

    public struct Snippet: Codable, Sendable, Hashable {
        public let messageId: String
        public let seq: Int64
        /// The matching passage, HTML-escaped, with matched words in `<mark>…</mark>`.
        public let html: String
        public let createdAt: Date
    }

    public struct Result: Codable, Sendable {
        public let session: Session
        /// `participant` and/or `content`.
        public let matchedBy: [String]
        public let matchCount: Int64
        public let snippets: [Snippet]
    }

    static let config = "'public.parley_search'"

    public func search(
        _ caller: Caller, q: String, status: Session.Status?, kind: Session.Kind?, after: String?, limit: Int
    ) async throws -> (items: [Result], next: String?) {
        guard q.count <= SearchQuery.maxLength else {
            throw DomainError.validation([FieldError("q", "too_long", "q must be at most \(SearchQuery.maxLength) characters")])
        }
        var offset = 0
        if let after {
            guard let parts = try? Cursor.decode(after, parts: 1), let value = Int(parts[0]), value >= 0, value < 10_000 else {
                throw Cursor.invalid("after")
            }
            offset = value
        }
        let query = SearchQuery(q)
        if query.isEmpty && query.nameText.isEmpty { return ([], nil) }
        let (rows, statement) = try await database.withTenant(caller.tenant.scope) { tx -> ([Row], Statement) in
            // "jonh" → "John": word similarity 0.4 (pg_trgm's default of 0.6 misses one-letter typos).
            try await tx.simpleQuery("SET LOCAL pg_trgm.word_similarity_threshold = 0.4")
            let statement = Self.statement(
                caller, query, term: try await Self.singleTerm(tx, query), status: status, kind: kind, offset: offset, limit: limit)
            return (try await tx.queryUnprepared(statement.sql, statement.params).rows, statement)
        }
        let tsquery = statement.tsquery
        let page = Array(rows.prefix(limit))
        let ids = try page.map { try $0.decode(UUID.self, "id") }
        let (sessions, snippets, counts) = try await details(caller, ids: ids, tsquery: tsquery, params: statement.tsqueryParams)
        var results: [Result] = []
        for row in page {
            let id = try row.decode(UUID.self, "id")
            guard let session = sessions[id] else { continue }
            // The exact number of matching messages (the ordering may have used term counts).
            let hits = counts[id] ?? 0
            var matchedBy: [String] = []
            if try row.decode(Bool.self, "by_name") { matchedBy.append("participant") }
            if hits > 0 { matchedBy.append("content") }
            results.append(Result(session: session, matchedBy: matchedBy, matchCount: hits, snippets: snippets[id] ?? []))
        }
        let next = rows.count > limit ? Cursor.encode([String(offset + limit)]) : nil
        return (results, next)
    }

    /// The statement, its parameters, the tsquery expression, and the parameters that
    /// expression needs ($1…$5 plus its own), for the snippet query.
    public typealias Statement = (sql: String, params: [any SQLEncodable], tsquery: String, tsqueryParams: [any SQLEncodable])

    /// A query of exactly one word (or one word being typed) that is one lexeme: such searches
    /// find and order sessions from `session_terms` instead of reading messages.
    public struct Term: Sendable, Hashable {
        public let lexeme: String
        public let isPrefix: Bool
    }

    /// The query's single lexeme, if it has exactly one (same dictionary as the tsquery).
    public static func singleTerm(_ tx: Transaction, _ query: SearchQuery) async throws -> Term? {
        guard query.phrases.isEmpty, query.words.count + (query.prefix == nil ? 0 : 1) == 1,
            let word = query.words.first ?? query.prefix
        else { return nil }
        let row = try await tx.query(
            "SELECT count(*) AS n, min(lexeme) AS lexeme FROM unnest(to_tsvector(\(config), $1))", [word]).rows[0]
        guard try row.decode(Int64.self, "n") == 1, let lexeme = try row.decode(String?.self, "lexeme") else { return nil }
        return Term(lexeme: lexeme, isPrefix: query.prefix != nil)
    }

    /// The search statement and its parameters (also used by parley-bench to EXPLAIN it).
    /// The last parameter is the LIMIT; the tsquery expression references parameters $6….
    public static func statement(
        _ caller: Caller, _ query: SearchQuery, term: Term?, status: Session.Status?, kind: Session.Kind?, offset: Int, limit: Int
    ) -> Statement {
        // The tsquery is assembled from bound parameters only ($6…): each term is its own
        // plainto/phraseto_tsquery, the prefix a quoted lexeme with :*.
        var params: [any SQLEncodable] = [caller.userID, status?.rawValue, kind?.rawValue, query.nameText, offset]
        var terms: [String] = []
        func bind(_ value: String) -> String {
            params.append(value)
            return "$\(params.count)"
        }
        for word in query.words { terms.append("plainto_tsquery(\(Self.config), \(bind(word)))") }
        for phrase in query.phrases { terms.append("phraseto_tsquery(\(Self.config), \(bind(phrase)))") }
        if let prefix = query.prefix { terms.append("to_tsquery(\(Self.config), quote_literal(\(bind(prefix))) || ':*')") }
        let tsquery = terms.isEmpty ? "NULL::tsquery" : "(" + terms.joined(separator: " && ") + ")"
        let tsqueryParams = params
        // One lexeme: sessions and their relevance (how many messages use the word) from
        // session_terms, one row per session; otherwise from the messages themselves.
        var termCondition = ""
        if let term {
            let escaped = term.lexeme.replacingOccurrences(of: "\\", with: "\\\\")
                .replacingOccurrences(of: "%", with: "\\%").replacingOccurrences(of: "_", with: "\\_")
            termCondition = term.isPrefix ? "st.lexeme LIKE \(bind(escaped + "%"))" : "st.lexeme = \(bind(term.lexeme))"
        }
        params.append(limit + 1)
        let limitParam = "$\(params.count)"
        let content = term == nil ? """
                    SELECT x.session_id, count(*) AS hits FROM (
                        SELECT m.session_id
                        FROM session_members me JOIN messages m ON m.session_id = me.session_id
                        WHERE me.user_id = $1 AND m.search @@ \(tsquery)
                        UNION ALL
                        SELECT m.session_id
                        FROM session_members me JOIN messages m ON m.session_id = me.session_id
                        WHERE me.user_id = $1 AND m.search_long IS NOT NULL AND m.search_long @@ \(tsquery)
                    ) x GROUP BY x.session_id
            """ : """
                    SELECT st.session_id, sum(st.n)::int8 AS hits
                    FROM session_members me JOIN session_terms st ON st.session_id = me.session_id
                    WHERE me.user_id = $1 AND \(termCondition)
                      AND \(tsquery) IS NOT NULL -- references the tsquery's parameters, so they have types
                    GROUP BY st.session_id
            """

        // Relevance of a session is its number of matching messages (ts_rank per message would
        // cost ~15 ms more on the benchmark for a common word; it still picks the snippets).
        // Plain joins rather than a shared CTE, so that PostgreSQL sees the (folded) tsquery in
        // each branch and picks per branch: the GIN index for rare words, or an index-only scan
        // of the caller's sessions' (session_id, seq) INCLUDE (search) entries for common ones
        // (decision 0008). Long messages keep their vector in search_long (few rows).
        let sql = """
                WITH content AS (
                \(content)
                ), names AS (
                    SELECT DISTINCT o.session_id FROM users u JOIN session_members o ON o.user_id = u.id
                    WHERE u.id <> $1 AND $4 <> '' AND (
                        u.search_name LIKE public.parley_unaccent($4) || '%'
                        OR u.search_name LIKE '% ' || public.parley_unaccent($4) || '%'
                        OR public.parley_unaccent($4) OPERATOR(public.<%) u.search_name)
                )
                SELECT s.id, names.session_id IS NOT NULL AS by_name, coalesce(content.hits, 0)::int8 AS hits
                FROM session_members me JOIN sessions s ON s.id = me.session_id
                LEFT JOIN content ON content.session_id = s.id LEFT JOIN names ON names.session_id = s.id
                WHERE me.user_id = $1 AND ($2::text IS NULL OR s.status = $2) AND ($3::text IS NULL OR s.kind = $3)
                  AND (content.session_id IS NOT NULL OR names.session_id IS NOT NULL)
                ORDER BY by_name DESC, hits DESC, s.last_activity_at DESC, s.id
                OFFSET $5 LIMIT \(limitParam)
                """
        return (sql, params, tsquery, tsqueryParams)
    }

    /// The sessions as the caller sees them, and up to 3 best snippets per session.
    private func details(
        _ caller: Caller, ids: [UUID], tsquery: String, params: [any SQLEncodable]
    ) async throws -> ([UUID: Session], [UUID: [Snippet]], [UUID: Int64]) {
        guard !ids.isEmpty else { return ([:], [:], [:]) }
        let idArray = SQLArray.uuids(ids)
        return try await database.withTenant(caller.tenant.scope) { tx in
            var sessions: [UUID: Session] = [:]
            for row in try await tx.query("""
                \(SessionStore.select)
                FROM sessions s JOIN session_members me ON me.session_id = s.id AND me.user_id = $1
                WHERE s.id = ANY ($2::uuid[])
                """, [caller.userID, idArray]).rows {
                sessions[try row.decode(UUID.self, "id")] = try SessionStore.session(row, member: caller.userID)
            }
            var snippets: [UUID: [Snippet]] = [:]
            var counts: [UUID: Int64] = [:]
            guard tsquery != "NULL::tsquery" else { return (sessions, snippets, counts) }
            var snippetParams = params
            snippetParams.append(idArray)
            let ids = "$\(snippetParams.count)"
            for row in try await tx.queryUnprepared("""
                WITH bound AS (SELECT $1::text, $2::text, $3::text, $4::text, $5::int), -- same parameters as the search
                q AS (SELECT \(tsquery) AS query)
                SELECT x.id, x.session_id, x.seq, x.created_at, x.total,
                       ts_headline(\(Self.config), regexp_replace(x.text, '[[:cntrl:]]', ' ', 'g'), q.query,
                                   'StartSel=' || chr(1) || ', StopSel=' || chr(2) || ', MaxWords=24, MinWords=8, MaxFragments=2') AS snippet
                FROM (
                    SELECT m.id, m.session_id, m.seq, m.created_at, m.text,
                           row_number() OVER (PARTITION BY m.session_id ORDER BY ts_rank(coalesce(m.search, m.search_long), q.query) DESC, m.seq DESC) AS rn,
                           count(*) OVER (PARTITION BY m.session_id) AS total
                    FROM messages m, q
                    WHERE m.session_id = ANY (\(ids)::uuid[]) AND coalesce(m.search, m.search_long) @@ q.query
                ) x, q
                WHERE x.rn <= 3
                ORDER BY x.session_id, x.rn
                """, snippetParams).rows {
                let session = try row.decode(UUID.self, "session_id")
                counts[session] = try row.decode(Int64.self, "total")
                snippets[session, default: []].append(Snippet(
                    messageId: try row.decode(UUID.self, "id").uuidString.lowercased(), seq: try row.decode(Int64.self, "seq"),
                    html: Self.highlight(try row.decode(String.self, "snippet")), createdAt: try row.decode(Date.self, "created_at")))
            }
            return (sessions, snippets, counts)
        }
    }

    /// Escapes the passage, then turns ts_headline's markers (U+0001/U+0002) into `<mark>` tags.
    /// (The text given to ts_headline has its control characters turned into spaces, so a
    /// message's own U+0001/U+0002 never become markers.)
    static func highlight(_ text: String) -> String {
        MessageFormatter.escape(text).replacingOccurrences(of: "\u{1}", with: "<mark>").replacingOccurrences(of: "\u{2}", with: "</mark>")
    }
}
