import Logging
import Metrics
import PQ

/// A bounded pool of database connections.
///
/// - At most `maxConnections` are open; callers beyond that wait for at most
///   `acquireTimeout`, then get `DatabaseError.poolTimeout` (the API answers 503). Nobody
///   waits for ever.
/// - A connection that broke, or that comes back inside a transaction, is closed and its slot
///   freed, so the next caller gets a fresh one.
/// - Connections open lazily. Unscoped work reuses them LIFO (the warmest first), waiting in
///   FIFO order.
/// - A brokerage's transactions go to connections that suit it (decision 0026): each
///   connection has a slot number, a brokerage ranks the slots by rendezvous hashing of its
///   schema name, and a connection suits it when it has served it already or sits in one of
///   its first `configuration.preferredSlots` slots (one by default). A transaction takes an
///   idle connection that suits it, else opens one in its best free slot, else waits; a
///   released connection goes to the longest waiter it suits. After
///   `configuration.affinityPatience` (200 ms by default) a waiter takes any connection. A
///   backend thus compiles and caches the functions and plans of a share of the brokerages,
///   not of all of them, and a connection that has served `maxTenantsPerConnection`
///   brokerages is closed when it comes back (its backend's memory grows ~1 MiB per brokerage
///   it served).
actor ConnectionPool {
    private struct Waiter {
        let id: UInt64
        let affinity: Affinity?
        let continuation: CheckedContinuation<DatabaseConnection, any Error>
        let timeout: Task<Void, Never>
        /// Waits for a connection that suits its brokerage; after `affinityPatience`, any.
        var patient: Bool
    }

    /// A brokerage's ranking of the pool's slots.
    struct Affinity: Sendable {
        let key: String
        let hash: UInt64

        init(_ key: String) {
            self.key = key
            self.hash = FNV1a.hash(key)
        }

        /// Rendezvous hashing: the slot with the highest score is the brokerage's first choice.
        func score(_ slot: Int) -> UInt64 {
            var z = hash ^ (UInt64(slot) &+ 1) &* 0x9E37_79B9_7F4A_7C15
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }

        /// Whether `slot` is among the brokerage's first `count` choices of `slots`.
        func ranks(_ slot: Int, amongFirst count: Int, of slots: Int) -> Bool {
            let mine = score(slot)
            var better = 0
            for other in 0..<slots where other != slot && score(other) > mine {
                better += 1
                if better >= count { return false }
            }
            return true
        }
    }

    /// What the pool knows of a connection it opened.
    private struct Member {
        let slot: Int
        var tenants: Set<String> = []
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
    private var members: [ObjectIdentifier: Member] = [:]

    private let inUseGauge: Gauge
    private let waitingGauge: Gauge
    private let openGauge: Gauge
    private let servedGauge: Gauge
    private let timeoutCounter: Counter
    private let acquisitionCounter: Counter
    private let retiredCounter: Counter
    private let deadIdleCounter: Counter

    init(configuration: Database.Configuration, executor: BlockingExecutor, logger: Logger) {
        self.configuration = configuration
        self.executor = executor
        self.logger = logger
        self.inUseGauge = Gauge(label: "parley_db_pool_in_use")
        self.waitingGauge = Gauge(label: "parley_db_pool_waiting")
        self.openGauge = Gauge(label: "parley_db_pool_open")
        self.servedGauge = Gauge(label: "parley_db_pool_brokerages_served")
        self.timeoutCounter = Counter(label: "parley_db_pool_timeouts_total")
        self.acquisitionCounter = Counter(label: "parley_db_pool_acquisitions_total")
        self.retiredCounter = Counter(label: "parley_db_pool_retired_total")
        self.deadIdleCounter = Counter(label: "parley_db_pool_dead_idle_total")
    }

    struct Stats: Sendable {
        let open: Int
        let inUse: Int
        let idle: Int
        let waiting: Int
    }

    var stats: Stats { Stats(open: openCount, inUse: leased, idle: idle.count, waiting: waiters.count) }

    /// A connection for one use. `tenant` (the brokerage's schema) takes an idle connection
    /// that suits the brokerage, or opens one in the slot it ranks highest, or waits up to
    /// `affinityPatience` for one that suits it before taking any; nil takes the most recently
    /// used connection.
    func acquire(tenant: String? = nil) async throws -> DatabaseConnection {
        if isClosed { throw DatabaseError.closed }
        acquisitionCounter.increment()
        let affinity = tenant.map(Affinity.init)
        while let index = idleIndex(for: affinity, suitingOnly: true) {
            let connection = idle.remove(at: index)
            // A connection whose backend ended while it sat idle would fail the caller's first
            // statement (only a transaction's BEGIN is retried): closed here, the next is taken.
            guard connection.raw.isUsableWhenIdle else {
                deadIdleCounter.increment()
                forget(connection)
                await connection.close()
                continue
            }
            lease(connection, for: affinity)
            return connection
        }
        if openCount < configuration.maxConnections {
            openCount += 1
            leased += 1
            report()
            do {
                return try await open(for: affinity)
            } catch {
                openCount -= 1
                leased -= 1
                report()
                throw error
            }
        }
        return try await wait(affinity)
    }

    /// The idle connection `affinity` should take: one that has served the brokerage, else its
    /// highest-ranked one (only among its preferred slots when `suitingOnly`); the most
    /// recently used one without affinity. nil: none.
    private func idleIndex(for affinity: Affinity?, suitingOnly: Bool) -> Int? {
        guard !idle.isEmpty else { return nil }
        guard let affinity else { return idle.count - 1 }
        var best: (index: Int, rank: (Int, UInt64))?
        for candidate in idle.indices {
            guard let member = members[ObjectIdentifier(idle[candidate])] else { continue }
            let rank = (member.tenants.contains(affinity.key) ? 1 : 0, affinity.score(member.slot))
            if let current = best, current.rank >= rank { continue }
            best = (candidate, rank)
        }
        guard let best else { return idle.count - 1 }
        return suitingOnly && !suits(idle[best.index], affinity) ? nil : best.index
    }

    private func suits(_ connection: DatabaseConnection, _ affinity: Affinity?) -> Bool {
        guard let affinity else { return true }
        guard let member = members[ObjectIdentifier(connection)] else { return true }
        return member.tenants.contains(affinity.key) || affinity.ranks(member.slot, amongFirst: configuration.preferredSlots, of: configuration.maxConnections)
    }

    /// Gives a connection back. `discard` (or a connection that is broken or still inside a
    /// transaction, or that has served `maxTenantsPerConnection` brokerages) closes it instead
    /// of reusing it.
    func release(_ connection: DatabaseConnection, discard: Bool) async {
        leased -= 1
        let id = ObjectIdentifier(connection)
        let worn = (members[id]?.tenants.count ?? 0) >= configuration.maxTenantsPerConnection
        if worn && !discard { retiredCounter.increment() }
        let reusable = !discard && !worn && !isClosed && connection.raw.isConnected
            && connection.raw.transactionStatus == .idle
        if reusable {
            handOver(connection, toAnyWaiter: false)
            return
        }
        forget(connection)
        // The slot is free again: a replacement for the waiters, opened apart. The releasing
        // request does not wait for someone else's connect (it used to, after a successful
        // transaction whose connection had served its share of brokerages), and the waiters keep
        // their deadlines until it is there.
        if !waiters.isEmpty, !isClosed, openCount < configuration.maxConnections {
            openCount += 1
            report()
            Task { await self.replenish(for: self.waiters.first?.affinity) }
        }
        await connection.close()
    }

    /// Opens the replacement `release` started: it goes to the waiter it suits that has waited
    /// longest (any waiter done being patient), else it is idle. If it cannot be opened, the
    /// longest waiter gets the error (the database is away), as before.
    private func replenish(for affinity: Affinity?) async {
        let connection: DatabaseConnection
        do {
            connection = try await open(for: affinity)
        } catch {
            openCount -= 1
            report()
            guard !waiters.isEmpty else { return }
            let waiter = waiters.removeFirst()
            waiter.timeout.cancel()
            report()
            waiter.continuation.resume(throwing: error)
            return
        }
        if isClosed {
            forget(connection)
            await connection.close()
            return
        }
        handOver(connection, toAnyWaiter: true)
    }

    /// A connection leaves the pool (the caller closes it): its slot is free.
    private func forget(_ connection: DatabaseConnection) {
        openCount -= 1
        members[ObjectIdentifier(connection)] = nil
        report()
    }

    /// A free connection goes to the longest-waiting waiter it suits, or that is done being
    /// patient; with `toAnyWaiter` (a replacement opened for the waiters) else to the first one;
    /// otherwise it is idle.
    private func handOver(_ connection: DatabaseConnection, toAnyWaiter: Bool) {
        let suited = waiters.firstIndex { !$0.patient || suits(connection, $0.affinity) }
        guard let index = suited ?? (toAnyWaiter && !waiters.isEmpty ? 0 : nil) else {
            idle.append(connection)
            report()
            return
        }
        let waiter = waiters.remove(at: index)
        waiter.timeout.cancel()
        lease(connection, for: waiter.affinity)
        waiter.continuation.resume(returning: connection)
    }

    private func lease(_ connection: DatabaseConnection, for affinity: Affinity?) {
        leased += 1
        if let affinity { members[ObjectIdentifier(connection)]?.tenants.insert(affinity.key) }
        report()
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
        for connection in connections { members[ObjectIdentifier(connection)] = nil }
        openCount -= connections.count
        report()
        for connection in connections { await connection.close() }
    }

    /// Opens a connection in the free slot `affinity` ranks highest (the lowest free slot
    /// without), leased to that brokerage.
    private func open(for affinity: Affinity?) async throws -> DatabaseConnection {
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
            let connection = DatabaseConnection(raw: raw, executor: executor)
            let taken = Set(members.values.map(\.slot))
            let free = (0..<max(configuration.maxConnections, taken.count + 1)).filter { !taken.contains($0) }
            let slot = affinity.flatMap { affinity in free.max { affinity.score($0) < affinity.score($1) } } ?? free.first ?? 0
            members[ObjectIdentifier(connection)] = Member(slot: slot, tenants: affinity.map { [$0.key] } ?? [])
            return connection
        } catch let error as PQError {
            logger.error("cannot open database connection", metadata: ["error": "\(error.debugDescription)"])
            throw DatabaseError.unavailable("cannot connect to the database")
        }
    }

    private func wait(_ affinity: Affinity?) async throws -> DatabaseConnection {
        nextWaiterID += 1
        let id = nextWaiterID
        let timeoutDuration = configuration.acquireTimeout
        return try await withCheckedThrowingContinuation { continuation in
            let patience = affinity == nil ? Duration.zero : min(configuration.affinityPatience, timeoutDuration)
            let timeout = Task { [weak self] in
                if patience > .zero {
                    do { try await Task.sleep(for: patience) } catch { return }
                    await self?.losePatience(id)
                }
                do { try await Task.sleep(for: timeoutDuration - patience) } catch { return }
                await self?.expire(id)
            }
            waiters.append(Waiter(id: id, affinity: affinity, continuation: continuation, timeout: timeout, patient: affinity != nil))
            report()
        }
    }

    /// A waiter done being patient takes an idle connection if there is one, else the next one
    /// released.
    private func losePatience(_ id: UInt64) {
        guard let index = waiters.firstIndex(where: { $0.id == id }) else { return }
        waiters[index].patient = false
        guard let chosen = idleIndex(for: waiters[index].affinity, suitingOnly: false) else { return }
        let waiter = waiters.remove(at: index)
        waiter.timeout.cancel()
        let connection = idle.remove(at: chosen)
        lease(connection, for: waiter.affinity)
        waiter.continuation.resume(returning: connection)
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
        // Brokerages served, summed over the open connections: a brokerage on two counts twice.
        // Each backend keeps the plans of every brokerage it served (decisions 0025, 0046).
        servedGauge.record(members.values.reduce(0) { $0 + $1.tenants.count })
    }
}
