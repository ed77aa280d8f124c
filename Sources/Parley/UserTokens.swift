import API
import ArgumentParser
import Database
import Domain
import Logging

/// Tokens the commands print, signed as a brokerage backend signs them: with the tenant's
/// newest active key (`parley token`, the inbox links of `parley serve` and `parley demo`).
enum UserTokens {
    enum Subject {
        /// A user of the brokerage (`role` agent or client).
        case user(Caller.Role, name: String)
        /// The brokerage's directory integration.
        case integration
    }

    static func sign(
        _ db: Database, logger: Logger, tenant slug: TenantSlug, sub: String, _ subject: Subject, ttl: Duration = .seconds(3600)
    ) async throws -> String {
        let store = TenantStore(database: db, logger: logger)
        guard let tenant = try await store.find(slug) else {
            throw CommandFailure("no tenant '\(slug)'; create it with `parley tenant create \(slug) --name …`")
        }
        guard let key = try await store.activeKeys(tenant).first else {
            throw ValidationError("tenant '\(slug)' has no active signing key")
        }
        switch subject {
        case .user(let role, let name):
            return try await TokenIssuer.sign(tenant: slug, key: key, sub: sub, role: role, name: name, ttl: ttl)
        case .integration:
            return try await TokenIssuer.signIntegration(tenant: slug, key: key, sub: sub, ttl: ttl)
        }
    }

    /// The web inbox, signed in with `token` (the app reads it from the fragment, which never
    /// reaches a server or a log).
    static func inboxLink(base: String, token: String) -> String {
        "\(base)/app/#token=\(token)"
    }
}
