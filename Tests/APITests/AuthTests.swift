import API
import Domain
import Foundation
import HTTPTypes
import HummingbirdTesting
import JWTKit
import ParleyTesting
import Testing

@Suite("API: user tokens")
struct AuthTests {
    @Test("a valid token: GET /v1/me returns tenant, sub, role and name")
    func me() async throws {
        try await TestApp.run { app, client in
            let tenant = try await TestTenant.make(app.database)
            let token = try await tenant.token(sub: "agent-7", role: .agent, name: "Ava Agent")
            let response = try await client.send(.get, "/v1/me", token: token)
            #expect(response.status == .ok)
            let body = try response.decode(MeBody.self)
            #expect(body.tenant == tenant.slug.rawValue)
            #expect(body.tenantName == tenant.tenant.displayName)
            #expect(body.sub == "agent-7")
            #expect(body.role == .agent)
            #expect(body.name == "Ava Agent")
            // The name as a person reads it: spaces around it are not part of it (they would
            // be stored as the user's name for every other member to see).
            let spaced = try await tenant.token(sub: "agent-8", role: .agent, name: "  Ben Agent \t")
            #expect(try await client.send(.get, "/v1/me", token: spaced).decode(MeBody.self).name == "Ben Agent")
        }
    }

    @Test("missing, malformed, expired, foreign-signed and badly-claimed tokens are 401 problems")
    func rejected() async throws {
        try await TestApp.run { app, client in
            let a = try await TestTenant.make(app.database)
            let b = try await TestTenant.make(app.database)
            let expired = try await a.token(sub: "u", now: Date().addingTimeInterval(-7200))
            // Signed with B's key but claiming tenant A.
            let forged = try await TokenIssuer.sign(tenant: a.slug, key: b.key, sub: "u", role: .agent, name: "U")
            let badRole = try await Self.sign(a, claims: ["tid": a.slug.rawValue, "sub": "u", "role": "admin", "name": "U"])
            let badTenant = try await Self.sign(a, claims: ["tid": "x'; DROP SCHEMA parley; --", "sub": "u", "role": "agent", "name": "U"])
            let noTenant = try await Self.sign(a, claims: ["tid": "nosuchtenant", "sub": "u", "role": "agent", "name": "U"])
            let emptySub = try await Self.sign(a, claims: ["tid": a.slug.rawValue, "sub": "", "role": "agent", "name": "U"])
            let blankName = try await Self.sign(a, claims: ["tid": a.slug.rawValue, "sub": "u", "role": "agent", "name": "   "])
            let cases: [(String?, String, String)] = [
                (nil, "missing_token", "no header"),
                ("not-a-jwt", "invalid_token", "malformed"),
                ("a.b.c", "invalid_token", "malformed parts"),
                (expired, "token_expired", "expired"),
                (forged, "invalid_token", "signed by another tenant"),
                (badRole, "invalid_token", "role admin"),
                (badTenant, "invalid_token", "tid not a slug"),
                (noTenant, "invalid_token", "unknown tenant"),
                (emptySub, "invalid_token", "empty sub"),
                (blankName, "invalid_token", "a name of spaces"),
            ]
            for (token, code, label) in cases {
                let response = try await client.send(.get, "/v1/me", token: token)
                #expect(response.status == .unauthorized, "\(label)")
                #expect(response.headers[.contentType] == "application/problem+json", "\(label)")
                #expect(response.code == code, "\(label)")
                #expect(response.headers[.wwwAuthenticate] == "Bearer", "\(label)")
            }
        }
    }

    @Test("the Authorization header: the scheme in any case, spaces and tabs around the token; other schemes and forms are 401")
    func authorizationForms() async throws {
        try await TestApp.run { app, client in
            let tenant = try await TestTenant.make(app.database)
            let token = try await tenant.token(sub: "agent-7", role: .agent, name: "Ava Agent")
            for header in ["Bearer \(token)", "bearer \(token)", "BEARER \(token)", "Bearer   \(token)", "Bearer \(token) \t "] {
                var headers = HTTPFields()
                headers[.authorization] = header
                let response = try await client.send(.get, "/v1/me", headers: headers)
                #expect(response.status == .ok, "\(header.prefix(12))…")
            }
            for header in ["Basic \(token)", "Bearer", "Bearer    ", "Bearer\t\(token)", "Bearer_\(token)", "Bearerx \(token)", "\(token)"] {
                var headers = HTTPFields()
                headers[.authorization] = header
                let response = try await client.send(.get, "/v1/me", headers: headers)
                #expect(response.status == .unauthorized, "\(header.prefix(12))…")
                #expect(response.code == "missing_token", "\(header.prefix(12))…")
            }
            // A token whose payload is not what unverifiedTenant expects: a JSON array, a tid of
            // another type, three dots.
            for bad in ["\(Base64URL.encode(Array("{}".utf8))).\(Base64URL.encode(Array("[1]".utf8))).x",
                        "\(Base64URL.encode(Array("{}".utf8))).\(Base64URL.encode(Array(#"{"tid":7}"#.utf8))).x", token + ".x"] {
                let response = try await client.send(.get, "/v1/me", token: bad)
                #expect(response.status == .unauthorized)
                #expect(response.code == "invalid_token")
            }
        }
    }

    @Test("a token of tenant A is answered as tenant A only")
    func tenantBoundary() async throws {
        try await TestApp.run { app, client in
            let a = try await TestTenant.make(app.database)
            let b = try await TestTenant.make(app.database)
            let asA = try await client.send(.get, "/v1/me", token: try await a.token(sub: "same-user")).decode(MeBody.self)
            let asB = try await client.send(.get, "/v1/me", token: try await b.token(sub: "same-user")).decode(MeBody.self)
            #expect(asA.tenant == a.slug.rawValue)
            #expect(asB.tenant == b.slug.rawValue)
        }
    }

    /// Signs arbitrary claims with the tenant's key (to build tokens the issuer would refuse to).
    static func sign(_ tenant: TestTenant, claims: [String: String]) async throws -> String {
        struct Loose: JWTPayload {
            let tid: String, sub: String, role: String, name: String
            let exp: ExpirationClaim
            func verify(using algorithm: some JWTAlgorithm) async throws {}
        }
        let keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: tenant.key.secret), digestAlgorithm: .sha256, kid: JWKIdentifier(string: tenant.key.kid))
        let payload = Loose(
            tid: claims["tid"] ?? "", sub: claims["sub"] ?? "", role: claims["role"] ?? "", name: claims["name"] ?? "",
            exp: ExpirationClaim(value: Date().addingTimeInterval(600)))
        return try await keys.sign(payload, kid: JWKIdentifier(string: tenant.key.kid))
    }
}
