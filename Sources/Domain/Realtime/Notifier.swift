import Database
import Foundation
import Logging
import Synchronization

/// Tells every process that a tenant has new events: `NOTIFY parley, '<tenant>'` after commit.
///
/// NOTIFY is kept out of the writing transaction (its commit-time lock halved send throughput
/// in measurements, ARCHITECTURE §4) and coalesced: while one NOTIFY is being sent, further
/// wake-ups for any tenant are collected and sent together in the next round trip. This
/// process's own dispatcher is woken directly, without waiting for the round trip.
public final class Notifier: Sendable {
    let database: Database
    let channels: LiveChannels
    let logger: Logger
    private let pending = Mutex<(slugs: Set<String>, sending: Bool)>(([], false))
    /// Whether another process listens (checked at most once a second; assumed until known).
    private let peers = Mutex<(present: Bool, checked: ContinuousClock.Instant?)>((true, nil))

    public init(database: Database, channels: LiveChannels, logger: Logger) {
        self.database = database
        self.channels = channels
        self.logger = logger
    }

    /// Called after a transaction that appended events has committed.
    public func tenantChanged(_ tenant: Tenant) {
        tenantChanged(slug: tenant.slug.rawValue)
    }

    /// The same, by slug (the other brokerages of a shared session, decision 0028).
    public func tenantChanged(slug: String) {
        channels.wakeLocally(slug)
        let start = pending.withLock { state -> Bool in
            state.slugs.insert(slug)
            if state.sending { return false }
            state.sending = true
            return true
        }
        if start { Task { await flush() } }
    }

    private func otherProcessesListen() async -> Bool {
        let (present, checked) = peers.withLock { ($0.present, $0.checked) }
        if let checked, ContinuousClock.now - checked < .seconds(1) { return present }
        let listeners = try? await database.withConnection { connection in
            try await connection.query("""
                SELECT count(*) AS n FROM pg_stat_activity
                WHERE datname = current_database() AND application_name = 'parley-listener'
                """).rows[0].decode(Int.self, "n")
        }
        // Unknown (query failed): keep notifying.
        let others = listeners.map { $0 > 1 } ?? true
        peers.withLock { $0 = (others, .now) }
        return others
    }

    private func flush() async {
        while true {
            let slugs = pending.withLock { state -> [String] in
                let slugs = Array(state.slugs)
                state.slugs.removeAll()
                if slugs.isEmpty { state.sending = false }
                return slugs
            }
            if slugs.isEmpty { return }
            // Alone on this database, the local wake-up is all there is to do: skip the NOTIFY
            // (a round trip and a commit per burst). A process that starts later is seen within
            // a second; until then its one-second safety read covers it.
            guard await otherProcessesListen() else { continue }
            do {
                try await database.withConnection { connection in
                    _ = try await connection.query(
                        "SELECT pg_notify($1, slug || '|' || $3) FROM unnest($2::text[]) AS slug",
                        [channels.events, SQLArray.text(slugs), channels.processToken])
                }
            } catch {
                // Other processes still catch up on their one-second safety read.
                logger.warning("NOTIFY failed", metadata: ["error": "\(error)"])
            }
        }
    }
}
