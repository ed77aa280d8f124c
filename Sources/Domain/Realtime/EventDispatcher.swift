import Database
import Foundation
import Logging
import Metrics
import ServiceLifecycle
import Synchronization

/// Fans events out to this process's live streams.
///
/// Wake-ups come from NOTIFY (other processes and this one) and from local writers; on each,
/// the dispatcher reads the tenant's new events with a gap-safe cursor and pushes each to the
/// subscriptions of its recipients. The cursor is (xid, id) and only rows below the oldest
/// running transaction are read (docs/decisions/0006-event-cursor.md), so an event that
/// commits late is still delivered, once, in order. After the LISTEN connection (re)connects,
/// every tenant is re-read from its cursor: nothing committed meanwhile is lost.
public final class EventDispatcher: Service, Sendable {
    struct Position: Sendable, Hashable {
        var xid: String
        var id: Int64
    }

    struct TenantState {
        let tenant: Tenant
        var cursor: Position
        var subscriptions: [UUID: Subscription] = [:]
        /// A read is running; `dirty` asks for one more after it.
        var reading = false
        var dirty = false
    }

    let database: Database
    let listener: NotificationListener
    let channels: LiveChannels
    let logger: Logger
    let outboxCapacity: Int
    private let state = Mutex<[String: TenantState]>([:])
    private let deliveredCounter: Counter

    public init(database: Database, listener: NotificationListener, channels: LiveChannels, logger: Logger, outboxCapacity: Int = 1000) {
        self.database = database
        self.listener = listener
        self.channels = channels
        self.logger = logger
        self.outboxCapacity = outboxCapacity
        self.deliveredCounter = Counter(label: "parley_stream_events_delivered_total")
        channels.onLocalWake { [weak self] slug in self?.wake(slug) }
    }

    // MARK: - Subscribing

    /// Opens a stream for `caller`. With `after`, every event for the caller after that event
    /// id is replayed first, then live events follow with no gap and no duplicate.
    /// Returns the subscription and the cursor the stream starts from (for `hello`).
    public func subscribe(_ caller: Caller, after: Int64?) async throws -> (Subscription, cursor: Int64?) {
        let slug = caller.tenant.slug.rawValue
        let head = try await ensureTenant(caller.tenant)
        let subscription = Subscription(tenant: caller.tenant, userID: caller.userID, capacity: outboxCapacity, replaying: after != nil)
        // Registering and reading the high-water mark happen together: every event after it
        // reaches the subscription live (held until the replay is done).
        let highWater = state.withLock { tenants -> Position in
            // A drain that found no subscribers may have dropped the state meanwhile.
            if tenants[slug] == nil { tenants[slug] = TenantState(tenant: caller.tenant, cursor: head) }
            tenants[slug]?.subscriptions[subscription.id] = subscription
            return tenants[slug]?.cursor ?? head
        }
        Gauge(label: "parley_stream_subscriptions").record(subscriptionCount)
        guard let after else { return (subscription, highWater.id == 0 ? nil : highWater.id) }
        Task {
            do {
                try await replay(subscription, after: after, upTo: highWater)
            } catch {
                logger.warning("stream replay failed", metadata: ["error": "\(error)"])
                subscription.push(.error(code: "replay_failed", message: "could not replay missed events; reconnect with after"))
            }
            subscription.finishReplay()
        }
        return (subscription, highWater.id == 0 ? after : highWater.id)
    }

    public func unsubscribe(_ subscription: Subscription) {
        state.withLock { tenants in
            _ = tenants[subscription.tenant.slug.rawValue]?.subscriptions.removeValue(forKey: subscription.id)
        }
        Gauge(label: "parley_stream_subscriptions").record(subscriptionCount)
    }

    public var subscriptionCount: Int {
        state.withLock { $0.values.reduce(0) { $0 + $1.subscriptions.count } }
    }

    // MARK: - Waking

    /// Something was committed in `tenant`: read and fan out its new events (coalesced).
    public func wake(_ slug: String) {
        let start = state.withLock { tenants -> Bool in
            guard var tenant = tenants[slug] else { return false }
            if tenant.reading {
                tenant.dirty = true
                tenants[slug] = tenant
                return false
            }
            tenant.reading = true
            tenant.dirty = false
            tenants[slug] = tenant
            return true
        }
        guard start else { return }
        Task { await drain(slug) }
    }

    public func wakeAll() {
        for slug in state.withLock({ Array($0.keys) }) { wake(slug) }
    }

    /// Consumes the LISTEN connection's events until shutdown. A safety tick re-reads every
    /// tenant once a second in case a wake-up was lost between processes.
    public func run() async throws {
        listener.start()
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await event in self.listener.events.cancelOnGracefulShutdown() {
                    switch event {
                    case .connected:
                        self.wakeAll()
                    case .notification(let notification) where notification.channel == self.channels.typing:
                        self.deliverTyping(notification.payload)
                    case .notification(let notification):
                        // Our own NOTIFYs were already handled by the local wake-up, so only
                        // other processes' wake-ups cause a read.
                        if let slug = self.channels.tenantToWake(notification.payload) { self.wake(slug) }
                    }
                }
            }
            group.addTask {
                while !Task.isCancelled && !Task.isShuttingDownGracefully {
                    try? await Task.sleep(for: .seconds(1))
                    self.wakeAll()
                }
            }
            await group.next()
            group.cancelAll()
        }
        for subscription in state.withLock({ $0.values.flatMap { $0.subscriptions.values } }) {
            subscription.terminate(.goingAway)
        }
    }

    // MARK: - Reading

    private func drain(_ slug: String) async {
        var failures = 0
        while true {
            guard let (tenant, cursor) = state.withLock({ tenants in tenants[slug].map { ($0.tenant, $0.cursor) } }) else { return }
            var next = cursor
            var pending = false
            do {
                let (events, morePending) = try await read(tenant, after: cursor)
                pending = morePending
                if let last = events.last { next = Position(xid: last.xid, id: last.id) }
                let subscriptions = state.withLock { tenants -> [Subscription] in
                    tenants[slug]?.cursor = next
                    return Array(tenants[slug]?.subscriptions.values ?? [:].values)
                }
                for event in events {
                    let recipients = Set(event.recipients)
                    for subscription in subscriptions where recipients.contains(subscription.userID) {
                        subscription.deliver(event)
                        deliveredCounter.increment()
                    }
                }
                if events.count == Self.pageSize { pending = true }
                failures = 0
            } catch DatabaseError.closed {
                // Shutting down: nothing more will be read; the safety tick stops too.
                state.withLock { tenants in tenants[slug]?.reading = false }
                return
            } catch {
                failures += 1
                if failures == 1 || failures.isMultiple(of: 20) {
                    logger.warning("event read failed; retrying", metadata: ["tenant": "\(slug)", "error": "\(error)", "failures": "\(failures)"])
                }
                // Back off (50 ms doubling to 2 s) instead of spinning while the database is away.
                try? await Task.sleep(for: .milliseconds(min(2000, 50 << min(failures - 1, 6))))
                pending = true
            }
            let again = state.withLock { tenants -> Bool in
                guard var tenant = tenants[slug] else { return false }
                if tenant.dirty || pending {
                    tenant.dirty = false
                    tenants[slug] = tenant
                    return true
                }
                tenant.reading = false
                if tenant.subscriptions.isEmpty { tenants[slug] = nil } else { tenants[slug] = tenant }
                return false
            }
            guard again else { return }
            // Rows of a still-running older transaction hold the cursor back: look again soon.
            if pending { try? await Task.sleep(for: .milliseconds(2)) }
        }
    }

    static let pageSize = 500

    /// The text form of xid is aliased `xid_text`, never `xid`: ORDER BY prefers an output
    /// column's name, and sorting xids as text ("995" > "1003") would break the order.
    static let eventColumns = "id, xid::text AS xid_text, type, session_id, array_to_json(recipients)::text AS recipients, data::text AS data"

    /// New events after `cursor` that can no longer change, and whether newer rows exist that
    /// are not yet readable (an older transaction is still running).
    private func read(_ tenant: Tenant, after cursor: Position) async throws -> ([StoredEvent], Bool) {
        // The hot path of delivery: one round trip (scope, rows, pending, COMMIT). The cursor
        // is spliced as literals: both parts are numbers this process read from the database,
        // and the xid is checked to be digits before use.
        let xid = !cursor.xid.isEmpty && cursor.xid.utf8.allSatisfy({ (48...57).contains($0) }) ? cursor.xid : "0"
        let after = "('\(xid)'::xid8, \(cursor.id)::bigint)"
        let results = try await database.tenantBatch(tenant.scope, """
            SELECT \(Self.eventColumns) FROM events
            WHERE (xid, id) > \(after) AND xid < pg_snapshot_xmin(pg_current_snapshot())
            ORDER BY events.xid, events.id LIMIT \(Self.pageSize);
            SELECT EXISTS (SELECT 1 FROM events WHERE xid >= pg_snapshot_xmin(pg_current_snapshot())
                           AND (xid, id) > \(after)) AS pending
            """)
        guard results.count == 2, let pendingRow = results[1].first else {
            throw DatabaseError.undecodable("unexpected batch result")
        }
        return (try results[0].rows.map(Self.event), try pendingRow.decode(Bool.self, "pending"))
    }

    /// Replays events for one subscriber in (after, highWater], in pages, pacing itself to the
    /// socket so a long replay never overfills the outbox.
    private func replay(_ subscription: Subscription, after: Int64, upTo highWater: Position) async throws {
        let start = try await database.withTenant(subscription.tenant.scope) { tx in
            try await tx.query("SELECT xid::text AS xid_text FROM events WHERE id = $1 AND $2 = ANY (recipients)", [after, subscription.userID])
                .first.map { Position(xid: try $0.decode(String.self, "xid_text"), id: after) }
        }
        guard var position = start else {
            subscription.push(.error(code: "cursor_unknown", message: "after is not an event of yours; fetch current state, then stream from the hello cursor"))
            return
        }
        while position.id != highWater.id || position.xid != highWater.xid {
            while subscription.queued > subscription.capacity / 2, subscription.termination == nil {
                try await Task.sleep(for: .milliseconds(5))
            }
            if subscription.termination != nil { return }
            let page = try await database.withTenant(subscription.tenant.scope) { tx in
                try await tx.query("""
                    SELECT \(Self.eventColumns) FROM events
                    WHERE $1 = ANY (recipients) AND (xid, id) > ($2::xid8, $3::bigint) AND (xid, id) <= ($4::xid8, $5::bigint)
                    ORDER BY events.xid, events.id LIMIT 200
                    """, [subscription.userID, position.xid, position.id, highWater.xid, highWater.id]).rows.map(Self.event)
            }
            guard let last = page.last else { return }
            for event in page { subscription.replay(event) }
            position = Position(xid: last.xid, id: last.id)
        }
    }

    /// The tenant's state, created on first use with the cursor at the current head.
    private func ensureTenant(_ tenant: Tenant) async throws -> Position {
        let slug = tenant.slug.rawValue
        if let cursor = state.withLock({ $0[slug]?.cursor }) { return cursor }
        let head = try await database.withTenant(tenant.scope) { tx in
            try await tx.query("""
                SELECT xid::text AS xid_text, id FROM events WHERE xid < pg_snapshot_xmin(pg_current_snapshot())
                ORDER BY events.xid DESC, events.id DESC LIMIT 1
                """).first.map { Position(xid: try $0.decode(String.self, "xid_text"), id: try $0.decode(Int64.self, "id")) }
                ?? Position(xid: "0", id: 0)
        }
        return state.withLock { tenants in
            if let existing = tenants[slug] { return existing.cursor }
            tenants[slug] = TenantState(tenant: tenant, cursor: head)
            return head
        }
    }

    static func event(_ row: Row) throws -> StoredEvent {
        let recipients = try row.decodeJSON([String].self, "recipients")
        return StoredEvent(
            id: try row.decode(Int64.self, "id"), xid: try row.decode(String.self, "xid_text"), type: try row.decode(String.self, "type"),
            sessionID: try row.decode(UUID?.self, "session_id")?.uuidString.lowercased(), recipients: recipients,
            data: try row.decode(String.self, "data"))
    }

    // MARK: - Typing

    private func deliverTyping(_ payload: String) {
        guard let typing = try? JSONDecoder().decode(TypingSignal.self, from: Data(payload.utf8)) else { return }
        let subscriptions = state.withLock { $0[typing.t]?.subscriptions.values.map { $0 } ?? [] }
        let recipients = Set(typing.r)
        for subscription in subscriptions where recipients.contains(subscription.userID) && subscription.userID != typing.u {
            subscription.push(.typing(sessionID: typing.s, userID: typing.u, name: typing.n, until: Date(timeIntervalSince1970: typing.until)))
        }
    }
}
