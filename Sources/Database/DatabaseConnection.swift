import PQ
import Synchronization

/// A pooled connection: a `PQ.Connection` plus the thread hop and a per-connection cache of
/// named prepared statements.
///
/// Statements are prepared on first use per connection under a name derived from their SQL
/// (FNV-1a), then executed with `PQexecPrepared`: measured, parse+plan every time halves
/// send throughput (ARCHITECTURE §4). A changed `search_path` makes PostgreSQL re-plan a
/// prepared statement, so one cache serves every tenant.
public final class DatabaseConnection: Sendable {
    let raw: Connection
    let executor: BlockingExecutor
    private let prepared = Mutex<Set<String>>([])
    /// Whether the server is a Citus coordinator, once asked (decision 0032). A connection's
    /// database does not change, and Citus is installed before Parley connects (it needs
    /// `shared_preload_libraries`, so a restart, which opens new connections).
    private let citus = Mutex<Bool?>(nil)

    init(raw: Connection, executor: BlockingExecutor) {
        self.raw = raw
        self.executor = executor
    }

    public var backendPID: Int32 { raw.backendPID }

    /// Whether the `citus` extension is installed in this connection's database: asked once
    /// per connection, not once per migration step.
    public func isCitus() async throws -> Bool {
        if let known = citus.withLock({ $0 }) { return known }
        let found = !(try await queryUnprepared("SELECT 1 FROM pg_extension WHERE extname = 'citus'").isEmpty)
        citus.withLock { $0 = found }
        return found
    }

    /// Runs a statement with bound parameters as a named prepared statement.
    @discardableResult
    public func query(_ sql: String, _ params: [any SQLEncodable] = []) async throws -> QueryResult {
        let values = params.map(\.pqValue)
        let name = Self.statementName(sql)
        return try await run { [self] in
            // Recorded as soon as PREPARE succeeds (prepared statements survive a rolled-back
            // transaction), so a statement is never prepared twice on one connection.
            if !prepared.withLock({ $0.contains(name) }) {
                try raw.prepare(name, sql)
                _ = prepared.withLock { $0.insert(name) }
            }
            return try raw.execPrepared(name, values)
        }
    }

    /// Runs a statement with bound parameters without preparing it (one-off statements).
    @discardableResult
    public func queryUnprepared(_ sql: String, _ params: [any SQLEncodable] = []) async throws -> QueryResult {
        let values = params.map(\.pqValue)
        let raw = self.raw
        return try await run { try raw.execParams(sql, values) }
    }

    /// Runs SQL with the simple query protocol (several statements, no parameters).
    @discardableResult
    public func simpleQuery(_ sql: String) async throws -> QueryResult {
        let raw = self.raw
        return try await run { try raw.exec(sql) }
    }

    /// Several statements, no parameters, one round trip; every result (see `Connection.execAll`).
    public func simpleQueryAll(_ sql: String) async throws -> [QueryResult] {
        let raw = self.raw
        return try await run { try raw.execAll(sql) }
    }

    /// `COPY … FROM STDIN` with the given pieces of COPY data; returns the rows stored.
    @discardableResult
    public func copyIn(_ sql: String, _ pieces: [[UInt8]]) async throws -> Int {
        let raw = self.raw
        return try await run {
            var iterator = pieces.makeIterator()
            return try raw.copyIn(sql) { iterator.next() }
        }
    }

    /// Statements with parameters in one round trip (libpq pipeline mode), not prepared.
    public func pipeline(_ statements: [(sql: String, params: [any SQLEncodable])]) async throws -> [QueryResult] {
        try await pipeline(statements.map { PipelinedStatement($0.sql, $0.params, prepared: false) })
    }

    /// Statements with parameters in one round trip, each as a named prepared statement like
    /// `query` (created in the same round trip the first time on this connection).
    public func pipelinePrepared(_ statements: [(sql: String, params: [any SQLEncodable])]) async throws -> [QueryResult] {
        try await pipeline(statements.map { PipelinedStatement($0.sql, $0.params, prepared: true) })
    }

    /// Statements in one round trip, prepared or not, each as it says.
    public func pipeline(_ statements: [PipelinedStatement]) async throws -> [QueryResult] {
        try await run { [self] in
            let known = prepared.withLock { $0 }
            var creating: Set<String> = []
            let pipelined = statements.map { statement -> Connection.PipelineStatement in
                let values = statement.params.map(\.pqValue)
                guard statement.prepared else { return .init(sql: statement.sql, params: values) }
                let name = Self.statementName(statement.sql)
                let create = !known.contains(name) && creating.insert(name).inserted
                return .init(sql: statement.sql, params: values, prepared: name, prepare: create)
            }
            return try raw.pipeline(pipelined) { name in _ = prepared.withLock { $0.insert(name) } }
        }
    }

    /// Ends a transaction a failed block left open (nothing to do when the connection broke or
    /// is not inside one): the one rollback path of every transaction shape.
    func rollbackIfOpen() async {
        guard raw.isConnected, raw.transactionStatus != .idle else { return }
        _ = try? await simpleQuery("ROLLBACK")
    }

    /// A libpq call on a blocking thread; its errors become `DatabaseError`.
    private func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        do {
            return try await executor.run(body)
        } catch let error as PQError {
            throw DatabaseError(error)
        }
    }

    /// Closes the connection on a blocking thread.
    func close() async {
        let raw = self.raw
        _ = try? await executor.run { raw.finish() }
    }

    static func statementName(_ sql: String) -> String { "p" + FNV1a.hex(sql) }
}

/// A statement of a pipeline: prepared once per connection (for statements whose plan does not
/// depend on the values), or parsed and planned each time.
public struct PipelinedStatement: Sendable {
    public let sql: String
    public let params: [any SQLEncodable]
    public let prepared: Bool

    public init(_ sql: String, _ params: [any SQLEncodable], prepared: Bool) {
        self.sql = sql
        self.params = params
        self.prepared = prepared
    }
}
