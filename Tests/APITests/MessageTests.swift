import Domain
import Foundation
import HummingbirdTesting
import ParleyTesting
import Testing

@Suite("API: messages, history, receipts")
struct MessageTests {
    @Test("20 parallel retries with one clientMessageId store exactly one message")
    func idempotentSend() async throws {
        try await TestApp.run(maxConnections: 8) { app, client in
            let pair = try await Pair.make(app, client)
            let statuses = try await withThrowingTaskGroup(of: (Int, String?).self) { group in
                for _ in 0..<20 {
                    group.addTask {
                        let r = try await client.withOwnConnection { try await pair.send($0, "only once", id: "retry-key-1") }
                        return (Int(r.status.code), try? r.decode(Message.self).id)
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(statuses.filter { $0.0 == 201 }.count == 1)
            #expect(statuses.filter { $0.0 == 200 }.count == 19)
            #expect(Set(statuses.compactMap(\.1)).count == 1)
            let history = try await client.json(.get, "/v1/sessions/\(pair.sessionID)/messages", token: pair.agent)
            #expect(try history.items(Message.self).count == 1)
            let count = try await app.database.withTenant(pair.tenant.scope) { tx in
                try await tx.query("SELECT count(*) AS n FROM messages").rows[0].decode(Int.self, "n")
            }
            #expect(count == 1)
            let reused = try await pair.send(client, "something else", id: "retry-key-1")
            #expect(reused.status == .conflict)
            #expect(reused.code == "idempotency_key_reused")
        }
    }

    @Test("history pages backwards and forwards with no gap or repeat while new messages arrive")
    func paging() async throws {
        try await TestApp.run(maxConnections: 8) { app, client in
            let pair = try await Pair.make(app, client)
            for index in 1...25 { _ = try await pair.send(client, "m\(index)") }
            // Backwards from the newest while 10 more arrive.
            let writer = Task { for index in 26...35 { _ = try await pair.send(client, as: pair.client, "m\(index)") } }
            var seen: [Int64] = []
            var cursor: String?
            var first = true
            while first || cursor != nil {
                first = false
                let uri = "/v1/sessions/\(pair.sessionID)/messages?limit=7" + (cursor.map { "&before=\($0)" } ?? "")
                let page = try await client.json(.get, uri, token: pair.agent).page(of: Message.self)
                seen += page.items.map(\.seq)
                cursor = page.nextCursor
                try await Task.sleep(for: .milliseconds(5))
            }
            try await writer.value
            #expect(seen == seen.sorted(by: >))
            #expect(Set(seen).count == seen.count)
            let newestAtStart = try #require(seen.first)
            #expect(seen == Array((1...newestAtStart).reversed()))
            // Forwards from the newest seen: exactly the rest, oldest first.
            var forward: [Int64] = []
            var after: Int64? = newestAtStart
            while let position = after {
                let page = try await client.json(.get, "/v1/sessions/\(pair.sessionID)/messages?limit=4&after=\(position)", token: pair.agent).page(of: Message.self)
                forward += page.items.map(\.seq)
                after = page.nextCursor.flatMap { Int64($0) }
            }
            #expect(forward == Array((newestAtStart + 1)...35))
            let both = try await client.json(.get, "/v1/sessions/\(pair.sessionID)/messages?before=5&after=1", token: pair.agent)
            #expect(both.status == .unprocessableContent)
        }
    }

    @Test("receipts: sent until the other member reads, then read; never backwards; history does not mark read")
    func receipts() async throws {
        try await TestApp.run { app, client in
            let pair = try await Pair.make(app, client)
            for index in 1...3 { _ = try await pair.send(client, "m\(index)") }
            func agentView() async throws -> [Int64: Message.Delivery?] {
                let page = try await client.json(.get, "/v1/sessions/\(pair.sessionID)/messages", token: pair.agent)
                return Dictionary(uniqueKeysWithValues: try page.items(Message.self).map { ($0.seq, $0.delivery) })
            }
            // The client reading history is not a receipt.
            let clientHistory = try await client.json(.get, "/v1/sessions/\(pair.sessionID)/messages", token: pair.client)
            #expect(try clientHistory.items(Message.self).allSatisfy { $0.delivery == nil })
            #expect(try await agentView() == [1: .sent, 2: .sent, 3: .sent])
            let clientList = try await client.json(.get, "/v1/sessions", token: pair.client)
            #expect(try clientList.items(Session.self).first?.unreadCount == 3)

            typealias ReadState = SessionStore.ReadState
            let read = try await client.json(.post, "/v1/sessions/\(pair.sessionID)/read", token: pair.client, body: ["upTo": 2]).decode(ReadState.self)
            #expect(read.lastReadSeq == 2)
            #expect(read.unreadCount == 1)
            #expect(try await agentView() == [1: .read, 2: .read, 3: .sent])
            let backwards = try await client.json(.post, "/v1/sessions/\(pair.sessionID)/read", token: pair.client, body: ["upTo": 1])
            #expect(try backwards.decode(ReadState.self).lastReadSeq == 2)
            let beyond = try await client.json(.post, "/v1/sessions/\(pair.sessionID)/read", token: pair.client, body: ["upTo": 999])
            #expect(try beyond.decode(ReadState.self).lastReadSeq == 3)
            #expect(try await agentView() == [1: .read, 2: .read, 3: .read])
            let readBy = try await client.json(.get, "/v1/sessions/\(pair.sessionID)/messages", token: pair.agent).items(Message.self).first?.readBy
            #expect(readBy == ["client-1"])

            let unread = try await client.json(.post, "/v1/sessions/\(pair.sessionID)/unread", token: pair.client).decode(ReadState.self)
            #expect(unread.unreadCount == 1)
            #expect(unread.lastReadSeq == 3)
            #expect(try await agentView() == [1: .read, 2: .read, 3: .read])
            let bad = try await client.json(.post, "/v1/sessions/\(pair.sessionID)/read", token: pair.client, body: ["upTo": -1])
            #expect(bad.status == .unprocessableContent)
        }
    }

    @Test("message validation lists every bad field")
    func validation() async throws {
        try await TestApp.run { app, client in
            let pair = try await Pair.make(app, client)
            let response = try await client.json(.post, "/v1/sessions/\(pair.sessionID)/messages", token: pair.agent, body: [
                "text": String(repeating: "x", count: 10_001),
                "listing": ["address": "1 Main", "url": "http://insecure.example/x", "photoUrl": "javascript:alert(1)", "listPrice": -5],
            ])
            #expect(response.status == .unprocessableContent)
            let fields = Set(try #require(response.problem).fields)
            #expect(fields == ["clientMessageId", "text", "listing.ListingKey", "listing.url", "listing.photoUrl", "listing.listPrice"])
            let blank = try await pair.send(client, "   ")
            #expect(blank.status == .unprocessableContent)
        }
    }

    @Test("a listing share comes back as a structured object, and XSS in text never comes back live")
    func listingAndHTML() async throws {
        try await TestApp.run { app, client in
            let pair = try await Pair.make(app, client)
            let listing: [String: Any] = [
                "ListingKey": "3yd-BRMLS-12345", "ListingId": "12345", "OriginatingSystemName": "BRMLS",
                "address": "12 Harbor Way, Sausalito, CA", "listPrice": 1_250_000,
                "photoUrl": "https://photos.example/12345.jpg", "url": "https://listings.example/12345",
            ]
            let sent = try await client.json(.post, "/v1/sessions/\(pair.sessionID)/messages", token: pair.agent, body: [
                "clientMessageId": "l1", "text": "Take a look <img src=x onerror=alert(1)> [here](javascript:alert(1))", "listing": listing,
            ])
            #expect(sent.status == .created)
            let history = try await client.json(.get, "/v1/sessions/\(pair.sessionID)/messages", token: pair.client)
            let message = try #require(try history.items(Message.self).first)
            let back = try #require(message.listing)
            #expect(back == Listing(
                ListingKey: "3yd-BRMLS-12345", ListingId: "12345", OriginatingSystemName: "BRMLS",
                address: "12 Harbor Way, Sausalito, CA", listPrice: 1_250_000,
                photoUrl: "https://photos.example/12345.jpg", url: "https://listings.example/12345"))
            let html = message.html
            #expect(html.contains("&lt;img src=x onerror=alert(1)&gt;"))
            #expect(!html.contains("<img"))
            #expect(!html.contains("href=\"javascript"))
            #expect(message.text == "Take a look <img src=x onerror=alert(1)> [here](javascript:alert(1))")
            // "Share listings directly in chat messages": a listing alone is a message, and the
            // session list's preview names it.
            let alone = try await client.json(.post, "/v1/sessions/\(pair.sessionID)/messages", token: pair.agent, body: [
                "clientMessageId": "l2", "listing": ["ListingId": "77", "address": "4 Bay St"],
            ])
            #expect(alone.status == .created, "\(alone.text)")
            let listed = try await client.json(.get, "/v1/sessions?limit=5", token: pair.client).items(Session.self)
            #expect(listed.first { $0.id == pair.sessionID }?.lastMessage?.preview == "🏠 4 Bay St")
        }
    }

    @Test("the session list shows preview, unread count and newest activity first, in pages")
    func sessionList() async throws {
        try await TestApp.run { app, client in
            let tenant = try await TestTenant.make(app.database)
            let agent = try await tenant.token(sub: "agent-1", role: .agent, name: "Avery Agent")
            var ids: [String] = []
            for index in 0..<5 {
                let s = try await client.json(.post, "/v1/sessions", token: agent, body: ["client": ["userId": "c\(index)", "name": "Client \(index)"]])
                ids.append(try s.decode(Session.self).id)
            }
            // Activity: session 2 gets a message last, so it comes first.
            let c2 = try await tenant.token(sub: "c2", role: .client, name: "Client 2")
            _ = try await client.json(.post, "/v1/sessions/\(ids[2])/messages", token: c2, body: ["clientMessageId": "x", "text": "Hello\nthere"])
            var seen: [Session] = []
            var cursor: String?
            repeat {
                let page = try await client.json(.get, "/v1/sessions?limit=2" + (cursor.map { "&after=\($0)" } ?? ""), token: agent).page(of: Session.self)
                seen += page.items
                cursor = page.nextCursor
            } while cursor != nil
            #expect(seen.map(\.id) == [ids[2], ids[4], ids[3], ids[1], ids[0]])
            let top = try #require(seen.first)
            #expect(top.unreadCount == 1)
            #expect(top.lastMessage?.preview == "Hello there")
            #expect(top.title == "Client 2")
            let bad = try await client.json(.get, "/v1/sessions?after=garbage", token: agent)
            #expect(bad.status == .unprocessableContent)
            let badStatus = try await client.json(.get, "/v1/sessions?status=deleted", token: agent)
            #expect(badStatus.status == .unprocessableContent)
        }
    }
}
