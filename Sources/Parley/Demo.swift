import ArgumentParser
import Database
import Domain
import Foundation

struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fill the demo brokerage (and a second one, harbor-homes) with conversations, requests and directory records.",
        discussion: """
            Creates the brokerages if they are missing. Safe to run again: nothing is added twice. Works beside a \
            running `parley serve` (the same --data-dir), or against DATABASE_URL.
            """)

    @Option(help: "The server's address, for the printed links.") var baseURL = "http://127.0.0.1:8080"
    @OptionGroup var database: DatabaseOptions

    func run() async throws {
        let logger = try bootstrapLogging(level: database.logLevel, otherwise: .warning)
        let base = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        let (summary, averyToken, hanaToken) = try await withDatabase(database, logger: logger, maxConnections: 4) { _, db in
            try await Migrator(database: db, logger: logger).migrateControl()
            let summary = try await DemoData.fill(database: db, logger: logger)
            let avery = try await UserTokens.sign(
                db, logger: logger, tenant: DemoData.demoSlug, sub: DemoData.avery.id, .user(.agent, name: DemoData.avery.name))
            let hana = try await UserTokens.sign(
                db, logger: logger, tenant: DemoData.harborSlug, sub: DemoData.hana.id, .user(.agent, name: DemoData.hana.name))
            return (summary, avery, hana)
        }
        for line in summary.lines { print(line) }
        if !summary.changedAnything {
            print("nothing to add: the demo data was already there")
        }
        print("")
        print("Open the inbox (links valid 1 hour):")
        print("  \(DemoData.demoSlug), as \(DemoData.avery.name) (\(DemoData.avery.id)): \(UserTokens.inboxLink(base: base, token: averyToken))")
        print("  \(DemoData.harborSlug), as \(DemoData.hana.name) (\(DemoData.hana.id)): \(UserTokens.inboxLink(base: base, token: hanaToken))")
        print("The website's chat widget for \(DemoData.avery.name):")
        print("  \(base)/app/widget.html?brokerage=\(DemoData.demoSlug)&agent=\(DemoData.avery.id)")
    }
}
