import ArgumentParser
import Database
import Domain
import Foundation

struct TenantCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tenant", abstract: "Create and list brokerages.",
        subcommands: [Create.self, List.self])

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
}
