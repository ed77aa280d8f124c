import DatabaseTesting
import Domain
import Foundation
import HummingbirdTesting
import ParleyTesting
import Testing

/// Webhook delivery (issue 19, points 2–5): events of the brokerage reach a local receiver,
/// signed as Standard Webhooks specifies; failures, `Retry-After`, redirects and 410 drive
/// retries and disabling; a hanging endpoint delays no other; a killed server loses nothing.
/// Serialized: each test's app delivers with its own schedule, and only one app at a time
/// delivers for the shared test database.
@Suite("API: webhook delivery", .serialized)
struct WebhookDeliveryTests {
    struct Endpoint: Decodable {
        let id: String
        let enabled: Bool
        let disabledReason: String?
        let secret: String?
    }

    /// A delivery's body: `{type, timestamp, data}`.
    struct Payload {
        let type: String
        let timestamp: String
        let data: [String: Any]

        func string(_ key: String) -> String? { data[key] as? String }
    }

    /// Quick settings for tests: retries after 0.3 s, no jitter.
    static func settings(
        schedule: [Double] = [0.3, 0.3, 0.3], timeout: Double = 5, disableAfter: Double = 3600,
        maxInFlight: Int = 256, perBrokerage: Int = 64
    ) -> WebhookDeliverer.Settings {
        WebhookDeliverer.Settings(
            enabled: true, retrySchedule: schedule, jitter: 0, timeout: timeout, perEndpoint: 4, disableAfter: disableAfter,
            recheck: .milliseconds(200), maxInFlight: maxInFlight, maxInFlightPerBrokerage: perBrokerage)
    }

    static func endpoint(
        _ client: TestAPIClient, _ token: String, url: String, types: [String]
    ) async throws -> Endpoint {
        let response = try await client.json(.post, "/v1/webhooks/endpoints", token: token, body: ["url": url, "eventTypes": types])
        #expect(response.status == .created, "\(response.text)")
        return try response.decode(Endpoint.self)
    }

    /// The endpoint's whole delivery log (one page of up to 100).
    static func log(_ client: TestAPIClient, _ token: String, _ endpoint: String) async throws -> [WebhookDelivery] {
        try await client.json(.get, "/v1/webhooks/endpoints/\(endpoint)/deliveries?limit=100", token: token).page(of: WebhookDelivery.self).items
    }

    /// Waits until the endpoint's first delivery is no longer pending; it then.
    static func finished(_ client: TestAPIClient, _ token: String, _ endpoint: String) async throws -> WebhookDelivery? {
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            if let first = try await log(client, token, endpoint).first, first.status != "pending" {
                return try await client.json(.get, "/v1/webhooks/endpoints/\(endpoint)/deliveries/\(first.id)", token: token)
                    .decode(WebhookDelivery.self)
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        return nil
    }

    /// The signature check a receiver makes, with the secret the endpoint was given.
    static func verify(_ request: WebhookReceiver.Received, secret: String) -> Bool {
        guard let id = request.header("webhook-id"), let timestampText = request.header("webhook-timestamp"),
            let timestamp = Int64(timestampText), let header = request.header("webhook-signature"),
            let expected = StandardWebhooks.signature(id: id, timestamp: timestamp, body: Array(request.body.utf8), secret: secret)
        else { return false }
        return header.split(separator: " ").contains { $0 == expected }
            && abs(Date().timeIntervalSince1970 - Double(timestamp)) < 300
    }

    static func payload(_ request: WebhookReceiver.Received) throws -> Payload {
        guard let object = try JSONSerialization.jsonObject(with: Data(request.body.utf8)) as? [String: Any],
            let type = object["type"] as? String, let timestamp = object["timestamp"] as? String,
            let data = object["data"] as? [String: Any], object.count == 3
        else { throw ServerProcess.Failure("not a {type, timestamp, data} payload: \(request.body)") }
        return Payload(type: type, timestamp: timestamp, data: data)
    }

    @Test("events reach each endpoint signed, as {type, timestamp, data}, only the types it asked for; the log shows each delivery")
    func signedAndFiltered() async throws {
        try await WebhookReceiver.run { receiver in
            try await TestApp.run(webhookDelivery: Self.settings()) { app, client in
                let (tenant, agent) = try await ChatRequestTests.setup(app, client)
                let integration = try await tenant.integrationToken(sub: "crm")
                let all = try await Self.endpoint(client, integration, url: receiver.url("all"), types: [
                    "request.created", "request.updated", "message.created", "contact.created", "session.updated",
                ])
                let leads = try await Self.endpoint(client, integration, url: receiver.url("leads"), types: ["request.created"])

                let submitted = try await ChatRequestTests.submitted(client, tenant, ChatRequestTests.visitor)
                let accepted = try await client.json(.post, "/v1/chat-requests/\(submitted.id)/accept", token: agent)
                #expect(accepted.status == .ok)
                let session = try accepted.decode(AcceptedBody.self).session.id
                #expect(try await client.json(.post, "/v1/sessions/\(session)/messages", token: agent, body: [
                    "clientMessageId": "w1", "text": "Hello from the agent",
                ]).status == .created)
                // Accepting made the visitor a contact (contact.created); converting finds it.
                #expect(try await client.json(.post, "/v1/chat-requests/\(submitted.id)/convert-to-crm", token: agent).status == .ok)

                // request.created, request.updated (accepted), message.created ×2 (the visitor's
                // first message, the agent's), contact.created: the session events are optional.
                var got: [WebhookReceiver.Received] = []
                let deadline = ContinuousClock.now + .seconds(30)
                while ContinuousClock.now < deadline {
                    got = await receiver.received("all")
                    let types = Set(try got.map { try Self.payload($0).type })
                    if types.isSuperset(of: ["request.created", "request.updated", "message.created", "contact.created"]),
                        try got.filter({ try Self.payload($0).type == "message.created" }).count >= 2
                    { break }
                    try await Task.sleep(for: .milliseconds(50))
                }
                // Settled: every delivery recorded as succeeded, and nothing more arriving.
                var everything: [WebhookDelivery] = []
                let settle = ContinuousClock.now + .seconds(20)
                while ContinuousClock.now < settle {
                    everything = try await Self.log(client, integration, all.id)
                    got = await receiver.received("all")
                    if !everything.isEmpty, everything.count == got.count, everything.allSatisfy({ $0.status == "succeeded" }) { break }
                    try await Task.sleep(for: .milliseconds(100))
                }
                let secret = try #require(all.secret)
                for request in got {
                    #expect(Self.verify(request, secret: secret), "signature of \(request.body)")
                    #expect(request.header("content-type") == "application/json")
                    #expect(request.header("webhook-id")?.hasPrefix("msg_") == true)
                }
                let payloads = try got.map(Self.payload)
                #expect(Set(payloads.map(\.type)).isSubset(of: ["request.created", "request.updated", "message.created", "contact.created", "session.updated"]))
                #expect(payloads.first { $0.type == "request.created" }?.string("id") == submitted.id)
                #expect(payloads.contains { $0.type == "message.created" && $0.string("text") == "Hello from the agent" })
                let conversion = try #require(payloads.first { $0.type == "contact.created" })
                #expect(conversion.string("requestId") == submitted.id)
                #expect(payloads.allSatisfy { ISO8601DateFormatter.parseFractional($0.timestamp) != nil })
                #expect(Set(got.compactMap { $0.header("webhook-id") }).count == got.count, "a webhook-id per delivery")

                // The other endpoint: the request only, with its own secret.
                let leadRequests = await receiver.waitFor("leads", count: 1)
                #expect(try leadRequests.map { try Self.payload($0).type } == ["request.created"])
                #expect(Self.verify(try #require(leadRequests.first), secret: try #require(leads.secret)))
                #expect(!Self.verify(try #require(leadRequests.first), secret: secret))

                // The delivery log: newest first, each succeeded at its first attempt.
                let log = try await client.json(.get, "/v1/webhooks/endpoints/\(all.id)/deliveries?limit=2", token: integration)
                    .page(of: WebhookDelivery.self)
                #expect(log.items.count == 2 && log.nextCursor != nil)
                let rest = try await client.json(
                    .get, "/v1/webhooks/endpoints/\(all.id)/deliveries?after=\(try #require(log.nextCursor))", token: integration)
                    .page(of: WebhookDelivery.self)
                #expect((log.items + rest.items).map(\.id) == everything.map(\.id), "pages in order, newest first")
                #expect(everything.count == got.count)
                #expect(everything.allSatisfy { $0.status == "succeeded" && $0.attempts == 1 && $0.lastStatus == 200 })
                #expect(Set(everything.map(\.messageId)) == Set(got.compactMap { $0.header("webhook-id") }))
                let one = try await client.json(
                    .get, "/v1/webhooks/endpoints/\(all.id)/deliveries/\(everything[0].id)", token: integration).decode(WebhookDelivery.self)
                #expect(one.attemptLog?.map(\.status) == [200])
                #expect(one.payload.map { body in got.contains { $0.body == body } } == true)
                // The operator reads the same log; another brokerage's token finds nothing.
                #expect(try await client.json(
                    .get, "/v1/tenants/\(tenant.slug.rawValue)/webhooks/endpoints/\(all.id)/deliveries", token: app.operatorKey)
                    .page(of: WebhookDelivery.self).items.count == everything.count)
                let other = try await TestTenant.make(app.database, prefix: "wh")
                #expect(try await client.json(
                    .get, "/v1/webhooks/endpoints/\(all.id)/deliveries", token: try await other.integrationToken()).status == .notFound)
                #expect(try await client.json(
                    .get, "/v1/webhooks/endpoints/\(all.id)/deliveries?status=lost", token: integration).status == .unprocessableContent)
            }
        }
    }

    @Test("after two rotations within a day, a delivery carries a signature for each secret still signing: a receiver on any of the three verifies it")
    func signedByEverySecretInOverlap() async throws {
        try await WebhookReceiver.run { receiver in
            try await TestApp.run(webhookDelivery: Self.settings()) { app, client in
                let (tenant, _) = try await ChatRequestTests.setup(app, client)
                let integration = try await tenant.integrationToken(sub: "crm")
                let endpoint = try await Self.endpoint(client, integration, url: receiver.url("rot"), types: ["request.created"])
                let first = try #require(endpoint.secret)
                var secrets = [first]
                for _ in 0..<2 {
                    let rotated = try await client.json(.post, "/v1/webhooks/endpoints/\(endpoint.id)/rotate-secret", token: integration)
                    #expect(rotated.status == .ok, "\(rotated.text)")
                    secrets.append(try rotated.decode(WebhookEndpointTests.Secrets.self).secret)
                }
                _ = try await ChatRequestTests.submitted(client, tenant, ChatRequestTests.visitor)
                let delivered = try #require(await receiver.waitFor("rot", count: 1).first)
                for (index, secret) in secrets.enumerated() {
                    #expect(Self.verify(delivered, secret: secret), "secret \(index) does not verify the delivery")
                }
            }
        }
    }

    @Test("failures are retried with the same webhook-id; Retry-After replaces the scheduled wait; a redirect is not followed; retries end")
    func retries() async throws {
        try await WebhookReceiver.run { receiver in
            // The second retry would wait 60 s; the endpoint's Retry-After of 1 s replaces it.
            try await TestApp.run(webhookDelivery: Self.settings(schedule: [0.3, 60, 60])) { app, client in
                let (tenant, _) = try await ChatRequestTests.setup(app, client)
                let integration = try await tenant.integrationToken(sub: "crm")
                await receiver.plan("flaky", [.status(500), .status(503, retryAfter: "1"), .status(200)])
                await receiver.plan("moved", [.status(302, location: receiver.url("elsewhere")), .status(204)])
                let flaky = try await Self.endpoint(client, integration, url: receiver.url("flaky"), types: ["request.created"])
                let moved = try await Self.endpoint(client, integration, url: receiver.url("moved"), types: ["request.created"])
                _ = try await ChatRequestTests.submitted(client, tenant, ChatRequestTests.visitor)

                let attempts = await receiver.waitFor("flaky", count: 3, within: .seconds(30))
                #expect(attempts.count == 3)
                #expect(Set(attempts.compactMap { $0.header("webhook-id") }).count == 1, "the same webhook-id on every attempt")
                #expect(Set(attempts.map(\.body)).count == 1, "the same body on every attempt")
                let secret = try #require(flaky.secret)
                #expect(attempts.allSatisfy { Self.verify($0, secret: secret) })
                if attempts.count == 3 {
                    let first = attempts[1].at.timeIntervalSince(attempts[0].at)
                    let second = attempts[2].at.timeIntervalSince(attempts[1].at)
                    #expect(first >= 0.25 && first < 20, "the first retry follows the schedule (0.3 s): \(first)")
                    #expect(second >= 0.95 && second < 30, "Retry-After: 1 replaced the scheduled 60 s: \(second)")
                }
                let detail = try #require(try await Self.finished(client, integration, flaky.id))
                #expect(detail.status == "succeeded" && detail.attempts == 3)
                #expect(detail.attemptLog?.map(\.status) == [500, 503, 200])

                // The 302 counted as a failure; its Location was never called; the retry succeeded.
                let movedAttempts = await receiver.waitFor("moved", count: 2, within: .seconds(30))
                #expect(movedAttempts.count == 2)
                #expect(await receiver.received("elsewhere").isEmpty)
                let movedDetail = try #require(try await Self.finished(client, integration, moved.id))
                #expect(movedDetail.attemptLog?.map(\.status) == [302, 204])

            }
        }
    }

    @Test("an attempt without an answer (timed out, refused) is retried like a failure: the delivery is not left pending for ever")
    func noAnswerIsRetried() async throws {
        try await WebhookReceiver.run { receiver in
            try await TestApp.run(webhookDelivery: Self.settings(schedule: [0.2, 0.2], timeout: 0.5)) { app, client in
                let (tenant, _) = try await ChatRequestTests.setup(app, client)
                let integration = try await tenant.integrationToken(sub: "crm")
                await receiver.plan("silent", [.hang(.seconds(3)), .status(200)])
                let silent = try await Self.endpoint(client, integration, url: receiver.url("silent"), types: ["request.created"])
                // Nothing listens on this port: the connection is refused.
                let refused = try await Self.endpoint(client, integration, url: "http://127.0.0.1:9/hook", types: ["request.created"])
                _ = try await ChatRequestTests.submitted(client, tenant, ChatRequestTests.visitor)

                #expect(await receiver.waitFor("silent", count: 2, within: .seconds(30)).count == 2, "the timed-out attempt is tried again")
                let detail = try #require(try await Self.finished(client, integration, silent.id))
                #expect(detail.status == "succeeded" && detail.attempts == 2, "\(detail)")
                #expect(detail.attemptLog?.map(\.status) == [nil, 200])
                // The refused endpoint: every attempt of the schedule, then failed.
                let gaveUp = try #require(try await Self.finished(client, integration, refused.id))
                #expect(gaveUp.status == "failed" && gaveUp.attempts == 3 && gaveUp.nextAttemptAt == nil, "\(gaveUp)")
            }
        }
    }

    @Test("a redelivery is not undone by the late outcome of an attempt whose lease had run out")
    func redeliveryNotUndone() async throws {
        try await TestApp.run { app, client in
            let (tenant, _) = try await ChatRequestTests.setup(app, client)
            let integration = try await tenant.integrationToken(sub: "crm")
            let endpoint = try await Self.endpoint(client, integration, url: "https://hooks.example/x", types: ["request.created"])
            // An attempt claimed it a while ago; its lease has run out, its outcome not in yet.
            let (delivery, lease) = try await app.database.withTenant(tenant.scope) { tx in
                let row = try await tx.query("""
                    INSERT INTO webhook_deliveries (endpoint_id, event_type, body, attempts, lease_until)
                    VALUES ($1::uuid, 'request.created', '{}', 1, now() - interval '1 minute') RETURNING id, lease_until::text AS lease
                    """, [endpoint.id]).rows[0]
                return (try row.decode(UUID.self, "id"), try row.decode(String.self, "lease"))
            }
            let again = try await client.json(
                .post, "/v1/webhooks/endpoints/\(endpoint.id)/deliveries/\(delivery.uuidString.lowercased())/redeliver", token: integration)
            #expect(again.status == .accepted, "\(again.text)")
            // The old attempt's outcome (a failure with no retries left) arrives now: it is the
            // lease's, and the lease is no longer the delivery's.
            let outcome = try await app.database.withTenant(tenant.scope) { tx in
                try await tx.query("SELECT webhook_record($1, $2::timestamptz, now(), 500, 10, NULL, NULL, NULL, 3600, 3600) AS o",
                                   [delivery, lease]).rows[0].decode(String.self, "o")
            }
            #expect(outcome == "stale")
            let detail = try await client.json(
                .get, "/v1/webhooks/endpoints/\(endpoint.id)/deliveries/\(delivery.uuidString.lowercased())", token: integration).decode(WebhookDelivery.self)
            #expect(detail.status == "pending" && detail.nextAttemptAt != nil, "\(detail)")
        }
    }

    @Test("the schedule runs out: the delivery fails after its last retry, and redelivery sends it again with the same webhook-id")
    func exhaustedAndRedelivered() async throws {
        try await WebhookReceiver.run { receiver in
            try await TestApp.run(webhookDelivery: Self.settings(schedule: [0.2, 0.2])) { app, client in
                let (tenant, _) = try await ChatRequestTests.setup(app, client)
                let integration = try await tenant.integrationToken(sub: "crm")
                await receiver.plan("down", Array(repeating: .status(500), count: 3))
                let down = try await Self.endpoint(client, integration, url: receiver.url("down"), types: ["request.created"])
                _ = try await ChatRequestTests.submitted(client, tenant, ChatRequestTests.visitor)
                let failed = await receiver.waitFor("down", count: 3, within: .seconds(30))
                #expect(failed.count == 3)
                var delivery: WebhookDelivery?
                let deadline = ContinuousClock.now + .seconds(20)
                while ContinuousClock.now < deadline {
                    delivery = try await client.json(.get, "/v1/webhooks/endpoints/\(down.id)/deliveries?status=failed", token: integration)
                        .page(of: WebhookDelivery.self).items.first
                    if delivery != nil { break }
                    try await Task.sleep(for: .milliseconds(50))
                }
                let gaveUp = try #require(delivery)
                #expect(gaveUp.attempts == 3 && gaveUp.nextAttemptAt == nil && gaveUp.lastStatus == 500)
                try await Task.sleep(for: .milliseconds(600))
                #expect(await receiver.received("down").count == 3, "no attempt after the schedule ran out")

                // Manual redelivery: sent again now, same webhook-id, and it succeeds.
                let again = try await client.json(
                    .post, "/v1/webhooks/endpoints/\(down.id)/deliveries/\(gaveUp.id)/redeliver", token: integration)
                #expect(again.status == .accepted, "\(again.text)")
                let fourth = await receiver.waitFor("down", count: 4, within: .seconds(20))
                #expect(fourth.count == 4)
                #expect(fourth.last?.header("webhook-id") == failed.first?.header("webhook-id"))
                #expect(try await client.json(
                    .post, "/v1/webhooks/endpoints/\(down.id)/deliveries/\(UUID().uuidString)/redeliver", token: integration)
                    .code == "webhook_delivery_not_found")
            }
        }
    }

    @Test("410 Gone disables the endpoint; long failure disables it too; both announce webhook.disabled to the brokerage's other endpoints")
    func disabling() async throws {
        try await WebhookReceiver.run { receiver in
            try await TestApp.run(webhookDelivery: Self.settings(schedule: Array(repeating: 0.3, count: 20), disableAfter: 1)) { app, client in
                let (tenant, _) = try await ChatRequestTests.setup(app, client)
                let integration = try await tenant.integrationToken(sub: "crm")
                let ops = try await Self.endpoint(client, integration, url: receiver.url("ops"), types: ["webhook.disabled"])
                await receiver.plan("gone", [.status(410)])
                await receiver.plan("down", Array(repeating: .status(500), count: 40))
                let gone = try await Self.endpoint(client, integration, url: receiver.url("gone"), types: ["request.created"])
                let down = try await Self.endpoint(client, integration, url: receiver.url("down"), types: ["request.created"])
                _ = try await ChatRequestTests.submitted(client, tenant, ChatRequestTests.visitor)

                let notices = await receiver.waitFor("ops", count: 2, within: .seconds(30))
                #expect(notices.count == 2)
                let secret = try #require(ops.secret)
                #expect(notices.allSatisfy { Self.verify($0, secret: secret) })
                let disabled = try notices.map(Self.payload)
                #expect(disabled.allSatisfy { $0.type == "webhook.disabled" })
                #expect(Set(disabled.compactMap { $0.string("endpointId") }) == [gone.id, down.id])
                // Its origin, not its URL: a path or query may hold the receiver's credentials
                // (hooks.zapier.com/hooks/catch/…), and the other endpoints are other integrations.
                #expect(disabled.allSatisfy { $0.data["url"] == nil && $0.string("origin") == "http://127.0.0.1:\(receiver.port)" },
                        "\(disabled.map(\.data))")
                #expect(await receiver.received("gone").count == 1, "410: no retry")

                let goneNow = try await client.json(.get, "/v1/webhooks/endpoints/\(gone.id)", token: integration).decode(Endpoint.self)
                #expect(!goneNow.enabled && goneNow.disabledReason?.contains("410") == true)
                let downNow = try await client.json(.get, "/v1/webhooks/endpoints/\(down.id)", token: integration).decode(Endpoint.self)
                #expect(!downNow.enabled && downNow.disabledReason?.contains("failed") == true)
                // Disabled: no more attempts, and redelivery asks to enable it first.
                let count = await receiver.received("down").count
                try await Task.sleep(for: .milliseconds(800))
                #expect(await receiver.received("down").count == count)
                let pending = try #require(try await client.json(.get, "/v1/webhooks/endpoints/\(down.id)/deliveries", token: integration)
                    .page(of: WebhookDelivery.self).items.first)
                #expect(try await client.json(
                    .post, "/v1/webhooks/endpoints/\(down.id)/deliveries/\(pending.id)/redeliver", token: integration)
                    .code == "webhook_endpoint_disabled")
                // Enabled again (the receiver answers 200 now): its pending delivery goes out at
                // once, though its schedule had it wait hours more (as the late retries do).
                try await app.database.withTenant(tenant.scope) { tx in
                    _ = try await tx.query(
                        "UPDATE webhook_deliveries SET next_attempt_at = now() + interval '10 hours' WHERE id = $1",
                        [UUID(uuidString: pending.id)])
                }
                await receiver.replan("down", [])
                let enabled = try await client.json(.patch, "/v1/webhooks/endpoints/\(down.id)", token: integration, body: ["enabled": true])
                #expect(try enabled.decode(Endpoint.self).disabledReason == nil)
                #expect(await receiver.waitFor("down", count: count + 1).count == count + 1)
                var delivered: WebhookDelivery?
                let deadline = ContinuousClock.now + .seconds(20)
                while ContinuousClock.now < deadline {
                    delivered = try await client.json(
                        .get, "/v1/webhooks/endpoints/\(down.id)/deliveries/\(pending.id)", token: integration).decode(WebhookDelivery.self)
                    if delivered?.status == "succeeded" { break }
                    try await Task.sleep(for: .milliseconds(50))
                }
                #expect(delivered?.status == "succeeded")
            }
        }
    }

    @Test("an answer that drips its body, or holds NUL bytes, ends the attempt within the timeout and is recorded once")
    func hostileAnswers() async throws {
        try await WebhookReceiver.run { receiver in
            try await TestApp.run(webhookDelivery: Self.settings(timeout: 2)) { app, client in
                let (tenant, _) = try await ChatRequestTests.setup(app, client)
                let integration = try await tenant.integrationToken(sub: "crm")
                await receiver.plan("drip", [.drip(every: .seconds(1), count: 60)])
                await receiver.plan("nul", [.body(200, Array("ok\u{0}\u{0}\u{FF}".utf8) + [0xFF, 0x00])])
                let drip = try await Self.endpoint(client, integration, url: receiver.url("drip"), types: ["request.created"])
                let nul = try await Self.endpoint(client, integration, url: receiver.url("nul"), types: ["request.created"])
                _ = try await ChatRequestTests.submitted(client, tenant, ChatRequestTests.visitor)

                // The status came at once: a success, whose body stopped being read at the deadline.
                let dripped = try #require(try await Self.finished(client, integration, drip.id))
                #expect(dripped.status == "succeeded" && dripped.attempts == 1)
                let latency = try #require(dripped.attemptLog?.first?.latencyMs)
                #expect(latency < 4000, "an attempt lasts at most its 2 s timeout (and scheduling): \(latency) ms")
                let nulDelivery = try #require(try await Self.finished(client, integration, nul.id))
                #expect(nulDelivery.status == "succeeded" && nulDelivery.attempts == 1)
                #expect(nulDelivery.attemptLog?.first?.response?.hasPrefix("ok") == true)
                try await Task.sleep(for: .seconds(1))
                #expect(await receiver.received("nul").count == 1, "recorded once, never sent again")
                #expect(await receiver.received("drip").count == 1)
            }
        }
    }

    @Test("an endpoint that hangs delays neither another endpoint's deliveries nor the live stream")
    func hangingEndpoint() async throws {
        try await WebhookReceiver.run { receiver in
            try await TestApp.run(webhookDelivery: Self.settings(schedule: [30], timeout: 8)) { app, client in
                let pair = try await Pair.make(app, client)
                let integration = try await pair.tenant.integrationToken(sub: "crm")
                await receiver.plan("slow", Array(repeating: .hang(.seconds(12)), count: 20))
                _ = try await Self.endpoint(client, integration, url: receiver.url("slow"), types: ["message.created"])
                let fast = try await Self.endpoint(client, integration, url: receiver.url("fast"), types: ["message.created"])
                let stream = try await TestStream.connect(port: try #require(client.port), token: pair.client)
                _ = await stream.next()

                let sent = ContinuousClock.now
                for index in 0..<8 {
                    #expect(try await client.json(.post, "/v1/sessions/\(pair.sessionID)/messages", token: pair.agent, body: [
                        "clientMessageId": "h\(index)", "text": "message \(index)",
                    ]).status == .created)
                }
                var live = 0
                while live < 8, await stream.nextEvent(["message.created"]) != nil { live += 1 }
                #expect(live == 8)
                let fastGot = await receiver.waitFor("fast", count: 8, within: .seconds(10))
                let fastDone = ContinuousClock.now
                #expect(fastGot.count == 8)
                #expect(Self.verify(try #require(fastGot.first), secret: try #require(fast.secret)))
                // The slow endpoint holds its four leases, hanging; the fast one got everything
                // before the first of them could even time out.
                let slowGot = await receiver.received("slow")
                #expect(slowGot.count == 4, "at most four of an endpoint's deliveries in flight")
                #expect(fastDone - sent < .seconds(8), "the fast endpoint waited for the slow one: \(fastDone - sent)")
            }
        }
    }

    @Test("a brokerage whose endpoints all hang holds only its share of the process's attempts: another brokerage's deliveries go on")
    func hangingBrokerage() async throws {
        try await WebhookReceiver.run { receiver in
            // A process of 8 attempts, 4 a brokerage: the hanging brokerage's two endpoints could
            // hold all 8 (four each), for the whole timeout. A database of its own: the other
            // tests' servers deliver every brokerage of theirs, and their hanging endpoints would
            // take this process's attempts too.
            let conninfo = try await TestDatabase.shared.makeScratchDatabase()
            try await TestApp.run(conninfo: conninfo, webhookDelivery: Self.settings(schedule: [30], timeout: 15, maxInFlight: 8, perBrokerage: 4)) { app, client in
                let hanging = try await Pair.make(app, client)
                let other = try await Pair.make(app, client)
                let hangingIntegration = try await hanging.tenant.integrationToken(sub: "crm")
                let otherIntegration = try await other.tenant.integrationToken(sub: "crm")
                for name in ["slow-a", "slow-b"] {
                    await receiver.plan(name, Array(repeating: .hang(.seconds(20)), count: 20))
                    _ = try await Self.endpoint(client, hangingIntegration, url: receiver.url(name), types: ["message.created"])
                }
                _ = try await Self.endpoint(client, otherIntegration, url: receiver.url("fine"), types: ["message.created"])
                for index in 0..<8 {
                    #expect(try await client.json(.post, "/v1/sessions/\(hanging.sessionID)/messages", token: hanging.agent, body: [
                        "clientMessageId": "h\(index)", "text": "message \(index)",
                    ]).status == .created)
                }
                let deadline = ContinuousClock.now + .seconds(5)
                while await receiver.received("slow-a").count + receiver.received("slow-b").count < 4, ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(50))
                }
                let sent = ContinuousClock.now
                #expect(try await client.json(.post, "/v1/sessions/\(other.sessionID)/messages", token: other.agent, body: [
                    "clientMessageId": "o1", "text": "business as usual",
                ]).status == .created)
                #expect(await receiver.waitFor("fine", count: 1, within: .seconds(16)).count == 1)
                // Well under the 15 s of the hanging attempts (the machine is busy with other tests).
                #expect(ContinuousClock.now - sent < .seconds(8), "the other brokerage waited for the hanging one: \(ContinuousClock.now - sent)")
                let held = await receiver.received("slow-a").count + receiver.received("slow-b").count
                #expect(held == 4, "the hanging brokerage holds its share, no more: \(held)")
            }
        }
    }

    @Test("two server processes deliver together: each delivery once, never more than four of an endpoint's at a time")
    func twoDeliverers() async throws {
        try await WebhookReceiver.run { receiver in
            let channels = TestApp.newChannelPrefix()
            let settings = Self.settings(timeout: 5)
            try await TestApp.run(channelPrefix: channels, webhookDelivery: settings) { app, client in
                try await TestApp.run(channelPrefix: channels, webhookDelivery: settings) { _, _ in
                    let pair = try await Pair.make(app, client)
                    let integration = try await pair.tenant.integrationToken(sub: "crm")
                    // Each answer takes 2 s: ten seconds of overlapping attempts, which the second
                    // process joins once it has read the brokerage list (every 5 s).
                    await receiver.plan("busy", Array(repeating: .hang(.seconds(2)), count: 20))
                    _ = try await Self.endpoint(client, integration, url: receiver.url("busy"), types: ["message.created"])
                    for index in 0..<20 {
                        #expect(try await client.json(.post, "/v1/sessions/\(pair.sessionID)/messages", token: pair.agent, body: [
                            "clientMessageId": "b\(index)", "text": "busy \(index)",
                        ]).status == .created)
                    }
                    let got = await receiver.waitFor("busy", count: 20, within: .seconds(60))
                    #expect(got.count == 20)
                    try await Task.sleep(for: .seconds(3))
                    let all = await receiver.received("busy")
                    #expect(all.count == 20, "no delivery sent twice")
                    #expect(Set(all.compactMap { $0.header("webhook-id") }).count == all.count)
                    let most = await receiver.mostInFlight("busy")
                    #expect(most <= 4 && most >= 2, "at most four in flight across both processes: \(most)")
                }
            }
        }
    }

    @Test("kill -9 of the server in the middle of a delivery loses nothing: the next server delivers every event, the interrupted one again with its webhook-id")
    func killedMidDelivery() async throws { try await HeavyTest.run { try await self.killedMidDeliveryAlone() } }

    private func killedMidDeliveryAlone() async throws {
        let (conninfo, tenant) = try await TestTenant.onScratchDatabase(prefix: "wk")
        let environment = [
            "PARLEY_WEBHOOK_DELIVERY": "on", "PARLEY_WEBHOOK_ALLOWED_HOSTS": "127.0.0.1",
            // Attempts time out after 6 s, so a lease lasts 12 s; the receiver holds the first
            // attempt 15 s, so only a takeover after the kill can deliver it.
            "PARLEY_WEBHOOK_TIMEOUT_SECONDS": "6", "PARLEY_WEBHOOK_RETRY_SCHEDULE": "0.5,0.5,0.5,0.5",
        ]
        try await WebhookReceiver.run { receiver in
            await receiver.plan("crm", [.hang(.seconds(15))])
            let first = try await ServerProcess.start(conninfo: conninfo, environment: environment)
            defer { first.killNow() }
            let integration = try await tenant.integrationToken(sub: "crm")
            let agent = try await tenant.token(sub: "agent-1", role: .agent, name: "Avery Agent")
            let (endpoint, firstRequest) = try await first.withAPIClient { client in
                #expect(try await client.json(.get, "/v1/me", token: agent).status == .ok)
                let endpoint = try await Self.endpoint(client, integration, url: receiver.url("crm"), types: ["request.created"])
                return (endpoint, try await ChatRequestTests.submitted(client, tenant, ChatRequestTests.visitor).id)
            }
            // The first delivery is in flight (the receiver holds it): more events commit, and
            // the server dies with them in every state — scheduled, claimed, or not yet seen.
            #expect(await receiver.waitFor("crm", count: 1).count == 1)
            let more = try await first.withAPIClient { client in
                var ids: [String] = []
                for index in 0..<5 {
                    var visitor = ChatRequestTests.visitor
                    visitor["email"] = "crash\(index)@example.com"
                    ids.append(try await ChatRequestTests.submitted(client, tenant, visitor).id)
                }
                return ids
            }
            let submitted = [firstRequest] + more
            await first.killHard()
            let killedAt = Date()
            let interrupted = try #require(await receiver.received("crm").first?.header("webhook-id"))

            let second = try await ServerProcess.start(conninfo: conninfo, environment: environment)
            defer { second.killNow() }
            var delivered: Set<String> = []
            let deadline = ContinuousClock.now + .seconds(40)
            while ContinuousClock.now < deadline, !delivered.isSuperset(of: submitted) {
                delivered = Set(try await receiver.received("crm").dropFirst().map { try Self.payload($0).string("id") ?? "" })
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(delivered.isSuperset(of: submitted), "every request.created reached the endpoint")
            let received = await receiver.received("crm")
            #expect(received.contains { $0.at > killedAt && $0.header("webhook-id") == interrupted },
                    "the next server sent the interrupted delivery again, once its lease ran out")
            let secret = try #require(endpoint.secret)
            #expect(received.allSatisfy { Self.verify($0, secret: secret) })
            // The log agrees: one delivery per event, all succeeded.
            try await second.withAPIClient { client in
                var log: [WebhookDelivery] = []
                let logDeadline = ContinuousClock.now + .seconds(20)
                while ContinuousClock.now < logDeadline {
                    log = try await client.json(.get, "/v1/webhooks/endpoints/\(endpoint.id)/deliveries", token: integration)
                        .page(of: WebhookDelivery.self).items
                    if log.count == submitted.count && log.allSatisfy({ $0.status == "succeeded" }) { break }
                    try await Task.sleep(for: .milliseconds(100))
                }
                #expect(log.count == submitted.count)
                #expect(log.allSatisfy { $0.status == "succeeded" })
            }
            await second.stop()
        }
    }
}


extension ISO8601DateFormatter {
    static func parseFractional(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.date(from: text)
    }
}
