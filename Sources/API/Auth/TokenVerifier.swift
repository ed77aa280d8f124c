import Domain
import Foundation
import JWTKit
import Logging

/// Verifies user tokens against the signing keys of the tenant they name.
///
/// The tenant comes only from the token's `tid`, and the signature must verify with that
/// tenant's own keys, so a token of brokerage A can never act in brokerage B. A tenant and its
/// keys are cached until they change: every change to a tenant's row or keys, in any process,
/// is announced by a trigger (`parley_tenant_changed`) and drops the entry here; when the LISTEN
/// connection (re)connects, changes may have been missed and everything is dropped. `cacheTTL`
/// (5 minutes) is only a safety net (docs/decisions/0022-tenant-cache.md). A token that fails
/// against a cached entry older than a second is retried once with fresh keys, so a key added
/// in another process verifies even before its announcement arrives.
///
/// Nothing that cannot be authenticated costs a database transaction per request: a name of no
/// tenant is answered from a directory of every tenant's slug (reloaded when asked for a name
/// it lacks), loads of one tenant's keys are shared by everyone who waits for them (single
/// flight), and loads made only because something was missing are rate limited (below), so a
/// flood of made-up `tid`s or of badly signed tokens reaches the database a few times, not per
/// request.
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
    /// Loads of a tenant's entry in flight: concurrent askers wait for the same one.
    private var loads: [String: Task<Entry, any Error>] = [:]
    /// Counts changes announced: a load that started before one is used once, not cached.
    private var changes = 0
    /// Every tenant's slug, as last loaded.
    private var directory: Set<String> = []
    private var directoryLoad: Task<Set<String>, any Error>?
    /// Loads made only because something was not found (a slug not in the directory, a token
    /// whose signature failed with cached keys) draw on a token bucket: `speculativeBurst` at
    /// most, refilled one per `refillInterval`. A load that finds what was missing gives its
    /// token back and resets the interval to 1 s; one that does not doubles it (up to 60 s).
    /// So real newcomers are never held up, and a flood of made-up names or forged signatures
    /// reaches the database a handful of times a minute at most.
    private var allowance: Double
    private var allowanceAt = ContinuousClock.now
    private var refillInterval: Duration = .seconds(1)
    let speculativeBurst: Double

    public init(tenants: TenantStore, requests: ChatRequestStore?, cacheTTL: Duration = .seconds(300), speculativeBurst: Int = 3) {
        self.tenants = tenants
        self.requests = requests
        self.cacheTTL = cacheTTL
        self.speculativeBurst = Double(speculativeBurst)
        self.allowance = Double(speculativeBurst)
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
        let (tenant, claims) = try await authenticate(token)
        if claims.role == Self.integrationRole {
            throw Problem.forbidden(code: "integration_token", detail: "an integration token serves the integration API only (directory, webhooks); use a user token")
        }
        guard let role = Caller.Role(rawValue: claims.role) else {
            throw Problem.unauthorized(code: "invalid_token", detail: "the token's role must be 'agent', 'client' or 'integration'")
        }
        // The name as a person reads it: spaces around it are not part of it (it is stored as the
        // user's name, which every other member sees).
        let name = claims.name.trimmingCharacters(in: .whitespacesAndNewlines)
        guard Self.isValidText(name, max: 200) else {
            throw Problem.unauthorized(code: "invalid_token", detail: "the token's name must be 1–200 characters, not only spaces")
        }
        let caller = Caller(tenant: tenant, userID: claims.sub, role: role, name: name)
        if !visitorPolling, role == .client, let requests, try await requests.visitorMayAct(tenant, userID: claims.sub) == false {
            throw Problem.unauthorized(code: "request_closed", detail: "this visitor token's chat request was declined or has expired")
        }
        return (caller, claims.exp.value)
    }

    /// The `role` claim of a directory integration's token (server to server, issue 16).
    public static let integrationRole = "integration"

    /// The integration for a bearer token of role `integration`; a user token is 403
    /// `integration_only`, anything that does not verify a 401 as for users.
    public func verifyIntegration(_ token: String) async throws -> Integration {
        let (tenant, claims) = try await authenticate(token)
        guard claims.role == Self.integrationRole else {
            throw Problem.forbidden(code: "integration_only", detail: "this endpoint needs a token of role 'integration' from the brokerage's backend")
        }
        return Integration(tenant: tenant, name: claims.sub)
    }

    /// Signature (against the keys of the tenant the token names), tenant, expiry and `sub`.
    private func authenticate(_ token: String) async throws -> (Tenant, UserClaims) {
        guard let hint = Self.unverifiedTenant(token), let slug = TenantSlug(hint) else {
            throw Problem.unauthorized(code: "invalid_token", detail: "the token is malformed or names no valid tenant")
        }
        var entry = try await entry(for: slug, fresh: false)
        var claims: UserClaims
        do {
            claims = try await verifySignature(token, entry)
        } catch {
            guard ContinuousClock.now - entry.loadedAt > .seconds(1), takeSpeculativeLoad() else { throw error }
            entry = try await self.entry(for: slug, fresh: true)
            do {
                claims = try await verifySignature(token, entry)
            } catch {
                speculativeLoad(helped: false)
                throw error
            }
            speculativeLoad(helped: true)
        }
        guard let tenant = entry.tenant, claims.tid == slug.rawValue else {
            throw Problem.unauthorized(code: "invalid_token", detail: "the token's signature does not verify")
        }
        // Only an authenticated caller learns that the brokerage is down.
        guard tenant.isServable else { throw Problem.tenantUnavailable }
        guard claims.exp.value > Date() else {
            throw Problem.unauthorized(code: "token_expired", detail: "the token has expired; get a new one from your brokerage")
        }
        guard Self.isValidText(claims.sub, max: 200) else {
            throw Problem.unauthorized(code: "invalid_token", detail: "the token's sub must be 1–200 characters")
        }
        // '@…' names agents of other brokerages in shared sessions (decision 0028): a token of
        // this brokerage must never act as one of them.
        guard !RemoteMember.isRemote(claims.sub) else {
            throw Problem.unauthorized(code: "invalid_token", detail: "a sub beginning with '@' is reserved for agents of other brokerages")
        }
        return (tenant, claims)
    }

    /// The tenant for a public URL, from the same short cache (unknown slugs are cached too, so
    /// a flood naming no tenant does not reach the database).
    /// A brokerage whose schema lacks a migration is a 503 `tenant_unavailable`.
    public func tenant(_ slug: TenantSlug) async throws -> Tenant? {
        let tenant = try await entry(for: slug, fresh: false).tenant
        if let tenant, !tenant.isServable { throw Problem.tenantUnavailable }
        return tenant
    }

    /// A tenant was created (in any process): its slug joins the directory. Nil: creations may
    /// have been missed (the LISTEN connection was away), so the next miss may reload at once.
    public func tenantCreated(_ slug: String?) {
        if let slug {
            directory.insert(slug)
            forget(slug)  // it was cached as "no such tenant"
        } else {
            allowance = max(allowance, 1)
            refillInterval = .seconds(1)
        }
    }

    /// A tenant's row or keys changed (in any process): what was cached of it is dropped. Nil:
    /// changes may have been missed (the LISTEN connection was away), so everything is.
    public func tenantChanged(_ slug: String?) {
        if let slug {
            forget(slug)
        } else {
            changes += 1
            cache.removeAll()
            loads.removeAll()
        }
    }

    /// Forgets a tenant's keys (after a rotation in this process) and knows the tenant exists
    /// (after it was created here).
    public func invalidate(_ slug: TenantSlug) {
        forget(slug.rawValue)
        directory.insert(slug.rawValue)
    }

    private func forget(_ slug: String) {
        changes += 1
        cache[slug] = nil
        loads[slug] = nil  // askers from now on start a load that sees the change
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
        guard try await mayExist(slug) else { return Entry(tenant: nil, keys: nil, loadedAt: .now) }
        if let load = loads[slug.rawValue] { return try await load.value }
        let load = Task { [tenants] () throws -> Entry in
            guard let (tenant, active) = try await tenants.findWithKeys(slug) else { return Entry(tenant: nil, keys: nil, loadedAt: .now) }
            let keys = JWTKeyCollection()
            for key in active {
                await keys.add(hmac: HMACKey(from: key.secret), digestAlgorithm: .sha256, kid: JWKIdentifier(string: key.kid))
            }
            return Entry(tenant: tenant, keys: keys, loadedAt: .now)
        }
        loads[slug.rawValue] = load
        let changesBefore = changes
        let result = await load.result
        if loads[slug.rawValue] == load { loads[slug.rawValue] = nil }  // also when it failed
        let entry = try result.get()
        // Read before a change was announced: good for this request, not for the cache.
        guard changes == changesBefore else { return entry }
        if cache.count >= 10_000 {
            let now = ContinuousClock.now
            cache = cache.filter { now - $0.value.loadedAt < cacheTTL }
        }
        cache[slug.rawValue] = entry
        return entry
    }

    /// Whether `slug` may name a tenant: it is in the directory, or a reload (if one is allowed
    /// now) finds it there. One reload at a time; the rest wait for it.
    private func mayExist(_ slug: TenantSlug) async throws -> Bool {
        if directory.contains(slug.rawValue) { return true }
        let load: Task<Set<String>, any Error>
        let started: Bool
        if let running = directoryLoad {
            load = running
            started = false
        } else {
            guard takeSpeculativeLoad() else { return false }
            load = Task { [tenants] in try await tenants.slugs() }
            directoryLoad = load
            started = true
        }
        let slugs: Set<String>
        do {
            slugs = try await load.value
        } catch {
            if directoryLoad == load { directoryLoad = nil }
            throw error
        }
        if directoryLoad == load {
            directory = slugs
            directoryLoad = nil
        }
        if started { speculativeLoad(helped: slugs.contains(slug.rawValue)) }
        return slugs.contains(slug.rawValue)
    }

    private func takeSpeculativeLoad() -> Bool {
        let now = ContinuousClock.now
        allowance = min(speculativeBurst, allowance + (now - allowanceAt) / refillInterval)
        allowanceAt = now
        guard allowance >= 1 else { return false }
        allowance -= 1
        return true
    }

    private func speculativeLoad(helped: Bool) {
        if helped {
            allowance = min(speculativeBurst, allowance + 1)
            refillInterval = .seconds(1)
        } else {
            refillInterval = min(refillInterval * 2, .seconds(60))
        }
    }

    /// Reads `tid` from the payload without verifying, only to choose whose keys to verify with
    /// (the verified claims must then name the same tenant). Read as bytes, with the decoder of
    /// the one field: it runs on every request, and splitting the token as a `String` and
    /// `JSONSerialization` cost ~27 µs a call against ~9.
    static func unverifiedTenant(_ token: String) -> String? {
        let bytes = Array(token.utf8)
        let dot = UInt8(ascii: ".")
        guard let first = bytes.firstIndex(of: dot), let second = bytes[(first + 1)...].firstIndex(of: dot),
            !bytes[(second + 1)...].contains(dot), second - first - 1 < 8192,
            let payload = Base64URL.decode(bytes: Array(bytes[(first + 1)..<second]))
        else { return nil }
        return (try? hintDecoder.decode(TenantHint.self, from: Data(payload)))?.tid
    }

    private struct TenantHint: Decodable {
        let tid: String?
    }

    private static let hintDecoder = JSONDecoder()

    static func isValidText(_ text: String, max: Int) -> Bool {
        !text.isEmpty && text.count <= max && !text.unicodeScalars.contains { $0.value < 0x20 }
    }
}
