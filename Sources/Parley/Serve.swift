import API
import ArgumentParser
import Database
import Domain
import Foundation
import Hummingbird
import Logging

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the HTTP/WebSocket server (with no DATABASE_URL: on an embedded PostgreSQL).")

    @Option(help: "Address to listen on (default: $PARLEY_HOST or 127.0.0.1).") var host: String?
    @Option(help: "Port (default: $PARLEY_PORT or 8080).") var port: Int?
    @OptionGroup var database: DatabaseOptions

    func run() async throws {
        let logger = try bootstrapLogging(level: database.logLevel)
        // Settings that do not parse stop the server before anything starts.
        let webhookDelivery: WebhookDeliverer.Settings
        do {
            webhookDelivery = try WebhookDeliverer.Settings(environment: ProcessInfo.processInfo.environment)
        } catch {
            throw ValidationError("\(error)")
        }
        let publicOrigin = Env.get("PARLEY_PUBLIC_ORIGIN")?.lowercased()
        if let publicOrigin, !TenantSettings.isOrigin(publicOrigin) {
            throw ValidationError("PARLEY_PUBLIC_ORIGIN must be an origin such as https://chat.example (scheme, host, optional port; no path)")
        }
        let target = try DatabaseTarget.resolve(database, logger: logger)
        do {
            try await serve(target, webhookDelivery: webhookDelivery, publicOrigin: publicOrigin, logger: logger)
        } catch {
            target.shutdown(logger: logger)
            throw error
        }
        target.shutdown(logger: logger)
    }

    private func serve(_ target: DatabaseTarget, webhookDelivery: WebhookDeliverer.Settings, publicOrigin: String?, logger: Logger) async throws {
        let db = try target.makeDatabase(logger: logger)
        let outcomes = try await TenantStore(database: db, logger: logger).migrateAll { outcome in
            if let error = outcome.error {
                logger.error("tenant migration failed", metadata: ["tenant": "\(outcome.slug)", "error": "\(error)"])
            }
        }
        logger.info("migrations done", metadata: ["tenants": "\(outcomes.count)"])

        var operatorKey = Env.get("PARLEY_OPERATOR_KEY")
        var inboxToken: String?
        if let cluster = target.cluster {
            operatorKey = try operatorKey ?? Self.embeddedOperatorKey(root: cluster.root)
            try await Self.ensureDemoTenant(db, logger: logger)
            // The banner's link into the web inbox, as the demo brokerage's agent.
            inboxToken = try await UserTokens.sign(
                db, logger: logger, tenant: DemoData.demoSlug, sub: DemoData.avery.id, .user(.agent, name: DemoData.avery.name))
        } else if operatorKey == nil {
            logger.warning("PARLEY_OPERATOR_KEY is not set: the operator API (/v1/tenants) is disabled")
        }

        let configuration = AppConfiguration(
            host: host ?? Env.get("PARLEY_HOST") ?? "127.0.0.1",
            port: try port ?? Env.int("PARLEY_PORT", 8080, in: 1...65535),
            operatorKey: operatorKey,
            trustedProxyHops: try Env.int("PARLEY_TRUSTED_PROXY_HOPS", 0, in: 0...16),
            connections: ConnectionLimits(
                maxConnections: try Env.int("PARLEY_MAX_CONNECTIONS", 4096, in: 1...1_000_000),
                headerTimeout: try Env.seconds("PARLEY_HTTP_HEADER_TIMEOUT", .seconds(30)),
                idleTimeout: try Env.seconds("PARLEY_HTTP_IDLE_TIMEOUT", .seconds(60))),
            publicOrigin: publicOrigin)
        let streamLimits = StreamLimits(
            maxStreams: try Env.int("PARLEY_MAX_STREAMS", 10_000, in: 1...1_000_000),
            maxStreamsPerUser: try Env.int("PARLEY_MAX_STREAMS_PER_USER", 16, in: 1...100_000))
        let dependencies = AppDependencies(
            database: db, conninfo: target.conninfo, logger: logger, streamLimits: streamLimits,
            maintenanceInterval: try Env.seconds("PARLEY_MAINTENANCE_INTERVAL", .seconds(60)),
            webhookPolicy: WebhookURLPolicy(environment: Env.get("PARLEY_WEBHOOK_ALLOWED_HOSTS")), webhookDelivery: webhookDelivery)
        let app = buildApplication(configuration: configuration, dependencies: dependencies, logger: logger)
        printBanner(configuration, embedded: target.cluster, inboxToken: inboxToken)
        let timeout = try Env.seconds("PARLEY_SHUTDOWN_TIMEOUT", .seconds(10))
        try await runWithBoundedShutdown(app, dependencies: dependencies, timeout: timeout, logger: logger) {
            // Still here at the deadline: something ignored cancellation. Stop the embedded
            // cluster anyway and leave.
            logger.error("shutdown deadline passed; exiting with connections still open")
            target.shutdown(logger: logger, force: true)
            _exit(1)
        }
    }

    /// Embedded mode's operator key: generated once, kept in <data dir>/operator-key (0600).
    static func embeddedOperatorKey(root: URL) throws -> String {
        let file = root.appendingPathComponent("operator-key")
        if let existing = try? String(contentsOf: file, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines), !existing.isEmpty {
            return existing
        }
        var generator = SystemRandomNumberGenerator()
        let key = "op_" + Base64URL.encode((0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
        guard FileManager.default.createFile(atPath: file.path, contents: Data((key + "\n").utf8), attributes: [.posixPermissions: 0o600]) else {
            throw EmbeddedCluster.Failure(description: "cannot write the operator key to \(file.path)")
        }
        return key
    }

    /// The demo brokerage, created on the first embedded start.
    static func ensureDemoTenant(_ db: Database, logger: Logger) async throws {
        _ = try await DemoData.ensureBrokerage(
            TenantStore(database: db, logger: logger), DemoData.demoSlug, name: DemoData.demoName, logger: logger)
    }

    private func printBanner(_ configuration: AppConfiguration, embedded: EmbeddedCluster?, inboxToken: String?) {
        let base = "http://\(configuration.host):\(configuration.port)"
        var lines = ["", "Parley is starting on \(base)"]
        if let embedded {
            lines += [
                "  database: embedded PostgreSQL in \(embedded.root.path) (socket \(embedded.socketDirectory))",
                "  operator key: \(configuration.operatorKey ?? "-")  (also in \(embedded.root.path)/operator-key)",
                "  a token for the demo brokerage:",
                // This very executable and this data folder: the command works as printed, for a
                // release build, in a container, with --data-dir.
                "    TOKEN=$(\(CommandLine.arguments[0]) token --data-dir '\(embedded.root.path)' --tenant demo --sub agent-1 --role agent --name 'Avery Agent')",
                "    curl -H \"Authorization: Bearer $TOKEN\" \(base)/v1/me",
            ]
            if let inboxToken {
                lines.append("  inbox (as the demo agent Avery, link valid 1 hour): \(UserTokens.inboxLink(base: base, token: inboxToken))")
            }
            lines.append("  fill the demo brokerage: \(CommandLine.arguments[0]) demo --data-dir '\(embedded.root.path)'")
        }
        lines += ["  health: \(base)/health  ready: \(base)/ready  contract: \(base)/openapi.yaml", ""]
        // Unbuffered, so the banner shows at once even when stdout is a pipe or a file.
        FileHandle.standardOutput.write(Data((lines.joined(separator: "\n") + "\n").utf8))
    }
}
