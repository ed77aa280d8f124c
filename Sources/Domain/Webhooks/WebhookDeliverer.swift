import Database
import Foundation
import Logging
import Metrics
import ServiceLifecycle
import Synchronization

/// Delivers webhooks (issue 19; decision 0034). Runs in every server process; the database
/// decides who sends what:
///
/// 1. `webhook_schedule()` turns the brokerage's new events into deliveries (the transactional
///    outbox: an event committed is scheduled exactly once per endpoint, in the transaction that
///    moves the endpoint's position);
/// 2. `webhook_claim()` leases the due ones, at most `perEndpoint` in flight per endpoint across
///    every process;
/// 3. each claimed delivery is POSTed on its own task (a slow endpoint holds only its own
///    leases) and `webhook_record()` writes the outcome if the lease is still this process's.
///
/// A brokerage is looked at when one of its writers wakes the live stream (this process or
/// another, through NOTIFY), when a retry falls due, and at least every `recheck` otherwise — so a
/// lease left by a crashed process is taken over once it runs out.
public final class WebhookDeliverer: Service, Sendable {
    public struct Settings: Sendable {
        /// Whether this process delivers (`PARLEY_WEBHOOK_DELIVERY=off`: another process does).
        public var enabled: Bool
        /// Seconds before the next attempt, after each failed one; when they run out the delivery
        /// has failed. The default: Standard Webhooks' example schedule stretched to about three
        /// days (5 s, 5 min, 30 min, 2 h, 5 h, then 10 h six times: 12 attempts over 2.9 days).
        public var retrySchedule: [Double]
        /// ± this fraction of each scheduled wait, at random, so retries of a batch spread out.
        public var jitter: Double
        /// Seconds an attempt may take, connecting included.
        public var timeout: Double
        /// Deliveries of one endpoint in flight at once, across all processes.
        public var perEndpoint: Int
        /// An endpoint failing this long with no success is disabled.
        public var disableAfter: Double
        /// The longest `Retry-After` honoured (seconds).
        public var maxRetryAfter: Double
        /// How often an idle brokerage with endpoints is looked at anyway.
        public var recheck: Duration
        /// Attempts in flight in this process at once, over all endpoints.
        public var maxInFlight: Int
        /// Attempts in flight in this process at once for one brokerage: one whose endpoints all
        /// hang (each holding its `perEndpoint` attempts for `timeout`) leaves the rest of
        /// `maxInFlight` to every other brokerage.
        public var maxInFlightPerBrokerage: Int

        public static let defaultSchedule: [Double] = [5, 300, 1800, 7200, 18000] + Array(repeating: 36000, count: 6)

        public init(
            enabled: Bool = true, retrySchedule: [Double] = Settings.defaultSchedule, jitter: Double = 0.2, timeout: Double = 15,
            perEndpoint: Int = 4, disableAfter: Double = 3 * 86400, maxRetryAfter: Double = 86400, recheck: Duration = .seconds(5),
            maxInFlight: Int = 256, maxInFlightPerBrokerage: Int = 64
        ) {
            self.enabled = enabled
            self.retrySchedule = retrySchedule
            self.jitter = jitter
            self.timeout = timeout
            self.perEndpoint = perEndpoint
            self.disableAfter = disableAfter
            self.maxRetryAfter = maxRetryAfter
            self.recheck = recheck
            self.maxInFlight = maxInFlight
            self.maxInFlightPerBrokerage = maxInFlightPerBrokerage
        }

        /// From the environment: `PARLEY_WEBHOOK_DELIVERY` (on/off), `PARLEY_WEBHOOK_TIMEOUT_SECONDS`,
        /// `PARLEY_WEBHOOK_RETRY_SCHEDULE` (seconds, comma-separated), `PARLEY_WEBHOOK_DISABLE_AFTER_SECONDS`.
        /// A value that does not parse is an error, not a silent default.
        public init(environment: [String: String]) throws {
            self.init()
            if let value = environment["PARLEY_WEBHOOK_DELIVERY"], !value.isEmpty {
                switch value.lowercased() {
                case "on", "true", "1": enabled = true
                case "off", "false", "0": enabled = false
                default: throw SettingError(name: "PARLEY_WEBHOOK_DELIVERY", rule: "on or off")
                }
            }
            if let value = environment["PARLEY_WEBHOOK_TIMEOUT_SECONDS"], !value.isEmpty {
                guard let seconds = Double(value), seconds >= 1, seconds <= 60 else {
                    throw SettingError(name: "PARLEY_WEBHOOK_TIMEOUT_SECONDS", rule: "seconds between 1 and 60")
                }
                timeout = seconds
            }
            if let value = environment["PARLEY_WEBHOOK_RETRY_SCHEDULE"], !value.isEmpty {
                let parts = value.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
                guard !parts.isEmpty, parts.count <= 50, parts.allSatisfy({ $0.map { $0 > 0 && $0 <= 7 * 86400 } ?? false }) else {
                    throw SettingError(name: "PARLEY_WEBHOOK_RETRY_SCHEDULE", rule: "1 to 50 positive numbers of seconds, comma-separated")
                }
                retrySchedule = parts.compactMap { $0 }
            }
            if let value = environment["PARLEY_WEBHOOK_DISABLE_AFTER_SECONDS"], !value.isEmpty {
                guard let seconds = Double(value), seconds > 0 else {
                    throw SettingError(name: "PARLEY_WEBHOOK_DISABLE_AFTER_SECONDS", rule: "a positive number of seconds")
                }
                disableAfter = seconds
            }
        }

        /// How long a claim lasts: twice an attempt's timeout (the sender ends every attempt within
        /// it), so a lease never runs out while its attempt can still be running.
        public var lease: Double { timeout * 2 }

        /// A failing streak ends after this long without a failed attempt: longer than any wait
        /// between two attempts (the schedule's longest, or the longest `Retry-After` honoured).
        public var streakGap: Double { max(retrySchedule.max() ?? 0, maxRetryAfter) * 1.25 }

        /// Seconds until the next attempt after a failed one at `step` of the schedule (nil: give
        /// up). A `Retry-After` the endpoint sent replaces the scheduled wait.
        public func retryDelay(step: Int, retryAfter: Double?) -> Double? {
            guard step < retrySchedule.count else { return nil }
            if let retryAfter { return min(max(retryAfter, 1), maxRetryAfter) }
            return retrySchedule[step] * (1 + Double.random(in: -jitter...jitter))
        }
    }

    public struct SettingError: Error, CustomStringConvertible {
        public let name: String
        public let rule: String
        public var description: String { "\(name): expected \(rule)" }
    }

    struct Watched {
        var tenant: Tenant
        var nextLook: ContinuousClock.Instant
        /// One pass at a time; a wake-up during one asks for another after it.
        var passes = OneRunAtATime()
    }

    let database: Database
    let tenants: TenantStore
    let sender: WebhookSender
    let logger: Logger
    public let settings: Settings
    private let watched = Mutex<[String: Watched]>([:])
    /// Attempts in flight: in all, and per brokerage (slug).
    private let inFlight = Mutex(InFlight())
    /// Set when `run` ends: nothing new is claimed or attempted.
    private let stopping = Mutex(false)
    private let attempts = Counter(label: "parley_webhook_attempts_total")
    private let failures = Counter(label: "parley_webhook_failed_attempts_total")

    public init(database: Database, tenants: TenantStore, policy: WebhookURLPolicy, logger: Logger, settings: Settings = Settings()) {
        self.database = database
        self.tenants = tenants
        self.sender = WebhookSender(policy: policy, timeout: settings.timeout)
        self.logger = logger
        self.settings = settings
    }

    /// A writer of `slug` committed (called for every wake-up of the live stream): look soon.
    public func wake(_ slug: String) {
        guard settings.enabled, !stopping.withLock({ $0 }) else { return }
        let start = watched.withLock { all in all[slug]?.passes.request() ?? false }
        if start { Task { await look(slug) } }
    }

    /// Until shutdown: refreshes which brokerages have endpoints, and looks at each when due.
    /// Attempts in flight at shutdown are given their timeout to finish; one cut short is
    /// retried by whichever process holds the next lease.
    public func run() async throws {
        guard settings.enabled else {
            try? await gracefulShutdown()
            return
        }
        defer { stopping.withLock { $0 = true } }
        var lastRefresh: ContinuousClock.Instant?
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            if lastRefresh.map({ ContinuousClock.now - $0 >= .seconds(5) }) ?? true {
                do {
                    try await refresh()
                    lastRefresh = .now
                } catch {
                    logger.warning("webhook brokerages could not be read", metadata: ["error": "\(error)"])
                }
            }
            let now = ContinuousClock.now
            let due = watched.withLock { all -> [String] in
                var due: [String] = []
                for (slug, entry) in all where !entry.passes.running && entry.nextLook <= now {
                    if all[slug]?.passes.request() == true { due.append(slug) }
                }
                return due
            }
            for slug in due { Task { await look(slug) } }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .milliseconds(250)) }
        }
        stopping.withLock { $0 = true }
        // A graceful shutdown gives attempts in flight up to 5 s to finish (inside the process's
        // shutdown budget); one cut short is attempted again once its lease runs out.
        let deadline = ContinuousClock.now + .seconds(min(settings.timeout + 1, 5))
        while inFlight.withLock({ $0.total }) > 0, ContinuousClock.now < deadline, !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(20))
        }
        await sender.shutdown()
    }

    /// The brokerages with endpoints, from the control schema (new ones are looked at at once).
    func refresh() async throws {
        let current = try await tenants.withWebhooks().filter(\.isServable)
        watched.withLock { all in
            let slugs = Set(current.map(\.slug.rawValue))
            for slug in all.keys where !slugs.contains(slug) { all[slug] = nil }
            for tenant in current {
                if all[tenant.slug.rawValue] == nil {
                    all[tenant.slug.rawValue] = Watched(tenant: tenant, nextLook: .now)
                } else {
                    all[tenant.slug.rawValue]?.tenant = tenant
                }
            }
        }
    }

    /// Starts watching a brokerage at once (its first endpoint was just created here).
    public func watch(_ tenant: Tenant) {
        guard settings.enabled, !stopping.withLock({ $0 }) else { return }
        watched.withLock { all in
            if all[tenant.slug.rawValue] == nil { all[tenant.slug.rawValue] = Watched(tenant: tenant, nextLook: .now) }
        }
    }

    /// Schedules and claims for one brokerage, starts the claimed attempts, and sets when to
    /// look again (the next retry due, or `recheck`). Runs once at a time per brokerage.
    private func look(_ slug: String) async {
        while true {
            guard let tenant = watched.withLock({ $0[slug]?.tenant }) else { return }
            var wait = settings.recheck
            do {
                // Numbering first, in a transaction of its own: the event clock's lock is held
                // only for that, never behind the scheduling (the live stream waits for it).
                // At most 1,000 at a time: under a send load with no stream open, this is the
                // brokerage's only numbering, and a long one would hold the clock's lock long.
                _ = try await database.tenantBatch(tenant.scope, "SELECT sequence_events(1000)")
                let room = room(for: slug)
                let atShare = room == 0 && atOwnShare(slug)
                // Literals only (numbers from the settings): one round trip. Whether the outbox
                // still holds events is `max(id)`, read from its index's high end: the low end
                // keeps the entries of the rows numbered until autovacuum comes by, and
                // `EXISTS` stepped over them all (decision 0053).
                let results = try await database.tenantBatch(tenant.scope, """
                    SELECT webhook_schedule();
                    SELECT \(Claim.columns) FROM webhook_claim(\(settings.perEndpoint), \(settings.lease), \(room));
                    SELECT extract(epoch FROM min(n.next) - now())::float8 AS due
                    FROM webhook_endpoints w CROSS JOIN LATERAL (
                        SELECT CASE
                            WHEN (SELECT count(*) FROM webhook_deliveries x
                                  WHERE x.endpoint_id = w.id AND x.lease_until IS NOT NULL AND x.lease_until >= now()) >= \(settings.perEndpoint)
                            THEN (SELECT min(x.lease_until) FROM webhook_deliveries x
                                  WHERE x.endpoint_id = w.id AND x.lease_until IS NOT NULL AND x.lease_until >= now())
                            ELSE (SELECT d.next_attempt_at FROM webhook_deliveries d
                                  WHERE d.endpoint_id = w.id AND d.status = 'pending' AND (d.lease_until IS NULL OR d.lease_until < now())
                                  ORDER BY d.next_attempt_at, d.event_pos LIMIT 1)
                        END AS next
                    ) AS n
                    WHERE w.enabled;
                    SELECT EXISTS (SELECT 1 FROM webhook_endpoints WHERE scan_position < (SELECT position FROM event_clock WHERE singleton))
                        OR (SELECT max(id) FROM event_outbox) IS NOT NULL AS behind
                    """)
                guard results.count == 4 else { throw DatabaseError.undecodable("webhook pass: \(results.count) results") }
                try start(results[1].rows, tenant: tenant)
                // When to look again: the earliest retry due at an endpoint below its cap, or the
                // earliest lease to run out at one that is at its cap (an attempt that ends wakes
                // the brokerage anyway). One due already but not claimed was held by another
                // transaction for a moment: look again shortly.
                // A brokerage at its own share waits for an attempt of its own to end, which
                // wakes it (`attempt`): retries due meanwhile could not be started anyway.
                if !atShare, let due = try results[2].rows.first?.decode(Double?.self, "due") {
                    wait = min(wait, .milliseconds(Int64(max(0.1, due) * 1000)))
                }
                // A backlog longer than one pass numbers or schedules (1,000 events): go on.
                if try results[3].rows.first?.decode(Bool.self, "behind") == true {
                    // Under way (this pass): asks for one more after it.
                    _ = watched.withLock { $0[slug]?.passes.request() }
                }
            } catch DatabaseError.closed {
                watched.withLock { $0[slug]?.passes.abandon() }
                return
            } catch {
                logger.warning("webhook pass failed", metadata: ["tenant": "\(slug)", "error": "\(error)"])
            }
            let again = watched.withLock { all -> Bool in
                guard var entry = all[slug] else { return false }
                let again = entry.passes.finish()
                if !again { entry.nextLook = .now + wait }
                all[slug] = entry
                return again
            }
            guard again else { return }
        }
    }

    struct Claim: Sendable {
        /// What both claim functions return, as `start` decodes it.
        static let columns = """
            delivery_id, endpoint_id, url, message_id, body, attempt, retry_step, lease::text AS lease, \
            array_to_json(secrets)::text AS secrets
            """

        let id: UUID
        let endpoint: UUID
        let url: String
        let messageID: String
        let body: String
        let attempt: Int
        let retryStep: Int
        let lease: String
        let secrets: [String]
    }

    struct InFlight {
        var total = 0
        var byBrokerage: [String: Int] = [:]

        mutating func add(_ slug: String, _ n: Int) {
            total += n
            byBrokerage[slug, default: 0] += n
            if byBrokerage[slug] == 0 { byBrokerage[slug] = nil }
        }
    }

    /// How many more attempts a brokerage may start now: what is left of the process's
    /// `maxInFlight` and of the brokerage's own share, `maxInFlightPerBrokerage`.
    private func room(for slug: String) -> Int {
        guard !stopping.withLock({ $0 }) else { return 0 }
        return inFlight.withLock { flight in
            max(0, min(settings.maxInFlight - flight.total, settings.maxInFlightPerBrokerage - flight.byBrokerage[slug, default: 0]))
        }
    }

    /// Whether a brokerage has its whole share of attempts in flight.
    private func atOwnShare(_ slug: String) -> Bool {
        inFlight.withLock { $0.byBrokerage[slug, default: 0] >= settings.maxInFlightPerBrokerage }
    }

    /// Starts an attempt per claimed row, each on its own task.
    private func start(_ rows: [Row], tenant: Tenant) throws {
        for row in rows {
            let claim = Claim(
                id: try row.decode(UUID.self, "delivery_id"), endpoint: try row.decode(UUID.self, "endpoint_id"),
                url: try row.decode(String.self, "url"), messageID: try row.decode(String.self, "message_id"),
                body: try row.decode(String.self, "body"), attempt: try row.decode(Int.self, "attempt"),
                retryStep: try row.decode(Int.self, "retry_step"), lease: try row.decode(String.self, "lease"),
                secrets: try row.decodeJSON([String].self, "secrets"))
            inFlight.withLock { $0.add(tenant.slug.rawValue, 1) }
            Task { await self.attempt(claim, tenant: tenant) }
        }
    }

    /// After an attempt: the endpoint's next due deliveries, claimed and started at once.
    private func claimNext(_ endpoint: UUID, tenant: Tenant) async {
        let room = room(for: tenant.slug.rawValue)
        guard room > 0 else { return }
        do {
            let rows = try await database.withTenant(tenant.scope) { tx in
                try await tx.query(
                    "SELECT \(Claim.columns) FROM webhook_claim_endpoint($1, $2, $3, $4)",
                    [endpoint, settings.perEndpoint, settings.lease, room]).rows
            }
            try start(rows, tenant: tenant)
        } catch DatabaseError.closed {
            return
        } catch {
            // The next pass over the brokerage claims them.
            logger.warning("webhook claim failed", metadata: ["tenant": "\(tenant.slug)", "error": "\(error)"])
        }
    }

    private func attempt(_ claim: Claim, tenant: Tenant) async {
        let started = Date()
        let outcome = await sender.send(url: claim.url, messageID: claim.messageID, body: claim.body, secrets: claim.secrets, now: started)
        attempts.increment()
        if !outcome.succeeded { failures.increment() }
        let retryIn = outcome.succeeded ? nil : settings.retryDelay(step: claim.retryStep, retryAfter: outcome.retryAfter)
        do {
            let result: String?
            do {
                result = try await record(claim, tenant: tenant, started: started, outcome: outcome, retryIn: retryIn)
            } catch where !Self.isTransient(error) {
                // Whatever the answer held that the database refused, the outcome itself is
                // recorded, so a delivery never repeats for lack of a log line.
                logger.warning("webhook outcome recorded without the response", metadata: ["tenant": "\(tenant.slug)", "error": "\(error)"])
                var plain = outcome
                plain.response = nil
                plain.error = plain.error.map { String($0.unicodeScalars.filter { $0.isASCII && $0.value != 0 }.prefix(500)) }
                result = try await record(claim, tenant: tenant, started: started, outcome: plain, retryIn: retryIn)
            }
            if result == "disabled" {
                logger.warning("webhook endpoint disabled", metadata: ["tenant": "\(tenant.slug)", "url": "\(claim.url)"])
            } else if result == "stale" {
                logger.info("webhook attempt outlived its lease", metadata: ["tenant": "\(tenant.slug)", "delivery": "\(claim.id)"])
            }
        } catch DatabaseError.closed {
            // Shutting down: the lease runs out and another process attempts it again.
            logger.info("webhook outcome not recorded: shutting down", metadata: ["tenant": "\(tenant.slug)", "delivery": "\(claim.id)"])
        } catch {
            // The lease runs out and the delivery is attempted again: at least once, never lost.
            logger.warning("webhook outcome not recorded", metadata: ["tenant": "\(tenant.slug)", "error": "\(error)"])
        }
        // This attempt no longer counts, before the next is claimed: counted, it left no room
        // for the next when the brokerage had its whole share in flight.
        let slug = tenant.slug.rawValue
        inFlight.withLock { $0.add(slug, -1) }
        // A success: the endpoint's next, now (it may have more waiting behind its in-flight
        // cap). A failure (a timeout, an error) gets no such turn: the brokerage's pass claims
        // next, for its endpoints with the fewest attempts in flight first, so endpoints that
        // hang cannot keep refilling the brokerage's share and starve its healthy ones.
        if outcome.succeeded {
            await claimNext(claim.endpoint, tenant: tenant)
        } else {
            wake(slug)
        }
    }

    private func record(_ claim: Claim, tenant: Tenant, started: Date, outcome: WebhookSender.Outcome, retryIn: Double?) async throws -> String? {
        try await database.withTenant(tenant.scope) { tx in
            try await tx.query("""
                SELECT webhook_record($1, $2::timestamptz, $3, $4, $5, $6, $7, $8, $9, $10) AS result
                """, [
                    claim.id, claim.lease, started, outcome.status, outcome.latencyMilliseconds,
                    outcome.error.map { $0.replacingOccurrences(of: "\u{0}", with: "") }, outcome.response, retryIn,
                    settings.disableAfter, settings.streakGap,
                ]).first.map { try $0.decode(String.self, "result") }
        }
    }

    /// Errors that say nothing about what was written (the database is away or closing).
    static func isTransient(_ error: any Error) -> Bool {
        switch error as? DatabaseError {
        case .closed, .unavailable, .poolTimeout: return true
        default: return false
        }
    }
}
