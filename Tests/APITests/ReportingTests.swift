import Database
import DatabaseTesting
import Domain
import Foundation
import HummingbirdTesting
import NIOPosix
import PQ
import ParleyTesting
import Synchronization
import Testing

/// Set once, read from anywhere.
final class Listening: Sendable {
    private let flag = Mutex(false)
    func set() { flag.withLock { $0 = true } }
    var isSet: Bool { flag.withLock { $0 } }
}

/// SQL reporting (issue 17, points 1–2): the views, and the reporting login that reads them and
/// nothing else.
@Suite("Reporting: views and the reporting role")
struct ReportingTests {
    /// Runs `body` on a fresh libpq connection logged in as the brokerage's reporting role,
    /// exactly as an analyst's tool would connect (no session settings of Parley's pool).
    static func asReporter<T: Sendable>(_ login: TenantStore.ReportingLogin, _ body: @escaping @Sendable (Connection) throws -> T) async throws -> T {
        let base = try await TestDatabase.shared.conninfo()
        let conninfo: String
        if base.hasPrefix("postgres://") || base.hasPrefix("postgresql://"), var url = URLComponents(string: base) {
            url.user = login.role
            url.password = login.password
            conninfo = url.string ?? base
        } else {
            conninfo = base + " user=\(login.role) password=\(login.password)"
        }
        // A thread of its own: a report may block for half a minute (pg_sleep), and the shared
        // blocking pool's few threads serve every other test meanwhile.
        let thread = NIOThreadPool(numberOfThreads: 1)
        thread.start()
        do {
            let result = try await thread.runIfActive {
                // The role allows five connections, and a backend of a connection this test
                // closed a moment ago may not have exited yet: a client waits and connects again.
                var attempt = 0
                while true {
                    do {
                        let connection = try Connection.connect(conninfo, applicationName: "report-tool")
                        defer { connection.finish() }
                        return try body(connection)
                    } catch let error as PQError where error.kind == .connectionFailed && error.message.contains("too many connections") && attempt < 100 {
                        attempt += 1
                        usleep(100_000)
                    }
                }
            }
            try? await thread.shutdownGracefully()
            return result
        } catch {
            try? await thread.shutdownGracefully()
            throw error
        }
    }

    static func sqlState(_ body: @escaping @Sendable () async throws -> Void) async -> String? {
        do {
            try await body()
            return nil
        } catch let error as PQError {
            // A connection refused before any statement ran has no SQLSTATE: not "allowed".
            return error.sqlState?.rawValue ?? "no SQLSTATE: \(error.message)"
        } catch {
            return "\(error)"
        }
    }

    @Test("the views show what the API did: counts, the request funnel, and first response, reply and resolution times to the second")
    func views() async throws {
        try await TestApp.run { app, client in
            let (tenant, agent) = try await ChatRequestTests.setup(app, client)
            let request = try await ChatRequestTests.submitted(client, tenant, ChatRequestTests.visitor)
            var other = ChatRequestTests.visitor
            other["email"] = "other@example.com"
            let declined = try await ChatRequestTests.submitted(client, tenant, other)
            try await Task.sleep(for: .milliseconds(1200))
            let accepted = try await client.json(.post, "/v1/chat-requests/\(request.id)/accept", token: agent).decode(AcceptedBody.self)
            let session = accepted.session.id
            #expect(try await client.json(.post, "/v1/chat-requests/\(declined.id)/decline", token: agent, body: ["notes": "spam"]).status == .ok)
            // Accepting made the visitor a contact already: converting finds it.
            #expect(try await client.json(.post, "/v1/chat-requests/\(request.id)/convert-to-crm", token: agent).status == .ok)
            func send(_ token: String, _ text: String) async throws -> Message {
                let response = try await client.json(.post, "/v1/sessions/\(session)/messages", token: token,
                                                     body: ["clientMessageId": UUID().uuidString, "text": text])
                #expect(response.status == .created)
                return try response.decode(Message.self)
            }
            let visitor = try #require(request.visitorToken)
            let hello = try await send(agent, "Hello Vera, yes it is")
            let question = try await send(visitor, "Great, Saturday?")
            try await Task.sleep(for: .milliseconds(1100))
            let answer = try await send(agent, "Saturday at 10")
            let closeStarted = Date()
            #expect(try await client.json(.post, "/v1/sessions/\(session)/close", token: agent).status == .ok)
            let closeEnded = Date()
            let history = try await client.json(.get, "/v1/sessions/\(session)/messages", token: agent).items(Message.self)
            let opening = try #require(history.first { $0.seq == 1 })
            // An agent-started client session: its first response is the agent's first message.
            let started = try await client.json(.post, "/v1/sessions", token: agent, body: ["client": ["userId": "client-9", "name": "Cy Client"]])
            let own = try started.decode(Session.self)
            let first = try await client.json(.post, "/v1/sessions/\(own.id)/messages", token: agent,
                                              body: ["clientMessageId": "o1", "text": "Hi Cy"]).decode(Message.self)

            let login = try await app.dependencies.tenants.reportingLogin(tenant.tenant)
            #expect(login.role == tenant.scope.role.rawValue + "_reporting")
            struct Figures: Sendable {
                var sessionRow: [String?] = []
                var conversation: [Double?] = []
                var ownFirstResponse: Double?
                var replies: [[Double?]] = []
                var requests: [[String?]] = []
                var daily: [Int64] = []
                var agentDaily: [Int64] = []
                var messageColumns: [String] = []
                var settings: [String] = []
            }
            let sessionID = session
            let ownID = own.id
            let figures = try await Self.asReporter(login) { db -> Figures in
                var f = Figures()
                let row = try db.execParams("""
                    SELECT kind, status, array_to_string(participants, ','), message_count::text, agent_message_count::text,
                           client_message_count::text, chat_request_id::text, (closed_at IS NOT NULL)::text
                    FROM report_sessions WHERE session_id = $1::uuid
                    """, [.text(sessionID)], resultFormat: .text)
                f.sessionRow = (0..<8).map { row.first?.cells[$0].map { String(decoding: $0, as: UTF8.self) } }
                let times = try db.execParams("""
                    SELECT extract(epoch FROM started_at)::float8, first_response_seconds, resolution_seconds,
                           extract(epoch FROM closed_at)::float8
                    FROM report_conversations WHERE session_id = $1::uuid
                    """, [.text(sessionID)], resultFormat: .text)
                f.conversation = (0..<4).map { times.first?.cells[$0].flatMap { Double(String(decoding: $0, as: UTF8.self)) } }
                f.ownFirstResponse = try db.execParams(
                    "SELECT first_response_seconds FROM report_conversations WHERE session_id = $1::uuid", [.text(ownID)], resultFormat: .text)
                    .first?.cells[0].flatMap { Double(String(decoding: $0, as: UTF8.self)) }
                f.replies = try db.execParams("""
                    SELECT client_seq, reply_seq, reply_seconds FROM report_reply_times WHERE session_id = $1::uuid ORDER BY client_seq
                    """, [.text(sessionID)], resultFormat: .text).rows.map { row in
                    (0..<3).map { row.cells[$0].flatMap { Double(String(decoding: $0, as: UTF8.self)) } }
                }
                f.requests = try db.exec("""
                    SELECT source, status, converted_to_crm::text, (session_id IS NOT NULL)::text, decision_seconds::text
                    FROM report_chat_requests ORDER BY status
                    """).rows.map { row in (0..<5).map { row.cells[$0].map { String(decoding: $0, as: UTF8.self) } } }
                let day = try db.exec("""
                    SELECT messages::text, sessions_started::text, sessions_closed::text, requests_received::text, requests_accepted::text,
                           requests_declined::text
                    FROM report_daily WHERE time = date_trunc('day', now())
                    """)
                f.daily = (0..<6).compactMap { day.first?.cells[$0].flatMap { Int64(String(decoding: $0, as: UTF8.self)) } }
                let agentDay = try db.exec("""
                    SELECT messages_sent::text, sessions_created::text, sessions_closed::text, requests_received::text,
                           requests_accepted::text, requests_declined::text
                    FROM report_agent_daily WHERE agent_id = 'agent-1' AND day = (now() AT TIME ZONE 'UTC')::date
                    """)
                f.agentDaily = (0..<6).compactMap { agentDay.first?.cells[$0].flatMap { Int64(String(decoding: $0, as: UTF8.self)) } }
                f.messageColumns = try db.exec("SELECT * FROM report_messages LIMIT 0").columns.map(\.name)
                f.settings = try ["TimeZone", "statement_timeout", "default_transaction_read_only"].map { name in
                    try db.exec("SHOW \(name)").first?.cells[0].map { String(decoding: $0, as: UTF8.self) } ?? ""
                }
                return f
            }

            // The session: closed, four messages (the request's, then agent, visitor, agent).
            #expect(figures.sessionRow[0] == "client" && figures.sessionRow[1] == "closed")
            #expect(figures.sessionRow[2]?.split(separator: ",").first == "agent-1")
            #expect(figures.sessionRow[3] == "4" && figures.sessionRow[4] == "2" && figures.sessionRow[5] == "2")
            #expect(figures.sessionRow[6] == request.id && figures.sessionRow[7] == "true")
            // The three times, to the second: from the request's creation (it opened the session).
            let startedAt = try #require(figures.conversation[0])
            #expect(abs(startedAt - request.createdAt.timeIntervalSince1970) < 0.01)
            let firstResponse = try #require(figures.conversation[1])
            #expect(abs(firstResponse - hello.createdAt.timeIntervalSince(request.createdAt)) < 0.01)
            #expect(firstResponse > 1.1, "the agent accepted 1.2 s after the request")
            let closedAt = try #require(figures.conversation[3])
            #expect(closedAt >= closeStarted.timeIntervalSince1970 - 0.01 && closedAt <= closeEnded.timeIntervalSince1970 + 0.01)
            #expect(abs(try #require(figures.conversation[2]) - (closedAt - startedAt)) < 0.01)
            #expect(abs(try #require(figures.ownFirstResponse) - first.createdAt.timeIntervalSince(own.createdAt)) < 0.01)
            // Reply times: the visitor's opening message → the agent's hello; the question → the answer.
            #expect(figures.replies.map { $0[0] } == [1, 3] && figures.replies.map { $0[1] } == [2, 4])
            #expect(abs((figures.replies.first?[2] ?? -1) - hello.createdAt.timeIntervalSince(opening.createdAt)) < 0.01)
            #expect(abs((figures.replies.last?[2] ?? -1) - answer.createdAt.timeIntervalSince(question.createdAt)) < 0.01)
            // The funnel: one accepted (converted to CRM, with its session), one declined.
            #expect(figures.requests.map { $0[0] } == ["website", "website"])
            #expect(figures.requests.map { $0[1] } == ["accepted", "declined"])
            #expect(figures.requests.map { $0[2] } == ["true", "false"] && figures.requests.map { $0[3] } == ["true", "false"])
            #expect(figures.daily == [5, 2, 1, 2, 1, 1])
            #expect(figures.agentDaily == [3, 2, 1, 2, 1, 1])
            // No message text, no html; UTC, read-only, the statement timeout.
            #expect(figures.messageColumns.contains("sent_at") && !figures.messageColumns.contains("text") && !figures.messageColumns.contains("html"))
            #expect(figures.settings == ["UTC", "5min", "on"])
        }
    }

    @Test("a close that was reopened still counts on its day: every close is in report_session_closures, report_daily and report_agent_daily")
    func closesReopened() async throws {
        try await TestApp.run { app, client in
            let pair = try await Pair.make(app, client)
            for action in ["close", "reopen", "close", "reopen"] {
                #expect(try await client.json(.post, "/v1/sessions/\(pair.sessionID)/\(action)", token: pair.agent).status == .ok)
            }
            let figures = try await app.database.withTenant(pair.tenant.scope) { tx in
                try await tx.query("""
                    SELECT (SELECT sessions_closed FROM report_daily WHERE day = (now() AT TIME ZONE 'UTC')::date) AS daily,
                           (SELECT sessions_closed FROM report_agent_daily WHERE agent_id = 'agent-1' AND day = (now() AT TIME ZONE 'UTC')::date) AS agent,
                           (SELECT count(*) FROM report_session_closures WHERE session_id = $1::uuid AND closed_by = 'agent-1'
                                                                            AND reopened_by = 'agent-1' AND reopened_at >= closed_at) AS closures
                    """, [pair.sessionID]).rows[0]
            }
            #expect(try figures.decode(Int64?.self, "daily") == 2)
            #expect(try figures.decode(Int64?.self, "agent") == 2)
            #expect(try figures.decode(Int64.self, "closures") == 2)
        }
    }

    @Test("every example query of docs/REPORTING.md runs as a reporting login")
    func documentedExamples() async throws {
        let database = try await TestDatabase.shared.makeDatabase()
        defer { Task { await database.close() } }
        let tenant = try await TestTenant.make(database, prefix: "rex")
        let login = try await TenantStore(database: database, logger: testLogger).reportingLogin(tenant.tenant)
        let doc = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../docs/REPORTING.md")
        let text = try String(contentsOf: doc, encoding: .utf8)
        let blocks = text.components(separatedBy: "```sql\n").dropFirst().compactMap { $0.components(separatedBy: "```").first }
        #expect(blocks.count >= 4)
        for block in blocks {
            // Grafana's macro, as Grafana expands it.
            let sql = block.replacingOccurrences(of: #"\$__timeFilter\((\w+)\)"#, with: "$1 > now() - interval '1 day'", options: .regularExpression)
            let state = await Self.sqlState { _ = try await Self.asReporter(login) { db in try db.exec(sql) } }
            #expect(state == nil, "\(state ?? "") in:\n\(block)")
        }
    }

    @Test("the reporting role reads the views and gets 42501 on base tables, other brokerages and the control schema; it writes nothing")
    func leastPrivilege() async throws {
        let database = try await TestDatabase.shared.makeDatabase()
        defer { Task { await database.close() } }
        let mine = try await TestTenant.make(database, prefix: "rep")
        let other = try await TestTenant.make(database, prefix: "rep")
        let store = TenantStore(database: database, logger: testLogger)
        _ = try await store.reportingLogin(mine.tenant)
        let login = try await store.reportingLogin(mine.tenant, statementTimeoutSeconds: 60)  // rotates
        // The views are granted again when the reporting files are reapplied (a view dropped and
        // made again loses its grants): migrating afresh keeps the reporter's access.
        try await database.withTenant(mine.scope) { tx in _ = try await tx.query("DELETE FROM schema_reporting") }
        try await Migrator(database: database, logger: testLogger).migrateTenant(mine.scope)

        let views = try await Self.asReporter(login) { db in
            try db.exec("SELECT count(*)::text FROM report_sessions").first?.cells[0].map { String(decoding: $0, as: UTF8.self) }
        }
        #expect(views == "0")
        for statement in [
            "SELECT * FROM sessions", "SELECT * FROM messages", "SELECT * FROM chat_requests", "SELECT * FROM users",
            "SELECT * FROM \(mine.scope.schema.quoted).blob_chunks", "SELECT * FROM \(other.scope.schema.quoted).report_sessions",
            "SELECT * FROM \(other.scope.schema.quoted).messages", "SELECT * FROM parley.tenants", "SELECT * FROM parley.tenant_signing_keys",
            "SELECT * FROM parley.directory_members",
            // Parley's processes take turns through advisory locks (a send's session, each
            // brokerage's retention, migrations): a login that held one would hold them all up.
            "SELECT pg_advisory_lock(hashtext('parley.retention'), hashtext('\(mine.slug.rawValue)'))",
            "SELECT pg_try_advisory_lock(42)", "SELECT pg_advisory_lock_shared(42)",
        ] {
            let state = await Self.sqlState { _ = try await Self.asReporter(login) { db in try db.exec(statement) } }
            #expect(state == "42501", "\(statement): \(state ?? "allowed")")
        }
        // Read-only: nothing is written, nothing created.
        let write = await Self.sqlState { _ = try await Self.asReporter(login) { db in try db.exec("DELETE FROM messages") } }
        #expect(write == "25006")
        let create = await Self.sqlState { _ = try await Self.asReporter(login) { db in try db.exec("CREATE TABLE x (a int)") } }
        #expect(create == "25006")
        let timeout = try await Self.asReporter(login) { db in
            try db.exec("SHOW statement_timeout").first?.cells[0].map { String(decoding: $0, as: UTF8.self) }
        }
        #expect(timeout == "1min")
    }

    @Test("a report held open for 30 s does not delay live delivery of sends")
    func longReport() async throws {
        try await TestApp.run { app, client in
            let pair = try await Pair.make(app, client)
            let login = try await app.dependencies.tenants.reportingLogin(pair.tenant.tenant)
            let stream = try await TestStream.connect(port: try #require(client.port), token: pair.client)
            #expect(await stream.next()?.type == "hello")
            // The report: a repeatable-read transaction open for 30 s. Were delivery held back by
            // it (as a cursor on the oldest running transaction would be), nothing sent meanwhile
            // would arrive before it ended.
            let report = Task { () -> ContinuousClock.Instant in
                try await Self.asReporter(login) { db in
                    _ = try db.exec("BEGIN ISOLATION LEVEL REPEATABLE READ")
                    _ = try db.exec("SELECT count(*) FROM report_messages")
                    _ = try db.exec("SELECT pg_sleep(30)")
                    _ = try db.exec("SELECT count(*) FROM report_daily")
                    _ = try db.exec("COMMIT")
                }
                return ContinuousClock.now
            }
            try await Task.sleep(for: .milliseconds(500))
            var lastArrival = ContinuousClock.now
            let started = ContinuousClock.now
            var index = 0
            // Each send must arrive before the next is sent. Held back, the first would arrive
            // only when the report ends, ~29 s later: past the 12 s wait. Under the whole suite's
            // load a delivery may take several seconds, which is not what this test is about.
            while ContinuousClock.now - started < .seconds(15) {
                #expect(try await pair.send(client, "during the report #\(index)").status == .created)
                let event = await stream.nextEvent(["message.created"], timeout: .seconds(12))
                #expect(event != nil, "send #\(index) was not delivered within 12 s while the report was open")
                lastArrival = ContinuousClock.now
                index += 1
                try await Task.sleep(for: .seconds(1))
            }
            let reportEnded = try await report.value
            #expect(index >= 2)
            #expect(lastArrival < reportEnded, "every send was delivered while the report was still open")
            await stream.close()
        }
    }

    @Test("a reporting login that LISTENs on the typing channel reads nothing of it, and a typing signal it forges is dropped")
    func typingChannelSealed() async throws {
        try await TestApp.run { app, client in
            let pair = try await Pair.make(app, client)
            try await app.waitUntilListening()
            let login = try await app.dependencies.tenants.reportingLogin(pair.tenant.tenant)
            let channel = app.dependencies.channels.typing
            let stream = try await TestStream.connect(port: try #require(client.port), token: pair.client)
            #expect(await stream.next()?.type == "hello")
            func nextTyping(within limit: Duration) async -> StreamMessage? {
                let deadline = ContinuousClock.now + limit
                while ContinuousClock.now < deadline {
                    guard let frame = await stream.next(timeout: deadline - ContinuousClock.now) else { return nil }
                    if frame.type == "typing" { return frame }
                }
                return nil
            }
            let listening = Listening()
            let heard = Task {
                try await Self.asReporter(login) { db -> [String] in
                    _ = try db.exec("LISTEN \(channel)")
                    listening.set()
                    var payloads: [String] = []
                    let deadline = Date().addingTimeInterval(10)
                    while payloads.isEmpty && Date() < deadline {
                        _ = try db.waitForInput(timeoutMilliseconds: 200)
                        payloads += try db.consumeNotifications().map(\.payload)
                    }
                    return payloads
                }
            }
            // Typing only once the reporter listens (under the suite's load its connection may
            // take a while).
            let deadline = ContinuousClock.now + .seconds(10)
            while !listening.isSet, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
            #expect(listening.isSet, "the reporter's LISTEN did not start within 10 s")
            #expect(try await client.json(.post, "/v1/sessions/\(pair.sessionID)/typing", token: pair.agent).status == .ok)
            #expect(await nextTyping(within: .seconds(10))?.name == "Avery Agent", "the member sees the real one")
            let payloads = try await heard.value
            #expect(!payloads.isEmpty)
            for payload in payloads {
                #expect(!payload.contains("agent-1") && !payload.contains(pair.sessionID) && !payload.contains("Avery"), "\(payload)")
            }
            // A signal in the clear, as it would have to be forged without the key: dropped.
            let forged = """
                {"t":"\(pair.tenant.slug)","s":"\(pair.sessionID)","u":"agent-1","n":"Forged","until":\(Date().timeIntervalSince1970 + 5),"r":["client-1"]}
                """
            try await Self.asReporter(login) { db in
                _ = try db.exec("SET default_transaction_read_only = off")
                _ = try db.execParams("SELECT pg_notify($1, $2)", [.text(channel), .text(forged)])
            }
            #expect(await nextTyping(within: .milliseconds(1500)) == nil)
            await stream.close()
        }
    }
}
