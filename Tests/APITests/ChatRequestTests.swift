import API
import Domain
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import ParleyTesting
import Testing

@Suite("API: chat requests")
struct ChatRequestTests {
    static func submit(_ client: TestAPIClient, _ tenant: TestTenant, _ body: [String: Any], origin: String? = nil) async throws -> APIResponse {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        if let origin { headers[.origin] = origin }
        let data = try JSONSerialization.data(withJSONObject: body)
        return try await client.execute(uri: "/v1/public/\(tenant.slug)/chat-requests", method: .post, headers: headers, body: ByteBuffer(bytes: data))
    }

    /// Submits and returns the created request's id and visitor token.
    static func submitted(_ client: TestAPIClient, _ tenant: TestTenant, _ body: [String: Any]) async throws -> SubmittedBody {
        let response = try await submit(client, tenant, body)
        #expect(response.status == .created)
        return try response.decode(SubmittedBody.self)
    }

    static func badge(_ client: TestAPIClient, _ token: String) async throws -> Badge {
        try await client.json(.get, "/v1/badge", token: token).decode(Badge.self)
    }

    static var visitor: [String: Any] {
        [
            "agentId": "agent-1", "name": "Vera Visitor", "email": "Vera@Example.com", "phone": "+1 (415) 555-0100",
            "message": "Is the loft on Harbor Way still available?", "preferredContactMethod": "text",
            "property": ["ListingId": "ML5550", "address": "12 Harbor Way"],
        ]
    }

    /// A brokerage and its agent `agent-1`, signed in once (requests go only to known agents).
    static func setup(_ app: TestApp, _ client: TestAPIClient) async throws -> (TestTenant, agent: String) {
        let tenant = try await TestTenant.make(app.database)
        return (tenant, try await signedIn(client, tenant, "agent-1", name: "Avery Agent"))
    }

    /// An agent's token, after one signed-in request (which records the agent).
    static func signedIn(_ client: TestAPIClient, _ tenant: TestTenant, _ sub: String, name: String? = nil) async throws -> String {
        let token = try await tenant.token(sub: sub, role: .agent, name: name)
        #expect(try await client.json(.get, "/v1/me", token: token).status == .ok)
        return token
    }

    @Test("validation lists every bad field; the preferred method must be reachable")
    func validation() async throws {
        try await TestApp.run { app, client in
            let (tenant, _) = try await Self.setup(app, client)
            // Invalid submissions count against the per-IP limit too (10 an hour by default).
            _ = try await client.json(.patch, "/v1/tenants/\(tenant.slug)/settings", token: app.operatorKey, body: ["chatRequestsPerIPPerHour": 1000])
            let cases: [([String: Any], Set<String>)] = [
                ([:], ["agentId", "name", "email", "phone"]),
                (["agentId": "agent-1", "name": "A", "email": "not-an-email", "phone": "12"], ["email", "phone"]),
                (["agentId": "agent-1", "name": "A", "phone": "+14155550100", "preferredContactMethod": "email"], ["preferredContactMethod"]),
                (["agentId": "agent-1", "name": "A", "email": "a@example.com", "preferredContactMethod": "text"], ["preferredContactMethod"]),
                (["agentId": "agent-1", "name": "A", "email": "a@example.com", "preferredContactMethod": "fax"], ["preferredContactMethod"]),
                (["agentId": "agent-1", "name": "A", "email": "a@example.com", "message": String(repeating: "x", count: 5001)], ["message"]),
                (["agentId": "agent-1", "name": "A", "email": "a@example.com", "message": "a\u{0}b"], ["message"]),
                (["agentId": "agent-1", "name": " ", "email": "a@example.com", "property": ["url": "javascript:alert(1)"]], ["name", "property"]),
                (["agentId": "agent-1", "name": "Jane\tDoe", "email": "a@example.com"], ["name"]),
            ]
            for (body, fields) in cases {
                let response = try await Self.submit(client, tenant, body)
                #expect(response.status == .unprocessableContent, "\(body)")
                let listed = Set(try #require(response.problem, "\(body)").fields.compactMap { $0.split(separator: ".").first.map(String.init) })
                #expect(listed == fields, "\(body)")
            }
            let long = try await Self.submit(client, tenant, ["agentId": "agent-1", "name": "A", "email": "a@example.com", "message": String(repeating: "x", count: 5001)])
            #expect(long.problem?.errors == [FieldError("message", "too_long", "message must be at most 5,000 characters")])
            // A client's id is not an agent's: no public stranger writes into a client's stream.
            let (_, agentToken) = (tenant, try await tenant.token(sub: "agent-1", role: .agent, name: "Avery Agent"))
            _ = try await client.json(.post, "/v1/sessions", token: agentToken, body: ["client": ["userId": "client-7", "name": "Cal Client"]])
            var toClient = Self.visitor
            toClient["agentId"] = "client-7"
            let refused = try await Self.submit(client, tenant, toClient)
            #expect(refused.status == .unprocessableContent)
            #expect(refused.problem?.fields.first == "agentId")
            let ok = try await Self.submit(client, tenant, Self.visitor)
            #expect(ok.status == .created)
            #expect(try ok.decode(SubmittedBody.self).visitorToken != nil)
            // A tenant's default agent receives requests that name none.
            _ = try await client.json(.patch, "/v1/tenants/\(tenant.slug)/settings", token: app.operatorKey, body: ["defaultAgentId": "agent-9"])
            let agent9 = try await Self.signedIn(client, tenant, "agent-9")
            var noAgent = Self.visitor
            noAgent["agentId"] = nil
            noAgent["email"] = "other@example.com"
            #expect(try await Self.submit(client, tenant, noAgent).status == .created)
            #expect(try await client.json(.get, "/v1/chat-requests", token: agent9).items(ChatRequest.self).count == 1)
        }
    }

    @Test("honeypot, duplicates, rate limits with Retry-After, and one tenant's flood leaves another alone")
    func abuse() async throws {
        try await TestApp.run { app, client in
            let (tenant, agent) = try await Self.setup(app, client)
            var trap = Self.visitor
            trap["website"] = "http://spam.example"
            let fake = try await Self.submit(client, tenant, trap)
            #expect(fake.status == .created)
            #expect(try fake.decode(SubmittedBody.self).visitorToken != nil)
            #expect(try await client.json(.get, "/v1/chat-requests", token: agent).items(ChatRequest.self).isEmpty)
            // What a real submission would refuse is refused the same way when trapped.
            var invalidTrap = trap
            invalidTrap["email"] = "not an email"
            var invalid = Self.visitor
            invalid["email"] = "not an email"
            let trapped = try await Self.submit(client, tenant, invalidTrap)
            let refused = try await Self.submit(client, tenant, invalid)
            #expect(trapped.status == .unprocessableContent && trapped.code == refused.code
                    && trapped.problem?.fields == refused.problem?.fields, "\(trapped.text)")

            let first = try await Self.submit(client, tenant, Self.visitor)
            var again = Self.visitor
            again["email"] = "vera@example.COM"
            let second = try await Self.submit(client, tenant, again)
            #expect(first.status == .created)
            #expect(second.status == .ok)
            #expect(try second.decode(SubmittedBody.self).id == first.decode(SubmittedBody.self).id)
            #expect(try second.decode(SubmittedBody.self).visitorToken == nil, "a duplicate never hands out the visitor's token")
            #expect(try await client.json(.get, "/v1/chat-requests?status=pending", token: agent).items(ChatRequest.self).count == 1)

            _ = try await client.json(.patch, "/v1/tenants/\(tenant.slug)/settings", token: app.operatorKey, body: ["chatRequestsPerHour": 5])
            var statuses: [HTTPResponse.Status] = []
            var retryAfter: String?
            for index in 0..<8 {
                var body = Self.visitor
                body["email"] = "flood\(index)@example.com"
                let response = try await Self.submit(client, tenant, body)
                statuses.append(response.status)
                if response.status == .tooManyRequests { retryAfter = response.headers[.retryAfter] }
            }
            #expect(statuses.contains(.tooManyRequests))
            #expect(Int(retryAfter ?? "") ?? 0 > 0)
            let other = try await TestTenant.make(app.database)
            _ = try await Self.signedIn(client, other, "agent-1")
            #expect(try await Self.submit(client, other, Self.visitor).status == .created)
        }
    }

    @Test("a request past its expiry that no sweep has reached does not hold the visitor's place: asking again makes a new one")
    func staleRequestDoesNotBlock() async throws {
        try await TestApp.run { app, client in
            let (tenant, agent) = try await Self.setup(app, client)
            let first = try await Self.submitted(client, tenant, Self.visitor)
            // Past its time (72 hours by default), not swept yet.
            try await app.database.withTenant(tenant.scope) { tx in
                try await tx.query("UPDATE chat_requests SET created_at = now() - interval '73 hours' WHERE id = $1::uuid", [first.id])
            }
            let again = try await Self.submit(client, tenant, Self.visitor)
            #expect(again.status == .created, "\(again.text)")
            let second = try again.decode(SubmittedBody.self)
            #expect(second.id != first.id && second.visitorToken != nil)
            let requests = try await client.json(.get, "/v1/chat-requests?source=website", token: agent).items(ChatRequest.self)
            #expect(requests.first { $0.id == first.id }?.status == .expired)
        }
    }

    @Test("junk submissions count against their address only: they cannot use up the brokerage's limit for genuine visitors")
    func junkDoesNotLockOut() async throws {
        try await TestApp.run { app, client in
            let (tenant, _) = try await Self.setup(app, client)
            _ = try await client.json(.patch, "/v1/tenants/\(tenant.slug)/settings", token: app.operatorKey,
                                      body: ["chatRequestsPerHour": 3, "chatRequestsPerIPPerHour": 1000])
            // Malformed, invalid and honeypot submissions, well past the brokerage's limit of 3.
            for index in 0..<10 {
                var body: [String: Any] = ["name": "x"]
                if index.isMultiple(of: 2) { body = Self.visitor; body["website"] = "https://spam.example" }
                let response = try await Self.submit(client, tenant, body)
                #expect(response.status == (index.isMultiple(of: 2) ? .created : .unprocessableContent))
            }
            // A genuine visitor still gets through, until the brokerage's own limit.
            var statuses: [HTTPResponse.Status] = []
            for index in 0..<4 {
                var body = Self.visitor
                body["email"] = "genuine\(index)@example.com"
                statuses.append(try await Self.submit(client, tenant, body).status)
            }
            #expect(statuses == [.created, .created, .created, .tooManyRequests])
        }
    }

    @Test("per-address limits key an IPv6 client by its /64, an IPv4 client by its address", arguments: [
        ("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64"), ("2001:db8:1:2::1", "2001:db8:1:2::/64"),
        ("2001:DB8:0001:0002:ffff::", "2001:db8:1:2::/64"), ("2001:db8:1:3::1", "2001:db8:1:3::/64"),
        ("::ffff:192.0.2.7", "192.0.2.7"), ("192.0.2.7", "192.0.2.7"), ("unknown", "unknown"), ("fe80::1%eth0", "fe80::1%eth0"),
    ])
    func ipv6Prefix(address: String, key: String) {
        #expect(ClientIP.limitKey(address) == key)
    }

    @Test("accept makes a client session with the first message; the visitor chats with their token, live")
    func acceptAndVisitorChat() async throws {
        try await TestApp.run { app, client in
            let (tenant, agent) = try await Self.setup(app, client)
            let agentStream = try await TestStream.connect(port: try #require(client.port), token: agent)
            _ = await agentStream.next()
            let submitted = try await Self.submitted(client, tenant, Self.visitor)
            let id = submitted.id
            let visitorToken = try #require(submitted.visitorToken)
            let created = try #require(await agentStream.nextEvent(["request.created"]))
            #expect(try created.data(ChatRequest.self).id == id)
            #expect(try await Self.badge(client, agent).pendingRequests == 1)

            var view = try await client.json(.get, "/v1/public/\(tenant.slug)/chat-requests/\(id)", token: visitorToken).decode(VisitorChatRequest.self)
            #expect(view.status == .pending)
            let accepted = try await client.json(.post, "/v1/chat-requests/\(id)/accept", token: agent)
            #expect(accepted.status == .ok)
            let decision = try accepted.decode(AcceptedBody.self)
            let session = decision.session.id
            #expect(decision.session.kind == .client)
            #expect(decision.request.status == .accepted)
            #expect(try await Self.badge(client, agent).pendingRequests == 0)
            view = try await client.json(.get, "/v1/public/\(tenant.slug)/chat-requests/\(id)", token: visitorToken).decode(VisitorChatRequest.self)
            #expect(view.status == .accepted)
            #expect(view.sessionId == session)

            let history = try await client.json(.get, "/v1/sessions/\(session)/messages", token: visitorToken).items(Message.self)
            #expect(history.count == 1)
            #expect(history.first?.text == Self.visitor["message"] as? String)
            #expect(history.first?.listing?.ListingId == "ML5550")
            let visitorStream = try await TestStream.connect(port: try #require(client.port), token: visitorToken)
            _ = await visitorStream.next()
            #expect(try await client.json(.post, "/v1/sessions/\(session)/messages", token: agent, body: ["clientMessageId": "a1", "text": "Yes! When can you visit?"]).status == .created)
            // (The first message, committed just before the socket opened, may arrive first.)
            var texts: [String] = []
            while let event = await visitorStream.nextEvent(["message.created"]) {
                texts.append(try event.data(Message.self).text)
                if texts.last == "Yes! When can you visit?" { break }
            }
            #expect(texts.last == "Yes! When can you visit?")
            #expect(try await client.json(.post, "/v1/sessions/\(session)/messages", token: visitorToken, body: ["clientMessageId": "v1", "text": "Saturday?"]).status == .created)
            // Another visitor's token sees nothing of it.
            var stranger = Self.visitor
            stranger["email"] = "eve@example.com"
            let eve = try #require(try await Self.submitted(client, tenant, stranger).visitorToken)
            #expect(try await client.json(.get, "/v1/public/\(tenant.slug)/chat-requests/\(id)", token: eve).status == .notFound)
            #expect(try await client.json(.get, "/v1/sessions/\(session)", token: eve).status == .notFound)
            // Converting never binds the (unverified) visitor to a contact. Accepting made the
            // contact already ("people you message get added to your contacts"): it is that one.
            let contact = try await client.json(.post, "/v1/chat-requests/\(id)/convert-to-crm", token: agent)
            #expect(contact.status == .ok)
            #expect(try contact.decode(Contact.self).userId == nil)
            // Accepting twice is a conflict.
            #expect(try await client.json(.post, "/v1/chat-requests/\(id)/accept", token: agent).code == "request_already_decided")
            await agentStream.close()
            await visitorStream.close()
        }
    }

    @Test("decline notes reach only the agent who declined: not the visitor, another agent, search or events")
    func declineNotes() async throws {
        try await TestApp.run { app, client in
            let (tenant, agent) = try await Self.setup(app, client)
            let submitted = try await Self.submitted(client, tenant, Self.visitor)
            let id = submitted.id
            let visitorToken = try #require(submitted.visitorToken)
            let declined = try await client.json(.post, "/v1/chat-requests/\(id)/decline", token: agent, body: ["notes": "zebracorn budget too low"])
            #expect(declined.status == .ok)
            #expect(try declined.decode(ChatRequest.self).declineNotes == "zebracorn budget too low")
            #expect(try await client.json(.get, "/v1/chat-requests/\(id)", token: agent).decode(ChatRequest.self).declineNotes == "zebracorn budget too low")
            let visitorView = try await client.send(.get, "/v1/public/\(tenant.slug)/chat-requests/\(id)", token: visitorToken)
            #expect(visitorView.status == .ok)
            #expect(!visitorView.text.contains("zebracorn"))
            let otherAgent = try await tenant.token(sub: "agent-2", role: .agent)
            #expect(try await client.json(.get, "/v1/chat-requests/\(id)", token: otherAgent).status == .notFound)
            #expect(!(try await client.send(.get, "/v1/chat-requests", token: otherAgent)).text.contains("zebracorn"))
            #expect(try await client.json(.get, "/v1/search?q=zebracorn", token: agent).items(SearchStore.Result.self).isEmpty)
            let leaked = try await app.database.withTenant(tenant.scope) { tx in
                try await tx.query("SELECT count(*) AS n FROM events WHERE data::text LIKE '%zebracorn%'").rows[0].decode(Int64.self, "n")
            }
            #expect(leaked == 0)
            #expect(try await client.json(.post, "/v1/chat-requests/\(id)/accept", token: agent).code == "request_already_decided")
        }
    }

    @Test("convert to CRM deduplicates, links the property and is idempotent in every status")
    func convert() async throws {
        try await TestApp.run { app, client in
            let (tenant, agent) = try await Self.setup(app, client)
            let existing = try await client.json(.post, "/v1/contacts", token: agent, body: ["FullName": "Vera V.", "Email": "vera@example.com"])
            #expect(existing.status == .created)
            let existingKey = try existing.decode(Contact.self).ContactKey
            let pending = try await Self.submitted(client, tenant, Self.visitor).id
            let first = try await client.json(.post, "/v1/chat-requests/\(pending)/convert-to-crm", token: agent)
            #expect(first.status == .ok)
            #expect(try first.decode(Contact.self).ContactKey == existingKey)
            let repeated = try await client.json(.post, "/v1/chat-requests/\(pending)/convert-to-crm", token: agent)
            #expect(try repeated.decode(Contact.self).ContactKey == existingKey)

            var fresh = Self.visitor
            fresh["email"] = "newlead@example.com"
            fresh["phone"] = "+14155550199"
            let declined = try await Self.submitted(client, tenant, fresh).id
            _ = try await client.json(.post, "/v1/chat-requests/\(declined)/decline", token: agent)
            let made = try await client.json(.post, "/v1/chat-requests/\(declined)/convert-to-crm", token: agent)
            #expect(made.status == .created)
            let lead = try made.decode(Contact.self)
            #expect(lead.LeadSource == "Website chat request")
            #expect(lead.preferredContactMethod == .text)
            #expect(lead.MobilePhone == "+14155550199")
            #expect(try await client.json(.post, "/v1/chat-requests/\(declined)/convert-to-crm", token: agent).status == .ok)
            let linked = try await app.database.withTenant(tenant.scope) { tx in
                try await tx.query("SELECT count(*) AS n FROM contact_listings WHERE listing_key = 'ML5550'").rows[0].decode(Int64.self, "n")
            }
            #expect(linked == 2)

            fresh["email"] = "late@example.com"
            fresh["phone"] = nil
            fresh["preferredContactMethod"] = "email"
            let late = try await Self.submitted(client, tenant, fresh).id
            try await app.database.withTenant(tenant.scope) { tx in
                try await tx.query("UPDATE chat_requests SET created_at = now() - interval '73 hours' WHERE id = $1::uuid", [late])
            }
            await app.dependencies.maintenance.runOnce()
            #expect(try await client.json(.get, "/v1/chat-requests/\(late)", token: agent).decode(ChatRequest.self).status == .expired)
            #expect(try await client.json(.post, "/v1/chat-requests/\(late)/convert-to-crm", token: agent).status == .created)
            // Clients cannot touch requests.
            let clientToken = try await tenant.token(sub: "client-1", role: .client)
            #expect(try await client.json(.get, "/v1/chat-requests", token: clientToken).status == .forbidden)
        }
    }

    @Test("expiry by the sweeper with a short TTL; expired cannot be accepted; racing decisions have one winner")
    func expiryAndRaces() async throws {
        try await TestApp.run(maxConnections: 8) { app, client in
            let (tenant, agent) = try await Self.setup(app, client)
            _ = try await client.json(.patch, "/v1/tenants/\(tenant.slug)/settings", token: app.operatorKey, body: ["chatRequestTTLHours": 1])
            let old = try await Self.submitted(client, tenant, Self.visitor).id
            try await app.database.withTenant(tenant.scope) { tx in
                try await tx.query("UPDATE chat_requests SET created_at = now() - interval '61 minutes' WHERE id = $1::uuid", [old])
            }
            // Before the sweep the deadline already holds; the sweep makes it visible.
            #expect(try await client.json(.post, "/v1/chat-requests/\(old)/accept", token: agent).code == "request_expired")
            let current = try #require(try await app.dependencies.tenants.find(tenant.slug))
            #expect(try await app.dependencies.chatRequests.expire(current) == 1)
            let expired = try await client.json(.get, "/v1/chat-requests?status=expired", token: agent).items(ChatRequest.self)
            #expect(expired.map(\.id) == [old])
            #expect(try await client.json(.post, "/v1/chat-requests/\(old)/accept", token: agent).status == .conflict)
            #expect(try await Self.badge(client, agent).pendingRequests == 0)

            for round in 0..<3 {
                var body = Self.visitor
                body["email"] = "race\(round)@example.com"
                let id = try await Self.submitted(client, tenant, body).id
                let statuses = try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                    for index in 0..<6 {
                        group.addTask {
                            let action = index % 2 == 0 ? "accept" : "decline"
                            return try await client.withOwnConnection { try await $0.json(.post, "/v1/chat-requests/\(id)/\(action)", token: agent).status }
                        }
                    }
                    group.addTask { _ = try await app.dependencies.chatRequests.expire(current); return .noContent }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                #expect(statuses.filter { $0 == .ok }.count == 1, "round \(round): \(statuses)")
                #expect(statuses.filter { $0 == .conflict }.count == 5, "round \(round): \(statuses)")
            }
            let sessions = try await client.json(.get, "/v1/sessions", token: agent).items(Session.self).count
            let accepted = try await client.json(.get, "/v1/chat-requests?status=accepted", token: agent).items(ChatRequest.self).count
            #expect(sessions == accepted)
        }
    }

    @Test("CORS: allowed origins get the headers (preflight too); other origins are refused")
    func cors() async throws {
        try await TestApp.run { app, client in
            let (tenant, _) = try await Self.setup(app, client)
            _ = try await client.json(.patch, "/v1/tenants/\(tenant.slug)/settings", token: app.operatorKey,
                                      body: ["allowedOrigins": ["https://vera-homes.example"]])
            let allowed = try await Self.submit(client, tenant, Self.visitor, origin: "https://vera-homes.example")
            #expect(allowed.status == .created)
            #expect(allowed.headers[.accessControlAllowOrigin] == "https://vera-homes.example")
            let preflight = try await client.execute(
                uri: "/v1/public/\(tenant.slug)/chat-requests", method: .options,
                headers: [.origin: "https://vera-homes.example", .accessControlRequestMethod: "POST"], body: nil)
            #expect(preflight.status == .noContent)
            #expect(preflight.headers[.accessControlAllowMethods]?.contains("POST") == true)
            let refused = try await Self.submit(client, tenant, Self.visitor, origin: "https://evil.example")
            #expect(refused.status == .forbidden)
            #expect(refused.code == "origin_not_allowed")
            let badSetting = try await client.json(.patch, "/v1/tenants/\(tenant.slug)/settings", token: app.operatorKey,
                                                   body: ["allowedOrigins": ["https://ok.example/path"]])
            #expect(badSetting.status == .unprocessableContent)
        }
    }
}

@Suite("API: client address behind proxies")
struct ClientIPTests {
    @Test("X-Forwarded-For is trusted only as far as the configured proxies")
    func forwarded() {
        // No proxy configured: the TCP peer, whatever the header claims.
        #expect(ClientIP.resolve(forwardedFor: ["6.6.6.6"], peer: "10.0.0.2", trustedHops: 0) == "10.0.0.2")
        // One proxy: the entry it appended (the rightmost); a client-written prefix is ignored.
        #expect(ClientIP.resolve(forwardedFor: ["6.6.6.6, 203.0.113.9"], peer: "10.0.0.2", trustedHops: 1) == "203.0.113.9")
        // Two proxies, headers split over lines.
        #expect(ClientIP.resolve(forwardedFor: ["6.6.6.6, 203.0.113.9", "10.0.0.7"], peer: "10.0.0.2", trustedHops: 2) == "203.0.113.9")
        // Fewer entries than proxies: the leftmost; no header: the peer.
        #expect(ClientIP.resolve(forwardedFor: ["203.0.113.9"], peer: "10.0.0.2", trustedHops: 3) == "203.0.113.9")
        #expect(ClientIP.resolve(forwardedFor: [], peer: "10.0.0.2", trustedHops: 1) == "10.0.0.2")
    }
}
