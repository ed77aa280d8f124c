import Database
import DatabaseTesting
import Domain
import Foundation
import HTTPTypes
import HummingbirdTesting
import ParleyTesting
import Testing

/// An agent and a client of one fresh brokerage, with a session between them.
struct Pair {
    let tenant: TestTenant
    let agent: String
    let client: String
    let sessionID: String

    static func make(_ app: TestApp, _ client: TestAPIClient, clientID: String = "client-1", clientName: String = "Maria Lopez") async throws -> Pair {
        let tenant = try await TestTenant.make(app.database)
        let agent = try await tenant.token(sub: "agent-1", role: .agent, name: "Avery Agent")
        let clientToken = try await tenant.token(sub: clientID, role: .client, name: clientName)
        let created = try await client.json(.post, "/v1/sessions", token: agent, body: ["client": ["userId": clientID, "name": clientName]])
        #expect(created.status == .created)
        return Pair(tenant: tenant, agent: agent, client: clientToken, sessionID: try created.decode(Session.self).id)
    }

    func send(_ client: TestAPIClient, as token: String? = nil, _ text: String, id: String = UUID().uuidString) async throws -> APIResponse {
        try await client.json(.post, "/v1/sessions/\(sessionID)/messages", token: token ?? agent, body: ["clientMessageId": id, "text": text])
    }

    /// The session as it is when the agent alone has archived it (decision 0061): archived for
    /// the agent; active in the client's list, with `unread` messages, counted in their badge.
    func expectArchivedByAgentOnly(_ client: TestAPIClient, unread: Int64) async throws {
        #expect(try await client.json(.get, "/v1/sessions/\(sessionID)", token: agent).decode(Session.self).status == .archived)
        let theirs = try await client.json(.get, "/v1/sessions", token: self.client).items(Session.self)
        #expect(theirs.map(\.id) == [sessionID] && theirs.first?.status == .active && theirs.first?.unreadCount == unread)
        #expect(try await client.json(.get, "/v1/badge", token: self.client).decode(Badge.self).unreadMessages == unread)
        #expect(try await client.json(.get, "/v1/sessions?status=archived", token: self.client).items(Session.self).isEmpty)
    }

    /// The same on a connection of the caller's own (`withOwnConnection`).
    func send(_ http: TestClient, as token: String? = nil, _ text: String, id: String = UUID().uuidString) async throws -> APIResponse {
        try await http.json(.post, "/v1/sessions/\(sessionID)/messages", token: token ?? agent, body: ["clientMessageId": id, "text": text])
    }
}

@Suite("API: sessions and statuses")
struct SessionTests {
    @Test("an agent starts a client session; starting it again returns the same one")
    func create() async throws {
        try await TestApp.run { app, client in
            let pair = try await Pair.make(app, client)
            let session = try await client.json(.get, "/v1/sessions/\(pair.sessionID)", token: pair.agent).decode(Session.self)
            #expect(session.kind == .client)
            #expect(session.agentToAgent == false)
            #expect(session.status == .active)
            #expect(session.title == "Maria Lopez")
            #expect(session.members.count == 2)
            let again = try await client.json(.post, "/v1/sessions", token: pair.agent, body: ["client": ["userId": "client-1", "name": "Maria Lopez"]])
            #expect(again.status == .ok)
            #expect(try again.decode(Session.self).id == pair.sessionID)
            // The client sees it too, with the agent as title.
            let asClient = try await client.json(.get, "/v1/sessions/\(pair.sessionID)", token: pair.client)
            #expect(try asClient.decode(Session.self).title == "Avery Agent")
            // The list writes its sessions by hand (JSONWriter): the same bytes the encoder
            // wrote for the session alone, and `nextCursor` present as null.
            let list = try await client.json(.get, "/v1/sessions", token: pair.client)
            #expect(list.headers[.contentType] == "application/json; charset=utf-8")
            #expect(list.text == #"{"items":["# + asClient.text + #"],"nextCursor":null}"#)
        }
    }

    @Test("starting a session names a new user, never renames one: a user's name is their own token's")
    func namesAreTheUsersOwn() async throws {
        try await TestApp.run { app, client in
            let pair = try await Pair.make(app, client)
            let bea = try await pair.tenant.token(sub: "agent-2", role: .agent, name: "Bea Broker")
            #expect(try await client.json(.get, "/v1/me", token: bea).status == .ok)
            // Another agent calls Bea and Maria something else when starting sessions with them.
            let other = try await pair.tenant.token(sub: "agent-3", role: .agent, name: "Cy Other")
            let withBea = try await client.json(.post, "/v1/sessions", token: other, body: ["agent": ["userId": "agent-2", "name": "Do not reply"]])
            #expect(withBea.status == .created, "\(withBea.text)")
            let withMaria = try await client.json(.post, "/v1/sessions", token: other, body: ["client": ["userId": "client-1", "name": "X"]])
            #expect(withMaria.status == .created, "\(withMaria.text)")
            func names(_ session: String, _ token: String) async throws -> [String: String] {
                let view = try await client.json(.get, "/v1/sessions/\(session)", token: token).decode(Session.self)
                return Dictionary(uniqueKeysWithValues: view.members.map { ($0.userId, $0.name) })
            }
            #expect(try await names(try withBea.decode(Session.self).id, other)["agent-2"] == "Bea Broker")
            #expect(try await names(pair.sessionID, pair.agent)["client-1"] == "Maria Lopez")
            // A new user gets the name they were given, until a token of theirs says otherwise.
            let newcomer = try await client.json(.post, "/v1/sessions", token: other, body: ["client": ["userId": "client-9", "name": "Nia New"]])
            let newSession = try newcomer.decode(Session.self).id
            #expect(try await names(newSession, other)["client-9"] == "Nia New")
            let nia = try await pair.tenant.token(sub: "client-9", role: .client, name: "Nia Newton")
            #expect(try await client.json(.get, "/v1/sessions", token: nia).status == .ok)
            #expect(try await names(newSession, other)["client-9"] == "Nia Newton")
            // A name with a line break is refused, as a client's is.
            let refused = try await client.json(.post, "/v1/sessions", token: other, body: ["agent": ["userId": "agent-4", "name": "Two\nLines"]])
            #expect(refused.problem?.fields == ["agent.name"])
        }
    }

    @Test("a user id with a quote fused to a combining or prepend mark is one recipient of its session's events, never more")
    func quoteInsideAGrapheme() async throws {
        try await TestApp.run { app, client in
            let pair = try await Pair.make(app, client)
            // `"` + U+0301 is one Character, as is U+0600 + `"`: escaped character by character,
            // neither quote was escaped, and the second id split into three recipients.
            for id in ["a\"\u{301}b", "x\u{600}\",client-1,\"\u{301}y"] {
                let created = try await client.json(.post, "/v1/sessions", token: pair.agent, body: ["client": ["userId": id, "name": "Quote"]])
                #expect(created.status == .created, "\(created.text)")
                let session = try created.decode(Session.self).id
                let recipients = try await app.database.withTenant(pair.tenant.scope) { tx in
                    try await tx.query("""
                        SELECT DISTINCT r FROM (SELECT unnest(recipients) AS r FROM event_outbox WHERE session_id = $1::uuid
                                                UNION ALL SELECT unnest(recipients) FROM events WHERE session_id = $1::uuid) AS x
                        """, [session]).rows.map { try $0.decode(String.self, "r") }
                }
                #expect(Set(recipients) == ["agent-1", id], "\(recipients)")
            }
        }
    }

    @Test("agent-to-agent sessions carry the agentToAgent badge and filter by kind")
    func agentToAgent() async throws {
        try await TestApp.run { app, client in
            let pair = try await Pair.make(app, client)
            let other = try await client.json(.post, "/v1/sessions", token: pair.agent, body: ["agent": ["userId": "agent-2", "name": "Sam Lee"]])
            #expect(other.status == .created)
            let agentSession = try other.decode(Session.self)
            #expect(agentSession.agentToAgent == true)
            #expect(agentSession.kind == .agent)
            let agents = try await client.json(.get, "/v1/sessions?kind=agent", token: pair.agent)
            #expect(try agents.items(Session.self).map(\.id) == [agentSession.id])
            let clients = try await client.json(.get, "/v1/sessions?kind=client", token: pair.agent)
            #expect(try clients.items(Session.self).map(\.id) == [pair.sessionID])
        }
    }

    @Test("close → send is 409 session_closed → reopen → send works")
    func closeAndReopen() async throws {
        try await TestApp.run { app, client in
            let pair = try await Pair.make(app, client)
            let closed = try await client.json(.post, "/v1/sessions/\(pair.sessionID)/close", token: pair.agent)
            #expect(try closed.decode(Session.self).status == .closed)
            let again = try await client.json(.post, "/v1/sessions/\(pair.sessionID)/close", token: pair.agent)
            #expect(again.status == .ok)
            let refused = try await pair.send(client, as: pair.client, "hello?")
            #expect(refused.status == .conflict)
            #expect(refused.code == "session_closed")
            let reopened = try await client.json(.post, "/v1/sessions/\(pair.sessionID)/reopen", token: pair.agent)
            #expect(try reopened.decode(Session.self).status == .active)
            #expect(try await pair.send(client, as: pair.client, "hello again").status == .created)
        }
    }

    @Test("a closed session can be archived, to clean up the list, and reopened from the archive")
    func archiveClosed() async throws {
        try await TestApp.run { app, client in
            let pair = try await Pair.make(app, client)
            _ = try await client.json(.post, "/v1/sessions/\(pair.sessionID)/close", token: pair.agent)
            let archived = try await client.json(.post, "/v1/sessions/\(pair.sessionID)/archive", token: pair.agent)
            #expect(archived.status == .ok, "\(archived.code ?? "")")
            #expect(try archived.decode(Session.self).status == .archived)
            #expect(try await client.json(.get, "/v1/sessions?status=closed", token: pair.agent).items(Session.self).isEmpty)
            #expect(try await client.json(.get, "/v1/sessions?status=archived", token: pair.agent).items(Session.self).map(\.id) == [pair.sessionID])
            // Still closed for everyone: the client's view, and the refused send.
            #expect(try await client.json(.get, "/v1/sessions/\(pair.sessionID)", token: pair.client).decode(Session.self).status == .closed)
            #expect(try await pair.send(client, as: pair.client, "hello?").code == "session_closed")
            let reopened = try await client.json(.post, "/v1/sessions/\(pair.sessionID)/reopen", token: pair.agent)
            #expect(try reopened.decode(Session.self).status == .active)
            #expect(try await pair.send(client, as: pair.client, "hello again").status == .created)
        }
    }

    @Test("archiving hides a session from the archiving agent's list only: the client still sees it, and the agent's later messages reach the client's list and badge")
    func archiveIsPerMember() async throws {
        try await TestApp.run { app, client in
            let pair = try await Pair.make(app, client)
            _ = try await client.json(.post, "/v1/sessions/\(pair.sessionID)/archive", token: pair.agent)
            #expect(try await pair.send(client, "a new listing for you").status == .created)
            #expect(try await pair.send(client, "and another").status == .created)
            // The archiving agent's view is unchanged by their own messages.
            try await pair.expectArchivedByAgentOnly(client, unread: 2)
            // Nobody but the agent heard of the archive.
            let told = try await app.database.withTenant(pair.tenant.scope) { tx in
                try await tx.query("""
                    SELECT DISTINCT r FROM (SELECT unnest(recipients) AS r FROM event_outbox WHERE session_id = $1::uuid AND type = 'session.updated' AND data->>'status' = 'archived'
                                            UNION ALL SELECT unnest(recipients) FROM events WHERE session_id = $1::uuid AND type = 'session.updated' AND data->>'status' = 'archived') AS x
                    """, [pair.sessionID]).rows.map { try $0.decode(String.self, "r") }
            }
            #expect(told == ["agent-1"])
            // Analysts see the session active, archived by the agent (docs/REPORTING.md).
            let report = try await app.database.withTenant(pair.tenant.scope) { tx in
                try await tx.query("SELECT status, archived_by FROM report_sessions WHERE session_id = $1::uuid", [pair.sessionID]).rows
            }
            #expect(try report.map { try $0.decode(String.self, "status") } == ["active"])
            #expect(try report.first?.decodeArray(String.self, "archived_by") == ["agent-1"])

            // Two agents of one brokerage: one archiving leaves the other's list alone.
            let other = try await pair.tenant.token(sub: "agent-2", role: .agent, name: "Sam Lee")
            let between = try await client.json(.post, "/v1/sessions", token: pair.agent, body: ["agent": ["userId": "agent-2", "name": "Sam Lee"]]).decode(Session.self)
            _ = try await client.json(.post, "/v1/sessions/\(between.id)/archive", token: other)
            #expect(try await client.json(.get, "/v1/sessions?kind=agent", token: pair.agent).items(Session.self).map(\.id) == [between.id])
            #expect(try await client.json(.get, "/v1/sessions?kind=agent&status=archived", token: other).items(Session.self).map(\.id) == [between.id])
        }
    }

    @Test("archived sessions leave the default list, stay readable, and a message from the other side brings them back")
    func archive() async throws {
        try await TestApp.run { app, client in
            let pair = try await Pair.make(app, client)
            _ = try await pair.send(client, "before archiving")
            let archived = try await client.json(.post, "/v1/sessions/\(pair.sessionID)/archive", token: pair.agent)
            #expect(try archived.decode(Session.self).status == .archived)
            #expect(try await client.json(.get, "/v1/sessions", token: pair.agent).items(Session.self).isEmpty)
            #expect(try await client.json(.get, "/v1/sessions?status=archived", token: pair.agent).items(Session.self).count == 1)
            let history = try await client.json(.get, "/v1/sessions/\(pair.sessionID)/messages", token: pair.agent)
            #expect(try history.items(Message.self).count == 1)
            // The archiving agent's own message keeps it archived…
            _ = try await pair.send(client, "note to self")
            #expect(try await client.json(.get, "/v1/sessions/\(pair.sessionID)", token: pair.agent).decode(Session.self).status == .archived)
            // …the client's brings it back, and the agent's apps hear of it live (docs/STREAM.md:
            // session.updated for "archived → active by a new message").
            let stream = try await TestStream.connect(port: try #require(client.port), token: pair.agent)
            // The stream is live from hello.cursor (docs/STREAM.md); a send committed before the
            // server read that position is not on it, so wait for hello before sending.
            #expect(await stream.next()?.type == "hello")
            #expect(try await pair.send(client, as: pair.client, "are you there?").status == .created)
            #expect(try await client.json(.get, "/v1/sessions/\(pair.sessionID)", token: pair.agent).decode(Session.self).status == .active)
            let updated = try #require(await stream.nextEvent(["session.updated"]))
            let data = try updated.data(SessionUpdated.self)
            #expect(data.sessionId == pair.sessionID)
            #expect(data.status == "active")
            #expect(data.changedBy == "client-1")
            #expect(data.members.count == 2)
            #expect(data.members.allSatisfy { $0.brokerage == nil })
            #expect(data.lastSeq == 3)
            await stream.close()
        }
    }

    @Test("blocking an agent of one's own brokerage closes the conversation with them; blocking again leaves one the blocker reopened")
    func blockOwnBrokerage() async throws {
        try await TestApp.run { app, client in
            let pair = try await Pair.make(app, client)
            _ = try await pair.tenant.token(sub: "agent-2", role: .agent, name: "Sam Lee")
            let between = try await client.json(.post, "/v1/sessions", token: pair.agent, body: ["agent": ["userId": "agent-2", "name": "Sam Lee"]]).decode(Session.self)
            let block = ["brokerage": pair.tenant.slug.rawValue, "memberKey": "agent-2"]
            #expect(try await client.json(.post, "/v1/chat-requests/blocks", token: pair.agent, body: block).status == .created)
            #expect(try await client.json(.get, "/v1/sessions/\(between.id)", token: pair.agent).decode(Session.self).status == .closed)
            #expect(try await client.json(.get, "/v1/sessions/\(pair.sessionID)", token: pair.agent).decode(Session.self).status == .active,
                    "the client's conversation is not theirs")
            #expect(try await client.json(.post, "/v1/sessions/\(between.id)/reopen", token: pair.agent).status == .ok)
            #expect(try await client.json(.post, "/v1/chat-requests/blocks", token: pair.agent, body: block).status == .ok)
            #expect(try await client.json(.get, "/v1/sessions/\(between.id)", token: pair.agent).decode(Session.self).status == .active)
        }
    }

    @Test("a session archived before archiving was each member's own stays archived for the agent who archived it, and is back in the client's list and badge")
    func archiveUpgraded() async throws {
        try await TestApp.run { app, client in
            let pair = try await Pair.make(app, client)
            _ = try await pair.send(client, "first")
            _ = try await pair.send(client, "second")
            // As the previous release left it: the session's status archived by the agent, no
            // archive per member, and migration 028 not applied yet.
            try await app.database.withTenant(pair.tenant.scope) { tx in
                try await tx.simpleQuery("""
                    UPDATE sessions SET status = 'archived', status_changed_by = 'agent-1', status_changed_at = now() - interval '1 day';
                    ALTER TABLE session_members DROP COLUMN archived_at CASCADE;
                    DELETE FROM schema_functions WHERE name IN ('badge_member_changed', 'badge_session_changed', 'convert_archived_sessions');
                    DELETE FROM schema_migrations WHERE version = 28;
                    """)
            }
            let applied = try await Migrator(database: app.database, logger: testLogger).migrateTenant(pair.tenant.scope)
            #expect(applied == [28])
            try await pair.expectArchivedByAgentOnly(client, unread: 2)
            // The client's reply brings it back for the agent, as before.
            #expect(try await pair.send(client, as: pair.client, "thanks").status == .created)
            #expect(try await client.json(.get, "/v1/sessions/\(pair.sessionID)", token: pair.agent).decode(Session.self).status == .active)
            #expect(try await client.json(.get, "/v1/badge", token: pair.agent).decode(Badge.self).unreadMessages == 1)
        }
    }

    @Test("a session status `archived` written by a process of an older release counts as active: the client sees it, its badge counts it, and it can be closed and reopened")
    func legacyArchivedStatus() async throws {
        try await TestApp.run { app, client in
            let pair = try await Pair.make(app, client)
            _ = try await pair.send(client, "first")
            try await app.database.withTenant(pair.tenant.scope) { tx in
                try await tx.query("UPDATE sessions SET status = 'archived', status_changed_by = 'agent-1' WHERE id = $1::uuid", [pair.sessionID])
            }
            let mine = try await client.json(.get, "/v1/sessions", token: pair.client).items(Session.self)
            #expect(mine.map(\.status) == [.active])
            #expect(try await client.json(.get, "/v1/badge", token: pair.client).decode(Badge.self).unreadMessages == 1)
            #expect(try await pair.send(client, "second").status == .created)
            #expect(try await client.json(.get, "/v1/badge", token: pair.client).decode(Badge.self).unreadMessages == 2)
            #expect(try await client.json(.post, "/v1/sessions/\(pair.sessionID)/close", token: pair.agent).decode(Session.self).status == .closed)
            #expect(try await client.json(.get, "/v1/badge", token: pair.client).decode(Badge.self).unreadMessages == 0)
            #expect(try await client.json(.post, "/v1/sessions/\(pair.sessionID)/reopen", token: pair.agent).decode(Session.self).status == .active)
            let kept = try await app.database.withTenant(pair.tenant.scope) { tx in
                try await tx.query("SELECT count(*) AS n FROM users u WHERE unread_messages(u.id) <> (SELECT coalesce(sum(GREATEST(s.last_seq - m.last_read_seq, CASE WHEN m.marked_unread THEN 1 ELSE 0 END)), 0) FROM session_members m JOIN sessions s ON s.id = m.session_id WHERE m.user_id = u.id AND s.status <> 'closed' AND m.archived_at IS NULL)").rows[0].decode(Int64.self, "n")
            }
            #expect(kept == 0, "badges equal a recount")
        }
    }

    struct SessionUpdated: Decodable {
        let sessionId: String
        let kind: String
        let agentToAgent: Bool
        let status: String
        let members: [Session.Member]
        let lastSeq: Int64
        let lastActivityAt: Date
        let changedBy: String
    }

    @Test("clients cannot change status; non-members get 404 exactly like a missing session")
    func permissions() async throws {
        try await TestApp.run { app, client in
            let pair = try await Pair.make(app, client)
            let byClient = try await client.json(.post, "/v1/sessions/\(pair.sessionID)/close", token: pair.client)
            #expect(byClient.status == .forbidden)
            #expect(byClient.code == "agents_only")
            let stranger = try await pair.tenant.token(sub: "client-2", role: .client)
            let otherAgent = try await pair.tenant.token(sub: "agent-9", role: .agent)
            for token in [stranger, otherAgent] {
                for (method, path) in [(HTTPRequest.Method.get, ""), (.get, "/messages"), (.post, "/close"), (.post, "/read"), (.post, "/unread")] {
                    let response = try await client.json(method, "/v1/sessions/\(pair.sessionID)\(path)", token: token, body: path == "/read" ? ["upTo": 1] : nil)
                    #expect(response.status == .notFound, "\(method) \(path)")
                    #expect(response.code == "session_not_found")
                }
                #expect(try await pair.send(client, as: token, "let me in").status == .notFound)
            }
            let missing = try await client.json(.get, "/v1/sessions/\(UUID().uuidString)", token: pair.agent)
            #expect(missing.code == "session_not_found")
            let clientStarts = try await client.json(.post, "/v1/sessions", token: pair.client, body: ["agent": ["userId": "agent-1", "name": "A"]])
            #expect(clientStarts.status == .forbidden)
        }
    }

    @Test("a token of another tenant sees nothing of this one")
    func otherTenant() async throws {
        try await TestApp.run { app, client in
            let pair = try await Pair.make(app, client)
            let foreign = try await TestTenant.make(app.database)
            let sameSub = try await foreign.token(sub: "agent-1", role: .agent, name: "Avery Agent")
            #expect(try await client.json(.get, "/v1/sessions/\(pair.sessionID)", token: sameSub).status == .notFound)
            #expect(try await client.json(.get, "/v1/sessions", token: sameSub).items(Session.self).isEmpty)
            #expect(try await client.json(.get, "/v1/contacts", token: sameSub).items(Contact.self).isEmpty)
        }
    }

    @Test("racing transitions and sends never produce an impossible state")
    func races() async throws {
        try await TestApp.run(maxConnections: 8) { app, client in
            let pair = try await Pair.make(app, client)
            let outcomes = try await withThrowingTaskGroup(of: (String, Int, String?).self) { group in
                for index in 0..<30 {
                    group.addTask {
                        try await client.withOwnConnection { http in
                            if index == 15 {
                                let r = try await http.json(.post, "/v1/sessions/\(pair.sessionID)/close", token: pair.agent)
                                return ("close", Int(r.status.code), r.code)
                            }
                            // A client retries a 503 (pool or lock wait past its limit under
                            // the suite's load) with the same clientMessageId, as clients do.
                            let key = UUID().uuidString
                            var r = try await http.json(.post, "/v1/sessions/\(pair.sessionID)/messages", token: pair.client,
                                                        body: ["clientMessageId": key, "text": "message \(index)"])
                            for _ in 0..<20 where r.status == .serviceUnavailable {
                                try await Task.sleep(for: .milliseconds(200))
                                r = try await http.json(.post, "/v1/sessions/\(pair.sessionID)/messages", token: pair.client,
                                                        body: ["clientMessageId": key, "text": "message \(index)"])
                            }
                            return ("send", Int(r.status.code), r.code)
                        }
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            let unexpected = outcomes.filter { !($0.1 == 200 || $0.1 == 201 || ($0.1 == 409 && $0.2 == "session_closed")) }
            #expect(unexpected.isEmpty, "unexpected answers: \(unexpected)")
            var sent = 0
            for (kind, status, _) in outcomes where kind == "send" && status == 201 { sent += 1 }
            let session = try await client.json(.get, "/v1/sessions/\(pair.sessionID)", token: pair.agent).decode(Session.self)
            #expect(session.status == .closed)
            #expect(session.lastSeq == Int64(sent))
            // Every accepted message is there, seq 1…n with no gap.
            let history = try await client.json(.get, "/v1/sessions/\(pair.sessionID)/messages?limit=100", token: pair.agent)
            #expect(try history.items(Message.self).map(\.seq).sorted() == Array(stride(from: 1, through: Int64(sent), by: 1)))

            // Racing status changes: each answer is a valid state, and the final one is too.
            let statuses = try await withThrowingTaskGroup(of: Session.Status?.self) { group in
                for index in 0..<24 {
                    group.addTask {
                        let action = ["reopen", "archive", "close"][index % 3]
                        var r = try await client.withOwnConnection { try await $0.json(.post, "/v1/sessions/\(pair.sessionID)/\(action)", token: pair.agent) }
                        for _ in 0..<20 where r.status == .serviceUnavailable {
                            try await Task.sleep(for: .milliseconds(200))
                            r = try await client.withOwnConnection { try await $0.json(.post, "/v1/sessions/\(pair.sessionID)/\(action)", token: pair.agent) }
                        }
                        #expect(r.status == .ok, "\(r.status) \(r.code ?? "")")
                        return r.status == .ok ? try r.decode(Session.self).status : nil
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            // Every 200 answers a session in a state the machine allows (decoding fails otherwise).
            #expect(statuses.compactMap { $0 }.count >= 1)
        }
    }
}
