import ArgumentParser
import Database
import Domain
import Foundation
import Logging

struct TenantCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tenant", abstract: "Create, list, export, import and delete brokerages; their reporting logins.",
        subcommands: [Create.self, List.self, ReportingRole.self, Export.self, Import.self, Delete.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Provision a brokerage: schema, role, migrations, a signing key.")

        @Argument(help: "Slug: \(TenantSlug.rule).") var slug: String
        @Option(help: "Display name.") var name: String
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let logger = try bootstrapLogging(level: database.logLevel)
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
            let logger = try bootstrapLogging(level: database.logLevel)
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
            let logger = try bootstrapLogging(level: database.logLevel, otherwise: .warning)
            guard let slug = TenantSlug(slug) else { throw ExitCode(2) }
            try await withDatabase(database, logger: logger) { _, db in
                let store = TenantStore(database: db, logger: logger)
                guard let tenant = try await store.find(slug) else {
                    throw CommandFailure("no tenant '\(slug)'; create it with `parley tenant create \(slug) --name …`")
                }
                let login = try await store.reportingLogin(tenant, statementTimeoutSeconds: statementTimeout, connectionLimit: connectionLimit)
                print("role \(login.role)")
                print("password \(login.password)")
                print("reads the views report_* of schema \(login.schema) (search_path), read-only, UTC, statement_timeout \(statementTimeout) s")
            }
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a brokerage's data as JSON lines (every table, attachments, signing keys: keep it secret).")

        @Argument(help: "The brokerage's slug.") var slug: String
        @Option(help: "File to write (default: standard output).") var output: String?
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let logger = try bootstrapLogging(level: database.logLevel, otherwise: .warning)
            guard TenantSlug(slug) != nil else { throw ValidationError("slug must be \(TenantSlug.rule)") }
            // Written to `<output>.partial`, renamed when complete: a failed export leaves no
            // file that looks like one (an import also refuses one without its end line).
            let partial = output.map { $0 + ".partial" }
            let sink: FileHandle
            if let partial {
                guard FileManager.default.createFile(atPath: partial, contents: nil, attributes: [.posixPermissions: 0o600]),
                    let handle = FileHandle(forWritingAtPath: partial)
                else { throw ValidationError("cannot write \(partial)") }
                sink = handle
            } else {
                sink = FileHandle.standardOutput
            }
            defer { if output != nil { try? sink.close() } }
            do {
                try await write(to: sink, logger: logger)
            } catch {
                if let partial { try? FileManager.default.removeItem(atPath: partial) }
                throw error
            }
            if let output, let partial {
                try? sink.synchronize()
                _ = try? FileManager.default.removeItem(atPath: output)
                try FileManager.default.moveItem(atPath: partial, toPath: output)
            }
        }

        private func write(to sink: FileHandle, logger: Logger) async throws {
            guard let slug = TenantSlug(slug) else { throw ValidationError("slug must be \(TenantSlug.rule)") }
            try await withDatabase(database, logger: logger) { _, db in
                let store = TenantStore(database: db, logger: logger)
                guard let tenant = try await store.find(slug) else { throw CommandFailure("no tenant '\(slug)'") }
                var buffer = Data()
                let rows = try await store.export(tenant) { line in
                    buffer.append(contentsOf: Array(line.utf8))
                    buffer.append(0x0A)
                    if buffer.count >= 1 << 20 {
                        try sink.write(contentsOf: buffer)
                        buffer.removeAll(keepingCapacity: true)
                    }
                }
                try sink.write(contentsOf: buffer)
                FileHandle.standardError.write(Data("exported \(slug): \(rows) rows\n".utf8))
            }
        }
    }

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Provision a brokerage again from an export and fill it.")

        @Argument(help: "The export file (default: standard input).") var file: String?
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let logger = try bootstrapLogging(level: database.logLevel, otherwise: .warning)
            let source: FileHandle
            if let file {
                guard let handle = FileHandle(forReadingAtPath: file) else { throw ValidationError("cannot read \(file)") }
                source = handle
            } else {
                source = FileHandle.standardInput
            }
            let lines = LineReader(source)
            try await withDatabase(database, logger: logger) { _, db in
                try await Migrator(database: db, logger: logger).migrateControl()
                let (tenant, rows) = try await TenantStore(database: db, logger: logger).importTenant { try lines.next() }
                print("imported \(tenant.slug) (\(tenant.displayName)): \(rows) rows")
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove a brokerage: its schema and every row and file in it, its roles, its control rows.")

        @Argument(help: "The brokerage's slug.") var slug: String
        @Flag(help: "Required: nothing of the brokerage can be recovered afterwards (export it first).") var confirm = false
        @OptionGroup var database: DatabaseOptions

        func validate() throws {
            guard confirm else { throw ValidationError("deleting a brokerage cannot be undone: pass --confirm (export it first)") }
        }

        func run() async throws {
            let logger = try bootstrapLogging(level: database.logLevel, otherwise: .warning)
            guard let slug = TenantSlug(slug) else { throw ValidationError("slug must be \(TenantSlug.rule)") }
            try await withDatabase(database, logger: logger) { _, db in
                let store = TenantStore(database: db, logger: logger)
                guard let tenant = try await store.find(slug) else { throw CommandFailure("no tenant '\(slug)'") }
                try await store.delete(tenant)
                print("deleted \(slug)")
            }
        }
    }
}

/// Lines of a file, read 64 KiB at a time (an export's lines may be long: a 256 KiB piece of an
/// attachment is 512 KiB of hex).
final class LineReader {
    private let handle: FileHandle
    private var buffer = Data()
    private var finished = false

    init(_ handle: FileHandle) {
        self.handle = handle
    }

    func next() throws -> String? {
        while true {
            if let newline = buffer.firstIndex(of: 0x0A) {
                let line = buffer[buffer.startIndex..<newline]
                buffer.removeSubrange(buffer.startIndex...newline)
                return String(decoding: line, as: UTF8.self)
            }
            if finished {
                guard !buffer.isEmpty else { return nil }
                defer { buffer.removeAll() }
                return String(decoding: buffer, as: UTF8.self)
            }
            let chunk = try handle.read(upToCount: 1 << 16) ?? Data()
            if chunk.isEmpty { finished = true } else { buffer.append(chunk) }
        }
    }
}
