import Database
import Foundation
import Logging
import NIOPosix
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The PostgreSQL server of a test run: `PARLEY_TEST_DATABASE_URL` if set, otherwise one
/// throwaway cluster per test process under /tmp, started by the first test that asks and
/// stopped (and deleted) when the process exits. Tests run in parallel; each gets its own
/// tenant (`TestTenant` in ParleyTesting, `TenantFixture` in DomainTests), so they never share rows.
public actor TestDatabase {
    public static let shared = TestDatabase()

    private var setup: Task<String, any Error>?

    /// libpq conninfo of the test database, with the control schema migrated.
    public func conninfo() async throws -> String {
        if let setup { return try await setup.value }
        let task = Task { try await Self.prepare() }
        setup = task
        return try await task.value
    }

    /// A pool on the test database, or on `conninfo` (a `makeScratchDatabase()`). (Its pool
    /// metrics go to whatever metrics system is bootstrapped at this moment: app tests bootstrap
    /// Prometheus first, see `TestApp.run`.)
    public func makeDatabase(conninfo: String? = nil, maxConnections: Int = 4, acquireTimeout: Duration = .seconds(10)) async throws -> Database {
        let conninfo = if let conninfo { conninfo } else { try await self.conninfo() }
        return Database(
            configuration: .init(conninfo: conninfo, maxConnections: maxConnections, acquireTimeout: acquireTimeout), logger: testLogger)
    }

    /// A new, empty database on the same server, with the control schema migrated: for tests
    /// that start `parley serve` processes, whose start-up migrates every tenant of their
    /// database (in the shared one, every other test's tenants too).
    public func makeScratchDatabase(prefix: String = "parley_scratch_") async throws -> String {
        let base = try await conninfo()
        let name = randomName(prefix)
        let admin = Database(configuration: .init(conninfo: base, maxConnections: 1), logger: testLogger)
        try await admin.withConnection { connection in _ = try await connection.simpleQuery("CREATE DATABASE \(name)") }
        await admin.close()
        let conninfo = Self.conninfo(base, database: name)
        let database = Database(configuration: .init(conninfo: conninfo, maxConnections: 1), logger: testLogger)
        try await Migrator(database: database, logger: testLogger).migrateControl()
        await database.close()
        return conninfo
    }

    /// `conninfo` naming another database (key=value form, or a postgres:// URL).
    public static func conninfo(_ conninfo: String, database: String) -> String {
        guard conninfo.hasPrefix("postgres://") || conninfo.hasPrefix("postgresql://"), var url = URLComponents(string: conninfo) else {
            // In the key=value form the last value of a keyword wins.
            return conninfo + " dbname=\(database)"
        }
        url.path = "/" + database
        return url.string ?? conninfo
    }

    private static func prepare() async throws -> String {
        let conninfo: String
        if let url = ProcessInfo.processInfo.environment["PARLEY_TEST_DATABASE_URL"], !url.isEmpty {
            conninfo = url
        } else {
            // initdb and pg_ctl block for seconds: keep them off the cooperative pool.
            conninfo = try await NIOThreadPool.singleton.runIfActive { try startThrowawayCluster() }
        }
        let database = Database(configuration: .init(conninfo: conninfo, maxConnections: 1), logger: testLogger)
        try await Migrator(database: database, logger: testLogger).migrateControl()
        await database.close()
        return conninfo
    }

    private static func startThrowawayCluster() throws -> String {
        removeStaleClusters()
        var template = Array("/tmp/parley-test-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw EmbeddedCluster.Failure(description: "mkdtemp failed") }
        let root = String(cString: made)
        try "\(getpid())".write(toFile: root + "/owner.pid", atomically: true, encoding: .utf8)
        let cluster = try EmbeddedCluster(
            root: root, databaseName: "parley_test", ephemeral: true,
            // The benchmarks of many brokerages need a buffer cache that holds their working set.
            sharedBuffers: ProcessInfo.processInfo.environment["PARLEY_TEST_SHARED_BUFFERS"] ?? "128MB",
            // About 190 tests run at once, each app with its pool, listener and fixtures: 300
            // connections ran out on a loaded machine ("too many clients already").
            maxConnections: 600, logger: testLogger)
        runningCluster.withLock { $0 = cluster }
        atexit { stopTestCluster() }
        try cluster.start()
        return cluster.conninfo
    }

    /// Clusters left by test processes that died without their exit handler (kill -9, crash).
    private static func removeStaleClusters() {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/tmp")) ?? []
        for entry in entries where entry.hasPrefix("parley-test-") {
            let root = "/tmp/" + entry
            guard let text = try? String(contentsOfFile: root + "/owner.pid", encoding: .utf8),
                let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)),
                kill(pid, 0) != 0, errno == ESRCH
            else { continue }
            if let cluster = try? EmbeddedCluster(root: root, logger: testLogger) {
                try? cluster.stop(immediate: true)
            }
            try? FileManager.default.removeItem(atPath: root)
        }
    }
}

private let runningCluster = Mutex<EmbeddedCluster?>(nil)

/// Called at process exit: stop the throwaway cluster and delete its folder.
private func stopTestCluster() {
    guard let cluster = runningCluster.withLock({ $0 }) else { return }
    try? cluster.stop(immediate: true)
    try? FileManager.default.removeItem(at: cluster.root)
}

/// Quiet unless LOG_LEVEL asks for more.
public let testLogger: Logger = {
    var logger = Logger(label: "parley-test")
    logger.logLevel = ProcessInfo.processInfo.environment["LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .warning
    return logger
}()
