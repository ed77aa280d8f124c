import API
import Database
import DatabaseTesting
import Domain
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOPosix
import ParleyTesting
import PQ
import Testing

/// Live delivery that nothing unrelated can stall, resume that always works, exact badges, and
/// streams that end with their credentials (docs/STREAM.md, decision 0012).
@Suite("API: live delivery guarantees")
struct LiveDeliveryTests {
    static func port(_ client: TestAPIClient) throws -> Int { try #require(client.port) }

    @Test("open transactions in another database, in another brokerage's event log and in this one's do not delay delivery")
    func nothingUnrelatedStalls() async throws {
        try await TestApp.run { app, client in
            let pair = try await Pair.make(app, client)
            let other = try await TestTenant.make(app.database)
            let stream = try await TestStream.connect(port: try Self.port(client), token: pair.client)
            _ = await stream.next()
            let testDatabase = try await withRawConnection { try $0.exec("SELECT current_database() AS d").rows[0].decode(String.self, "d") }
            // An xid held in the cluster's `postgres` database, an event being written in a
            // second brokerage, and one being written in this brokerage (an in-flight writer
            // delays only events behind it, and here not even those).
            let holders = [
                try await HeldTransaction(database: "postgres", "BEGIN; SELECT pg_current_xact_id()"),
                try await HeldTransaction(database: testDatabase, """
                    BEGIN; SET LOCAL search_path TO \(other.scope.schema.quoted);
                    INSERT INTO event_outbox (type, recipients, data) VALUES ('badge.updated', ARRAY['nobody'], '{}')
                    """),
                try await HeldTransaction(database: testDatabase, """
                    BEGIN; SET LOCAL search_path TO \(pair.tenant.scope.schema.quoted);
                    INSERT INTO event_outbox (type, recipients, data) VALUES ('badge.updated', ARRAY['nobody'], '{}')
                    """),
            ]
            for index in 1...3 {
                #expect(try await pair.send(client, "while others hold transactions \(index)").status == .created)
                // The open transactions stay open until the end: delivery that waited for any of
                // them would never come. The wait is long because the whole suite shares two
                // cores (a fresh-clone CI run saw single deliveries take 8 s); the bench measures
                // the latency itself.
                let event = try #require(
                    await stream.nextEvent(["message.created"], timeout: .seconds(15)),
                    "send \(index) was not delivered while other transactions were open")
                #expect(try event.data(Message.self).seq == Int64(index))
            }
            for holder in holders { await holder.release() }
            await stream.close()
        }
    }

    @Test("a stream opened without a cursor gets nothing that was committed before it opened, even while delivery is behind")
    func newStreamStartsNow() async throws {
        try await TestApp.run { app, client in
            let pair = try await Pair.make(app, client)
            let port = try Self.port(client)
            let first = try await TestStream.connect(port: port, token: pair.client)
            _ = await first.next()
            let testDatabase = try await withRawConnection { try $0.exec("SELECT current_database() AS d").rows[0].decode(String.self, "d") }
            // Delivery falls behind: the brokerage's event clock is held, so nothing sent now is
            // numbered (or offered to any stream) until it is let go.
            let clock = try await HeldTransaction(database: testDatabase, """
                BEGIN; SET LOCAL search_path TO \(pair.tenant.scope.schema.quoted);
                SELECT position FROM event_clock FOR UPDATE
                """)
            for index in 1...3 { #expect(try await pair.send(client, "before the stream \(index)").status == .created) }
            await first.close()
            let opening = Task { try await TestStream.connect(port: port, token: pair.client) }
            try await Task.sleep(for: .milliseconds(300))
            await clock.release()
            let second = try await opening.value
            #expect(await second.next()?.type == "hello")
            #expect(try await pair.send(client, "after the stream opened").status == .created)
            let event = try #require(await second.nextEvent(["message.created"], timeout: .seconds(15)))
            #expect(try event.data(Message.self).seq == 4, "a message sent before the stream opened was delivered on it")
            await second.close()
        }
    }

    @Test("hello.cursor is a valid resume point for the client even when the newest event was someone else's")
    func helloCursorResumes() async throws {
        try await TestApp.run { app, client in
            let pair = try await Pair.make(app, client)
            // The newest event before connecting is addressed only to the agent.
            let otherClient = try await client.json(.post, "/v1/sessions", token: pair.agent, body: ["client": ["userId": "client-2", "name": "Other"]])
            #expect(otherClient.status == .created)
            let first = try await TestStream.connect(port: try Self.port(client), token: pair.client)
            let hello = try #require(await first.next())
            let cursor = try #require(hello.cursor)
            await first.close()
            for index in 1...3 { _ = try await pair.send(client, "missed \(index)") }
            let second = try await TestStream.connect(port: try Self.port(client), token: pair.client, query: "after=\(cursor)")
            #expect(await second.next()?.type == "hello")
            var seqs: [Int64] = []
            while seqs.count < 3, let frame = await second.next(timeout: .seconds(10)) {
                #expect(frame.type == "event", "\(frame.text)")
                if frame.event == "message.created" { seqs.append(try frame.data(Message.self).seq) }
            }
            #expect(seqs == [1, 2, 3])
            await second.close()
        }
    }

    @Test("a cursor beyond the brokerage's last event, or older than retention kept, gets resync_required and the stream goes on live")
    func resyncRequired() async throws {
        try await TestApp.run { app, client in
            let pair = try await Pair.make(app, client)
            let future = try await TestStream.connect(port: try Self.port(client), token: pair.client, query: "after=999999999")
            let hello = try #require(await future.next())
            #expect(hello.type == "hello")
            let error = try #require(await future.next(timeout: .seconds(10)))
            #expect(error.type == "error")
            #expect(error.code == "resync_required")
            _ = try await pair.send(client, "live after resync")
            let live = try #require(await future.nextEvent(["message.created"], timeout: .seconds(10)))
            #expect(try live.data(Message.self).text == "live after resync")
            let cursor = try #require(live.id)
            // The stream continues from hello's cursor, not from the cursor it could not use: a
            // client that keeps hello's cursor until an event comes resumes from there.
            let helloCursor = try #require(hello.cursor.flatMap { Int64($0) })
            #expect(helloCursor < 999_999_999 && Int64(cursor) ?? 0 > helloCursor, "hello \(helloCursor), first event \(cursor)")
            await future.close()

            // Age everything so far past the retention, and trim.
            for index in 1...3 { _ = try await pair.send(client, "old \(index)") }
            try await app.database.withTenant(pair.tenant.scope) { tx in
                _ = try await tx.query("SELECT sequence_events()")
                _ = try await tx.query("UPDATE events SET created_at = now() - interval '8 days'")
            }
            let deleted = try await EventLog.trim(app.database, pair.tenant.tenant, batch: 2)
            #expect(deleted > 4)
            let stale = try await TestStream.connect(port: try Self.port(client), token: pair.client, query: "after=\(cursor)")
            #expect(await stale.next()?.type == "hello")
            #expect(await stale.next(timeout: .seconds(10))?.code == "resync_required")
            _ = try await pair.send(client, "after the trim")
            let next = try #require(await stale.nextEvent(["message.created"], timeout: .seconds(10)))
            #expect(try next.data(Message.self).text == "after the trim")
            await stale.close()
        }
    }

    @Test("after a burst of concurrent sends in many sessions, and reads, each user's last badge.updated equals GET /v1/badge")
    func exactBadges() async throws {
        try await TestApp.run(maxConnections: 8) { app, client in
            let tenant = try await TestTenant.make(app.database)
            let clientToken = try await tenant.token(sub: "client-1", role: .client, name: "Casey Client")
            let stream = try await TestStream.connect(port: try Self.port(client), token: clientToken)
            _ = await stream.next()
            var made: [(agent: String, id: String)] = []
            for index in 1...6 {
                let agent = try await tenant.token(sub: "agent-\(index)", role: .agent, name: "Agent \(index)")
                let created = try await client.json(.post, "/v1/sessions", token: agent, body: ["client": ["userId": "client-1", "name": "Casey Client"]])
                made.append((agent, try created.decode(Session.self).id))
            }
            let sessions = made
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (agent, id) in sessions {
                    group.addTask {
                        try await client.withOwnConnection { http in
                            for index in 1...5 {
                                _ = try await http.json(.post, "/v1/sessions/\(id)/messages", token: agent, body: ["clientMessageId": "m\(index)", "text": "burst \(index)"])
                            }
                        }
                    }
                }
                group.addTask {
                    try await client.withOwnConnection { http in
                        for index in 1...3 {
                            let read = try await http.json(.post, "/v1/sessions/\(sessions[0].id)/read", token: clientToken, body: ["upTo": index * 2])
                            #expect(read.status == .ok)
                        }
                    }
                }
                try await group.waitForAll()
            }
            let truth = try await client.json(.get, "/v1/badge", token: clientToken).decode(Badge.self)
            var last: Badge?
            while let event = await stream.nextEvent(["badge.updated"], timeout: .seconds(3)) {
                last = try event.data(Badge.self)
            }
            #expect(last == truth)
            #expect(truth.unreadMessages > 0)
            await stream.close()
        }
    }

    @Test("a send announces the badge of each member it changed once, the sender's too when they had unread messages; a read announces the reader's once")
    func badgeAnnouncedOnce() async throws {
        try await TestApp.run { app, client in
            let pair = try await Pair.make(app, client)
            let clientStream = try await TestStream.connect(port: try Self.port(client), token: pair.client)
            let agentStream = try await TestStream.connect(port: try Self.port(client), token: pair.agent)
            _ = await clientStream.next()
            _ = await agentStream.next()
            /// The badges a stream receives until nothing more comes for a while.
            func badges(_ stream: TestStream) async throws -> [Badge] {
                var seen: [Badge] = []
                while let event = await stream.nextEvent(["badge.updated"], timeout: .seconds(2)) {
                    seen.append(try event.data(Badge.self))
                }
                return seen
            }
            // The agent writes twice: the client has 2 unread, announced once per send.
            #expect(try await pair.send(client, "one").status == .created)
            #expect(try await pair.send(client, "two").status == .created)
            #expect(try await badges(clientStream).map(\.unreadMessages) == [1, 2])
            #expect(try await badges(agentStream).isEmpty)
            // The client replies: the agent has 1 unread, and the client's own 2 are read.
            #expect(try await pair.send(client, as: pair.client, "three").status == .created)
            #expect(try await badges(agentStream).map(\.unreadMessages) == [1])
            #expect(try await badges(clientStream).map(\.unreadMessages) == [0])
            // A read announces the reader's badge once (its own announcement and the difference
            // it folds are one event).
            #expect(try await client.json(.post, "/v1/sessions/\(pair.sessionID)/read", token: pair.agent, body: ["upTo": 3]).status == .ok)
            #expect(try await badges(agentStream).map(\.unreadMessages) == [0])
            #expect(try await badges(clientStream).isEmpty)
            await clientStream.close()
            await agentStream.close()
        }
    }

    @Test("a stream closes with 4401 when its token expires")
    func closesAtExpiry() async throws {
        try await TestApp.run { app, client in
            let pair = try await Pair.make(app, client)
            // The token must outlive opening the stream. At the suite's start, with every test
            // starting at once on two cores, opening has taken longer than 8 s (CI, 9f54056:
            // GET /v1/me took 45 s there): the stream is then refused at once with
            // token_expired and no hello — another test's case. Then the lifetime doubles.
            for ttl in [8, 16, 32] {
                let token = try await pair.tenant.token(sub: "client-1", role: .client, ttl: .seconds(ttl))
                let stream = try await TestStream.connect(port: try Self.port(client), token: token)
                let first = try #require(await stream.next())
                if first.type == "error", first.code == "token_expired", ttl < 32 {
                    #expect(await stream.waitClosed(within: .seconds(10)))
                    continue
                }
                #expect(first.type == "hello")
                let error = try #require(await stream.next(timeout: .seconds(ttl + 12)))
                #expect(error.code == "token_expired")
                #expect(await stream.waitClosed(within: .seconds(10)))
                #expect(stream.closeCode == 4401)
                return
            }
        }
    }

    @Test("a stream closes with 4401 soon after its signing key is retired")
    func closesWhenKeyRetired() async throws {
        try await TestApp.run(streamCredentialCheck: .seconds(1)) { app, client in
            let pair = try await Pair.make(app, client)
            let stream = try await TestStream.connect(port: try Self.port(client), token: pair.client)
            #expect(await stream.next()?.type == "hello")
            _ = try await app.dependencies.tenants.addKey(pair.tenant.tenant)
            try await app.dependencies.tenants.retireKey(pair.tenant.tenant, kid: pair.tenant.key.kid)
            // One check interval after the retirement is announced (decision 0022).
            let frame = await stream.nextEvent([], timeout: .seconds(20))
            #expect(frame == nil)
            #expect(await stream.waitClosed(within: .seconds(10)))
            #expect(stream.closeCode == 4401)
        }
    }

    @Test("a stream closes with 4401 as soon as its key is retired in another process, not at the next 30 s check")
    func closesWhenKeyRetiredElsewhere() async throws {
        try await TestApp.run { app, client in
            let pair = try await Pair.make(app, client)
            let stream = try await TestStream.connect(port: try Self.port(client), token: pair.client)
            #expect(await stream.next()?.type == "hello")
            try await app.database.withTransaction { tx in
                try await tx.query("""
                    INSERT INTO parley.tenant_signing_keys (kid, tenant_id, secret)
                    SELECT 'elsewhere-key-1', id, decode(md5('c') || md5('d'), 'hex') FROM parley.tenants WHERE slug = $1
                    """, [pair.tenant.slug.rawValue])
                try await tx.query("UPDATE parley.tenant_signing_keys SET retired_at = now() WHERE kid = $1", [pair.tenant.key.kid])
            }
            // Well before the 30 s check; 10 s, not 5, for the suite's load on two cores.
            #expect(await stream.waitClosed(within: .seconds(10)))
            #expect(stream.closeCode == 4401)
        }
    }

    @Test("a visitor's token stops working when their request is declined: REST is 401 request_closed, the stream closes, status polling still works")
    func visitorTokenEndsWithRequest() async throws {
        try await TestApp.run(streamCredentialCheck: .seconds(1)) { app, client in
            let (tenant, agent) = try await ChatRequestTests.setup(app, client)
            let submitted = try await ChatRequestTests.submitted(client, tenant, ChatRequestTests.visitor)
            let token = try #require(submitted.visitorToken)
            let stream = try await TestStream.connect(port: try Self.port(client), token: token)
            #expect(await stream.next()?.type == "hello")
            #expect(try await client.json(.get, "/v1/badge", token: token).status == .ok)
            #expect(try await client.json(.post, "/v1/chat-requests/\(submitted.id)/decline", token: agent, body: [:]).status == .ok)
            let refused = try await client.json(.get, "/v1/badge", token: token)
            #expect(refused.status == .unauthorized)
            #expect(refused.code == "request_closed")
            let status = try await client.json(.get, "/v1/public/\(tenant.slug)/chat-requests/\(submitted.id)", token: token)
            #expect(try status.decode(VisitorChatRequest.self).status == .declined)
            #expect(await stream.next(timeout: .seconds(10))?.code == "request_closed")
            #expect(await stream.waitClosed(within: .seconds(10)))
            #expect(stream.closeCode == 4401)
        }
    }

    @Test("a LISTEN connection that stops answering is noticed within 10 s: /ready is 503 until it is replaced, and nothing is lost")
    func halfOpenListener() async throws {
        let proxy = try await StallingProxy.start()
        defer { proxy.close() }
        let channels = TestApp.newChannelPrefix()
        try await TestApp.run(channelPrefix: channels) { writerApp, writerClient in
            try await TestApp.run(listenerConninfo: { proxy.conninfo($0) }, channelPrefix: channels) { readerApp, readerClient in
                try await readerApp.waitUntilListening()
                let pair = try await Pair.make(writerApp, writerClient)
                let reader = try await TestStream.connect(port: try Self.port(readerClient), token: pair.client)
                _ = await reader.next()
                // The connection stays open and never answers again: half-open, as when the
                // database host dies or a route drops.
                proxy.stallExisting()
                let stalled = ContinuousClock.now
                // The send runs beside the polling: under the whole suite's load it can take
                // longer than the listener takes to be replaced, and polling only after it
                // would miss the whole not-ready window.
                async let sent = pair.send(writerClient, "while the listener hangs")
                // When the replacement happened, sampled on its own: the polling below waits for
                // /ready answers, which under the suite's load can end well after it.
                let listener = readerApp.listener
                let watcher = Task {
                    while ContinuousClock.now - stalled < .seconds(20), listener.reconnectCount == 0 {
                        try? await Task.sleep(for: .milliseconds(20))
                    }
                    return ContinuousClock.now - stalled
                }
                // The listener's own state is sampled (no request: under the suite's load a
                // request can outlast the whole window); each /ready answered while it was
                // down, and still down after, must be 503.
                var sawNotListening = false
                var readyWhileDown: [HTTPResponse.Status] = []
                while ContinuousClock.now - stalled < .seconds(12), readerApp.listener.reconnectCount == 0 {
                    if !readerApp.listener.isListening {
                        sawNotListening = true
                        let status = try await readerClient.json(.get, "/ready").status
                        if readerApp.listener.reconnectCount == 0, !readerApp.listener.isListening { readyWhileDown.append(status) }
                    }
                    try await Task.sleep(for: .milliseconds(50))
                }
                let noticed = await watcher.value
                #expect(try await sent.status == .created)
                #expect(readerApp.listener.reconnectCount == 1)
                #expect(noticed < .seconds(11))
                #expect(sawNotListening)
                #expect(readyWhileDown.allSatisfy { $0 == .serviceUnavailable }, "\(readyWhileDown)")
                try await readerApp.waitUntilListening()
                #expect(try await readerClient.json(.get, "/ready").status == .ok)
                _ = try await pair.send(writerClient, "after the new connection")
                var texts: [String] = []
                while let event = await reader.nextEvent(["message.created"], timeout: .seconds(3)) {
                    texts.append(try event.data(Message.self).text)
                }
                #expect(texts == ["while the listener hangs", "after the new connection"])
                await reader.close()
            }
        }
    }
}
