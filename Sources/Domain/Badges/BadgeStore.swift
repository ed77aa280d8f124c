import Database
import Foundation

/// The sidebar badge: unread messages in active sessions plus pending chat requests.
/// O(sessions of the user): per-member read positions against each session's last seq; no
/// message is counted row by row.
public struct BadgeStore: Sendable {
    public let database: Database

    public init(database: Database) {
        self.database = database
    }

    public func badge(_ caller: Caller) async throws -> Badge {
        try await database.withTenant(caller.tenant.scope) { tx in try await Self.compute(tx, userID: caller.userID) }
    }

    static func compute(_ tx: Transaction, userID: String) async throws -> Badge {
        // unread_messages() and pending_requests(): sql/tenant/functions/, so this store and
        // sequence_events() (which counts announced badges) count the same way.
        let row = try await tx.query("SELECT unread_messages($1) AS unread, pending_requests($1) AS pending", [userID]).rows[0]
        return Badge(unreadMessages: try row.decode(Int64.self, "unread"), pendingRequests: try row.decode(Int64.self, "pending"))
    }

    /// Appends a `badge.updated` event for each user, in one statement; its counts are taken
    /// when the event is numbered, after commit (sql/tenant/functions/announce_badges.sql).
    static func announce(_ tx: Transaction, users: some Sequence<String>) async throws {
        let users = Array(Set(users))
        guard !users.isEmpty else { return }
        try await tx.query("SELECT announce_badges($1::text[])", [SQLArray.text(users)])
    }
}
