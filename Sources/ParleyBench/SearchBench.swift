import API
import Database
import DatabaseTesting
import Domain
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import ParleyTesting
import PQ

/// `parley-bench --search`: 1,000,000 messages over 20,000 sessions; one agent is a member of
/// 2,000 of them. Search latency through the HTTP API, and the plan PostgreSQL chose.
func searchBenchmark(_ app: TestApp, port: Int, quick: Bool) async throws {
    let sessions = quick ? 2_000 : 20_000
    let perSession = 50
    let tenant = try await TestTenant.make(app.database, prefix: "search")
    let scope = tenant.scope
    let started = Stopwatch.now()
    // Session g's id, the same in SQL and in the generated COPY rows.
    let sessionUUID = "('00000000-0000-4000-8000-' || lpad(to_hex(g), 12, '0'))::uuid"
    func sessionID(_ g: Int) -> String { "00000000-0000-4000-8000-" + String(repeating: "0", count: 12 - String(g, radix: 16).count) + String(g, radix: 16) }
    // Users, sessions and members in the database (INSERT … SELECT); messages generated here
    // and loaded with COPY: a vocabulary skewed like real text (a few words very common, most
    // rare), names from common first and last names, listings on every 25th message, and one
    // rare word in 20 messages.
    try await app.database.withTenant(scope) { tx in
        try await tx.simpleQuery("""
            INSERT INTO users (id, role, display_name)
            SELECT 'agent-' || a, 'agent', 'Agent ' || a FROM generate_series(1, 10) a;
            INSERT INTO users (id, role, display_name)
            SELECT 'client-' || g, 'client',
                   (ARRAY['Maria','John','Ana','Luis','Chen','Fatima','Olga','Kwame','Priya','Tom'])[1 + (g / 7) % 10] || ' ' ||
                   (ARRAY['Lopez','Smith','Garcia','Nguyen','Kim','Okafor','Ivanova','Patel','Brown','Rossi'])[1 + (g / 10) % 10]
            FROM generate_series(1, \(sessions)) g;
            INSERT INTO sessions (id, kind, created_by, last_seq, last_message_at, last_activity_at)
            SELECT \(sessionUUID), 'client', 'agent-' || (1 + g % 10), \(perSession), now() - g * interval '1 minute',
                   now() - g * interval '1 minute'
            FROM generate_series(1, \(sessions)) g;
            INSERT INTO session_members (session_id, user_id, role, last_read_seq)
            SELECT \(sessionUUID), 'agent-' || (1 + g % 10), 'agent', \(perSession) FROM generate_series(1, \(sessions)) g
            UNION ALL
            SELECT \(sessionUUID), 'client-' || g, 'client', 0 FROM generate_series(1, \(sessions)) g;
            """)
    }
    let vocabulary = [
        "the", "house", "home", "price", "offer", "showing", "kitchen", "bedroom", "bathroom", "garden", "view", "school",
        "parking", "garage", "inspection", "mortgage", "loan", "closing", "apartment", "condo", "balcony", "pool", "deposit",
        "escrow", "appraisal", "tour", "open", "weekend", "tomorrow", "morning", "afternoon", "available", "great", "nice",
        "question", "agent", "seller", "buyer", "contract", "counter", "listing", "market", "street", "downtown", "quiet",
        "renovated", "roof", "basement", "fireplace", "floor", "window", "light", "space", "neighborhood", "commute", "yard",
        "fence", "dog", "cat", "family", "budget", "rate", "approval", "documents", "signature", "keys", "move", "storage",
        "laundry", "dishwasher", "heating", "cooling", "solar", "hoa", "fees", "taxes", "insurance", "survey", "title",
        "attorney", "lender", "broker", "photos", "video", "virtual", "staging", "paint", "carpet", "hardwood", "tile",
        "granite", "island", "pantry", "closet", "office", "studio", "loft", "duplex", "townhouse", "villa", "cottage", "café",
    ]
    let total = sessions * perSession
    let batch = 100_000
    // created_at per session (n % sessions minutes ago), as COPY text.
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    let now = Date()
    let stamps = (0..<sessions).map { formatter.string(from: now.addingTimeInterval(-60 * Double($0))) }
    var random = SplitMix64(seed: 42)
    var offset = 0
    while offset < total {
        // One COPY per 100,000 messages, sent in ~64 KiB pieces.
        var pieces: [[UInt8]] = []
        var piece: [UInt8] = []
        piece.reserveCapacity(70_000)
        for n in offset..<min(offset + batch, total) {
            let g = 1 + n % sessions
            let sender = n % 2 == 0 ? "agent-\(1 + g % 10)" : "client-\(g)"
            var words: [String] = []
            for _ in 0..<(6 + n % 9) {
                // Skewed like the first version: index = floor(u^2.5 × 100).
                let u = Double(random.next() >> 11) / Double(1 << 53)
                words.append(vocabulary[min(vocabulary.count - 1, Int(pow(u, 2.5) * Double(vocabulary.count)))])
            }
            if n % 50_000 == 9 { words.append("zanzibar") }
            let listing = n % 25 == 0 ? "{\"ListingId\": \"ML\(n)\", \"address\": \"\(n % 900 + 1) Harbor Way\"}" : "\\N"
            let row = "\(sessionID(g))\t\(1 + n / sessions)\t\(sender)\tg\(n)\t\(words.joined(separator: " "))\t\(listing)\t\(stamps[n % sessions])\n"
            piece.append(contentsOf: row.utf8)
            if piece.count >= 64 * 1024 {
                pieces.append(piece)
                piece.removeAll(keepingCapacity: true)
            }
        }
        if !piece.isEmpty { pieces.append(piece) }
        try await app.database.withTenant(scope) { tx in
            // A load, not a request: the pool's statement timeout is for requests (a COPY of
            // 100,000 messages fires the search-words trigger 100,000 times, decision 0036).
            try await tx.simpleQuery("SET LOCAL statement_timeout = 0")
            try await tx.copyIn("COPY messages (session_id, seq, sender_id, client_message_id, text, listing, created_at) FROM STDIN", pieces)
        }
        offset += batch
    }
    // What autovacuum does after a bulk of inserts: statistics, and the visibility map that lets
    // the search read the caller's sessions from the index alone (decision 0008).
    try await app.database.withConnection { connection in
        _ = try await connection.simpleQuery("VACUUM ANALYZE \(scope.schema.quoted).messages, \(scope.schema.quoted).session_members, \(scope.schema.quoted).users, \(scope.schema.quoted).sessions, \(scope.schema.quoted).session_terms")
    }
    print("  generated \(total) messages over \(sessions) sessions in \(String(format: "%.0f", Double(Stopwatch.now() - started) / 1e9)) s")

    let agent = try await tenant.token(sub: "agent-1", role: .agent, name: "Agent 1", ttl: .seconds(3600))
    let caller = Caller(tenant: tenant.tenant, userID: "agent-1", role: .agent, name: "Agent 1")
    try await TestClient.withClient(host: "127.0.0.1", port: port) { http in
        var headers = HTTPFields()
        headers[.authorization] = "Bearer \(agent)"
        for (label, q) in [("rare word", "zanzibar"), ("common word", "house"), ("prefix", "apart"), ("name", "mar"),
                             ("two words", "house%20garden"), ("phrase", "%22house%20garden%22"),
                             ("a word common elsewhere, in none of the caller's sessions", "harbor")] {
            var times: [Double] = []
            var count = 0
            for index in 0..<(quick ? 10 : 40) {
                let start = Stopwatch.now()
                let response = try await http.get("/v1/search?q=\(q)", headers: headers)
                times.append(Double(Stopwatch.now() - start) / 1_000_000)
                if index == 0, response.status == .ok, let body = response.body,
                    let object = try? JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any]
                {
                    count = (object["items"] as? [Any])?.count ?? 0
                }
            }
            times.sort()
            print("  \(label) (q=\(q)): p50 \(format(percentile(times, 50))), p95 \(format(percentile(times, 95))) — \(count) sessions in the first page")
        }
    }
    if CommandLine.arguments.contains("--explain") {
        for q in ["zanzibar", "house", "apart", "mar", "house garden", "\"house garden\"", "harbor"] {
            let plan = try await app.database.withTenant(scope) { tx in
                let query = SearchQuery(q)
                let terms = try await SearchStore.terms(tx, query)
                var lines: [String] = []
                for (part, statement) in [
                    ("participants", SearchStore.namesStatement(caller, query, status: nil, kind: nil, window: 21)),
                    ("content", SearchStore.contentStatement(caller, query, terms: terms, status: nil, kind: nil, excluding: [], window: 21)),
                ] {
                    guard let statement else { continue }
                    lines.append("-- \(part)")
                    lines += try await tx.queryUnprepared("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY ON) " + statement.sql, statement.params)
                        .rows.map { try $0.decode(String.self, at: 0) }
                }
                return lines
            }
            print("\n  EXPLAIN ANALYZE q=\(q):\n    " + plan.joined(separator: "\n    "))
        }
    }
}

