import Domain
import Foundation
import JWTKit

/// Mints user tokens the way a brokerage backend would: for `parley token`, the demo, tests.
public enum TokenIssuer {
    public static func sign(
        tenant: TenantSlug, key: SigningKey, sub: String, role: Caller.Role, name: String,
        ttl: Duration = .seconds(3600), now: Date = Date()
    ) async throws -> String {
        try await sign(tenant: tenant, key: key, sub: sub, roleName: role.rawValue, name: name, ttl: ttl, now: now)
    }

    /// A directory integration's token (`role: integration`; `sub` names the integration).
    public static func signIntegration(
        tenant: TenantSlug, key: SigningKey, sub: String, ttl: Duration = .seconds(3600), now: Date = Date()
    ) async throws -> String {
        try await sign(tenant: tenant, key: key, sub: sub, roleName: TokenVerifier.integrationRole, name: sub, ttl: ttl, now: now)
    }

    static func sign(
        tenant: TenantSlug, key: SigningKey, sub: String, roleName: String, name: String, ttl: Duration, now: Date
    ) async throws -> String {
        let keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: key.secret), digestAlgorithm: .sha256, kid: JWKIdentifier(string: key.kid))
        let claims = UserClaims(
            tid: tenant.rawValue, sub: sub, role: roleName, name: name,
            expires: now.addingTimeInterval(Double(ttl.components.seconds)), issuedAt: now)
        return try await keys.sign(claims, kid: JWKIdentifier(string: key.kid))
    }
}
