import Database
import Foundation
import PQ

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

    /// Unread messages of the user `$1`-style expression `user` over their active sessions.
    static func unreadSQL(user: String) -> String {
        """
        SELECT coalesce(sum(GREATEST(s.last_seq - m.last_read_seq, CASE WHEN m.marked_unread THEN 1 ELSE 0 END)), 0)::int8 AS unread
        FROM session_members m JOIN sessions s ON s.id = m.session_id
        WHERE m.user_id = \(user) AND s.status = 'active'
        """
    }

    static func compute(_ tx: Transaction, userID: String) async throws -> Badge {
        let unread = try await tx.query(unreadSQL(user: "$1"), [userID]).rows[0].decode(Int64.self, "unread")
        // Chat requests arrive with their own feature; until then none are pending.
        return Badge(unreadMessages: unread, pendingRequests: 0)
    }

    /// Appends a `badge.updated` event for each user with their new counts: one statement for
    /// all of them (the counts are computed by the INSERT itself).
    static func announce(_ tx: Transaction, users: some Sequence<String>) async throws {
        let users = Array(Set(users))
        guard !users.isEmpty else { return }
        try await tx.query("""
            INSERT INTO events (type, recipients, data)
            SELECT 'badge.updated', ARRAY[u.id],
                   jsonb_build_object('unreadMessages', b.unread, 'pendingRequests', 0, 'total', b.unread)
            FROM unnest($1::text[]) AS u(id)
            CROSS JOIN LATERAL (\(unreadSQL(user: "u.id"))) AS b
            """, [EventLog.textArray(users)])
    }
}
