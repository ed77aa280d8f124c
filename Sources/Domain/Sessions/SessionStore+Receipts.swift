import Database
import Foundation

extension SessionStore {
    /// The caller's read state of one session after a receipt.
    public struct ReadState: Codable, Sendable, Hashable {
        public let sessionId: String
        public let lastReadSeq: Int64
        public let unreadCount: Int64
    }

    /// Marks read up to `upTo` (clamped to the last message). Receipts never move backwards:
    /// a lower `upTo` than already read changes nothing. Clears "marked unread".
    public func markRead(_ caller: Caller, sessionID id: String, upTo: Int64) async throws -> ReadState {
        let uuid = try Self.sessionID(id)
        guard upTo >= 0 else {
            throw DomainError.validation([FieldError("upTo", "out_of_range", "upTo must be a message seq (0 or more)")])
        }
        func receipt(shared: Bool) -> String {
            // A shared session's receipt also moves the other brokerages' copies, under the
            // session's advisory lock taken first (as sends take it): those take another path.
            """
            WITH s AS (SELECT id, last_seq FROM sessions WHERE id = $1\(shared ? "" : " AND peers = '{}'") FOR SHARE),
                 old AS (SELECT last_read_seq, marked_unread FROM session_members WHERE session_id = $1 AND user_id = $2)
            UPDATE session_members m
            SET last_read_seq = GREATEST(m.last_read_seq, LEAST($3::bigint, s.last_seq)), marked_unread = false
            FROM s, old
            WHERE s.id = m.session_id AND m.session_id = $1 AND m.user_id = $2
            RETURNING m.last_read_seq, m.marked_unread, s.last_seq, old.last_read_seq AS old_read, old.marked_unread AS old_marked
            """
        }
        if let state = try await readState(caller, uuid, receipt(shared: false), [uuid, caller.userID, upTo], shared: false) {
            return state
        }
        guard let state = try await readState(caller, uuid, receipt(shared: true), [uuid, caller.userID, upTo], shared: true) else {
            throw Self.notFound
        }
        return state
    }

    /// "Mark as unread" for the caller: the session counts as unread (at least 1) until the
    /// caller reads again. Nobody else's view changes, and no receipt moves.
    public func markUnread(_ caller: Caller, sessionID id: String) async throws -> ReadState {
        let uuid = try Self.sessionID(id)
        // Per viewer: other copies of a shared session do not change.
        let state = try await readState(caller, uuid, """
            WITH s AS (\(Self.lockedSession)),
                 old AS (SELECT last_read_seq, marked_unread FROM session_members WHERE session_id = $1 AND user_id = $2)
            UPDATE session_members m SET marked_unread = true
            FROM s, old
            WHERE s.id = m.session_id AND m.session_id = $1 AND m.user_id = $2
            RETURNING m.last_read_seq, m.marked_unread, s.last_seq, old.last_read_seq AS old_read, old.marked_unread AS old_marked
            """, [uuid, caller.userID], shared: true)
        guard let state else { throw Self.notFound }
        return state
    }

    /// The session row, share-locked: a send or status change of this session waits for the
    /// receipt and the receipt for them, so the badge count triggers always see the other's
    /// committed state and take their locks in one order
    /// (sql/tenant/functions/badge_session_changed.sql).
    static let lockedSession = "SELECT id, last_seq FROM sessions WHERE id = $1 FOR SHARE"

    /// Runs a receipt UPDATE and announces what changed: `message.read` to every member when
    /// the read position moved, `badge.updated` to the caller when their counts may have.
    ///
    /// `shared`: the receipt may be of a session shared with other brokerages, whose copies it
    /// moves too (decision 0028). Nil when `sql` found no row because the session is shared and
    /// `shared` is false.
    private func readState(_ caller: Caller, _ id: UUID, _ sql: String, _ params: [any SQLEncodable], shared: Bool) async throws -> ReadState? {
        let outcome = try await database.withTenant(caller.tenant.scope) { tx -> (state: ReadState, changed: Bool, peers: [String])? in
            if shared {
                try await tx.query("SELECT pg_advisory_xact_lock(hashtext('parley.session'), hashtext($1::text))", [id])
            }
            guard let row = try await tx.query(sql, params).first else {
                if !shared, try await tx.query("""
                    SELECT 1 FROM sessions s JOIN session_members m ON m.session_id = s.id AND m.user_id = $2
                    WHERE s.id = $1 AND s.peers <> '{}'
                    """, [id, caller.userID]).first != nil {
                    return nil
                }
                throw Self.notFound
            }
            let lastRead = try row.decode(Int64.self, "last_read_seq")
            let lastSeq = try row.decode(Int64.self, "last_seq")
            let marked = try row.decode(Bool.self, "marked_unread")
            let moved = lastRead != (try row.decode(Int64.self, "old_read"))
            let flagged = marked != (try row.decode(Bool.self, "old_marked"))
            if moved {
                let members = try await Self.readPositions(tx, session: id)
                try await EventLog.append(tx, .messageRead, session: id, recipients: Array(members.keys),
                                          data: ReadEvent(sessionId: id.uuidString.lowercased(), userId: caller.userID, lastReadSeq: lastRead))
            }
            if moved || flagged { try await BadgeStore.announce(tx, users: [caller.userID]) }
            var peers: [String] = []
            if moved && shared {
                peers = try await SharedCopies.peers(tx, session: id)
                try await SharedCopies.mirrorRead(
                    tx, session: id, reader: caller.userID, upTo: lastRead, home: caller.tenant.scope,
                    from: caller.tenant.slug.rawValue, peers: peers)
            }
            let state = ReadState(
                sessionId: id.uuidString.lowercased(), lastReadSeq: lastRead,
                unreadCount: max(lastSeq - lastRead, marked ? 1 : 0))
            return (state, moved || flagged, peers)
        }
        guard let outcome else { return nil }
        if outcome.changed { committed(caller) }
        for peer in outcome.peers { notifier?.tenantChanged(slug: peer) }
        return outcome.state
    }
}
