import Database
import Foundation

/// "Find conversations by participant name or message content": only sessions the caller is a
/// member of (any status unless filtered), grouped by session, participant matches first, then
/// content matches, each newest activity first (decision 0021).
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
        guard q.codePoints <= SearchQuery.maxLength else {
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
        let window = offset + limit + 1
        // Round trip 1: BEGIN, the scope, the query's words, and whether any other user's name
        // matches. 2: the participant matches, if a name did. 3: the content matches, if the
        // participants did not fill the window. 4: the page's sessions and snippets. 5: COMMIT.
        let names = Self.namesStatement(caller, query, status: status, kind: kind, window: window)
        // The words' lookup plans the same whatever the words: prepared (one prepared statement
        // per shape of query: how many words and phrases, a prefix or not). The participant
        // statement is planned for its values each time (its generic plan is 20–40 ms, decision
        // 0038), so it runs only when some name matches: most searches are for words no name
        // holds, and planning it was ~1.5–2 ms of each. The check for a matching name is planned
        // for its value too (~0.4–0.5 ms a call, planning included): its generic plan, at PostgreSQL's default
        // random_page_cost, reads every user of the brokerage when no name matches (an EXISTS
        // expects an early hit; 100 ms at 20,000 users), and even on the name index it unaccents
        // the name once per row read.
        let lookup = Self.termsStatement(query)
        var opening = [PipelinedStatement(lookup.sql, lookup.params, prepared: true)]
        if names != nil {
            opening.append(PipelinedStatement("""
                SELECT EXISTS (SELECT 1 FROM users u WHERE u.id <> $1 AND \(Self.nameMatches("$2"))) AS any
                """, [caller.userID, query.nameText], prepared: false))
        }
        return try await database.withTenant(caller.tenant.scope, opening: opening) { opened, tx in
            let terms = try Self.terms(opened[0])
            // Participant matches first: if they fill the window, content is not looked at.
            var found: [(id: UUID, byName: Bool)] = []
            if let names, try opened.dropFirst().first?.rows.first?.decode(Bool.self, "any") == true {
                found = try await tx.queryUnprepared(names.sql, names.params).rows.map { (try $0.decode(UUID.self, "id"), true) }
            }
            if found.count < window, let content = Self.contentStatement(
                caller, query, terms: terms, status: status, kind: kind, excluding: found.map(\.id), window: window - found.count)
            {
                found += try await tx.queryUnprepared(content.sql, content.params).rows.map { (try $0.decode(UUID.self, "id"), false) }
            }
            let page = Array(found.dropFirst(offset).prefix(limit))
            let (sessions, snippets, counts) = try await Self.details(tx, caller, ids: page.map(\.id), tsquery: terms.tsquery)
            var results: [Result] = []
            for (id, byName) in page {
                guard let session = sessions[id] else { continue }
                let hits = counts[id] ?? 0
                var matchedBy: [String] = []
                if byName { matchedBy.append("participant") }
                if hits > 0 { matchedBy.append("content") }
                results.append(Result(session: session, matchedBy: matchedBy, matchCount: hits, snippets: snippets[id] ?? []))
            }
            let next = found.count > offset + limit ? Cursor.encode([String(offset + limit)]) : nil
            return (results, next)
        }
    }

    /// A statement and its parameters.
    public typealias Statement = (sql: String, params: [any SQLEncodable])

    /// The query as one tsquery expression of bound parameters, numbered from `first`: each
    /// word its own plainto_tsquery, each phrase a phraseto_tsquery, the prefix a quoted
    /// lexeme with :* (input is never parsed as tsquery syntax). nil for a query of no words.
    static func tsquery(_ query: SearchQuery, firstParameter first: Int) -> (sql: String, params: [any SQLEncodable])? {
        var params: [any SQLEncodable] = []
        var terms: [String] = []
        func bind(_ value: String) -> String {
            params.append(value)
            return "$\(first + params.count - 1)::text"
        }
        for word in query.words { terms.append("plainto_tsquery(\(config), \(bind(word)))") }
        for phrase in query.phrases { terms.append("phraseto_tsquery(\(config), \(bind(phrase)))") }
        if let prefix = query.prefix {
            // The word being typed, three ways (decision 0058): its stem as a prefix ("apart"
            // finds apartment), the unstemmed fragment as a prefix (a stop word such as "in" or
            // "be" has no stem, but begins "inspect" and "bedroom"), and the stored words the
            // fragment itself begins with ("apartmen" was past apartment's stem "apart").
            let typed = bind(prefix)
            terms.append("""
                (to_tsquery(\(config), quote_literal(\(typed)) || ':*')
                 || to_tsquery('simple', quote_literal(public.parley_unaccent(lower(\(typed)))) || ':*')
                 || coalesce((SELECT string_agg(quote_literal(b.lexeme), ' | ')::tsquery FROM (\(stemsWithin(bind(SQLArray.text(stemCandidates(prefix)))))) AS b), ''::tsquery))
                """)
        }
        return terms.isEmpty ? nil : ("(" + terms.joined(separator: " && ") + ")", params)
    }

    /// The stems a word being typed may have passed: its beginnings from 4 code points, or 3
    /// fewer than typed, up to one fewer ("apartmen": "apartm" … "apart" of apartment), each
    /// also with an `e` after it ("pricin": "price" of pricing, "closin": "close"). An English
    /// stem drops at most a few letters of a word; a shorter beginning would be another word.
    /// The stemmer gives an `e` back to a short stem whose ending it removed (pricing → pric →
    /// price), so such a stem is not a beginning of the words it stands for. Not from 3
    /// letters: "ratio" would find "rate" and "situa" "site" ("making" → "make" is missed).
    /// None for a fragment under 5.
    static func stemCandidates(_ fragment: String) -> [String] {
        let letters = Array(fragment.lowercased())
        guard letters.count >= 5 else { return [] }
        return (max(4, letters.count - 3)..<letters.count).flatMap { length in
            let beginning = String(letters[..<length])
            return [beginning, beginning + "e"]
        }
    }

    /// The stored words among `candidates` (a bound text[] of beginnings), unaccented as the
    /// index holds them: one probe of `session_terms` each.
    static func stemsWithin(_ candidates: String) -> String {
        """
        SELECT DISTINCT st.lexeme FROM session_terms st
        WHERE st.lexeme = ANY (ARRAY(SELECT public.parley_unaccent(c) FROM unnest(\(candidates)::text[]) AS c))
        """
    }

    /// The caller's sessions (status and kind filters), walked newest activity first.
    private static let mine = """
        FROM session_members me JOIN sessions s ON s.id = me.session_id
        WHERE me.user_id = $1 AND ($2::text IS NULL OR \(SessionStore.status) = $2) AND ($3::text IS NULL OR s.kind = $3)
        """

    /// User `u`'s name matches the name text bound as `parameter`: by the prefix of any part of
    /// the name, or within a small typo (pg_trgm word similarity; threshold set by terms()).
    static func nameMatches(_ parameter: String) -> String {
        """
        (u.search_name LIKE public.parley_unaccent(\(parameter)) || '%'
         OR u.search_name LIKE '% ' || public.parley_unaccent(\(parameter)) || '%'
         OR public.parley_unaccent(\(parameter)) OPERATOR(public.<%) u.search_name)
        """
    }

    /// Sessions with another member whose name matches, newest activity first, at most
    /// `window`: by the prefix of any part of the name, or within a small typo (pg_trgm word
    /// similarity; threshold set by terms()). nil when the query has no name text.
    public static func namesStatement(
        _ caller: Caller, _ query: SearchQuery, status: Session.Status?, kind: Session.Kind?, window: Int
    ) -> Statement? {
        guard !query.nameText.isEmpty else { return nil }
        return ("""
            SELECT s.id \(mine)
              AND EXISTS (SELECT 1 FROM session_members o JOIN users u ON u.id = o.user_id
                          WHERE o.session_id = s.id AND o.user_id <> $1 AND \(nameMatches("$4")))
            ORDER BY s.last_activity_at DESC, s.id DESC
            LIMIT $5
            """, [caller.userID, status?.rawValue, kind?.rawValue, query.nameText, window])
    }

    /// Sessions whose messages match, newest activity first, at most `window`, leaving out
    /// `excluding` (the participant matches, listed before).
    ///
    /// The walk stops at the window's end, so a common word costs about the page's sessions,
    /// not every message of the caller (decision 0021). A session's words are checked in
    /// `session_terms` first, one index probe per word (at most 4): a word the caller's
    /// sessions lack is answered there without reading messages, and a query of one word or
    /// of the word being typed needs nothing else. Several words or a phrase must meet in one
    /// message: checked on the session's `(session_id, seq) INCLUDE (search)` index entries,
    /// only for sessions holding every word. nil when nothing can match (only stop words).
    public static func contentStatement(
        _ caller: Caller, _ query: SearchQuery, terms: Terms, status: Session.Status?, kind: Session.Kind?,
        excluding: [UUID], window: Int
    ) -> Statement? {
        var params: [any SQLEncodable] = [caller.userID, status?.rawValue, kind?.rawValue, SQLArray.uuids(excluding), window]
        func bind(_ value: any SQLEncodable) -> String {
            params.append(value)
            return "$\(params.count)"
        }
        var required: [String] = []
        for lexeme in terms.lexemes.joined() where !required.contains(lexeme) { required.append(lexeme) }
        let prefixProbed = query.prefix != nil && terms.prefix.count == 1 && terms.expansion.count <= Terms.maxExpansion
        guard !required.isEmpty || (query.prefix != nil && !terms.prefix.isEmpty), let tsquery = terms.tsquery else { return nil }
        let termsDecide = query.phrases.isEmpty
            && ((required.count == 1 && query.prefix == nil) || (required.isEmpty && prefixProbed))
        // When the message check decides, a word most sessions hold is left to it: its probe
        // would reject almost no session, and PostgreSQL places it before the membership probe,
        // once per session of the brokerage walked rather than per session of the caller
        // (and each such semi-join costs ~0.5–1 ms of planning). Decision 0041.
        if !termsDecide { required.removeAll { terms.common.contains($0) } }
        // The session holds each word (an index probe each), then, if that does not decide,
        // one of its messages matches the whole query.
        var conditions = required.prefix(4).map {
            "EXISTS (SELECT 1 FROM session_terms st WHERE st.session_id = s.id AND st.lexeme = \(bind($0)))"
        }
        if prefixProbed {
            conditions.append(
                "EXISTS (SELECT 1 FROM session_terms st WHERE st.session_id = s.id AND st.lexeme = ANY (\(bind(SQLArray.text(terms.expansion)))::text[]))")
        }
        if !termsDecide {
            let q = bind(tsquery) + "::tsquery"
            // Per session, after its membership is checked: correlated on me (not s), and
            // OFFSET 0 keeps PostgreSQL from turning it into a hash of every matching message
            // of the brokerage (58,000 rows for two common words: 150 ms). ts_match_vq() is
            // `@@` in a form the GIN index cannot serve, so the check stays on the session's
            // index entries whatever random_page_cost says (decision 0021). Long messages keep
            // their vector in search_long (few rows, own index by session).
            conditions.append("""
                (EXISTS (SELECT 1 FROM messages m WHERE m.session_id = me.session_id AND ts_match_vq(m.search, \(q)) OFFSET 0)
                     OR EXISTS (SELECT 1 FROM messages m WHERE m.session_id = me.session_id AND m.search_long IS NOT NULL
                                AND ts_match_vq(m.search_long, \(q)) OFFSET 0))
                """)
        }
        return ("""
            SELECT s.id \(mine)
              AND s.id <> ALL ($4::uuid[])
              AND \(conditions.joined(separator: "\n  AND "))
            ORDER BY s.last_activity_at DESC, s.id DESC
            LIMIT $5
            """, params)
    }

    /// The query's words as `session_terms` holds them (decision 0021): the lexemes of each
    /// word and phrase, and for the word being typed the stored lexemes it begins (at most
    /// `Terms.maxExpansion`; more and it is not looked up there).
    public struct Terms: Sendable, Hashable {
        /// Per word and phrase (in that order), its lexemes; a stop word has none.
        public var lexemes: [[String]] = []
        /// The typed prefix's lexemes (one, normally), and the stored lexemes starting with it.
        public var prefix: [String] = []
        public var expansion: [String] = []
        /// The whole query as a tsquery (its text form), made once here and bound as
        /// `$n::tsquery` by the statements after; nil for a query of no words.
        public var tsquery: String?
        /// The words' and phrases' lexemes that PostgreSQL's statistics of `session_terms` put in
        /// at least `commonShare` of the brokerage's sessions (none without statistics).
        public var common: Set<String> = []
        public static let maxExpansion = 64
        public static let commonShare = 0.5
    }

    /// One round trip: the lexemes of the query's words, phrases and prefix, the stored
    /// lexemes the prefix begins (a skip scan over `session_terms`: one index probe per distinct
    /// lexeme), and the query's tsquery. Also sets the name-typo threshold for this transaction.
    public static func terms(_ tx: Transaction, _ query: SearchQuery) async throws -> Terms {
        let statement = termsStatement(query)
        return try terms(try await tx.queryUnprepared(statement.sql, statement.params))
    }

    static func termsStatement(_ query: SearchQuery) -> Statement {
        let tsquery = tsquery(query, firstParameter: 3)
        // The stemmed word being typed, or, for a stop word (no stem), the fragment itself.
        let prefixLexemes = """
            coalesce(nullif(tsvector_to_array(to_tsvector(\(config), coalesce($2, ''))), '{}'),
                     CASE WHEN $2 IS NOT NULL THEN ARRAY[public.parley_unaccent(lower($2))] ELSE '{}' END)
            """
        let candidates = 3 + (tsquery?.params.count ?? 0)
        let commonNeeded = !query.phrases.isEmpty || query.words.count + (query.prefix == nil ? 0 : 1) > 1
        return ("""
            SELECT set_config('pg_trgm.word_similarity_threshold', '0.4', true) AS threshold,
                   (SELECT coalesce(jsonb_agg(tsvector_to_array(to_tsvector(\(config), t.w)) ORDER BY t.i), '[]')
                    FROM unnest($1::text[]) WITH ORDINALITY AS t(w, i))::text AS lexemes,
                   to_jsonb(\(prefixLexemes))::text AS prefix,
                   (WITH RECURSIVE p AS (SELECT \(prefixLexemes) AS lx),
                    found(lexeme, n) AS (
                        SELECT (SELECT min(st.lexeme) FROM session_terms st
                                WHERE st.lexeme >= p.lx[1] AND st.lexeme < p.lx[1] || chr(1114111)), 1
                        FROM p WHERE cardinality(p.lx) = 1
                        UNION ALL
                        SELECT (SELECT min(st.lexeme) FROM session_terms st
                                WHERE st.lexeme > found.lexeme AND st.lexeme < p.lx[1] || chr(1114111)), found.n + 1
                        FROM found, p WHERE found.lexeme IS NOT NULL AND found.n <= \(Terms.maxExpansion))
                    SELECT to_jsonb(coalesce(array_agg(DISTINCT x.lexeme), '{}'))
                    FROM (SELECT lexeme FROM found WHERE lexeme IS NOT NULL
                          UNION SELECT lexeme FROM (\(stemsWithin("$\(candidates)"))) AS b) AS x)::text AS expansion,
                   \(tsquery?.sql ?? "NULL")::text AS tsquery,
                   \(commonNeeded ? common : "'[]'")::text AS common
            """, [SQLArray.text(query.words + query.phrases), query.prefix] + (tsquery?.params ?? [])
                + [SQLArray.text(query.prefix.map(stemCandidates) ?? [])])
    }

    /// Which of the query's lexemes are common (`Terms.common`): only a query whose message check
    /// decides needs it (more than one word, or a phrase).
    static let common = """
                   (SELECT coalesce(jsonb_agg(f.lexeme), '[]')
                    FROM pg_stats p, unnest(p.most_common_vals::text::text[], p.most_common_freqs) AS f(lexeme, share),
                         (SELECT sum(c.reltuples) FILTER (WHERE c.relname = 'session_terms') AS terms,
                                 sum(c.reltuples) FILTER (WHERE c.relname = 'sessions') AS sessions
                          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                          WHERE n.nspname = current_schema() AND c.relname IN ('session_terms', 'sessions')) AS size
                    WHERE p.schemaname = current_schema() AND p.tablename = 'session_terms' AND p.attname = 'lexeme'
                      AND f.lexeme IN (SELECT x FROM unnest($1::text[]) AS t(w), unnest(tsvector_to_array(to_tsvector(\(config), t.w))) AS x)
                      AND size.sessions > 0 AND f.share * size.terms >= \(Terms.commonShare) * size.sessions)
            """

    static func terms(_ result: QueryResult) throws -> Terms {
        guard let first = result.rows.first else { return Terms() }
        return Terms(
            lexemes: try first.decodeJSON([[String]].self, "lexemes"),
            prefix: try first.decodeJSON([String].self, "prefix"),
            expansion: try first.decodeJSON([String].self, "expansion"),
            tsquery: try first.decode(String?.self, "tsquery"),
            common: Set(try first.decodeJSON([String].self, "common")))
    }

    /// The sessions as the caller sees them, each one's exact number of matching messages, and
    /// up to 3 best snippets per session, in one round trip. Matches are found and ranked on
    /// the history index's entries (`(session_id, seq) INCLUDE (search)`, no table access); only
    /// the snippets' messages are read. The match is written ts_match_vq(), which the GIN index
    /// cannot serve: with `@@` and random_page_cost 4 (PostgreSQL's default) the planner
    /// intersected the GIN entries of a common word — 400,000 of them for `house` — with the
    /// page's sessions, 64 ms instead of 4.
    static func details(
        _ tx: Transaction, _ caller: Caller, ids: [UUID], tsquery: String?
    ) async throws -> ([UUID: Session], [UUID: [Snippet]], [UUID: Int64]) {
        guard !ids.isEmpty else { return ([:], [:], [:]) }
        let idArray = SQLArray.uuids(ids)
        // The caller's membership is probed per session (OFFSET 0 keeps the subquery from being
        // flattened): the prepared statement's generic plan estimates a user's memberships at
        // the table's average, 2, and hashed all of the caller's instead — 2,000 rows read, 2.8 ms
        // for a page of 20 sessions at 1,000,000 messages, 0.8 ms probed.
        var statements: [Statement] = [("""
            \(SessionStore.select)
            FROM unnest($2::uuid[]) AS page(id)
            CROSS JOIN LATERAL (SELECT me.last_read_seq, me.marked_unread, me.archived_at FROM session_members me
                                WHERE me.session_id = page.id AND me.user_id = $1 OFFSET 0) me
            JOIN sessions s ON s.id = page.id
            """, [caller.userID, idArray])]
        if let tsquery {
            statements.append(("""
                WITH q AS (SELECT $2::tsquery AS query),
                hits AS (
                    SELECT m.session_id, m.seq, ts_rank(m.search, q.query) AS rank FROM messages m, q
                    WHERE m.session_id = ANY ($1::uuid[]) AND ts_match_vq(m.search, q.query)
                    UNION ALL
                    SELECT m.session_id, m.seq, ts_rank(m.search_long, q.query) FROM messages m, q
                    WHERE m.session_id = ANY ($1::uuid[]) AND m.search_long IS NOT NULL AND ts_match_vq(m.search_long, q.query)
                ), best AS (
                    SELECT h.session_id, h.seq, row_number() OVER (PARTITION BY h.session_id ORDER BY h.rank DESC, h.seq DESC) AS rn,
                           count(*) OVER (PARTITION BY h.session_id) AS total
                    FROM hits h
                )
                SELECT m.id, m.session_id, m.seq, m.created_at, b.total,
                       ts_headline(\(Self.config), regexp_replace(m.text, '[[:cntrl:]]', ' ', 'g'), q.query,
                                   'StartSel=' || chr(1) || ', StopSel=' || chr(2) || ', MaxWords=24, MinWords=8, MaxFragments=2') AS snippet
                FROM best b JOIN messages m ON m.session_id = b.session_id AND m.seq = b.seq, q
                WHERE b.rn <= 3
                ORDER BY b.session_id, b.rn
                """, [idArray, tsquery]))
        }
        let results = try await tx.pipelinePrepared(statements)
        var sessions: [UUID: Session] = [:]
        for row in results[0].rows {
            sessions[try row.decode(UUID.self, "id")] = try SessionStore.session(row, member: caller.userID)
        }
        var snippets: [UUID: [Snippet]] = [:]
        var counts: [UUID: Int64] = [:]
        for row in results.dropFirst().first?.rows ?? [] {
            let session = try row.decode(UUID.self, "session_id")
            counts[session] = try row.decode(Int64.self, "total")
            snippets[session, default: []].append(Snippet(
                messageId: try row.decode(UUID.self, "id").uuidString.lowercased(), seq: try row.decode(Int64.self, "seq"),
                html: Self.highlight(try row.decode(String.self, "snippet")), createdAt: try row.decode(Date.self, "created_at")))
        }
        return (sessions, snippets, counts)
    }

    /// Escapes the passage, then turns ts_headline's markers (U+0001/U+0002) into `<mark>` tags.
    /// (The text given to ts_headline has its control characters turned into spaces, so a
    /// message's own U+0001/U+0002 never become markers.)
    static func highlight(_ text: String) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count + 32)
        for byte in text.utf8 {
            switch byte {
            case 1: bytes.append(contentsOf: "<mark>".utf8)
            case 2: bytes.append(contentsOf: "</mark>".utf8)
            default: MessageFormatter.escape(byte, into: &bytes)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// The same JSON as the encoder writes (keys in sorted order), for pages of results (`JSONWritable`).
extension SearchStore.Result: JSONWritable {
    public func write(to json: inout JSONWriter) {
        json.object { json in
            json.field("matchCount", matchCount)
            json.field("matchedBy", matchedBy)
            json.field("session", session)
            json.field("snippets", snippets)
        }
    }
}

extension SearchStore.Snippet: JSONWritable {
    public func write(to json: inout JSONWriter) {
        json.object { json in
            json.field("createdAt", createdAt)
            json.field("html", html)
            json.field("messageId", messageId)
            json.field("seq", seq)
        }
    }
}
