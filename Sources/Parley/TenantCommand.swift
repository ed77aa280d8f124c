import ArgumentParser
import Database
import Domain
import Foundation

struct TenantCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tenant", abstract: "Create and list brokerages; their reporting logins.",
        subcommands: [Create.self, List.self, ReportingRole.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Provision a brokerage: schema, role, migrations, a signing key.")

        @Argument(help: "Slug: \(TenantSlug.rule).") var slug: String
        @Option(help: "Display name.") var name: String
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let logger = bootstrapLogging(level: database.logLevel)
            guard let slug = TenantSlug(slug) else {
                throw ValidationError("slug must be \(TenantSlug.rule)")
            }
            try await withDatabase(database, logger: logger) { _, db in
                try await Migrator(database: db, logger: logger).migrateControl()
                let (tenant, key) = try await TenantStore(database: db, logger: logger).create(slug: slug, displayName: name)
                print("created tenant \(tenant.slug) (\(tenant.displayName)) in schema \(tenant.scope.schema)")
                print("signing key \(key.kid): \(Base64URL.encode(key.secret))  (HS256, base64url; keep it secret)")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List brokerages.")

        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let logger = bootstrapLogging(level: database.logLevel)
            try await withDatabase(database, logger: logger) { _, db in
                try await Migrator(database: db, logger: logger).migrateControl()
                let store = TenantStore(database: db, logger: logger)
                var after: String?
                repeat {
                    let page = try await store.list(after: after, limit: 100)
                    for tenant in page {
                        print("\(tenant.slug)\t\(tenant.scope.schema)\t\(tenant.displayName)")
                    }
                    after = page.count == 100 ? page.last?.slug.rawValue : nil
                } while after != nil
            }
        }
    }

    struct ReportingRole: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "reporting-role",
            abstract: "Create the brokerage's reporting login, or give it a new password (docs/REPORTING.md).")

        @Argument(help: "The brokerage's slug.") var slug: String
        @Option(help: "Statement timeout of the login's queries, in seconds.") var statementTimeout: Int = 300
        @Option(help: "Connections the login may hold at once.") var connectionLimit: Int = 5
        @OptionGroup var database: DatabaseOptions

        func validate() throws {
            guard TenantSlug(slug) != nil else { throw ValidationError("slug must be \(TenantSlug.rule)") }
            guard statementTimeout > 0, connectionLimit > 0 else { throw ValidationError("--statement-timeout and --connection-limit must be positive") }
        }

        func run() async throws {
            let logger = bootstrapLogging(level: database.logLevel ?? "warning")
            guard let slug = TenantSlug(slug) else { throw ExitCode(2) }
            try await withDatabase(database, logger: logger) { _, db in
                let store = TenantStore(database: db, logger: logger)
                guard let tenant = try await store.find(slug) else {
                    throw ValidationError("no tenant '\(slug)'; create it with `parley tenant create \(slug) --name …`")
                }
                let login = try await store.reportingLogin(tenant, statementTimeoutSeconds: statementTimeout, connectionLimit: connectionLimit)
                print("role \(login.role)")
                print("password \(login.password)")
                print("reads the views report_* of schema \(login.schema) (search_path), read-only, UTC, statement_timeout \(statementTimeout) s")
            }
        }
    }
}
