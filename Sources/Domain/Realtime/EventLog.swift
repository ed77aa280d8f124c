import Database
import Foundation

/// Appends events to the tenant's `events` table inside the caller's transaction.
///
/// Event types (docs/STREAM.md): `message.read`, `session.updated`, `badge.updated`, and from
/// the chat requests feature `request.created` / `request.updated`. `message.created` is
/// appended by `send_message()` in SQL, with the payload `message_json()` builds.
public enum EventLog {
    public enum EventType: String, Sendable {
        case messageRead = "message.read"
        case sessionUpdated = "session.updated"
        case badgeUpdated = "badge.updated"
        case requestCreated = "request.created"
        case requestUpdated = "request.updated"
    }

    /// One row; `data` is any Encodable, stored as jsonb.
    static func append(
        _ tx: Transaction, _ type: EventType, session: UUID?, recipients: [String], data: some Encodable
    ) async throws {
        guard !recipients.isEmpty else { return }
        try await tx.query(
            "INSERT INTO events (type, session_id, recipients, data) VALUES ($1, $2, $3::text[], $4::jsonb)",
            [type.rawValue, session, SQLArray.text(recipients), try SQLJSON(encoding: data, encoder: ParleyJSON.encoder())])
    }

}
