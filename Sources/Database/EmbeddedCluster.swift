import Foundation
import Logging
import PQ

#if canImport(Glibc)
import Glibc
#endif

/// A private PostgreSQL cluster for `parley serve` without `DATABASE_URL`, and for tests.
///
/// Layout under `root` (default `./.parley`):
///   pgdata/        the cluster (initdb'd on first start)
///   run/           its unix socket (the only way in: listen_addresses is empty)
///   postgres.log   the server log; commands.log: what initdb/pg_ctl printed
///
/// As root, the cluster runs as the `postgres` OS user (PostgreSQL refuses root): the folders
/// are handed to it, and every command goes through `runuser -u postgres --`.
public final class EmbeddedCluster: Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
        public init(description: String) { self.description = description }
    }

    public let root: URL
    public let pgdata: URL
    public let socketDirectory: String
    public let port = 5432
    public let databaseName: String
    let binDirectory: String
    let runsAsPostgresUser: Bool
    let serverOptions: [String]
    let logger: Logger

    /// - Parameters:
    ///   - ephemeral: trade durability for speed (fsync off): for throwaway test clusters only.
    /// `sharedBuffers`: PostgreSQL's buffer cache (its own default, 128MB, unless given).
    /// `maxConnections`: PostgreSQL's connection limit (the test suite runs ~190 apps at once).
    public init(
        root: String, databaseName: String = "parley", ephemeral: Bool = false, sharedBuffers: String = "128MB",
        maxConnections: Int = 300, logger: Logger
    ) throws {
        self.logger = logger
        self.databaseName = databaseName
        self.binDirectory = try Self.findServerBinaries()
        self.runsAsPostgresUser = geteuid() == 0
        var rootURL = URL(fileURLWithPath: root).standardizedFileURL
        if runsAsPostgresUser, !Self.othersCanTraverse(rootURL.deletingLastPathComponent().path) {
            // The postgres user cannot reach a folder under e.g. /root (mode 0700). Keep the
            // cluster in a stable place it can reach instead, named after the requested path.
            let fallback = URL(fileURLWithPath: "/var/tmp/parley-\(Self.shortHash(rootURL.path))")
            logger.notice("postgres user cannot reach the data folder; using another", metadata: [
                "requested": "\(rootURL.path)", "using": "\(fallback.path)",
            ])
            rootURL = fallback
        }
        self.root = rootURL
        self.pgdata = rootURL.appendingPathComponent("pgdata")
        var socketDirectory = rootURL.appendingPathComponent("run").path
        // A unix socket path is limited to 107 bytes; PostgreSQL would refuse to start.
        if (socketDirectory + "/.s.PGSQL.\(port)").utf8.count > 107 {
            socketDirectory = "/tmp/parley-\(getuid())-\(Self.shortHash(rootURL.path))"
            logger.notice("data folder path too long for a unix socket; socket goes elsewhere", metadata: ["socket_dir": "\(socketDirectory)"])
        }
        self.socketDirectory = socketDirectory
        var options = [
            "listen_addresses=''", "unix_socket_directories='\(socketDirectory)'", "port=\(port)",
            "max_connections=\(maxConnections)", "shared_buffers=\(sharedBuffers)",
            // A forgotten open transaction holds locks and keeps vacuum from cleaning up
            // (it no longer holds back live delivery: decision 0012): end it after a minute.
            "idle_in_transaction_session_timeout=60s",
        ]
        if ephemeral { options += ["fsync=off", "synchronous_commit=off", "full_page_writes=off"] }
        self.serverOptions = options
    }

    /// The login role `parley serve` and the other commands use: not a superuser. It has
    /// CREATEROLE (one role per brokerage, granted to itself), owns the database (schemas,
    /// the trusted extensions), and nothing else (docs/decisions/0018-least-privilege.md).
    public static let serverRole = "parley"

    /// libpq conninfo for the cluster's database as the server's login role.
    public var serverConninfo: String {
        "host=\(socketDirectory) port=\(port) user=\(Self.serverRole) dbname=\(databaseName)"
    }

    /// libpq conninfo for the cluster's database as its superuser (setup; test fixtures).
    public var conninfo: String { conninfo(database: databaseName) }

    public func conninfo(database: String) -> String {
        "host=\(socketDirectory) port=\(port) user=postgres dbname=\(database)"
    }

    var logPath: String { root.appendingPathComponent("postgres.log").path }
    var commandLogPath: String { root.appendingPathComponent("commands.log").path }

    /// Creates the cluster if needed and starts it unless it is already running.
    /// Returns true when this call started the server (so the caller should stop it).
    /// Blocking: call before the server starts or from a blocking-allowed thread.
    @discardableResult
    public func start() throws -> Bool {
        try prepareFolders()
        if !FileManager.default.fileExists(atPath: pgdata.appendingPathComponent("PG_VERSION").path) {
            logger.info("initializing embedded PostgreSQL cluster", metadata: ["pgdata": "\(pgdata.path)"])
            try postgresCommand([
                "initdb", "-D", pgdata.path, "-U", "postgres", "-A", "trust", "-E", "UTF8",
                "--locale=C.UTF-8", "--no-instructions",
            ])
        }
        let started: Bool
        if try isRunning() {
            // Its owner (the process that started it and stops it) may be gone without stopping
            // it: a Ctrl-C, a closed terminal or a crash kills a command before its clean-up,
            // and pg_ctl's server is in a session of its own, which no signal to the command
            // reaches. Such a server is adopted: this process stops it at its end. Otherwise
            // it was left running for good, and every later command only reused it.
            if let owner = self.owner, kill(owner, 0) != 0, errno == ESRCH {
                started = true
                recordOwner()
                logger.notice("embedded PostgreSQL left running by a process that is gone; this one stops it at its end", metadata: [
                    "socket_dir": "\(socketDirectory)", "previous_owner": "\(owner)",
                ])
            } else {
                started = false
                logger.info("embedded PostgreSQL already running; reusing it", metadata: ["socket_dir": "\(socketDirectory)"])
            }
        } else {
            try postgresCommand([
                "pg_ctl", "-D", pgdata.path, "-l", logPath, "-w", "-t", "60",
                "-o", serverOptions.map { "-c \($0)" }.joined(separator: " "), "start",
            ])
            started = true
            recordOwner()
            logger.info("embedded PostgreSQL started", metadata: ["socket_dir": "\(socketDirectory)"])
        }
        try createDatabaseIfMissing()
        return started
    }

    /// Stops the server (fast shutdown: open sessions are ended, data is safe).
    public func stop(immediate: Bool = false) throws {
        guard try isRunning() else { return }
        try postgresCommand(["pg_ctl", "-D", pgdata.path, "-m", immediate ? "immediate" : "fast", "-w", "-t", "60", "stop"])
        try? FileManager.default.removeItem(at: ownerFile)
        logger.info("embedded PostgreSQL stopped")
    }

    /// Stops the server unless another process is connected to it: a `parley serve` that found
    /// it running (started by `parley demo`, say) and uses it would lose its database under it.
    /// Left running, it keeps this process as its recorded owner, which is gone once this
    /// process exits, so the next command that finds it adopts it (`start`). Returns whether
    /// the server is stopped.
    public func stopUnlessInUse() throws -> Bool {
        guard try isRunning() else { return true }
        let connection = try Connection.connect(conninfo(database: "postgres"), applicationName: "parley-embedded-check")
        let others = try connection.execParams("""
            SELECT count(*)::int8 AS n FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
            """, []).rows.first?.decode(Int.self, "n") ?? 0
        connection.finish()
        guard others == 0 else {
            logger.notice("embedded PostgreSQL left running: another process uses it; the next command stops it", metadata: ["connections": "\(others)"])
            return false
        }
        try stop()
        return true
    }

    /// `<root>/owner.pid`: the process that started the running server, which stops it.
    var ownerFile: URL { root.appendingPathComponent("owner.pid") }

    /// The recorded owner, if any.
    var owner: pid_t? {
        (try? String(contentsOf: ownerFile, encoding: .utf8)).flatMap { pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }

    private func recordOwner() {
        try? "\(getpid())\n".write(to: ownerFile, atomically: true, encoding: .utf8)
    }

    public func isRunning() throws -> Bool {
        guard FileManager.default.fileExists(atPath: pgdata.appendingPathComponent("PG_VERSION").path) else { return false }
        // pg_ctl status: 0 running, 3 not running, 4 no accessible data directory.
        return try Spawn.run(command(["pg_ctl", "-D", pgdata.path, "status"]), logPath: nil) == 0
    }

    // MARK: - Steps

    private func prepareFolders() throws {
        let manager = FileManager.default
        do {
            try manager.createDirectory(at: root, withIntermediateDirectories: true)
            try manager.createDirectory(at: pgdata, withIntermediateDirectories: true)
            try manager.createDirectory(atPath: socketDirectory, withIntermediateDirectories: true)
        } catch {
            throw Failure(description: "cannot create the embedded database folder \(root.path): \(error.localizedDescription)")
        }
        chmod(pgdata.path, 0o700)
        chmod(socketDirectory, 0o700)
        guard runsAsPostgresUser else { return }
        guard let account = getpwnam("postgres") else {
            throw Failure(description: "running as root, the embedded PostgreSQL must run as the 'postgres' user, which does not exist: install PostgreSQL with `apt-get install postgresql` (it creates the user) or set DATABASE_URL.")
        }
        // The root folder may be a fresh root-owned temp dir (mode 0700): open it for traversal.
        chmod(root.path, 0o755)
        for path in [pgdata.path, socketDirectory] { chown(path, account.pointee.pw_uid, account.pointee.pw_gid) }
        for file in [logPath] {
            if !manager.fileExists(atPath: file) { _ = manager.createFile(atPath: file, contents: nil) }
            chown(file, account.pointee.pw_uid, account.pointee.pw_gid)
        }
    }

    /// As the superuser: the server's login role (no superuser: LOGIN CREATEROLE), the
    /// database owned by it, and — for a cluster made before the role existed — everything
    /// the server manages handed over to it (the control schema and its objects, the shared
    /// functions in `public`, membership in every brokerage's role). Idempotent.
    private func createDatabaseIfMissing() throws {
        guard let name = SQLName(databaseName) else { throw Failure(description: "invalid database name \(databaseName)") }
        let role = Self.serverRole
        let admin = try Connection.connect(conninfo(database: "postgres"), applicationName: "parley-setup")
        defer { admin.finish() }
        try admin.exec("""
            DO $$ BEGIN
                IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '\(role)') THEN
                    CREATE ROLE \(role) LOGIN CREATEROLE NOSUPERUSER NOCREATEDB NOREPLICATION NOBYPASSRLS;
                END IF;
            END $$
            """)
        let exists = try admin.execParams("SELECT 1 FROM pg_database WHERE datname = $1", [.text(databaseName)])
        if exists.isEmpty {
            try admin.exec("CREATE DATABASE \(name.quoted) OWNER \(role)")
        } else {
            try admin.exec("ALTER DATABASE \(name.quoted) OWNER TO \(role)")
        }
        let database = try Connection.connect(conninfo(database: databaseName), applicationName: "parley-setup")
        defer { database.finish() }
        try database.exec("""
            DO $$
            DECLARE
                r record;
            BEGIN
                IF to_regnamespace('parley') IS NULL THEN
                    RETURN;
                END IF;
                EXECUTE 'ALTER SCHEMA parley OWNER TO \(role)';
                FOR r IN SELECT c.oid::regclass AS object FROM pg_class c
                         WHERE c.relnamespace = 'parley'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
                           AND c.relowner <> '\(role)'::regrole LOOP
                    EXECUTE format('ALTER TABLE %s OWNER TO \(role)', r.object);
                END LOOP;
                FOR r IN SELECT p.oid::regprocedure AS object FROM pg_proc p
                         WHERE p.pronamespace IN ('parley'::regnamespace, 'public'::regnamespace)
                           AND p.proowner <> '\(role)'::regrole
                           AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e') LOOP
                    EXECUTE format('ALTER ROUTINE %s OWNER TO \(role)', r.object);
                END LOOP;
                IF to_regclass('parley.tenants') IS NOT NULL THEN
                    FOR r IN SELECT role_name FROM parley.tenants LOOP
                        EXECUTE format('GRANT %I TO \(role)', r.role_name);
                    END LOOP;
                END IF;
            END $$
            """)
        // Advisory locks are Parley's alone in its database (decision 0059): PostgreSQL lets every
        // login take any, and a reporting login holding one of the keys Parley takes turns by
        // (a session's sends, a brokerage's retention, migrations) would hold them up. Members
        // of one role may: the server, and each brokerage's role, which the server makes a
        // member (Migrator.grantLockFunctions).
        let locks = Migrator.lockRole
        try admin.exec("""
            DO $$ BEGIN
                IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '\(locks)') THEN
                    CREATE ROLE \(locks) NOLOGIN;
                END IF;
            END $$;
            GRANT \(locks) TO \(role) WITH ADMIN OPTION;
            """)
        // Every brokerage's role is a member before the functions are taken from PUBLIC: a
        // server of this cluster still running (another process) goes on working.
        try database.exec("""
            DO $$
            DECLARE
                f regprocedure;
                r record;
            BEGIN
                IF to_regclass('parley.tenants') IS NOT NULL THEN
                    FOR r IN SELECT t.role_name FROM parley.tenants t JOIN pg_roles p ON p.rolname = t.role_name LOOP
                        EXECUTE format('GRANT \(locks) TO %I', r.role_name);
                    END LOOP;
                END IF;
                FOR f IN \(Migrator.lockFunctionsQuery) LOOP
                    EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
                    EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO \(locks)', f);
                END LOOP;
            END $$
            """)
    }

    private func command(_ arguments: [String]) -> [String] {
        let executable = binDirectory + "/" + arguments[0]
        let full = [executable] + arguments.dropFirst()
        return runsAsPostgresUser ? ["runuser", "-u", "postgres", "--"] + full : full
    }

    private func postgresCommand(_ arguments: [String]) throws {
        do {
            try Spawn.check(command(arguments), logPath: commandLogPath)
        } catch let failure as Spawn.Failure {
            var message = "\(arguments[0]) failed (exit \(failure.status)): \(failure.output)"
            if arguments[0] == "pg_ctl", let log = try? String(contentsOfFile: logPath, encoding: .utf8) {
                message += "\nserver log (\(logPath)):\n" + String(log.suffix(1500))
            }
            throw Failure(description: message)
        }
    }

    // MARK: - Discovery

    /// The folder with `initdb` and `pg_ctl`: `PARLEY_PG_BIN`, then PATH, then the newest
    /// /usr/lib/postgresql/<version>/bin (Debian keeps them off PATH).
    public static func findServerBinaries() throws -> String {
        guard let folder = candidateFolders().first(where: { holds($0, ["initdb", "pg_ctl"]) }) else {
            throw Failure(description: "PostgreSQL server programs (initdb, pg_ctl) were not found: install them with `apt-get install postgresql` (or set PARLEY_PG_BIN to their folder), or set DATABASE_URL to use a running PostgreSQL server.")
        }
        return folder
    }

    /// The path of PostgreSQL's program `name` (`pg_dump`, say), looked for where
    /// `findServerBinaries` looks: the first of those folders that holds it.
    public static func findProgram(_ name: String) throws -> String {
        guard let folder = candidateFolders().first(where: { holds($0, [name]) }) else {
            throw Failure(description: "PostgreSQL's \(name) was not found: install it with `apt-get install postgresql` (or set PARLEY_PG_BIN to its folder).")
        }
        return folder + "/" + name
    }

    /// `PARLEY_PG_BIN`, the folders of PATH, then /usr/lib/postgresql/<version>/bin, newest first.
    private static func candidateFolders() -> [String] {
        let environment = ProcessInfo.processInfo.environment
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? [])
            .compactMap { Int($0) }.sorted(by: >)
        return [environment["PARLEY_PG_BIN"]].compactMap { $0 }
            + (environment["PATH"] ?? "").split(separator: ":").map(String.init)
            + versions.map { "/usr/lib/postgresql/\($0)/bin" }
    }

    private static func holds(_ folder: String, _ programs: [String]) -> Bool {
        programs.allSatisfy { FileManager.default.isExecutableFile(atPath: folder + "/" + $0) }
    }

    static func othersCanTraverse(_ path: String) -> Bool {
        var current = URL(fileURLWithPath: path).standardizedFileURL
        while true {
            var info = stat()
            if stat(current.path, &info) == 0, info.st_mode & 0o001 == 0 { return false }
            if current.path == "/" { return true }
            current.deleteLastPathComponent()
        }
    }

    static func shortHash(_ text: String) -> String { String(FNV1a.hex(text).prefix(8)) }
}
