import API
import ArgumentParser
import Foundation
import Logging

@main
struct Parley: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "parley",
        abstract: "Parley: the messaging backend of the agent platform.",
        subcommands: [Serve.self, Migrate.self, TenantCommand.self, Token.self, Demo.self],
        defaultSubcommand: Serve.self)
}

/// Options every command shares: where the database is.
struct DatabaseOptions: ParsableArguments {
    @Option(name: .customLong("database-url"), help: "PostgreSQL URL (default: $DATABASE_URL; unset: embedded cluster).")
    var databaseURL: String?

    @Option(name: .customLong("data-dir"), help: "Embedded cluster folder (default: $PARLEY_DATA_DIR or ./.parley).")
    var dataDirectory: String?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error (default: $LOG_LEVEL or info).")
    var logLevel: String?
}

enum Env {
    static func get(_ name: String) -> String? {
        guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else { return nil }
        return value
    }

    /// A positive number of seconds (fractions allowed), e.g. `PARLEY_SHUTDOWN_TIMEOUT=2.5`.
    static func seconds(_ name: String) -> Duration? {
        guard let value = get(name).flatMap(Double.init), value > 0, value < 1e9 else { return nil }
        return .milliseconds(Int64(value * 1000))
    }
}

/// Sets up swift-log once: key=value lines on stderr, level from flag or LOG_LEVEL.
func bootstrapLogging(level: String?) -> Logger {
    let level = (level ?? Env.get("LOG_LEVEL")).flatMap { Logger.Level(rawValue: $0.lowercased()) } ?? .info
    // Before any Database exists: metrics created earlier would stay no-ops for ever.
    ParleyMetrics.bootstrap()
    LoggingSystem.bootstrap { label in LazyMetadataLogHandler(label: label, level: level) }
    return Logger(label: "parley")
}
