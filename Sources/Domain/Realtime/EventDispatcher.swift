import Database
import Foundation
import Logging
import Metrics
import ServiceLifecycle
import Synchronization

/// Fans events out to this process's live streams.
///
/// Wake-ups come from NOTIFY (other processes and this one) and from local writers; on each,
/// the dispatcher numbers the tenant's newly committed events (`sequence_events()`) and reads
/// those after its cursor, in position order, and offers each to the subscriptions of its
/// recipients. Positions are handed out after commit under a per-tenant lock, so a reader that
/// sees position n has seen every position below it: nothing committed later can appear behind
/// the cursor, and nothing outside the tenant's own event writers is ever waited for
/// (docs/decisions/0012-event-positions.md). After the LISTEN connection (re)connects, every
/// tenant is re-read from its cursor: nothing committed meanwhile is lost.
public final class EventDispatcher: Service, Sendable {
    struct TenantState {
        let tenant: Tenant
        /// The last position read and offered to the subscriptions.
        var cursor: Int64
        /// Live streams by user: an event is offered to its recipients' streams only, so a
        /// brokerage's other open streams cost it nothing.
        var streams: [String: [UUID: Subscription]] = [:]
        var streamCount = 0
        /// One read at a time; a wake-up during one asks for another after it.
        var reads = OneRunAtATime()
        /// When the last read ended (nil: none yet): the safety read skips a brokerage read
        /// within its interval and takes the longest unread first.
        var lastRead: ContinuousClock.Instant?

        mutating func add(_ subscription: Subscription) {
            streams[subscription.userID, default: [:]][subscription.id] = subscription
            streamCount += 1
        }

        mutating func remove(_ subscription: Subscription) {
            guard streams[subscription.userID]?.removeValue(forKey: subscription.id) != nil else { return }
            streamCount -= 1
            if streams[subscription.userID]?.isEmpty == true { streams[subscription.userID] = nil }
        }

        /// The streams of these users (each once, however often a user is named).
        func streams(of users: [String]) -> [Subscription] {
            Set(users).flatMap { streams[$0].map { Array($0.values) } ?? [] }
        }

        var allStreams: [Subscription] { streams.values.flatMap(\.values) }
    }

    let database: Database
    let listener: NotificationListener
    let channels: LiveChannels
    let logger: Logger
    let outboxCapacity: Int
    public let limits: StreamLimits
    private let state = Mutex<[String: TenantState]>([:])
    /// Set by `closeAllStreams` (shutdown): a stream opened after it is closed at once.
    private let draining = Mutex(false)
    private let deliveredCounter: Counter
    /// Others told of every wake-up (the webhook deliverer): a brokerage's writer committed.
    private let wakeObservers = Mutex<[Callback<String>]>([])

    public init(
        database: Database, listener: NotificationListener, channels: LiveChannels, logger: Logger, outboxCapacity: Int = 1000,
        limits: StreamLimits = StreamLimits()
    ) {
        self.limits = limits
        self.database = database
        self.listener = listener
        self.channels = channels
        self.logger = logger
        self.outboxCapacity = outboxCapacity
        self.deliveredCounter = Counter(label: "parley_stream_events_delivered_total")
        channels.onLocalWake { [weak self] slug in self?.committed(slug) }
    }

    /// Tells `observer` of every brokerage whose writers committed (in this process, or in
    /// another through NOTIFY), whether or not it has open streams here.
    public func observeWakes(_ observer: @escaping @Sendable (String) -> Void) {
        wakeObservers.withLock { $0.append(Callback(observer)) }
    }

    private func committed(_ slug: String) {
        wake(slug)
        for observer in wakeObservers.withLock({ $0 }) { observer.call(slug) }
    }

    // MARK: - Subscribing

    /// Opens a stream for `caller`. With `after` (a position, from any process), every event
    /// for the caller after it is replayed first, then live events follow in order, with no gap
    /// and no duplicate. Frames go to `sink`. Returns the subscription and the position the
    /// stream continues from (for `hello`).
    public func subscribe(_ caller: Caller, after: Int64?, sink: any StreamSink) async throws -> (Subscription, cursor: Int64) {
        let slug = caller.tenant.slug.rawValue
        let head = try await committedHead(caller.tenant)
        // A cursor beyond everything committed (another database's, or one from before a
        // restore) cannot be replayed: the stream starts live as one without a cursor, so that
        // hello's cursor is where it continues from, and the client is told to resync.
        let beyond = after.map { $0 > head } ?? false
        let after = beyond ? nil : after
        // Registering and reading the high-water mark happen together: every event after it
        // is offered to the subscription live (held until the replay is done).
        let (subscription, highWater) = try state.withLock { tenants throws(StreamLimitReached) -> (Subscription, Int64) in
            try Self.checkLimits(limits, tenants, caller)
            // The brokerage's state starts at the head on first use (a drain that found no
            // subscribers may also have dropped it meanwhile).
            if tenants[slug] == nil { tenants[slug] = TenantState(tenant: caller.tenant, cursor: head) }
            let highWater = tenants[slug]?.cursor ?? head
            // Without a cursor the stream starts at what was committed when it opened, not at
            // what this process had read by then: while delivery is behind (a burst of sends
            // with nobody connected), the events in between were offered to a new stream, which
            // a backlog of 1,000 for one user closed at once as a slow consumer.
            let subscription = Subscription(
                tenant: caller.tenant, userID: caller.userID, capacity: outboxCapacity, floor: after ?? max(highWater, head),
                replaying: after != nil, sink: sink)
            tenants[slug]?.add(subscription)
            return (subscription, highWater)
        }
        Gauge(label: "parley_stream_subscriptions").record(subscriptionCount)
        // Registered before the flag is read, and `closeAllStreams` sets the flag before it
        // collects the streams: a stream opened during shutdown is closed by one or the other.
        if draining.withLock({ $0 }) { subscription.terminate(.goingAway) }
        if beyond {
            subscription.push(.error(code: "resync_required", message: Self.resyncMessage(after: head + 1, head: head)))
        }
        // The floor it was made with, not `lastQueued` read now: a drain may have queued an event
        // for it since, and hello's cursor would then be that event's id.
        guard let after else { return (subscription, max(highWater, head)) }
        Task {
            do {
                try await replay(subscription, after: after, upTo: highWater)
            } catch {
                // Not live from here: the events it could not replay would be a gap the client
                // cannot see (its last event id would move past them). It ends, naming the last
                // event it was sent, and resumes from there.
                logger.warning("stream replay failed", metadata: ["error": "\(error)"])
                subscription.push(.error(code: "replay_failed", message: "could not replay missed events; reconnect with after=\(subscription.lastQueued)"))
                subscription.terminate(.replayFailed)
            }
            subscription.finishReplay()
        }
        return (subscription, max(after, highWater))
    }

    private static func checkLimits(_ limits: StreamLimits, _ tenants: [String: TenantState], _ caller: Caller) throws(StreamLimitReached) {
        if tenants.values.reduce(0, { $0 + $1.streamCount }) >= limits.maxStreams { throw .process }
        let own = tenants[caller.tenant.slug.rawValue]?.streams[caller.userID]?.count ?? 0
        if own >= limits.maxStreamsPerUser { throw .user }
    }

    public func unsubscribe(_ subscription: Subscription) {
        state.withLock { tenants in
            tenants[subscription.tenant.slug.rawValue]?.remove(subscription)
        }
        Gauge(label: "parley_stream_subscriptions").record(subscriptionCount)
    }

    /// Shutdown: closes every stream with 1001 and the cursor to resume from (on another
    /// process), and every stream opened from now on at once.
    public func closeAllStreams() {
        draining.withLock { $0 = true }
        for subscription in state.withLock({ $0.values.flatMap(\.allStreams) }) {
            subscription.terminate(.goingAway)
        }
    }

    /// Waits until every stream has ended (its socket closed) or `limit` has passed; returns
    /// the number still open.
    public func waitForStreamsToEnd(within limit: Duration) async -> Int {
        let deadline = ContinuousClock.now + limit
        while subscriptionCount > 0, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        return subscriptionCount
    }

    public var subscriptionCount: Int {
        state.withLock { $0.values.reduce(0) { $0 + $1.streamCount } }
    }

    // MARK: - Waking

    /// Something was committed in `tenant`: read and fan out its new events (coalesced).
    public func wake(_ slug: String) {
        let start = state.withLock { tenants in tenants[slug]?.reads.request() ?? false }
        guard start else { return }
        Task { await drain(slug) }
    }

    /// When the last read of `slug` ended (tests).
    func lastRead(of slug: String) -> ContinuousClock.Instant? {
        state.withLock { $0[slug]?.lastRead }
    }

    public func wakeAll() {
        for slug in state.withLock({ Array($0.keys) }) { wake(slug) }
    }

    /// Brokerages re-read by one safety read at most. A read is a transaction in the
    /// brokerage's scope: re-reading all of 1,000 streamed brokerages every second was 1,000
    /// transactions a second, each compiling the numbering in whichever backend served it
    /// (`parley-bench --brokerages`: 5.2 connections per brokerage, 6.2 GB of backends).
    public static let safetyReadsPerTick = 100

    /// The safety read: wakes the brokerages with streams here that no read has covered for
    /// `interval`, the longest unread first, at most `limit` of them. A process streaming up to
    /// `limit` brokerages re-reads each within about a second of a lost wake-up; one streaming
    /// N more re-reads each within about N / `limit` seconds. A brokerage with sends is read at
    /// each of them anyway.
    @discardableResult
    func safetyRead(
        limit: Int = EventDispatcher.safetyReadsPerTick, interval: Duration = .seconds(1), now: ContinuousClock.Instant = .now
    ) -> [String] {
        let due = state.withLock { tenants -> [String] in
            tenants.filter { $0.value.lastRead.map { now - $0 >= interval } ?? true }
                .sorted { a, b in
                    // Never read first, then the longest unread.
                    switch (a.value.lastRead, b.value.lastRead) {
                    case (nil, .some): true
                    case (.some(let x), .some(let y)): x < y
                    default: false
                    }
                }
                .prefix(limit).map(\.key)
        }
        for slug in due { wake(slug) }
        return due
    }

    /// Handles the LISTEN connection's events until shutdown, on the listener's own thread: a
    /// wake-up or a typing signal never waits for a task of the cooperative pool to be
    /// scheduled (a consumer task there was once starved for 11 s under load while the
    /// notification sat in its queue). A safety tick once a second re-reads the tenants no
    /// read covered for a second (at most `safetyReadsPerTick`) in case a wake-up was lost
    /// between processes.
    public func run() async throws {
        listener.onEvent { [weak self] event in self?.handle(event) }
        listener.start()
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await gracefulShutdown() }
            group.addTask {
                while !Task.isCancelled {
                    // The key that opens typing signals (decision 0029); until it is read, they
                    // are dropped. Read at start, and each second until that worked.
                    if !self.channels.hasTypingKey { try? await self.channels.loadTypingKey(self.database) }
                    try? await Task.sleep(for: .seconds(1))
                    self.safetyRead()
                }
            }
            await group.next()
            group.cancelAll()
        }
        closeAllStreams()
    }

    /// One event of the LISTEN connection (called on the listener's thread; quick: locks held
    /// briefly, reads started as tasks).
    private func handle(_ event: NotificationListener.Event) {
        switch event {
        case .connected:
            wakeAll()
            channels.announceTenantCreated(nil)
            channels.announceTenantChanged(nil)
        case .notification(let notification) where notification.channel == channels.typing:
            deliverTyping(notification.payload)
        case .notification(let notification) where notification.channel == LiveChannels.tenantsCreated:
            channels.announceTenantCreated(notification.payload)
        case .notification(let notification) where notification.channel == LiveChannels.tenantsChanged:
            channels.announceTenantChanged(notification.payload)
        case .notification(let notification):
            // Our own NOTIFYs were already handled by the local wake-up, so only other
            // processes' wake-ups cause a read.
            if let slug = channels.tenantToWake(notification.payload) { committed(slug) }
        }
    }

    // MARK: - Reading

    private func drain(_ slug: String) async {
        var failures = 0
        while true {
            guard let (tenant, cursor) = state.withLock({ tenants in tenants[slug].map { ($0.tenant, $0.cursor) } }) else { return }
            var more = false
            do {
                let events = try await read(tenant, after: cursor)
                // Each event with its recipients' streams, looked up by user under the lock.
                let deliveries = state.withLock { tenants -> [(StoredEvent, [Subscription])] in
                    if let last = events.last { tenants[slug]?.cursor = last.position }
                    guard let tenant = tenants[slug] else { return [] }
                    return events.map { ($0, tenant.streams(of: $0.recipients)) }
                }
                var delivered = 0
                for (event, subscriptions) in deliveries {
                    for subscription in subscriptions { subscription.deliver(event) }
                    delivered += subscriptions.count
                }
                if delivered > 0 { deliveredCounter.increment(by: delivered) }
                more = events.count == Self.pageSize
                failures = 0
            } catch DatabaseError.closed {
                // Shutting down: nothing more will be read; the safety tick stops too.
                state.withLock { tenants in tenants[slug]?.reads.abandon() }
                return
            } catch {
                failures += 1
                if failures == 1 || failures.isMultiple(of: 20) {
                    logger.warning("event read failed; retrying", metadata: ["tenant": "\(slug)", "error": "\(error)", "failures": "\(failures)"])
                }
                // Back off (50 ms doubling to 2 s) instead of spinning while the database is away.
                try? await Task.sleep(for: .milliseconds(min(2000, 50 << min(failures - 1, 6))))
                more = true
            }
            let again = state.withLock { tenants -> Bool in
                guard var tenant = tenants[slug] else { return false }
                tenant.lastRead = .now
                if tenant.reads.finish(more: more) {
                    tenants[slug] = tenant
                    return true
                }
                tenants[slug] = tenant.streamCount == 0 ? nil : tenant
                return false
            }
            guard again else { return }
        }
    }

    static let pageSize = 500
    /// Events numbered per sequence_events() call when a stream opens.
    static let numberingRun = 10_000

    static let eventColumns = "pos, type, session_id, array_to_json(recipients)::text AS recipients, data::text AS data"

    /// Numbers what has committed since the last read, then reads the events after `cursor`.
    private func read(_ tenant: Tenant, after cursor: Int64) async throws -> [StoredEvent] {
        // The hot path of delivery: one round trip (scope, sequencing, rows, COMMIT). The
        // cursor is spliced as a literal: it is a number this process read from the database.
        // Events are offered only after the COMMIT that fixed their positions succeeded.
        let results = try await database.tenantBatch(tenant.scope, """
            SELECT sequence_events();
            SELECT \(Self.eventColumns) FROM events WHERE pos > \(cursor) ORDER BY pos LIMIT \(Self.pageSize)
            """)
        guard results.count == 2 else { throw DatabaseError.undecodable("unexpected batch result") }
        return try results[1].rows.map(Self.event)
    }

    /// Replays the subscriber's events in (after, highWater], in pages, pacing itself to the
    /// socket so a long replay never overfills the outbox. A cursor that cannot be replayed
    /// exactly (older than retention kept, or beyond this database's last position: another
    /// database's cursor) gets `resync_required`, and the stream continues live.
    private func replay(_ subscription: Subscription, after: Int64, upTo highWater: Int64) async throws {
        let bounds = try await database.withTenant(subscription.tenant.scope) { tx in
            try await tx.query("SELECT (SELECT position FROM event_clock WHERE singleton) AS head, (SELECT min(pos) FROM events) AS oldest").first.map {
                (head: try $0.decode(Int64.self, "head"), oldest: try $0.decode(Int64?.self, "oldest"))
            }
        }
        guard let bounds else { throw DatabaseError.undecodable("event_clock has no row") }
        // Positions are gap-free and retention deletes the oldest first: min(pos) - 1 is the
        // last position deleted (or, with no events left, everything up to the head).
        let trimmedThrough = bounds.oldest.map { $0 - 1 } ?? bounds.head
        if after > bounds.head || after < trimmedThrough {
            subscription.restart(at: highWater)
            subscription.push(.error(code: "resync_required", message: Self.resyncMessage(after: after, head: bounds.head)))
            return
        }
        var position = after
        while position < highWater {
            // Paced to the socket: a client that keeps up waits a few milliseconds; one that does
            // not read is looked at less and less often (up to every 100 ms) until its stream
            // ends (its writes back up, so the server stops reading it and its ping goes
            // unanswered: 1001 within a minute).
            var wait = 5
            while subscription.isBackedUp, subscription.termination == nil {
                try await Task.sleep(for: .milliseconds(wait))
                wait = min(wait * 2, 100)
            }
            if subscription.termination != nil { return }
            let page = try await database.withTenant(subscription.tenant.scope) { tx in
                try await tx.query("""
                    SELECT \(Self.eventColumns) FROM events
                    WHERE recipients @> ARRAY[$1]::text[] AND pos > $2 AND pos <= $3
                    ORDER BY pos LIMIT 200
                    """, [subscription.userID, position, highWater]).rows.map(Self.event)
            }
            for event in page { subscription.replay(event) }
            guard page.count == 200, let last = page.last else { return }
            position = last.position
        }
    }

    static func resyncMessage(after: Int64, head: Int64) -> String {
        after > head
            ? "after is beyond this brokerage's last event; fetch current state over REST, then keep streaming from here"
            : "events after that cursor are no longer kept; fetch current state over REST, then keep streaming from here"
    }

    /// The last position committed now: numbers what is committed but not numbered yet, in
    /// runs of `numberingRun` (after a burst with no stream open there can be more).
    private func committedHead(_ tenant: Tenant) async throws -> Int64 {
        try await EventLog.catchUp(database, tenant, run: Self.numberingRun)
    }

    static func event(_ row: Row) throws -> StoredEvent {
        StoredEvent(
            position: try row.decode(Int64.self, "pos"), type: try row.decode(String.self, "type"),
            sessionID: try row.decode(UUID?.self, "session_id")?.uuidString.lowercased(),
            recipients: try row.decodeJSON([String].self, "recipients"), data: try row.decode(String.self, "data"))
    }

    // MARK: - Typing

    private func deliverTyping(_ payload: String) {
        guard let signal = channels.open(payload), let typing = try? JSONDecoder().decode(TypingSignal.self, from: signal) else { return }
        let subscriptions = state.withLock { $0[typing.t]?.streams(of: typing.r) ?? [] }
        for subscription in subscriptions where subscription.userID != typing.u {
            subscription.push(.typing(sessionID: typing.s, userID: typing.u, name: typing.n, until: Date(timeIntervalSince1970: typing.until)))
        }
    }
}
