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

    /// Stops the embedded server if this process started it.
    func shutdown(logger: Logger) {
        guard startedCluster, let cluster else { return }
        do {
            try cluster.stop()
        } catch {
            logger.error("could not stop the embedded PostgreSQL", metadata: ["error": "\(error)"])
        }
    }

    func makeDatabase(logger: Logger, maxConnections: Int? = nil) -> Database {
        let size = maxConnections ?? Env.get("PARLEY_DB_POOL_SIZE").flatMap(Int.init) ?? 10
        let timeout = Env.get("PARLEY_DB_POOL_TIMEOUT_MS").flatMap(Int.init) ?? 5000
        let statementTimeout = Env.get("PARLEY_DB_STATEMENT_TIMEOUT_MS").flatMap(Int.init) ?? 30_000
        let lockTimeout = Env.get("PARLEY_DB_LOCK_TIMEOUT_MS").flatMap(Int.init) ?? 10_000
        let tenantsPerConnection = Env.get("PARLEY_DB_MAX_TENANTS_PER_CONNECTION").flatMap(Int.init) ?? 500
        let patience = Env.get("PARLEY_DB_AFFINITY_PATIENCE_MS").flatMap(Int.init) ?? 200
        let preferred = Env.get("PARLEY_DB_PREFERRED_CONNECTIONS").flatMap(Int.init) ?? 1
        return Database(
            configuration: .init(
                conninfo: conninfo, maxConnections: max(size, 1), acquireTimeout: .milliseconds(timeout),
                statementTimeout: statementTimeout > 0 ? .milliseconds(statementTimeout) : nil,
                lockTimeout: lockTimeout > 0 ? .milliseconds(lockTimeout) : nil,
                maxTenantsPerConnection: max(tenantsPerConnection, 1), affinityPatience: .milliseconds(max(patience, 0)),
                preferredSlots: max(preferred, 1)),
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
    let database = target.makeDatabase(logger: logger, maxConnections: maxConnections)
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
