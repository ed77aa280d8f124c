import Domain
import Foundation
import JWTKit
import Logging

/// Verifies user tokens against the signing keys of the tenant they name.
///
/// The tenant comes only from the token's `tid`, and the signature must verify with that
/// tenant's own keys, so a token of brokerage A can never act in brokerage B. Keys are cached
/// per tenant for `cacheTTL`; a token that fails against a cached entry older than a second is
/// retried once with fresh keys, so a rotation in another process is seen at once.
public actor TokenVerifier {
    struct Entry {
        let tenant: Tenant?
        let keys: JWTKeyCollection?
        let loadedAt: ContinuousClock.Instant
    }

    let tenants: TenantStore
    let requests: ChatRequestStore?
    let cacheTTL: Duration
    private var cache: [String: Entry] = [:]

    public init(tenants: TenantStore, requests: ChatRequestStore?, cacheTTL: Duration = .seconds(10)) {
        self.tenants = tenants
        self.requests = requests
        self.cacheTTL = cacheTTL
    }

    /// The caller for a bearer token, or a 401 problem saying what is wrong with it.
    ///
    /// A visitor's token (issued with their chat request) acts as a user only while that request
    /// is pending or accepted; `visitorPolling` lets it still read its own request's status
    /// after a decline or expiry (the public status endpoint).
    public func verify(_ token: String, visitorPolling: Bool = false) async throws -> Caller {
        try await verifyWithExpiry(token, visitorPolling: visitorPolling).caller
    }

    /// Like `verify`, with the token's expiry (a stream closes when it passes).
    public func verifyWithExpiry(_ token: String, visitorPolling: Bool = false) async throws -> (caller: Caller, expires: Date) {
        guard let hint = Self.unverifiedTenant(token), let slug = TenantSlug(hint) else {
            throw Problem.unauthorized(code: "invalid_token", detail: "the token is malformed or names no valid tenant")
        }
        var entry = try await entry(for: slug, fresh: false)
        var claims: UserClaims
        do {
            claims = try await verifySignature(token, entry)
        } catch {
            guard ContinuousClock.now - entry.loadedAt > .seconds(1) else { throw error }
            entry = try await self.entry(for: slug, fresh: true)
            claims = try await verifySignature(token, entry)
        }
        guard let tenant = entry.tenant, claims.tid == slug.rawValue else {
            throw Problem.unauthorized(code: "invalid_token", detail: "the token's signature does not verify")
        }
        guard claims.exp.value > Date() else {
            throw Problem.unauthorized(code: "token_expired", detail: "the token has expired; get a new one from your brokerage")
        }
        guard let role = Caller.Role(rawValue: claims.role) else {
            throw Problem.unauthorized(code: "invalid_token", detail: "the token's role must be 'agent' or 'client'")
        }
        guard Self.isValidText(claims.sub, max: 200) else {
            throw Problem.unauthorized(code: "invalid_token", detail: "the token's sub must be 1–200 characters")
        }
        guard Self.isValidText(claims.name, max: 200) else {
            throw Problem.unauthorized(code: "invalid_token", detail: "the token's name must be 1–200 characters")
        }
        let caller = Caller(tenant: tenant, userID: claims.sub, role: role, name: claims.name)
        if !visitorPolling, role == .client, let requests, try await requests.visitorMayAct(tenant, userID: claims.sub) == false {
            throw Problem.unauthorized(code: "request_closed", detail: "this visitor token's chat request was declined or has expired")
        }
        return (caller, claims.exp.value)
    }

    /// The tenant for a public URL, from the same short cache (unknown slugs are cached too, so
    /// a flood naming no tenant does not reach the database).
    public func tenant(_ slug: TenantSlug) async throws -> Tenant? {
        try await entry(for: slug, fresh: false).tenant
    }

    /// Forgets a tenant's keys (after a rotation in this process).
    public func invalidate(_ slug: TenantSlug) {
        cache[slug.rawValue] = nil
    }

    private func verifySignature(_ token: String, _ entry: Entry) async throws -> UserClaims {
        guard let keys = entry.keys else {
            throw Problem.unauthorized(code: "invalid_token", detail: "the token's signature does not verify")
        }
        do {
            return try await keys.verify(token, as: UserClaims.self, iteratingKeys: true)
        } catch {
            throw Problem.unauthorized(code: "invalid_token", detail: "the token's signature does not verify")
        }
    }

    private func entry(for slug: TenantSlug, fresh: Bool) async throws -> Entry {
        if !fresh, let entry = cache[slug.rawValue], ContinuousClock.now - entry.loadedAt < cacheTTL {
            return entry
        }
        let entry: Entry
        if let tenant = try await tenants.find(slug) {
            let keys = JWTKeyCollection()
            for key in try await tenants.activeKeys(tenant) {
                await keys.add(hmac: HMACKey(from: key.secret), digestAlgorithm: .sha256, kid: JWKIdentifier(string: key.kid))
            }
            entry = Entry(tenant: tenant, keys: keys, loadedAt: .now)
        } else {
            // Remembered too, so a flood of tokens naming no tenant does not reach the database.
            entry = Entry(tenant: nil, keys: nil, loadedAt: .now)
        }
        if cache.count >= 10_000 {
            // Names of no tenant (or stale entries) pile up under a flood of made-up slugs.
            let now = ContinuousClock.now
            cache = cache.filter { now - $0.value.loadedAt < cacheTTL }
            if cache.count >= 10_000 { cache = cache.filter { $0.value.tenant != nil } }
        }
        cache[slug.rawValue] = entry
        return entry
    }

    /// Reads `tid` from the payload without verifying, only to choose whose keys to verify with.
    static func unverifiedTenant(_ token: String) -> String? {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[1].utf8.count < 8192, let payload = Base64URL.decode(String(parts[1])),
            let object = try? JSONSerialization.jsonObject(with: Data(payload)) as? [String: Any]
        else { return nil }
        return object["tid"] as? String
    }

    static func isValidText(_ text: String, max: Int) -> Bool {
        !text.isEmpty && text.count <= max && !text.unicodeScalars.contains { $0.value < 0x20 }
    }
}
