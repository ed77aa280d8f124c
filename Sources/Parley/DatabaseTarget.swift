import Database
import Foundation
import Logging

/// The database a command talks to: `DATABASE_URL`, or the embedded cluster under
/// `PARLEY_DATA_DIR` (default ./.parley), started on demand.
struct DatabaseTarget {
    let conninfo: String
    let cluster: EmbeddedCluster?
    /// True when this process started the embedded server and so must stop it.
    let startedCluster: Bool

    static func resolve(_ options: DatabaseOptions, logger: Logger) throws -> DatabaseTarget {
        if let url = options.databaseURL ?? Env.get("DATABASE_URL") {
            return DatabaseTarget(conninfo: url, cluster: nil, startedCluster: false)
        }
        let root = options.dataDirectory ?? Env.get("PARLEY_DATA_DIR") ?? ".parley"
        let cluster = try EmbeddedCluster(root: root, logger: logger)
        let started = try cluster.start()
        // The server's own login role, not the cluster's superuser.
        return DatabaseTarget(conninfo: cluster.serverConninfo, cluster: cluster, startedCluster: started)
    }

    /// Stops the embedded server if this process started it, unless another process is
    /// connected to it (`force`: whatever is connected, this process's own connections too).
    func shutdown(logger: Logger, force: Bool = false) {
        guard startedCluster, let cluster else { return }
        do {
            if force { try cluster.stop() } else { _ = try cluster.stopUnlessInUse() }
        } catch {
            logger.error("could not stop the embedded PostgreSQL", metadata: ["error": "\(error)"])
        }
    }

    func makeDatabase(logger: Logger, maxConnections: Int? = nil) throws -> Database {
        let day = 86_400_000
        let size = try maxConnections ?? Env.int("PARLEY_DB_POOL_SIZE", 10, in: 1...10_000)
        let timeout = try Env.int("PARLEY_DB_POOL_TIMEOUT_MS", 5000, in: 1...day)
        // 0: the server's own setting.
        let statementTimeout = try Env.int("PARLEY_DB_STATEMENT_TIMEOUT_MS", 30_000, in: 0...day)
        let lockTimeout = try Env.int("PARLEY_DB_LOCK_TIMEOUT_MS", 10_000, in: 0...day)
        let tenantsPerConnection = try Env.int("PARLEY_DB_MAX_TENANTS_PER_CONNECTION", 500, in: 1...1_000_000)
        let patience = try Env.int("PARLEY_DB_AFFINITY_PATIENCE_MS", 200, in: 0...60_000)
        let preferred = try Env.int("PARLEY_DB_PREFERRED_CONNECTIONS", 1, in: 1...10_000)
        return Database(
            configuration: .init(
                conninfo: conninfo, maxConnections: size, acquireTimeout: .milliseconds(timeout),
                statementTimeout: statementTimeout > 0 ? .milliseconds(statementTimeout) : nil,
                lockTimeout: lockTimeout > 0 ? .milliseconds(lockTimeout) : nil,
                maxTenantsPerConnection: tenantsPerConnection, affinityPatience: .milliseconds(patience),
                preferredSlots: preferred),
            logger: logger)
    }
}

/// Runs `body` against the database, then closes the pool and stops an embedded server this
/// process started, whether `body` succeeded or not.
func withDatabase<T>(
    _ options: DatabaseOptions, logger: Logger, maxConnections: Int = 2,
    _ body: (DatabaseTarget, Database) async throws -> T
) async throws -> T {
    let target = try DatabaseTarget.resolve(options, logger: logger)
    let database = try target.makeDatabase(logger: logger, maxConnections: maxConnections)
    do {
        let result = try await body(target, database)
        await database.close()
        target.shutdown(logger: logger)
        return result
    } catch {
        await database.close()
        target.shutdown(logger: logger)
        throw error
    }
}
