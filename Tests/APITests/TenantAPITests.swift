import API
import Domain
import Foundation
import HTTPTypes
import HummingbirdTesting
import ParleyTesting
import Testing

@Suite("API: operator endpoints")
struct TenantAPITests {
    static func slug() -> String { "op" + String(UUID().uuidString.lowercased().prefix(8)) }

    @Test("the operator key guards /v1/tenants")
    func operatorKeyRequired() async throws {
        try await TestApp.run { app, client in
            let missing = try await client.send(.get, "/v1/tenants")
            #expect(missing.status == .unauthorized)
            #expect(missing.code == "missing_token")
            let wrong = try await client.send(.get, "/v1/tenants", token: "not-the-key")
            #expect(wrong.status == .unauthorized)
            #expect(wrong.code == "invalid_operator_key")
            // A user token is not an operator key either.
            let tenant = try await TestTenant.make(app.database)
            let user = try await client.send(.get, "/v1/tenants", token: try await tenant.token(sub: "u"))
            #expect(user.status == .unauthorized)
        }
    }

    @Test("POST /v1/tenants provisions a tenant whose signing key mints working tokens")
    func create() async throws {
        try await TestApp.run { app, client in
            let slug = Self.slug()
            let response = try await client.send(.post, "/v1/tenants", token: app.operatorKey, json: #"{"slug":"\#(slug)","name":"Harbor Homes"}"#)
            #expect(response.status == .created)
            #expect(response.headers[.location] == "/v1/tenants/\(slug)")
            let body = try response.decode(CreatedTenantBody.self)
            #expect(body.tenant.slug == slug)
            #expect(body.tenant.name == "Harbor Homes")
            #expect(body.tenant.schema == "t_\(slug)")
            #expect(body.tenant.settings == TenantSettings())
            let secret = try #require(Base64URL.decode(body.signingKey.secret))
            #expect(secret.count == 32)
            #expect(body.signingKey.algorithm == "HS256")

            let kid = body.signingKey.kid
            let tenantSlug = try #require(TenantSlug(slug))
            let signingKey = SigningKey(kid: kid, secret: secret, createdAt: Date(), retiredAt: nil)
            let token = try await TokenIssuer.sign(tenant: tenantSlug, key: signingKey, sub: "a1", role: .agent, name: "A")
            let me = try await client.send(.get, "/v1/me", token: token)
            #expect(me.status == .ok)
            #expect(try me.decode(MeBody.self).tenant == slug)

            let again = try await client.send(.post, "/v1/tenants", token: app.operatorKey, json: #"{"slug":"\#(slug)","name":"Again"}"#)
            #expect(again.status == .conflict)
            #expect(again.code == "tenant_exists")
        }
    }

    @Test("invalid slugs and names are 422 with every bad field listed, and never reach SQL")
    func validation() async throws {
        try await TestApp.run { app, client in
            for bad in ["A", "UPPER", "x", "has space", "semi;colon", "quote'd", "émoji🏡", String(repeating: "a", count: 41), "t_\"x"] {
                let json = String(decoding: try JSONEncoder().encode(["slug": bad, "name": ""]), as: UTF8.self)
                let response = try await client.send(.post, "/v1/tenants", token: app.operatorKey, json: json)
                #expect(response.status == .unprocessableContent, "\(bad)")
                let problem = try #require(response.problem, "\(bad)")
                #expect(problem.code == "validation_failed")
                #expect(Set(problem.fields) == ["slug", "name"], "\(bad)")
            }
            let malformed = try await client.send(.post, "/v1/tenants", token: app.operatorKey, json: "{not json")
            #expect(malformed.status == .badRequest)
            #expect(malformed.code == "malformed_json")
            let wrongType = try await client.send(.post, "/v1/tenants", token: app.operatorKey, json: #"{"slug": 12, "name": "X"}"#)
            #expect(wrongType.status == .unprocessableContent)
        }
    }

    @Test("GET /v1/tenants pages by slug with a cursor")
    func list() async throws {
        try await TestApp.run { app, client in
            _ = try await TestTenant.make(app.database)
            _ = try await TestTenant.make(app.database)
            _ = try await TestTenant.make(app.database)
            var seen: [String] = []
            var cursor: String?
            repeat {
                let uri = "/v1/tenants?limit=2" + (cursor.map { "&after=\($0)" } ?? "")
                let page = try await client.send(.get, uri, token: app.operatorKey).page(of: TenantBody.self)
                let items = page.items.map(\.slug)
                #expect(items.count <= 2)
                seen += items
                cursor = page.nextCursor
            } while cursor != nil
            #expect(seen == seen.sorted())
            #expect(Set(seen).count == seen.count)
            #expect(seen.count >= 3)
            let tooMany = try await client.send(.get, "/v1/tenants?limit=500", token: app.operatorKey)
            #expect(tooMany.status == .unprocessableContent)
        }
    }

    @Test("key rotation: old and new keys both verify until the old one is retired")
    func rotation() async throws {
        try await TestApp.run { app, client in
            let tenant = try await TestTenant.make(app.database)
            let oldToken = try await tenant.token(sub: "u")
            let created = try await client.send(.post, "/v1/tenants/\(tenant.slug)/signing-keys", token: app.operatorKey)
            #expect(created.status == .created)
            let key = try created.decode(SigningKeyBody.self)
            let kid = key.kid
            let secret = try #require(Base64URL.decode(key.secret))
            let newKey = SigningKey(kid: kid, secret: secret, createdAt: Date(), retiredAt: nil)
            let newToken = try await TokenIssuer.sign(tenant: tenant.slug, key: newKey, sub: "u", role: .agent, name: "U")
            #expect(try await client.send(.get, "/v1/me", token: oldToken).status == .ok)
            #expect(try await client.send(.get, "/v1/me", token: newToken).status == .ok)

            let retired = try await client.send(.delete, "/v1/tenants/\(tenant.slug)/signing-keys/\(tenant.key.kid)", token: app.operatorKey)
            #expect(retired.status == .noContent)
            #expect(try await client.send(.get, "/v1/me", token: oldToken).status == .unauthorized)
            #expect(try await client.send(.get, "/v1/me", token: newToken).status == .ok)

            let last = try await client.send(.delete, "/v1/tenants/\(tenant.slug)/signing-keys/\(kid)", token: app.operatorKey)
            #expect(last.status == .conflict)
            #expect(last.code == "last_signing_key")
            let unknown = try await client.send(.post, "/v1/tenants/nosuchtenant/signing-keys", token: app.operatorKey)
            #expect(unknown.status == .notFound)
            #expect(unknown.code == "tenant_not_found")
        }
    }
    @Test("a key retired or a brokerage changed by another process is seen at once, not after the key cache's lifetime")
    func changesElsewhereAreSeen() async throws {
        try await TestApp.run { app, client in
            let tenant = try await TestTenant.make(app.database)
            let token = try await tenant.token(sub: "u")
            #expect(try await client.send(.get, "/v1/me", token: token).status == .ok)  // the keys are cached now
            // Another process (here: plain SQL, as an operator's script would) rotates the key.
            try await app.database.withTransaction { tx in
                try await tx.query("""
                    INSERT INTO parley.tenant_signing_keys (kid, tenant_id, secret)
                    SELECT 'other-process-key', id, decode(md5('a') || md5('b'), 'hex') FROM parley.tenants WHERE slug = $1
                    """, [tenant.slug.rawValue])
                try await tx.query("UPDATE parley.tenant_signing_keys SET retired_at = now() WHERE kid = $1", [tenant.key.kid])
            }
            let clock = ContinuousClock()
            let started = clock.now
            var status = HTTPResponse.Status.ok
            while clock.now - started < .seconds(3) {
                status = try await client.send(.get, "/v1/me", token: token).status
                if status == .unauthorized { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(status == .unauthorized, "a retired key still verified 3 s later")
        }
    }
}
