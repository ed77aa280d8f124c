import Database
import Foundation

/// Appends events to the tenant's event outbox inside the caller's transaction (sequence_events()
/// numbers them into `events` once committed; decision 0024).
///
/// Event types (docs/STREAM.md): `message.read`, `session.updated`, `badge.updated`, and from
/// the chat requests feature `request.created` / `request.updated` / `contact.created`. `message.created` is
/// appended by `send_message()` in SQL, with the payload `message_json()` builds.
public enum EventLog {
    public enum EventType: String, Sendable {
        case messageRead = "message.read"
        case sessionUpdated = "session.updated"
        case badgeUpdated = "badge.updated"
        case requestCreated = "request.created"
        case requestUpdated = "request.updated"
        case contactCreated = "contact.created"
    }

    /// One row; `data` is any Encodable, stored as jsonb.
    static func append(
        _ tx: Transaction, _ type: EventType, session: UUID?, recipients: [String], data: some Encodable
    ) async throws {
        guard !recipients.isEmpty else { return }
        try await tx.query(
            "INSERT INTO event_outbox (type, session_id, recipients, data) VALUES ($1, $2, $3::text[], $4::jsonb)",
            [type.rawValue, session, SQLArray.text(recipients), try SQLJSON(encoding: data, encoder: ParleyJSON.encoder())])
    }

    /// Event retention, run by the maintenance service: numbers what nobody has numbered yet
    /// (a brokerage with no open stream), then deletes events older than the brokerage's
    /// `eventRetentionDays`, oldest first, `batch` rows per transaction so no transaction runs
    /// long. Returns how many were deleted.
    public static func trim(_ database: Database, _ tenant: Tenant, batch: Int = 5000, now: Date = Date()) async throws -> Int {
        try await trim(database, tenant, before: now.addingTimeInterval(-Double(tenant.settings.eventRetentionDays) * 86400), batch: batch)
    }

    /// Deletes the events created before `before` (message retention passes its own cutoff).
    static func trim(_ database: Database, _ tenant: Tenant, before: Date, batch: Int = 5000) async throws -> Int {
        try await catchUp(database, tenant)
        var total = 0
        while true {
            let deleted = try await database.withTenant(tenant.scope) { tx in
                try await tx.query("SELECT trim_events($1, $2) AS n", [before, batch]).first.map { try $0.decode(Int.self, "n") } ?? 0
            }
            total += deleted
            if deleted < batch { return total }
        }
    }

    /// Numbers everything committed so far, in runs of `run` events, one transaction each,
    /// until a run is not full (at most `maxRuns`), and returns the last position. For the
    /// maintenance pass (a brokerage no stream reads has its sends numbered by nobody else: one
    /// run per pass, every ~60 s, numbered at most ~170 events a second, and a brokerage sending
    /// more with nobody connected grew its outbox and its unfolded badge differences, which
    /// `GET /v1/badge` adds up, without bound) and for a stream that opens (it starts at what is
    /// committed, decision 0039).
    @discardableResult
    public static func catchUp(_ database: Database, _ tenant: Tenant, run: Int = 10_000, maxRuns: Int = 100) async throws -> Int64 {
        var head: Int64 = 0
        for _ in 0..<maxRuns {
            // One round trip, statements of the kind the dispatcher's read sends (which Citus
            // runs as they are, decision 0032).
            let results = try await database.tenantBatch(tenant.scope, """
                SELECT position FROM event_clock WHERE singleton;
                SELECT sequence_events(\(run)) AS last
                """)
            guard results.count == 2,
                let before = try results[0].rows.first?.decode(Int64.self, "position"),
                let last = try results[1].rows.first?.decode(Int64.self, "last")
            else { throw DatabaseError.undecodable("unexpected event_clock or sequence_events() result") }
            head = last
            // Another sequencer (a stream's reader) may have numbered between the two
            // statements: that only makes this run look fuller, and costs one more look.
            if last - before < Int64(run) { break }
        }
        return head
    }
}
