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
        try await database.withTenant(tenant.scope) { tx in _ = try await tx.query("SELECT sequence_events()") }
        var total = 0
        while true {
            let deleted = try await database.withTenant(tenant.scope) { tx in
                try await tx.query("SELECT trim_events($1, $2) AS n", [before, batch]).first.map { try $0.decode(Int.self, "n") } ?? 0
            }
            total += deleted
            if deleted < batch { return total }
        }
    }
}
