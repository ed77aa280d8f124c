import API
import ArgumentParser
import Database
import Domain

struct Token: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a user or integration token signed with the tenant's newest key (for curl and scripts).")

    @Option(help: "Tenant slug.") var tenant: String
    @Option(help: "The user's id in the brokerage.") var sub: String
    @Option(help: "agent, client, or integration (the directory integration API).") var role: String
    @Option(help: "Display name (an integration's defaults to --sub).") var name: String?
    @Option(help: "Lifetime in seconds.") var ttl: Int = 3600
    @OptionGroup var database: DatabaseOptions

    func validate() throws {
        guard Caller.Role(rawValue: role) != nil || role == TokenVerifier.integrationRole else {
            throw ValidationError("--role must be agent, client or integration")
        }
        guard role == TokenVerifier.integrationRole || name != nil else { throw ValidationError("--name is required for agent and client tokens") }
        guard TenantSlug(tenant) != nil else { throw ValidationError("--tenant must be \(TenantSlug.rule)") }
        guard ttl > 0 else { throw ValidationError("--ttl must be positive") }
    }

    func run() async throws {
        let logger = try bootstrapLogging(level: database.logLevel, otherwise: .warning)
        guard let slug = TenantSlug(tenant) else { throw ExitCode(2) }
        let subject: UserTokens.Subject = Caller.Role(rawValue: role).map { .user($0, name: name ?? sub) } ?? .integration
        let token = try await withDatabase(database, logger: logger) { _, db in
            try await UserTokens.sign(db, logger: logger, tenant: slug, sub: sub, subject, ttl: .seconds(ttl))
        }
        print(token)
    }
}
