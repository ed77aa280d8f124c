import DatabaseTesting
import Domain
import Foundation
import HummingbirdTesting
import ParleyTesting
import Testing

/// Webhook endpoints of a brokerage (issue 19, point 1): managed by its integrations and by the
/// operator, validated, limited, and kept to their brokerage.
@Suite("API: webhook endpoints")
struct WebhookEndpointTests {
    struct Endpoint: Decodable {
        let id: String
        let url: String
        let eventTypes: [String]
        let description: String
        let enabled: Bool
        let secret: String?
    }

    struct Secrets: Decodable {
        let secret: String
        let previousSecret: String?
        let previousSecretExpiresAt: String?
        let olderSecret: String?
        let olderSecretExpiresAt: String?
    }

    @Test("an integration creates, reads, changes, rotates and deletes its endpoints; the operator manages them too")
    func lifecycle() async throws {
        try await TestApp.run { app, client in
            let tenant = try await TestTenant.make(app.database, prefix: "wh")
            let integration = try await tenant.integrationToken(sub: "crm")
            let created = try await client.json(.post, "/v1/webhooks/endpoints", token: integration, body: [
                "url": "https://crm.example.com/parley", "eventTypes": ["request.created", "message.created", "request.created"],
                "description": "CRM leads",
            ])
            #expect(created.status == .created, "\(created.text)")
            let endpoint = try created.decode(Endpoint.self)
            #expect(created.headers[.location] == "/v1/webhooks/endpoints/\(endpoint.id)")
            #expect(endpoint.eventTypes == ["request.created", "message.created"])
            #expect(endpoint.enabled && endpoint.description == "CRM leads")
            let secret = try #require(endpoint.secret)
            #expect(secret.hasPrefix("whsec_"))

            // Read back: the secret only where asked for.
            let fetched = try await client.json(.get, "/v1/webhooks/endpoints/\(endpoint.id)", token: integration).decode(Endpoint.self)
            #expect(fetched.url == "https://crm.example.com/parley" && fetched.secret == nil)
            #expect(try await client.json(.get, "/v1/webhooks/endpoints/\(endpoint.id)/secret", token: integration)
                .decode(Secrets.self).secret == secret)

            // Change: only the given fields; disabling and enabling.
            let changed = try await client.json(.patch, "/v1/webhooks/endpoints/\(endpoint.id)", token: integration, body: [
                "eventTypes": ["request.updated"], "enabled": false,
            ])
            #expect(changed.status == .ok, "\(changed.text)")
            let disabled = try changed.decode(Endpoint.self)
            #expect(disabled.eventTypes == ["request.updated"] && !disabled.enabled && disabled.url == "https://crm.example.com/parley")

            // Rotation: the old secret signs beside the new one for a day, or stops at once.
            let rotated = try await client.json(.post, "/v1/webhooks/endpoints/\(endpoint.id)/rotate-secret", token: integration)
                .decode(Secrets.self)
            #expect(rotated.secret != secret && rotated.secret.hasPrefix("whsec_"))
            #expect(rotated.previousSecret == secret && rotated.previousSecretExpiresAt != nil)
            // A second rotation while the first's overlap runs (a daily rotation a little early):
            // the first's old secret keeps signing until the end it was given, beside the
            // second's. 0 retires them all at once.
            let again = try await client.json(.post, "/v1/webhooks/endpoints/\(endpoint.id)/rotate-secret", token: integration)
            #expect(again.status == .ok, "\(again.text)")
            let kept = try await client.json(.get, "/v1/webhooks/endpoints/\(endpoint.id)/secret", token: integration).decode(Secrets.self)
            #expect(kept.previousSecret == rotated.secret && kept.olderSecret == secret)
            #expect(kept.olderSecretExpiresAt == rotated.previousSecretExpiresAt)
            let cut = try await client.json(.post, "/v1/webhooks/endpoints/\(endpoint.id)/rotate-secret?overlapSeconds=0", token: integration)
                .decode(Secrets.self)
            #expect(cut.previousSecret == nil && cut.olderSecret == nil && cut.secret != kept.secret)
            #expect(try await client.json(.post, "/v1/webhooks/endpoints/\(endpoint.id)/rotate-secret?overlapSeconds=-1", token: integration)
                .status == .unprocessableContent)

            // The operator sees and manages the same endpoints, by the brokerage's slug.
            let byOperator = "/v1/tenants/\(tenant.slug.rawValue)/webhooks/endpoints"
            let listed = try await client.json(.get, byOperator, token: app.operatorKey).page(of: Endpoint.self)
            #expect(listed.items.map(\.id) == [endpoint.id])
            let added = try await client.json(.post, byOperator, token: app.operatorKey, body: [
                "url": "http://127.0.0.1:9/hook", "eventTypes": ["contact.created"],
            ])
            #expect(added.status == .created, "\(added.text)")
            #expect(added.headers[.location]?.hasPrefix(byOperator + "/") == true)
            #expect(try await client.json(.get, "/v1/webhooks/endpoints", token: integration).page(of: Endpoint.self).items.count == 2)
            #expect(try await client.json(.get, byOperator, token: integration).status == .unauthorized)
            #expect(try await client.json(.get, "/v1/tenants/nosuchbrokerage/webhooks/endpoints", token: app.operatorKey).code
                == "tenant_not_found")

            // Delete: 204, then gone.
            #expect(try await client.json(.delete, "/v1/webhooks/endpoints/\(endpoint.id)", token: integration).status == .noContent)
            let gone = try await client.json(.get, "/v1/webhooks/endpoints/\(endpoint.id)", token: integration)
            #expect(gone.status == .notFound && gone.code == "webhook_endpoint_not_found")
            #expect(try await client.json(.delete, "/v1/webhooks/endpoints/\(endpoint.id)", token: integration).status == .notFound)
        }
    }

    @Test("bad URLs, unknown event types and the per-brokerage limit are refused; tokens keep to their side and brokerage")
    func refusals() async throws {
        try await TestApp.run { app, client in
            let tenant = try await TestTenant.make(app.database, prefix: "whr")
            let integration = try await tenant.integrationToken()
            func problem(_ body: [String: Any]) async throws -> APIResponse.Problem? {
                let answer = try await client.json(.post, "/v1/webhooks/endpoints", token: integration, body: body)
                #expect(answer.status == .unprocessableContent, "\(answer.text)")
                return answer.problem
            }
            #expect(try await problem(["url": "http://crm.example.com/", "eventTypes": ["message.created"]])?.errors?.first?.code
                == "https_required")
            for blocked in ["https://10.0.0.5/hook", "https://169.254.169.254/latest/meta-data/", "https://localhost/x", "http://[::1]/x"] {
                let found = try await problem(["url": blocked, "eventTypes": ["message.created"]])
                #expect(found?.errors?.first.map { [$0.field, $0.code] } == ["url", blocked.hasPrefix("http:") ? "https_required" : "blocked_address"],
                        "\(blocked)")
            }
            let unknown = try await problem(["url": "https://crm.example.com/", "eventTypes": ["message.created", "message.deleted"]])
            #expect(unknown?.errors?.map { [$0.field, $0.code] } == [["eventTypes[1]", "unknown_event_type"]])
            #expect(Set(try await problem([:])?.fields ?? []) == ["url", "eventTypes"])
            #expect(try await problem(["url": "https://crm.example.com/", "eventTypes": []])?.fields == ["eventTypes"])
            // At most 20 as sent, duplicates counted (schemathesis sent 25 of which 4 were distinct).
            let many = try await problem(["url": "https://crm.example.com/", "eventTypes": Array(repeating: "message.read", count: 21)])
            #expect(many?.errors?.map { [$0.field, $0.code] } == [["eventTypes", "too_many"]])
            let hostile = try await problem([
                "url": "https://crm.example.com/", "eventTypes": ["message.created"], "description": String(repeating: "e\u{301}", count: 300),
            ])
            #expect(hostile?.errors?.map { [$0.field, $0.code] } == [["description", "too_long"]])
            #expect(try await problem(["url": "https://crm.example.com/", "eventTypes": ["message.created"], "description": "a\u{0}b"])?
                .errors?.first?.code == "invalid_characters")
            let wrongType = try await client.json(.post, "/v1/webhooks/endpoints", token: integration, body: ["url": 12])
            #expect(wrongType.status == .badRequest || wrongType.status == .unprocessableContent)

            // At most 20 per brokerage.
            for index in 0..<20 {
                let made = try await client.json(.post, "/v1/webhooks/endpoints", token: integration, body: [
                    "url": "https://crm.example.com/\(index)", "eventTypes": ["message.created"],
                ])
                #expect(made.status == .created, "\(made.text)")
            }
            let over = try await client.json(.post, "/v1/webhooks/endpoints", token: integration, body: [
                "url": "https://crm.example.com/21", "eventTypes": ["message.created"],
            ])
            #expect(over.status == .conflict && over.code == "webhook_endpoint_limit")

            // A user token is refused; another brokerage's integration sees none of these.
            let agent = try await tenant.token(sub: "agent-1")
            #expect(try await client.json(.get, "/v1/webhooks/endpoints", token: agent).code == "integration_only")
            let mine = try await client.json(.get, "/v1/webhooks/endpoints", token: integration).page(of: Endpoint.self).items
            let other = try await TestTenant.make(app.database, prefix: "whx")
            let otherIntegration = try await other.integrationToken()
            #expect(try await client.json(.get, "/v1/webhooks/endpoints", token: otherIntegration).page(of: Endpoint.self).items.isEmpty)
            let first = try #require(mine.first)
            #expect(try await client.json(.get, "/v1/webhooks/endpoints/\(first.id)", token: otherIntegration).status == .notFound)
            #expect(try await client.json(.delete, "/v1/webhooks/endpoints/\(first.id)", token: otherIntegration).status == .notFound)
            #expect(try await client.json(.get, "/v1/webhooks/endpoints/not-a-uuid", token: integration).status == .notFound)
        }
    }
}
