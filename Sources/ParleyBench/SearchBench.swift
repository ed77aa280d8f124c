import API
import Database
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
    // Generated in the database (INSERT … SELECT): a vocabulary skewed like real text (a few
    // words very common, most rare), names from common first and last names, listings on
    // every 25th message, and one rare word in 20 messages.
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
            SELECT md5('s' || g)::uuid, 'client', 'agent-' || (1 + g % 10), \(perSession), now() - g * interval '1 minute',
                   now() - g * interval '1 minute'
            FROM generate_series(1, \(sessions)) g;
            INSERT INTO session_members (session_id, user_id, role, last_read_seq)
            SELECT md5('s' || g)::uuid, 'agent-' || (1 + g % 10), 'agent', \(perSession) FROM generate_series(1, \(sessions)) g
            UNION ALL
            SELECT md5('s' || g)::uuid, 'client-' || g, 'client', 0 FROM generate_series(1, \(sessions)) g;
            """)
    }
    let vocabulary = """
        ARRAY['the','house','home','price','offer','showing','kitchen','bedroom','bathroom','garden','view','school',
        'parking','garage','inspection','mortgage','loan','closing','apartment','condo','balcony','pool','deposit',
        'escrow','appraisal','tour','open','weekend','tomorrow','morning','afternoon','available','great','nice',
        'question','agent','seller','buyer','contract','counter','listing','market','street','downtown','quiet',
        'renovated','roof','basement','fireplace','floor','window','light','space','neighborhood','commute','yard',
        'fence','dog','cat','family','budget','rate','approval','documents','signature','keys','move','storage',
        'laundry','dishwasher','heating','cooling','solar','hoa','fees','taxes','insurance','survey','title',
        'attorney','lender','broker','photos','video','virtual','staging','paint','carpet','hardwood','tile',
        'granite','island','pantry','closet','office','studio','loft','duplex','townhouse','villa','cottage','café']
        """
    let total = sessions * perSession
    let batch = 100_000
    var offset = 0
    while offset < total {
        try await app.database.withTenant(scope) { tx in
            try await tx.simpleQuery("""
                INSERT INTO messages (session_id, seq, sender_id, client_message_id, text, listing, created_at)
                SELECT md5('s' || (1 + n % \(sessions)))::uuid, 1 + n / \(sessions),
                       CASE WHEN n % 2 = 0 THEN 'agent-' || (1 + (1 + n % \(sessions)) % 10) ELSE 'client-' || (1 + n % \(sessions)) END,
                       'g' || n,
                       (SELECT string_agg(v[1 + floor(power(random(), 2.5) * array_length(v, 1))::int], ' ')
                          FROM (SELECT \(vocabulary) AS v) voc, generate_series(1, 6 + n % 9) w
                          WHERE w > -n)
                       || CASE WHEN n % 50000 = 9 THEN ' zanzibar' ELSE '' END,
                       CASE WHEN n % 25 = 0 THEN jsonb_build_object('ListingId', 'ML' || n, 'address', (n % 900 + 1) || ' Harbor Way') END,
                       now() - (n % \(sessions)) * interval '1 minute'
                FROM generate_series(\(offset), \(min(offset + batch, total) - 1)) n
                """)
        }
        offset += batch
    }
    // What autovacuum does after a bulk of inserts: statistics, and the visibility map that lets
    // the search read the caller's sessions from the index alone (decision 0008).
    try await app.database.withConnection { connection in
        _ = try await connection.simpleQuery("VACUUM ANALYZE \(scope.schema.quoted).messages, \(scope.schema.quoted).session_members, \(scope.schema.quoted).users, \(scope.schema.quoted).sessions")
    }
    print("  generated \(total) messages over \(sessions) sessions in \(String(format: "%.0f", Double(Stopwatch.now() - started) / 1e9)) s")

    let agent = try await tenant.token(sub: "agent-1", role: .agent, name: "Agent 1", ttl: .seconds(3600))
    let caller = Caller(tenant: tenant.tenant, userID: "agent-1", role: .agent, name: "Agent 1")
    try await TestClient.withClient(host: "127.0.0.1", port: port) { http in
        var headers = HTTPFields()
        headers[.authorization] = "Bearer \(agent)"
        for (label, q) in [("rare word", "zanzibar"), ("common word", "house"), ("prefix", "apart"), ("name", "mar")] {
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
        for q in ["zanzibar", "house", "apart", "mar"] {
            let plan = try await app.database.withTenant(scope) { tx in
                try await tx.simpleQuery("SET LOCAL pg_trgm.word_similarity_threshold = 0.4")
                let statement = SearchStore.statement(
                    caller, SearchQuery(q), term: try await SearchStore.singleTerm(tx, SearchQuery(q)), status: nil, kind: nil, offset: 0, limit: 20)
                return try await tx.queryUnprepared("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY ON) " + statement.sql, statement.params)
                    .rows.map { try $0.decode(String.self, at: 0) }
            }
            print("\n  EXPLAIN ANALYZE q=\(q):\n    " + plan.joined(separator: "\n    "))
        }
    }
}
