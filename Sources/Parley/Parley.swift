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

    /// A whole number within `range`, or `otherwise` when the variable is not set. A value set
    /// but not such a number stops the command, naming the variable: a typo must not become a
    /// default silently (`PARLEY_MAX_CONNECTIONS=10k`, `PARLEY_DB_POOL_TIMEOUT_MS=0`).
    static func int(_ name: String, _ otherwise: Int, in range: ClosedRange<Int>) throws -> Int {
        guard let text = get(name) else { return otherwise }
        guard let value = Int(text.trimmingCharacters(in: .whitespaces)), range.contains(value) else {
            throw CommandFailure("\(name) must be a whole number from \(range.lowerBound) to \(range.upperBound), not '\(text)'")
        }
        return value
    }

    /// A positive number of seconds (fractions allowed), e.g. `PARLEY_SHUTDOWN_TIMEOUT=2.5`, or
    /// `otherwise` when the variable is not set; anything else stops the command.
    static func seconds(_ name: String, _ otherwise: Duration) throws -> Duration {
        guard let text = get(name) else { return otherwise }
        guard let value = Double(text.trimmingCharacters(in: .whitespaces)), value > 0, value < 1e9 else {
            throw CommandFailure("\(name) must be a number of seconds above 0 (e.g. 2.5), not '\(text)'")
        }
        return .milliseconds(Int64(value * 1000))
    }
}

/// Sets up swift-log once: key=value lines on stderr, at the level of `--log-level`, else
/// `LOG_LEVEL`, else the command's `otherwise`. A level that is none of swift-log's (`warn` is
/// taken for `warning`) stops the command.
func bootstrapLogging(level flag: String?, otherwise: Logger.Level = .info) throws -> Logger {
    let level: Logger.Level
    if let text = flag ?? Env.get("LOG_LEVEL") {
        let name = text.lowercased() == "warn" ? "warning" : text.lowercased()
        guard let parsed = Logger.Level(rawValue: name) else {
            throw CommandFailure("the log level must be one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")), not '\(text)'")
        }
        level = parsed
    } else {
        level = otherwise
    }
    // Before any Database exists: metrics created earlier would stay no-ops for ever.
    ParleyMetrics.bootstrap()
    LoggingSystem.bootstrap { label in LazyMetadataLogHandler(label: label, level: level) }
    return Logger(label: "parley")
}

/// A command that cannot do what was asked (no such brokerage, say): ArgumentParser prints
/// "Error: " and the description and exits 1, without the usage a ValidationError prints.
struct CommandFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
