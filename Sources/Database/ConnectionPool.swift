import Logging
import Metrics
import PQ

/// A bounded pool of database connections.
///
/// - At most `maxConnections` are open; callers beyond that wait in FIFO order for at most
///   `acquireTimeout`, then get `DatabaseError.poolTimeout` (the API answers 503). Nobody
///   waits for ever.
/// - A connection that broke, or that comes back inside a transaction, is closed and its slot
///   freed, so the next caller gets a fresh one.
/// - Connections open lazily and are reused LIFO (the warmest first).
actor ConnectionPool {
    private struct Waiter {
        let id: UInt64
        let continuation: CheckedContinuation<DatabaseConnection, any Error>
        let timeout: Task<Void, Never>
    }

    let configuration: Database.Configuration
    private let executor: BlockingExecutor
    private let logger: Logger
    private var idle: [DatabaseConnection] = []
    private var openCount = 0
    private var leased = 0
    private var waiters: [Waiter] = []
    private var nextWaiterID: UInt64 = 0
    private var isClosed = false

    private let inUseGauge: Gauge
    private let waitingGauge: Gauge
    private let openGauge: Gauge
    private let timeoutCounter: Counter
    private let acquisitionCounter: Counter

    init(configuration: Database.Configuration, executor: BlockingExecutor, logger: Logger) {
        self.configuration = configuration
        self.executor = executor
        self.logger = logger
        self.inUseGauge = Gauge(label: "parley_db_pool_in_use")
        self.waitingGauge = Gauge(label: "parley_db_pool_waiting")
        self.openGauge = Gauge(label: "parley_db_pool_open")
        self.timeoutCounter = Counter(label: "parley_db_pool_timeouts_total")
        self.acquisitionCounter = Counter(label: "parley_db_pool_acquisitions_total")
    }

    struct Stats: Sendable {
        let open: Int
        let inUse: Int
        let idle: Int
        let waiting: Int
    }

    var stats: Stats { Stats(open: openCount, inUse: leased, idle: idle.count, waiting: waiters.count) }

    func acquire() async throws -> DatabaseConnection {
        if isClosed { throw DatabaseError.closed }
        acquisitionCounter.increment()
        if let connection = idle.popLast() {
            leased += 1
            report()
            return connection
        }
        if openCount < configuration.maxConnections {
            openCount += 1
            leased += 1
            report()
            do {
                return try await open()
            } catch {
                openCount -= 1
                leased -= 1
                report()
                throw error
            }
        }
        return try await wait()
    }

    /// Gives a connection back. `discard` (or a connection that is broken or still inside a
    /// transaction) closes it instead of reusing it.
    func release(_ connection: DatabaseConnection, discard: Bool) async {
        leased -= 1
        let reusable = !discard && !isClosed && connection.raw.isConnected
            && connection.raw.transactionStatus == .idle
        if reusable {
            if waiters.isEmpty {
                idle.append(connection)
            } else {
                let waiter = waiters.removeFirst()
                waiter.timeout.cancel()
                leased += 1
                waiter.continuation.resume(returning: connection)
            }
            report()
            return
        }
        openCount -= 1
        report()
        await connection.close()
        // The slot is free again: open a replacement for the first waiter, if any.
        guard !waiters.isEmpty, !isClosed, openCount < configuration.maxConnections else { return }
        let waiter = waiters.removeFirst()
        waiter.timeout.cancel()
        openCount += 1
        leased += 1
        report()
        do {
            waiter.continuation.resume(returning: try await open())
        } catch {
            openCount -= 1
            leased -= 1
            report()
            waiter.continuation.resume(throwing: error)
        }
    }

    func close() async {
        isClosed = true
        for waiter in waiters {
            waiter.timeout.cancel()
            waiter.continuation.resume(throwing: DatabaseError.closed)
        }
        waiters.removeAll()
        let connections = idle
        idle.removeAll()
        openCount -= connections.count
        report()
        for connection in connections { await connection.close() }
    }

    private func open() async throws -> DatabaseConnection {
        let configuration = self.configuration
        do {
            let raw = try await executor.run {
                let connection = try Connection.connect(configuration.conninfo, applicationName: configuration.applicationName)
                let settings = configuration.sessionSettings
                if !settings.isEmpty {
                    do {
                        _ = try connection.execAll(settings)
                    } catch {
                        connection.finish()
                        throw error
                    }
                }
                return connection
            }
            return DatabaseConnection(raw: raw, executor: executor)
        } catch let error as PQError {
            logger.error("cannot open database connection", metadata: ["error": "\(error.debugDescription)"])
            throw DatabaseError.unavailable("cannot connect to the database")
        }
    }

    private func wait() async throws -> DatabaseConnection {
        nextWaiterID += 1
        let id = nextWaiterID
        let timeoutDuration = configuration.acquireTimeout
        return try await withCheckedThrowingContinuation { continuation in
            let timeout = Task { [weak self] in
                do { try await Task.sleep(for: timeoutDuration) } catch { return }
                await self?.expire(id)
            }
            waiters.append(Waiter(id: id, continuation: continuation, timeout: timeout))
            report()
        }
    }

    private func expire(_ id: UInt64) {
        guard let index = waiters.firstIndex(where: { $0.id == id }) else { return }
        let waiter = waiters.remove(at: index)
        timeoutCounter.increment()
        report()
        waiter.continuation.resume(throwing: DatabaseError.poolTimeout(waited: configuration.acquireTimeout))
    }

    private func report() {
        inUseGauge.record(leased)
        waitingGauge.record(waiters.count)
        openGauge.record(openCount)
    }
}
