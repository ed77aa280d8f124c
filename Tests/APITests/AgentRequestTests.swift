import Database
import DatabaseTesting
import Domain
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import ParleyTesting
import Testing

/// Request Chat between agents and sessions shared across brokerages (issue 16 points 4–5,
/// decision 0028).
@Suite("API: agent-to-agent requests and chats across brokerages")
struct AgentRequestTests {
    static func port(_ client: TestAPIClient) throws -> Int { try #require(client.port) }

    /// Three brokerages; `bea` of beta is listed in the directory (email shown), `ana` of alpha too.
    struct World {
        let alpha: TestTenant
        let beta: TestTenant
        let gamma: TestTenant
        let ana: String
        let bea: String
        let gus: String

        static func make(_ app: TestApp, _ client: TestAPIClient) async throws -> World {
            let alpha = try await TestTenant.make(app.database, prefix: "al")
            let beta = try await TestTenant.make(app.database, prefix: "be")
            let gamma = try await TestTenant.make(app.database, prefix: "ga")
            let listedBea: [String: Any] = [
                "MemberFullName": "Bea Broker", "MemberEmail": "bea@beta.example", "showEmail": true, "MemberCity": "Oakland", "listed": true,
            ]
            #expect(try await client.json(.put, "/v1/directory/agents/bea", token: try await beta.integrationToken(), body: listedBea).status == .created)
            let listedAna: [String: Any] = ["MemberFullName": "Ana Agent", "MemberEmail": "ana@alpha.example", "listed": true]
            #expect(try await client.json(.put, "/v1/directory/agents/ana", token: try await alpha.integrationToken(), body: listedAna).status == .created)
            return World(
                alpha: alpha, beta: beta, gamma: gamma, ana: try await alpha.token(sub: "ana", name: "Ana Agent"),
                bea: try await beta.token(sub: "bea", name: "Bea Broker"), gus: try await gamma.token(sub: "gus", name: "Gus Gamma"))
        }

        func ask(_ client: TestAPIClient, as token: String? = nil, _ brokerage: TestTenant? = nil, _ key: String = "bea",
                 message: String = "Hi Bea, a buyer of mine likes 12 Oak St") async throws -> APIResponse {
            try await client.json(.post, "/v1/chat-requests", token: token ?? ana, body: [
                "brokerage": (brokerage ?? beta).slug.rawValue, "memberKey": key, "message": message,
                "property": ["ListingKey": "L-100", "address": "12 Oak St, Oakland"],
            ])
        }
    }

    struct Sent: Decodable {
        struct To: Decodable {
            let MemberKey: String
            let MemberFullName: String?
            let brokerage: DirectoryMember.Brokerage
        }

        let id: String
        let direction: String
        let to: To
        let status: ChatRequest.Status
        let sessionId: String?
    }

    struct Block: Decodable {
        let id: String
        let brokerage: String
        let memberKey: String?
    }

    /// The next event of `types`, skipping others.
    static func event(_ stream: TestStream, _ types: Set<String>) async throws -> StreamMessage {
        try #require(await stream.nextEvent(types, timeout: .seconds(20)), "no \(types) event")
    }

    @Test("request → accept across two brokerages: one session in each copy, messages, receipts, typing and attachments live both ways; each side its own archive and contacts; a third brokerage sees none of it")
    func acrossBrokerages() async throws {
        try await TestApp.run(maxConnections: 6) { app, client in
            let world = try await World.make(app, client)
            try await app.waitUntilListening()
            let anaStream = try await TestStream.connect(port: try Self.port(client), token: world.ana)
            let beaStream = try await TestStream.connect(port: try Self.port(client), token: world.bea)
            let gusStream = try await TestStream.connect(port: try Self.port(client), token: world.gus)
            for stream in [anaStream, beaStream, gusStream] { #expect(await stream.next()?.type == "hello") }

            // A message with a NUL or past 5,000 code points is refused, naming the field.
            for (message, code) in [("Hi\u{0}Bea", "invalid_characters"), (String(repeating: "e\u{301}", count: 2_501), "too_long")] {
                let refused = try await world.ask(client, message: message)
                #expect(refused.status == .unprocessableContent)
                #expect(refused.problem?.errors?.map { [$0.field, $0.code] } == [["message", code]])
            }

            // Request Chat; asking again returns the pending request.
            let asked = try await world.ask(client)
            #expect(asked.status == .created, "\(asked.text)")
            let sent = try asked.decode(Sent.self)
            #expect(sent.direction == "outgoing" && sent.status == .pending)
            #expect(sent.to.MemberKey == "bea" && sent.to.brokerage.slug == world.beta.slug.rawValue && sent.to.MemberFullName == "Bea Broker")
            let again = try await world.ask(client)
            #expect(again.status == .ok)
            #expect(try again.decode(Sent.self).id == sent.id)

            // Bea sees it live, with Ana's public profile, among her agent requests; her badge counts it.
            let created = try await Self.event(beaStream, ["request.created"])
            let incoming = try created.data(ChatRequest.self)
            #expect(incoming.id == sent.id && incoming.source == .agent && incoming.direction == "incoming")
            #expect(incoming.requester?.MemberKey == "ana" && incoming.requester?.brokerage.slug == world.alpha.slug.rawValue)
            #expect(incoming.requester?.record.MemberEmail == nil, "Ana did not opt in to show her email")
            #expect(incoming.property?.ListingKey == "L-100")
            #expect(try await client.json(.get, "/v1/chat-requests?source=agent", token: world.bea).items(ChatRequest.self).map(\.id) == [sent.id])
            #expect(try await client.json(.get, "/v1/chat-requests?source=website", token: world.bea).items(ChatRequest.self).isEmpty)
            #expect(try await client.json(.get, "/v1/badge", token: world.bea).decode(Badge.self).pendingRequests == 1)
            #expect(try await client.json(.get, "/v1/chat-requests/sent", token: world.ana).items(Sent.self).map(\.id) == [sent.id])

            // Accept: a kind-agent session, badged, with a copy in each brokerage.
            let accepted = try await client.json(.post, "/v1/chat-requests/\(sent.id)/accept", token: world.bea)
            #expect(accepted.status == .ok, "\(accepted.text)")
            let session = try accepted.decode(AcceptedBody.self).session
            #expect(session.kind == .agent && session.agentToAgent)
            let anaThere = "@\(world.alpha.slug):ana"
            #expect(Set(session.members.map(\.userId)) == ["bea", anaThere])
            #expect(session.members.first { $0.userId == anaThere }?.brokerage == world.alpha.slug.rawValue)
            #expect(session.lastSeq == 1)
            let anaView = try await client.json(.get, "/v1/sessions/\(session.id)", token: world.ana)
            #expect(anaView.status == .ok, "\(anaView.text)")
            let anaSession = try anaView.decode(Session.self)
            #expect(anaSession.agentToAgent && Set(anaSession.members.map(\.userId)) == ["ana", "@\(world.beta.slug):bea"])
            let update = try await Self.event(anaStream, ["request.updated"])
            #expect(try update.data(Sent.self).status == .accepted)
            #expect(try update.data(Sent.self).sessionId == session.id)
            #expect(try await client.json(.get, "/v1/badge", token: world.bea).decode(Badge.self).pendingRequests == 0)

            // The request's message is the first message of both copies: same id, same seq.
            let beaFirst = try await client.json(.get, "/v1/sessions/\(session.id)/messages", token: world.bea).items(Message.self)
            let anaFirst = try await client.json(.get, "/v1/sessions/\(session.id)/messages", token: world.ana).items(Message.self)
            #expect(beaFirst.map(\.id) == anaFirst.map(\.id) && beaFirst.map(\.seq) == [1])
            #expect(beaFirst.first?.listing?.ListingKey == "L-100")
            #expect(beaFirst.first?.sender.userId == anaThere && anaFirst.first?.sender.userId == "ana")

            // Messages both ways, live on the other side, in step.
            let fromBea = try await client.json(.post, "/v1/sessions/\(session.id)/messages", token: world.bea,
                                                body: ["clientMessageId": "b1", "text": "Happy to help, Ana"])
            #expect(fromBea.status == .created, "\(fromBea.text)")
            let beaMessage = try fromBea.decode(Message.self)
            let atAna = try await Self.event(anaStream, ["message.created"])
            #expect(try atAna.data(Message.self).id == beaMessage.id)
            #expect(try atAna.data(Message.self).seq == 2)
            #expect(try atAna.data(Message.self).sender.userId == "@\(world.beta.slug):bea")
            // Ana's badge is announced live from her copy, after the message, with the count GET /v1/badge gives.
            let anaBadge = try await Self.event(anaStream, ["badge.updated"])
            #expect(try anaBadge.data(Badge.self).unreadMessages == 1)
            #expect(try await client.json(.get, "/v1/badge", token: world.ana).decode(Badge.self).unreadMessages == 1)
            let retried = try await client.json(.post, "/v1/sessions/\(session.id)/messages", token: world.bea,
                                                body: ["clientMessageId": "b1", "text": "Happy to help, Ana"])
            #expect(retried.status == .ok)
            #expect(try retried.decode(Message.self).id == beaMessage.id)

            // Receipts: Ana reads, Bea sees it live.
            #expect(try await client.json(.post, "/v1/sessions/\(session.id)/read", token: world.ana, body: ["upTo": 2]).status == .ok)
            let read = try await Self.event(beaStream, ["message.read"])
            struct ReadBody: Decodable { let userId: String; let lastReadSeq: Int64 }
            #expect(try read.data(ReadBody.self).userId == anaThere && read.data(ReadBody.self).lastReadSeq == 2)

            // Typing reaches the other brokerage's member, both ways.
            func typing(on stream: TestStream) async -> StreamMessage? {
                while true {
                    guard let frame = await stream.next(timeout: .seconds(10)) else { return nil }
                    if frame.type == "typing" { return frame }
                }
            }
            #expect(try await client.json(.post, "/v1/sessions/\(session.id)/typing", token: world.ana).status == .ok)
            let anaTyping = await typing(on: beaStream)
            #expect(anaTyping?.userId == anaThere && anaTyping?.sessionId == session.id)
            #expect(try await client.json(.post, "/v1/sessions/\(session.id)/typing", token: world.bea).status == .ok)
            #expect(await typing(on: anaStream)?.userId == "@\(world.beta.slug):bea")

            // An attachment: its bytes are copied; Bea downloads them from her own brokerage.
            let image = Samples.png(width: 4, height: 3)
            let upload = try await AttachmentTests.uploaded(client, world.ana, session: session.id, ("plan.png", image))
            let withFile = try await client.json(.post, "/v1/sessions/\(session.id)/messages", token: world.ana,
                                                 body: ["clientMessageId": "a-file", "text": "The floor plan", "attachmentIds": [upload]])
            #expect(withFile.status == .created, "\(withFile.text)")
            let fileEvent = try await Self.event(beaStream, ["message.created"])
            #expect(try fileEvent.data(Message.self).attachments.map(\.id) == [upload])
            let downloaded = try await AttachmentTests.download(client, world.bea, upload)
            #expect(downloaded.status == .ok)
            #expect(Array(buffer: downloaded.body) == image)

            // …and the other way: Bea reads Ana's message, Ana sees it live (✓✓ in her copy).
            #expect(try await client.json(.post, "/v1/sessions/\(session.id)/read", token: world.bea, body: ["upTo": 3]).status == .ok)
            var beaRead = try await Self.event(anaStream, ["message.read"])
            if try beaRead.data(ReadBody.self).userId == "ana" { beaRead = try await Self.event(anaStream, ["message.read"]) }  // her own, first
            #expect(try beaRead.data(ReadBody.self).userId == "@\(world.beta.slug):bea" && beaRead.data(ReadBody.self).lastReadSeq == 3)
            let anaMessages = try await client.json(.get, "/v1/sessions/\(session.id)/messages", token: world.ana).items(Message.self)
            #expect(anaMessages.first { $0.seq == 3 }?.delivery == .read, "Ana's message 3 shows ✓✓ in her copy")

            // Archiving is each member's own (decision 0061): Ana archives hers; Bea's stays active,
            // Bea writes, and her message brings it back to Ana's list.
            #expect(try await client.json(.post, "/v1/sessions/\(session.id)/archive", token: world.ana).status == .ok)
            #expect(try await client.json(.get, "/v1/sessions/\(session.id)", token: world.bea).decode(Session.self).status == .active)
            #expect(try await client.json(.get, "/v1/sessions/\(session.id)", token: world.ana).decode(Session.self).status == .archived)
            #expect(try await client.json(.post, "/v1/sessions/\(session.id)/messages", token: world.bea,
                                          body: ["clientMessageId": "b2", "text": "Closing time on your side"]).status == .created)
            #expect(try await client.json(.get, "/v1/sessions/\(session.id)", token: world.ana).decode(Session.self).status == .active)
            let anaHistory = try await client.json(.get, "/v1/sessions/\(session.id)/messages", token: world.ana).items(Message.self)
            let beaHistory = try await client.json(.get, "/v1/sessions/\(session.id)/messages", token: world.bea).items(Message.self)
            #expect(anaHistory.map(\.id) == beaHistory.map(\.id) && anaHistory.map(\.seq) == [4, 3, 2, 1])

            // Each search is its own brokerage's.
            #expect(try await SearchTests.found(client, world.bea, "floor plan") == [session.id])
            #expect(try await SearchTests.found(client, world.ana, "closing") == [session.id])

            // Each got the other as a contact; Bea's email shows because she opted in.
            struct ContactBody: Decodable { let FullName: String; let Email: String?; let userId: String?; let LeadSource: String? }
            let beaContacts = try await client.json(.get, "/v1/contacts", token: world.bea).items(ContactBody.self)
            #expect(beaContacts.map(\.userId) == [anaThere] && beaContacts.first?.LeadSource == "Agent directory")
            let anaContacts = try await client.json(.get, "/v1/contacts", token: world.ana).items(ContactBody.self)
            #expect(anaContacts.first?.FullName == "Bea Broker" && anaContacts.first?.Email == "bea@beta.example")

            // A third brokerage sees none of it: not over the API…
            #expect(try await client.json(.get, "/v1/sessions/\(session.id)", token: world.gus).status == .notFound)
            #expect(try await client.json(.get, "/v1/sessions/\(session.id)/messages", token: world.gus).status == .notFound)
            #expect(try await client.json(.get, "/v1/chat-requests?source=agent", token: world.gus).items(ChatRequest.self).isEmpty)
            #expect(await gusStream.next(timeout: .milliseconds(300)) == nil)
            // …nor with its database role, which cannot even read the two copies; and neither of
            // the two brokerages' roles reads the other's copy.
            for (reader, other) in [(world.gamma, world.alpha), (world.gamma, world.beta), (world.alpha, world.beta), (world.beta, world.alpha)] {
                await #expect(throws: DatabaseError.self) {
                    try await app.database.withTenant(reader.scope) { tx in
                        try await tx.query("SELECT count(*) FROM \(other.scope.schema.quoted).messages")
                    }
                }
            }
            let gammaRows = try await app.database.withTenant(world.gamma.scope) { tx in
                try await tx.query("SELECT (SELECT count(*) FROM sessions) + (SELECT count(*) FROM messages) AS n").rows[0].decode(Int.self, "n")
            }
            #expect(gammaRows == 0)
            for stream in [anaStream, beaStream, gusStream] { await stream.close() }
        }
    }

    @Test("in a shared session, a message that makes the other brokerage's archived copy active again announces it there with session.updated")
    func archivedCopyReactivated() async throws {
        try await TestApp.run(maxConnections: 6) { app, client in
            let world = try await World.make(app, client)
            try await app.waitUntilListening()
            let asked = try await world.ask(client)
            let id = try asked.decode(Sent.self).id
            let accepted = try await client.json(.post, "/v1/chat-requests/\(id)/accept", token: world.bea)
            let session = try accepted.decode(AcceptedBody.self).session
            #expect(try await client.json(.post, "/v1/sessions/\(session.id)/archive", token: world.bea).status == .ok)
            let beaStream = try await TestStream.connect(port: try Self.port(client), token: world.bea)
            #expect(await beaStream.next()?.type == "hello")
            let sent = try await client.json(.post, "/v1/sessions/\(session.id)/messages", token: world.ana,
                                             body: ["clientMessageId": "a2", "text": "Still interested?"])
            #expect(sent.status == .created, "\(sent.text)")
            let created = try await Self.event(beaStream, ["message.created", "session.updated"])
            #expect(created.event == "message.created")
            let updated = try await Self.event(beaStream, ["message.created", "session.updated"])
            #expect(updated.event == "session.updated", "\(updated.text)")
            struct SessionUpdate: Decodable { let sessionId: String, status: String }
            let change = try updated.data(SessionUpdate.self)
            #expect(change.sessionId == session.id && change.status == "active", "\(updated.text)")
            #expect(try await client.json(.get, "/v1/sessions/\(session.id)", token: world.bea).decode(Session.self).status == .active)
        }
    }

    @Test("closing a shared session ends it for the other brokerage's agent too, live; reopening reopens both; archiving stays one's own")
    func sharedClose() async throws {
        try await TestApp.run(maxConnections: 6) { app, client in
            let world = try await World.make(app, client)
            try await app.waitUntilListening()
            let id = try await world.ask(client).decode(Sent.self).id
            let session = try await client.json(.post, "/v1/chat-requests/\(id)/accept", token: world.bea).decode(AcceptedBody.self).session
            let anaStream = try await TestStream.connect(port: try Self.port(client), token: world.ana)
            #expect(await anaStream.next()?.type == "hello")
            let closed = try await client.json(.post, "/v1/sessions/\(session.id)/close", token: world.bea)
            #expect(closed.status == .ok, "\(closed.text)")
            #expect(try await client.json(.get, "/v1/sessions/\(session.id)", token: world.ana).decode(Session.self).status == .closed)
            let updated = try await Self.event(anaStream, ["session.updated"])
            struct SessionUpdate: Decodable { let sessionId: String, status: String, changedBy: String }
            let change = try updated.data(SessionUpdate.self)
            #expect(change.sessionId == session.id && change.status == "closed", "\(updated.text)")
            #expect(change.changedBy == RemoteMember.id(brokerage: world.beta.slug.rawValue, key: "bea"))
            // Ana can no longer write into a conversation Bea ended, as within one brokerage.
            let refused = try await client.json(.post, "/v1/sessions/\(session.id)/messages", token: world.ana,
                                                body: ["clientMessageId": "after-close", "text": "Hello?"])
            #expect(refused.code == "session_closed", "\(refused.text)")
            // Ana reopens: both copies are active again, and her message reaches Bea.
            #expect(try await client.json(.post, "/v1/sessions/\(session.id)/reopen", token: world.ana).status == .ok)
            #expect(try await client.json(.get, "/v1/sessions/\(session.id)", token: world.bea).decode(Session.self).status == .active)
            #expect(try await client.json(.post, "/v1/sessions/\(session.id)/messages", token: world.ana,
                                          body: ["clientMessageId": "after-reopen", "text": "Back again"]).status == .created)
            #expect(try await client.json(.get, "/v1/badge", token: world.bea).decode(Badge.self).unreadMessages == 2)
            // Archiving is Bea's own list.
            #expect(try await client.json(.post, "/v1/sessions/\(session.id)/archive", token: world.bea).status == .ok)
            #expect(try await client.json(.get, "/v1/sessions/\(session.id)", token: world.ana).decode(Session.self).status == .active)
            await anaStream.close()
        }
    }

    @Test("blocking an agent ends the conversations with them too, in both copies: they can no longer write to the one who blocked them")
    func blockClosesSessions() async throws {
        try await TestApp.run(maxConnections: 6) { app, client in
            let world = try await World.make(app, client)
            let id = try await world.ask(client).decode(Sent.self).id
            let session = try await client.json(.post, "/v1/chat-requests/\(id)/accept", token: world.bea).decode(AcceptedBody.self).session
            #expect(try await client.json(.post, "/v1/sessions/\(session.id)/messages", token: world.ana,
                                          body: ["clientMessageId": "before", "text": "Any news?"]).status == .created)
            // A conversation with another agent of the blocked one's brokerage stays open.
            let ann = try await world.alpha.token(sub: "ann", name: "Ann Other")
            let annRequest = try await world.ask(client, as: ann).decode(Sent.self).id
            let other = try await client.json(.post, "/v1/chat-requests/\(annRequest)/accept", token: world.bea).decode(AcceptedBody.self).session
            let blocked = try await client.json(.post, "/v1/chat-requests/blocks", token: world.bea,
                                                body: ["brokerage": world.alpha.slug.rawValue, "memberKey": "ana"])
            #expect(blocked.status == .created, "\(blocked.text)")
            #expect(try await client.json(.get, "/v1/sessions/\(session.id)", token: world.bea).decode(Session.self).status == .closed)
            #expect(try await client.json(.get, "/v1/sessions/\(session.id)", token: world.ana).decode(Session.self).status == .closed)
            let refused = try await client.json(.post, "/v1/sessions/\(session.id)/messages", token: world.ana,
                                                body: ["clientMessageId": "after", "text": "Hello?"])
            #expect(refused.code == "session_closed", "\(refused.text)")
            #expect(try await client.json(.get, "/v1/sessions/\(other.id)", token: world.bea).decode(Session.self).status == .active)
            // The whole brokerage: Ann's conversation ends as well.
            #expect(try await client.json(.post, "/v1/chat-requests/blocks", token: world.bea,
                                          body: ["brokerage": world.alpha.slug.rawValue]).status == .created)
            #expect(try await client.json(.get, "/v1/sessions/\(other.id)", token: ann).decode(Session.self).status == .closed)
        }
    }

    @Test("a brokerage deleted while its agent's request is pending: the request expires for the asked agent, and accepting it creates nothing")
    func askerDeleted() async throws {
        try await TestApp.run(maxConnections: 6) { app, client in
            let world = try await World.make(app, client)
            let asked = try await world.ask(client)
            #expect(asked.status == .created, "\(asked.text)")
            let id = try asked.decode(Sent.self).id
            // Another pending request from alpha that the deletion could not reach (it is put
            // back to pending after): accepting it must not open a session in whatever brokerage
            // has the slug then.
            let store = app.dependencies.tenants
            try await store.delete(try #require(try await store.find(world.alpha.slug)))
            let seen = try await client.json(.get, "/v1/chat-requests?source=agent&status=expired", token: world.bea).items(ChatRequest.self)
            #expect(seen.map(\.id) == [id], "the deleted brokerage's request expired with it")
            try await app.database.withTenant(world.beta.scope) { tx in
                try await tx.query("UPDATE chat_requests SET status = 'pending', decided_at = NULL WHERE id = $1::uuid", [id])
            }
            let accepted = try await client.json(.post, "/v1/chat-requests/\(id)/accept", token: world.bea)
            #expect(accepted.status == .conflict, "\(accepted.text)")
            #expect(accepted.code == "request_expired")
            let sessions = try await app.database.withTenant(world.beta.scope) { tx in
                try await tx.query("SELECT count(*) AS n FROM sessions").rows[0].decode(Int.self, "n")
            }
            #expect(sessions == 0, "nothing was created for a request whose asker is gone")
        }
    }

    @Test("a shared session still naming a deleted brokerage (its unlinking could not reach this one) is unlinked by the next send, which succeeds")
    func staleDeletedPeer() async throws {
        try await TestApp.run(maxConnections: 6) { app, client in
            let world = try await World.make(app, client)
            let id = try await world.ask(client).decode(Sent.self).id
            let session = try await client.json(.post, "/v1/chat-requests/\(id)/accept", token: world.bea).decode(AcceptedBody.self).session
            let store = app.dependencies.tenants
            try await store.delete(try #require(try await store.find(world.alpha.slug)))
            // As if beta had not been servable at the deletion: its copy still names alpha.
            try await app.database.withTenant(world.beta.scope) { tx in
                try await tx.query("UPDATE sessions SET peers = ARRAY[$2] WHERE id = $1::uuid", [session.id, world.alpha.slug.rawValue])
            }
            // A receipt skips the brokerage that is gone.
            let read = try await client.json(.post, "/v1/sessions/\(session.id)/read", token: world.bea, body: ["upTo": 1])
            #expect(read.status == .ok, "\(read.text)")
            let sent = try await client.json(.post, "/v1/sessions/\(session.id)/messages", token: world.bea,
                                             body: ["clientMessageId": "after-deletion", "text": "Anyone there?"])
            #expect(sent.status == .created, "\(sent.text)")
            let peers = try await app.database.withTenant(world.beta.scope) { tx in
                try await tx.query("SELECT cardinality(peers) AS n FROM sessions WHERE id = $1::uuid", [session.id]).rows[0].decode(Int.self, "n")
            }
            #expect(peers == 0)
        }
    }

    @Test("blocking an agent withdraws one's own pending request to them: it cannot be accepted into a session after the block")
    func blockWithdrawsOwnRequest() async throws {
        try await TestApp.run(maxConnections: 6) { app, client in
            let world = try await World.make(app, client)
            let asked = try await world.ask(client).decode(Sent.self)
            let blocked = try await client.json(.post, "/v1/chat-requests/blocks", token: world.ana,
                                                body: ["brokerage": world.beta.slug.rawValue, "memberKey": "bea"])
            #expect(blocked.status == .created, "\(blocked.text)")
            let accepted = try await client.json(.post, "/v1/chat-requests/\(asked.id)/accept", token: world.bea)
            #expect(accepted.code == "request_expired", "\(accepted.text)")
            let mine = try await client.json(.get, "/v1/chat-requests/sent", token: world.ana).items(Sent.self)
            #expect(mine.first { $0.id == asked.id }?.status == .expired)
            let sessions = try await app.database.withTenant(world.beta.scope) { tx in
                try await tx.query("SELECT count(*) AS n FROM sessions").rows[0].decode(Int.self, "n")
            }
            #expect(sessions == 0)
        }
    }

    @Test("the asked brokerage deleted: the asker's request expires; exported, deleted and imported again: its shared sessions stay its own, and both sides send")
    func askedDeletedAndReimported() async throws {
        try await TestApp.run(maxConnections: 6) { app, client in
            let world = try await World.make(app, client)
            // A shared session between Ana (alpha) and Bea (beta), then a second request pending.
            let first = try await world.ask(client).decode(Sent.self)
            let accepted = try await client.json(.post, "/v1/chat-requests/\(first.id)/accept", token: world.bea)
            #expect(accepted.status == .ok, "\(accepted.text)")
            let session = try accepted.decode(AcceptedBody.self).session.id
            _ = try await client.json(.put, "/v1/directory/agents/bo", token: try await world.beta.integrationToken(),
                                      body: ["MemberFullName": "Bo Beta", "listed": true])
            #expect(try await world.ask(client, world.beta, "bo").status == .created)

            let store = app.dependencies.tenants
            // Ana's process learns the session is shared by sending in it.
            #expect(try await client.json(.post, "/v1/sessions/\(session)/messages", token: world.ana,
                                          body: ["clientMessageId": "before", "text": "before"]).status == .created)
            let beta = try #require(try await store.find(world.beta.slug))
            var lines: [String] = []
            _ = try await store.export(beta) { lines.append($0) }
            try await store.delete(beta)
            // What it learnt is out of date now: its next send still succeeds, in its own copy
            // (it went to the deleted brokerage's copy and failed with 500).
            let after = try await client.json(.post, "/v1/sessions/\(session)/messages", token: world.ana,
                                              body: ["clientMessageId": "after", "text": "after"])
            #expect(after.status == .created, "\(after.text)")
            // Ana's request to Bo, whose brokerage is gone, expired (it stayed pending for ever).
            let sent = try await client.json(.get, "/v1/chat-requests/sent", token: world.ana).items(Sent.self)
            #expect(sent.first { $0.id != first.id }?.status == .expired, "\(sent.map(\.status))")

            var remaining = lines.makeIterator()
            _ = try await store.importTenant { remaining.next() }
            #expect(try await TenantLifecycleTests.eventually {
                try await client.json(.get, "/v1/me", token: world.bea).status == .ok
            })
            // Each side's copy is its own now: sends succeed on both, in turn (the copies' seqs
            // drifted apart and Bea's sends failed with 500).
            for round in 0..<2 {
                for (token, name) in [(world.ana, "ana"), (world.bea, "bea")] {
                    let sentMessage = try await client.json(.post, "/v1/sessions/\(session)/messages", token: token,
                                                            body: ["clientMessageId": "\(name)-\(round)", "text": "round \(round)"])
                    #expect(sentMessage.status == .created, "\(name) round \(round): \(sentMessage.text)")
                }
            }
            // Bea's brokerage asked nobody and is asked by nobody any more: pending requests
            // across brokerages expired with the import.
            let pending = try await app.database.withTenant(world.beta.scope) { tx in
                try await tx.query("SELECT count(*) AS n FROM chat_requests WHERE status = 'pending' AND source = 'agent'").rows[0].decode(Int.self, "n")
            }
            #expect(pending == 0)
        }
    }

    @Test("duplicates, decline notes kept by the decliner, blocking an agent or a brokerage, the hourly limit, unlisted agents, and a request within one brokerage")
    func rules() async throws {
        try await TestApp.run { app, client in
            let world = try await World.make(app, client)

            // Unlisted or unknown agents cannot be requested; nor can oneself.
            let hidden: [String: Any] = ["MemberFullName": "Hal Hidden", "listed": false]
            _ = try await client.json(.put, "/v1/directory/agents/hal", token: try await world.beta.integrationToken(), body: hidden)
            #expect(try await world.ask(client, world.beta, "hal").code == "directory_member_not_found")
            #expect(try await world.ask(client, world.beta, "nobody").code == "directory_member_not_found")
            #expect(try await world.ask(client, world.alpha, "ana").status == .unprocessableContent)
            #expect(try await world.ask(client, as: try await world.alpha.token(sub: "cli", role: .client)).status == .forbidden)

            // Declined with notes: the notes stay with Bea; Ana learns only that it was declined.
            let first = try await world.ask(client).decode(Sent.self)
            let declined = try await client.json(.post, "/v1/chat-requests/\(first.id)/decline", token: world.bea, body: ["notes": "competitor, never"])
            #expect(try declined.decode(ChatRequest.self).declineNotes == "competitor, never")
            let anaSide = try await client.json(.get, "/v1/chat-requests/sent", token: world.ana)
            #expect(try anaSide.items(Sent.self).first?.status == .declined)
            #expect(!anaSide.text.contains("competitor"))
            #expect(try await world.ask(client).status == .created, "a declined request no longer holds the pair")

            // Blocking Ana declines her pending request and refuses the next.
            let blocked = try await client.json(.post, "/v1/chat-requests/blocks", token: world.bea,
                                                body: ["brokerage": world.alpha.slug.rawValue, "memberKey": "ana"])
            #expect(blocked.status == .created, "\(blocked.text)")
            #expect(try await client.json(.get, "/v1/chat-requests/sent?status=pending", token: world.ana).items(Sent.self).isEmpty)
            #expect(try await client.json(.get, "/v1/badge", token: world.bea).decode(Badge.self).pendingRequests == 0)
            #expect(try await world.ask(client).code == "requester_blocked")
            // The whole brokerage: another of its agents is refused too; lifting both lets them ask.
            let brokerageBlock = try await client.json(.post, "/v1/chat-requests/blocks", token: world.bea,
                                                       body: ["brokerage": world.alpha.slug.rawValue]).decode(Block.self)
            let ann = try await world.alpha.token(sub: "ann", name: "Ann Other")
            #expect(try await world.ask(client, as: ann).code == "requester_blocked")
            #expect(try await client.json(.get, "/v1/chat-requests/blocks", token: world.bea).items(Block.self).count == 2)
            #expect(try await client.json(.delete, "/v1/chat-requests/blocks/\(brokerageBlock.id)", token: world.bea).status == .noContent)
            #expect(try await world.ask(client, as: ann).status == .created)
            #expect(try await world.ask(client).code == "requester_blocked")

            // The hourly limit is the asking brokerage's setting.
            #expect(try await client.json(.patch, "/v1/tenants/\(world.alpha.slug)/settings", token: app.operatorKey,
                                          body: ["agentChatRequestsPerHour": 1]).status == .ok)
            let cal = try await world.alpha.token(sub: "cal", name: "Cal Caller")
            #expect(try await world.ask(client, as: cal).status == .created)
            let limited = try await world.ask(client, as: cal, world.alpha, "ana")
            #expect(limited.status == .tooManyRequests && limited.code == "request_rate_limited")
            #expect(limited.headers[.retryAfter] != nil)

            // Within one brokerage: one copy, both members its own agents.
            #expect(try await client.json(.patch, "/v1/tenants/\(world.alpha.slug)/settings", token: app.operatorKey,
                                          body: ["agentChatRequestsPerHour": 20]).status == .ok)
            // Expiry by the asked brokerage's sweeper reaches the asker's side.
            let dan = try await world.alpha.token(sub: "dan", name: "Dan Late")
            let late = try await world.ask(client, as: dan).decode(Sent.self)
            try await app.database.withTenant(world.beta.scope) { tx in
                try await tx.query("UPDATE chat_requests SET created_at = now() - interval '73 hours' WHERE id = $1::uuid", [late.id])
            }
            let beta = try #require(try await app.dependencies.tenants.find(world.beta.slug))
            // The app's own maintenance sweep may get there first, or hold the brokerage's sweep
            // lock at that moment (expire then returns 0): sweep until the asker sees it expired.
            var statuses: [ChatRequest.Status] = []
            for _ in 0..<100 {
                _ = try await app.dependencies.chatRequests.expire(beta)
                statuses = try await client.json(.get, "/v1/chat-requests/sent", token: dan).items(Sent.self).map(\.status)
                if statuses != [.pending] { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(statuses == [.expired])
            #expect(try await world.ask(client, as: dan).status == .created, "an expired request no longer holds the pair")

            let local = try await world.ask(client, as: ann, world.alpha, "ana").decode(Sent.self)
            let opened = try await client.json(.post, "/v1/chat-requests/\(local.id)/accept", token: world.ana)
            #expect(opened.status == .ok, "\(opened.text)")
            let session = try opened.decode(AcceptedBody.self).session
            #expect(Set(session.members.map(\.userId)) == ["ana", "ann"] && session.members.allSatisfy { $0.brokerage == nil })
            #expect(try await client.json(.get, "/v1/sessions/\(session.id)", token: ann).decode(Session.self).agentToAgent)
            #expect(try await client.json(.get, "/v1/chat-requests/sent?status=accepted", token: ann).items(Sent.self).map(\.sessionId) == [session.id])

            // '@…' ids are reserved for other brokerages' agents: no token or request may use one.
            let forged = try await world.alpha.token(sub: "@\(world.beta.slug):bea")
            #expect(try await client.json(.get, "/v1/sessions", token: forged).status == .unauthorized)
            let named = try await client.json(.post, "/v1/sessions", token: world.ana, body: ["agent": ["userId": "@\(world.beta.slug):bea", "name": "Bea"]])
            #expect(named.status == .unprocessableContent)
        }
    }

    @Test("one pending request per pair in either direction; the hourly limit holds for parallel requests; accepting never takes over a contact found by email")
    func racesAndContacts() async throws {
        try await TestApp.run(maxConnections: 8) { app, client in
            let world = try await World.make(app, client)
            let sync = try await world.beta.integrationToken()
            let records: [[String: Any]] = (1...6).map { ["MemberKey": "b\($0)", "MemberFullName": "Beta Agent \($0)", "listed": true] }
                + [["MemberKey": "bo", "MemberFullName": "Bo Broker", "MemberEmail": "bo@beta.example", "showEmail": true, "listed": true]]
            #expect(try await client.json(.post, "/v1/directory/agents", token: sync, body: ["records": records]).status == .ok)

            // Bea asked Ana first: Ana asking Bea is told to answer Bea's request instead.
            #expect(try await world.ask(client, as: world.bea, world.alpha, "ana").status == .created)
            let reverse = try await world.ask(client)
            #expect(reverse.status == .conflict && reverse.code == "request_pending_from_them", "\(reverse.text)")

            // Five requests at once against a limit of two: exactly two go out.
            #expect(try await client.json(.patch, "/v1/tenants/\(world.alpha.slug)/settings", token: app.operatorKey,
                                          body: ["agentChatRequestsPerHour": 2]).status == .ok)
            let beta = world.beta.slug.rawValue
            let ana = world.ana
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for index in 1...5 {
                    group.addTask {
                        try await client.withOwnConnection { http in
                            Int(try await http.json(.post, "/v1/chat-requests", token: ana, body: [
                                "brokerage": beta, "memberKey": "b\(index)", "message": "parallel \(index)",
                            ]).status.code)
                        }
                    }
                }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            // Exactly two go out. The others wait for the first two's transactions (one count per
            // asker at a time) and are refused: 429, or — when the whole suite loads the machine
            // so much that they wait out the pool's 10 s lock timeout — 503 `contention`, which
            // the client may retry. Either way no third request exists, and the next one is 429.
            #expect(statuses.filter { $0 == 201 }.count == 2, "\(statuses)")
            #expect(statuses.allSatisfy { [201, 429, 503].contains($0) }, "\(statuses)")
            let sent = try await client.json(.get, "/v1/chat-requests/sent", token: ana)
            #expect(try sent.items(SentChatRequest.self).filter { $0.message.hasPrefix("parallel ") }.count == 2)
            let sixth = try await client.json(.post, "/v1/chat-requests", token: ana, body: [
                "brokerage": beta, "memberKey": "b6", "message": "one more",
            ])
            #expect(sixth.status == .tooManyRequests && sixth.code == "request_rate_limited", "\(sixth.text)")

            // Ana's client Carla has the email Bo's brokerage publishes for Bo: accepting Bo's
            // request gives Ana a contact for Bo of its own and leaves Carla's as it was.
            let carla = try await client.json(.post, "/v1/contacts", token: world.ana, body: ["FullName": "Carla Client", "Email": "bo@beta.example"])
            #expect(carla.status == .created)
            let bo = try await world.beta.token(sub: "bo", name: "Bo Broker")
            let fromBo = try await world.ask(client, as: bo, world.alpha, "ana").decode(Sent.self)
            #expect(try await client.json(.post, "/v1/chat-requests/\(fromBo.id)/accept", token: world.ana).status == .ok)
            struct ContactBody: Decodable { let FullName: String; let Email: String?; let userId: String? }
            let contacts = try await client.json(.get, "/v1/contacts", token: world.ana).items(ContactBody.self)
            #expect(contacts.first { $0.FullName == "Carla Client" }?.userId == nil)
            let boContact = contacts.first { $0.userId == "@\(beta):bo" }
            #expect(boContact?.FullName == "Bo Broker" && boContact?.Email == nil)
        }
    }
}
