import Logging
import PQ
import ServiceLifecycle

/// Parley's handle on PostgreSQL: a bounded pool whose libpq calls all run on the
/// `BlockingExecutor`, plus block-shaped transactions.
///
/// As a `Service` it closes the pool on graceful shutdown.
public final class Database: Service, Sendable {
    public struct Configuration: Sendable {
        /// A `postgresql://` URL or a libpq `key=value` string.
        public var conninfo: String
        public var maxConnections: Int
        /// How long a caller waits for a free connection before `DatabaseError.poolTimeout`.
        public var acquireTimeout: Duration
        public var applicationName: String
        /// `statement_timeout` of every pooled connection: no request of the API comes near it;
        /// it ends what would otherwise hold a connection (and its locks) without bound.
        /// Migrations lift it for their own transactions. Nil: the server's setting.
        public var statementTimeout: Duration?
        /// `lock_timeout` of every pooled connection: a statement waiting this long for a lock
        /// fails (`DatabaseError.contention`) instead of queueing behind a stuck transaction.
        public var lockTimeout: Duration?
        /// A pooled connection that has served this many brokerages is closed when it comes
        /// back: its backend holds the compiled functions and plans of each brokerage it
        /// served, ~1 MiB apiece (decision 0026).
        public var maxTenantsPerConnection: Int
        /// How long a brokerage's transaction waits for a connection that suits it (one that
        /// has served the brokerage, or one of its preferred slots) before it takes any
        /// (decision 0026).
        public var affinityPatience: Duration
        /// How many of the pool's slots each brokerage prefers (its first choices by rendezvous
        /// hashing): 1, so that a brokerage's functions and plans are held by as few backends
        /// as its load needs; each backend then walks fewer plans at every invalidation
        /// (decision 0026, amended).
        public var preferredSlots: Int

        public init(
            conninfo: String, maxConnections: Int = 10, acquireTimeout: Duration = .seconds(5), applicationName: String = "parley",
            statementTimeout: Duration? = .seconds(30), lockTimeout: Duration? = .seconds(10), maxTenantsPerConnection: Int = 500,
            affinityPatience: Duration = .milliseconds(200), preferredSlots: Int = 1
        ) {
            self.conninfo = conninfo
            self.maxConnections = maxConnections
            self.acquireTimeout = acquireTimeout
            self.applicationName = applicationName
            self.statementTimeout = statementTimeout
            self.lockTimeout = lockTimeout
            self.maxTenantsPerConnection = max(maxTenantsPerConnection, 1)
            self.affinityPatience = max(affinityPatience, .zero)
            self.preferredSlots = max(preferredSlots, 1)
        }

        /// The session settings each new connection gets.
        var sessionSettings: String {
            func milliseconds(_ duration: Duration) -> Int64 {
                duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
            }
            var settings: [String] = []
            if let statementTimeout { settings.append("SET statement_timeout = \(milliseconds(statementTimeout))") }
            if let lockTimeout { settings.append("SET lock_timeout = \(milliseconds(lockTimeout))") }
            return settings.joined(separator: "; ")
        }
    }

    public let configuration: Configuration
    public let executor: BlockingExecutor
    let pool: ConnectionPool
    let logger: Logger

    public init(configuration: Configuration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        // One thread per pooled connection plus one for the odd close/connect in flight.
        self.executor = BlockingExecutor(threads: configuration.maxConnections + 1)
        self.pool = ConnectionPool(configuration: configuration, executor: executor, logger: logger)
    }

    /// Leases a connection for `body`. A connection that failed with a connection-level error
    /// is discarded instead of returned.
    @discardableResult
    public func withConnection<T: Sendable>(_ body: (DatabaseConnection) async throws -> T) async throws -> T {
        try await withConnection(tenant: nil, body)
    }

    /// `withConnection` on a connection that prefers `scope`'s brokerage (decision 0026).
    private func withConnection<T: Sendable>(tenant scope: TenantScope?, _ body: (DatabaseConnection) async throws -> T) async throws -> T {
        let connection = try await pool.acquire(tenant: scope?.schema.rawValue)
        do {
            let result = try await body(connection)
            await pool.release(connection, discard: false)
            return result
        } catch {
            await pool.release(connection, discard: Self.isConnectionFailure(error) || Self.isStalePlan(error))
            throw error
        }
    }

    /// Runs `body` in a transaction on the control plane (no tenant scope). Commits when `body`
    /// returns, rolls back when it throws.
    @discardableResult
    public func withTransaction<T: Sendable>(_ body: (Transaction) async throws -> T) async throws -> T {
        try await transaction(tenant: nil, begin: "BEGIN", body)
    }

    /// Runs `body` in a transaction confined to one tenant: `SET LOCAL ROLE` to the tenant's
    /// role and `SET LOCAL search_path` to its schema, both undone by COMMIT/ROLLBACK, so the
    /// scope cannot leak past the block.
    @discardableResult
    public func withTenant<T: Sendable>(_ scope: TenantScope, _ body: (Transaction) async throws -> T) async throws -> T {
        try await transaction(tenant: scope, begin: scope.beginSQL, body)
    }

    /// Like `withTenant`, with the transaction's first statements sent together with BEGIN and
    /// the scope in one round trip (libpq pipeline mode); `body` gets their results. For reads
    /// that would otherwise spend a round trip on BEGIN alone (search).
    @discardableResult
    public func withTenant<T: Sendable>(
        _ scope: TenantScope, opening first: [PipelinedStatement],
        _ body: ([QueryResult], Transaction) async throws -> T
    ) async throws -> T {
        try await transaction(tenant: scope, begin: { connection in
            let opening = scope.pipelinedBegin
            let results = try await connection.pipeline(opening + first)
            guard results.count == opening.count + first.count else {
                throw DatabaseError.undecodable("a pipeline of \(opening.count + first.count) statements returned \(results.count) results")
            }
            return Array(results.dropFirst(opening.count))
        }) { opened, tx in try await body(opened, tx) }
    }

    /// Runs parameterless statements in one tenant-scoped transaction in ONE round trip
    /// (`BEGIN; SET LOCAL ROLE; SET LOCAL search_path; <statements>; COMMIT`) and returns the
    /// statements' results. For hot read paths whose values are safe literals (numbers).
    public func tenantBatch(_ scope: TenantScope, _ statements: String) async throws -> [QueryResult] {
        try await againIfStale { try await withConnection(tenant: scope) { connection in
            do {
                let results = try await connection.simpleQueryAll(scope.beginSQL + "; " + statements + "; COMMIT")
                // BEGIN, SET ROLE, SET search_path … COMMIT
                try Self.committed(results.last)
                return Array(results.dropFirst(3).dropLast())
            } catch {
                await connection.rollbackIfOpen()
                throw error
            }
        } }
    }

    /// One statement in its own tenant-scoped transaction, in ONE round trip: BEGIN, the scope
    /// (set_config of role and search_path, transaction-local like SET LOCAL), the statement and
    /// COMMIT go out together in libpq pipeline mode. For the hottest write (a send).
    public func tenantPipelined(_ scope: TenantScope, _ sql: String, _ params: [any SQLEncodable]) async throws -> QueryResult {
        try await tenantPipelined(scope, [PipelinedStatement(sql, params, prepared: false)])[0]
    }

    /// Statements in their own tenant-scoped transaction, in ONE round trip (BEGIN, the scope,
    /// the statements, COMMIT, pipelined); their results in order. A statement may move the
    /// transaction into another scope (`TenantScope.enter…`, decision 0028).
    public func tenantPipelined(_ scope: TenantScope, _ statements: [PipelinedStatement]) async throws -> [QueryResult] {
        try await againIfStale { try await withConnection(tenant: scope) { connection in
            do {
                let opening = scope.pipelinedBegin
                let results = try await connection.pipeline(opening + statements + [PipelinedStatement("COMMIT", [], prepared: false)])
                guard results.count == opening.count + statements.count + 1 else {
                    throw DatabaseError.undecodable(
                        "a pipeline of \(opening.count + statements.count + 1) statements returned \(results.count) results")
                }
                try Self.committed(results.last)
                return Array(results[opening.count..<(opening.count + statements.count)])
            } catch {
                await connection.rollbackIfOpen()
                throw error
            }
        } }
    }

    /// Throws unless `result` is a COMMIT's: PostgreSQL answers COMMIT in a transaction that
    /// had failed with the tag ROLLBACK and no error, and a caller that caught the failure and
    /// went on would otherwise be told its writes were kept. (A batch whose text swallowed the
    /// COMMIT, a trailing comment, ends with another tag.)
    static func committed(_ result: QueryResult?) throws {
        guard let tag = result?.commandTag, tag == "COMMIT" else {
            throw DatabaseError.rolledBack("COMMIT was answered \(result?.commandTag ?? "nothing"): the transaction was not kept")
        }
    }

    /// A whole transaction, run again (at most three tries) while it fails on a stale prepared
    /// statement (its connection was dropped, see `isStalePlan`): it was rolled back, so nothing
    /// happened twice. Each connection that served before the migration fails once.
    private func againIfStale<T: Sendable>(_ run: () async throws -> T) async throws -> T {
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try await run()
            } catch where Self.isStalePlan(error) && attempt < 3 {
                continue
            }
        }
    }

    private func transaction<T: Sendable>(tenant: TenantScope?, begin: String, _ body: (Transaction) async throws -> T) async throws -> T {
        try await transaction(tenant: tenant, begin: { connection in
            try await connection.simpleQuery(begin)
            return []
        }) { _, tx in try await body(tx) }
    }

    /// `begin` opens the transaction (and may run its first statements, whose results `body`
    /// gets); nothing has happened when it fails on a broken connection, so that is retried.
    private func transaction<T: Sendable>(
        tenant: TenantScope?, begin: (DatabaseConnection) async throws -> [QueryResult],
        _ body: ([QueryResult], Transaction) async throws -> T
    ) async throws -> T {
        // A statement this connection prepared before a migration changed a column's type: the
        // whole transaction runs again on another connection (see `againIfStale`).
        try await againIfStale {
            // A pooled connection may have died while idle (server restart, terminated backend);
            // that shows on BEGIN, before anything happened, so retrying on another is safe.
            var attempt = 0
            while true {
                attempt += 1
                let connection = try await pool.acquire(tenant: tenant?.schema.rawValue)
                let opened: [QueryResult]
                do {
                    opened = try await begin(connection)
                } catch {
                    let broken = Self.isConnectionFailure(error)
                    await pool.release(connection, discard: true)
                    if broken && attempt < 3 { continue }
                    throw broken ? DatabaseError.unavailable("lost the database connection") : error
                }
                let transaction = Transaction(connection: connection)
                do {
                    let result = try await body(opened, transaction)
                    try Self.committed(try await connection.simpleQuery("COMMIT"))
                    await pool.release(connection, discard: false)
                    return result
                } catch {
                    await connection.rollbackIfOpen()
                    await pool.release(connection, discard: Self.isConnectionFailure(error) || Self.isStalePlan(error))
                    throw error
                }
            }
        }
    }

    /// Pool figures for /metrics and /ready.
    /// The pool now. (How many connections were asked for in all is the metric
    /// `parley_db_pool_acquisitions_total`.)
    public func poolStats() async -> (open: Int, inUse: Int, idle: Int, waiting: Int) {
        let stats = await pool.stats
        return (stats.open, stats.inUse, stats.idle, stats.waiting)
    }

    public func close() async {
        await pool.close()
    }

    public func run() async throws {
        try? await gracefulShutdown()
        await close()
    }

    static func isConnectionFailure(_ error: any Error) -> Bool {
        if case .unavailable = error as? DatabaseError { return true }
        return false
    }

    /// PostgreSQL refuses to run a prepared statement whose result columns changed type since it
    /// was prepared (a migration made a column a domain, decision 0042): "cached plan must not
    /// change result type", SQLSTATE 0A000. The transaction is rolled back, and the connection,
    /// whose prepared statements are all suspect, is dropped; the transaction runs again on
    /// another (decision 0042).
    static func isStalePlan(_ error: any Error) -> Bool {
        guard case .failed(let server) = error as? DatabaseError else { return false }
        // Told by the routine that raises it, which no lc_messages translates (as PgJDBC does).
        return server.sqlState == "0A000" && server.routine == "RevalidateCachedQuery"
    }
}

/// The one connection of a transaction. Only lives inside `withTransaction`/`withTenant`.
public struct Transaction: Sendable {
    public let connection: DatabaseConnection

    /// A statement with bound parameters, prepared once per connection.
    @discardableResult
    public func query(_ sql: String, _ params: [any SQLEncodable] = []) async throws -> QueryResult {
        try await connection.query(sql, params)
    }

    /// A one-off statement with bound parameters, not prepared.
    @discardableResult
    public func queryUnprepared(_ sql: String, _ params: [any SQLEncodable] = []) async throws -> QueryResult {
        try await connection.queryUnprepared(sql, params)
    }

    /// Statements with no parameters, simple protocol (DDL, migrations).
    @discardableResult
    public func simpleQuery(_ sql: String) async throws -> QueryResult {
        try await connection.simpleQuery(sql)
    }

    /// Statements with parameters (not prepared) in one round trip; their results in order.
    public func pipeline(_ statements: [(sql: String, params: [any SQLEncodable])]) async throws -> [QueryResult] {
        try await connection.pipeline(statements)
    }

    /// Statements with parameters in one round trip, each prepared once per connection like
    /// `query` (for statements whose plan does not depend on the values).
    public func pipelinePrepared(_ statements: [(sql: String, params: [any SQLEncodable])]) async throws -> [QueryResult] {
        try await connection.pipelinePrepared(statements)
    }

    /// Moves the transaction into another brokerage's scope: its role and schema from here on,
    /// until the next `enter` or the end of the transaction. Only for a session shared by two
    /// brokerages, whose copies are written in one transaction, each under its own brokerage's
    /// role (decision 0028): no role ever reads another brokerage's schema.
    public func enter(_ scope: TenantScope) async throws {
        try await connection.query(TenantScope.enterSQL, [scope.role.rawValue, scope.schema.quoted + ", public"])
    }

    /// Whether a role of that name exists (the catalog only: a brokerage's role that a deletion
    /// dropped, the advisory-lock role a database may lack).
    public func roleExists(_ name: String) async throws -> Bool {
        try await connection.query("SELECT to_regrole($1) IS NOT NULL AS present", [name]).rows.first?.decode(Bool.self, "present") ?? false
    }

    /// `COPY … FROM STDIN` inside the transaction (bulk loads); returns the rows stored.
    @discardableResult
    public func copyIn(_ sql: String, _ pieces: [[UInt8]]) async throws -> Int {
        try await connection.copyIn(sql, pieces)
    }
}
