import Database
import Foundation
import Synchronization

/// Agents of other brokerages as a brokerage's copies name them (decision 0028).
///
/// A session between agents of two brokerages exists in both schemas. In each copy the
/// brokerage's own agent is their `sub`; the other brokerage's agent is `@<slug>:<MemberKey>`.
/// User tokens whose `sub` begins with `@` are refused, so no user of a brokerage can hold or
/// impersonate such an id.
public enum RemoteMember {
    /// The id an agent of `brokerage` has in other brokerages' copies.
    public static func id(brokerage: String, key: String) -> String { "@\(brokerage):\(key)" }

    /// Whether an id is reserved for agents of other brokerages.
    public static func isRemote(_ id: String) -> Bool { id.hasPrefix("@") }

    /// The brokerage and MemberKey of a remote id.
    public static func parse(_ id: String) -> (brokerage: String, key: String)? {
        guard id.hasPrefix("@"), let colon = id.firstIndex(of: ":") else { return nil }
        let brokerage = String(id[id.index(after: id.startIndex)..<colon])
        let key = String(id[id.index(after: colon)...])
        guard !brokerage.isEmpty, !key.isEmpty else { return nil }
        return (brokerage, key)
    }

    /// The id that member `id` of brokerage `from`'s copy has in brokerage `to`'s copy.
    public static func translate(_ id: String, from: String, to: String) -> String {
        guard from != to else { return id }
        if let remote = parse(id) { return remote.brokerage == to ? remote.key : id }
        return Self.id(brokerage: from, key: id)
    }
}

/// Writing what happens in a shared session into the other brokerages' copies, inside the
/// transaction that wrote the caller's copy (decision 0028). Each copy is written after
/// `Transaction.enter` into its brokerage's scope, so every statement runs under that
/// brokerage's role; the transaction returns to the caller's scope before it goes on.
enum SharedCopies {
    /// The brokerages (slugs) holding the other copies of a session.
    static func peers(_ tx: Transaction, session: UUID) async throws -> [String] {
        guard let row = try await tx.query("SELECT to_json(peers)::text AS peers FROM sessions WHERE id = $1", [session]).first
        else { return [] }
        return try row.decodeJSON([String].self, "peers")
    }

    static func scope(_ slug: String) throws -> TenantScope {
        guard let parsed = TenantSlug(slug) else { throw DatabaseError.undecodable("a shared session names the brokerage '\(slug)'") }
        return parsed.scope
    }

    /// Enters brokerage `peer`'s scope; false, staying where it was, when the brokerage is gone
    /// (deleted: its role no longer exists).
    static func enterIfPresent(_ tx: Transaction, _ peer: String) async throws -> Bool {
        let peerScope = try scope(peer)
        guard try await tx.roleExists(peerScope.role.rawValue) else { return false }
        try await tx.enter(peerScope)
        return true
    }

    /// Copies message `id` of `session` (just stored in `home`'s copy, the transaction's
    /// current scope) into each peer's copy: the row with its id, seq and time, its
    /// attachments' rows and bytes, its events and badges there.
    static func mirrorMessage(_ tx: Transaction, session: UUID, message id: UUID, home: TenantScope, from: String, peers: [String]) async throws {
        guard let row = try await tx.query("""
            SELECT m.sender_id, m.seq, m.client_message_id, m.text, m.html, m.listing::text AS listing,
                   m.created_at::text AS created_at, s.last_message_preview AS preview,
                   (SELECT coalesce(jsonb_agg(jsonb_build_object(
                        'id', a.id, 'file_name', a.file_name, 'media_type', a.media_type, 'size', a.size, 'sha256', a.sha256,
                        'width', a.width, 'height', a.height, 'position', a.position, 'created_at', a.created_at)), '[]')
                    FROM attachments a WHERE a.message_id = m.id)::text AS attachments,
                   to_json(ARRAY(SELECT a.id FROM attachments a WHERE a.message_id = m.id ORDER BY a.position))::text AS attachment_ids
            FROM messages m JOIN sessions s ON s.id = m.session_id
            WHERE m.id = $1 AND m.session_id = $2
            """, [id, session]).first
        else { return }
        let sender = try row.decode(String.self, "sender_id")
        let attachmentIDs = try row.decodeJSON([UUID].self, "attachment_ids")
        for peer in peers {
            // The bytes first, then the rows: inserting the attachments' rows counts them in the
            // peer's storage usage, whose one row every upload of that brokerage locks piece by
            // piece. Copied after, the copy's round trips (four per 256 KiB) all ran while the
            // row was held, and the peer's uploads waited for them (503 past lock_timeout).
            // The pieces have no row to belong to until then; the transaction keeps both or none.
            if !attachmentIDs.isEmpty {
                try await copyBlobs(tx, attachmentIDs, home: home, peer: try scope(peer))
            }
            try await tx.enter(try scope(peer))
            try await tx.query("""
                SELECT mirror_message($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10::timestamptz, $11::jsonb)
                """, [id, session, try row.decode(Int64.self, "seq"), RemoteMember.translate(sender, from: from, to: peer),
                      try row.decode(String.self, "client_message_id"), try row.decode(String.self, "text"),
                      try row.decode(String?.self, "html"), try row.decode(String?.self, "preview"),
                      try row.decode(String?.self, "listing"), try row.decode(String.self, "created_at"),
                      try row.decode(String.self, "attachments")])
        }
        try await tx.enter(home)
    }

    /// The attachments' bytes, piece by piece (256 KiB), from the home copy's blob store into
    /// the peer's (the transaction is in the peer's scope when this is called and when it
    /// returns). Parley's blob store is its schema's `blob_chunks` (decision 0009); an object
    /// store would copy its objects here instead.
    private static func copyBlobs(_ tx: Transaction, _ ids: [UUID], home: TenantScope, peer: TenantScope) async throws {
        try await tx.enter(home)
        let pieces = try await tx.query(
            "SELECT blob_id, n FROM blob_chunks WHERE blob_id = ANY ($1::uuid[]) ORDER BY blob_id, n", [SQLArray.uuids(ids)]).rows
        for piece in pieces {
            let blob = try piece.decode(UUID.self, "blob_id")
            let n = try piece.decode(Int.self, "n")
            try await tx.enter(home)
            guard let data = try await tx.query("SELECT data FROM blob_chunks WHERE blob_id = $1 AND n = $2", [blob, n]).first else { continue }
            try await tx.enter(peer)
            try await tx.query(
                "INSERT INTO blob_chunks (blob_id, n, data) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                [blob, n, try data.decode([UInt8].self, "data")])
        }
        try await tx.enter(peer)
    }

    /// Closes (or reopens) each peer's copy, as the caller's copy was: a conversation one agent
    /// ended is ended for the other too, who could otherwise write on into a copy nobody reads
    /// (decision 0061). Each copy's members hear of it as the caller's do. The copies that
    /// changed.
    static func mirrorStatus(
        _ tx: Transaction, session: UUID, closed: Bool, by member: String, home: TenantScope, from: String, peers: [String]
    ) async throws -> [String] {
        var changed: [String] = []
        for peer in peers {
            // A brokerage deleted meanwhile has no copy left to follow.
            guard try await enterIfPresent(tx, peer) else { continue }
            let by = RemoteMember.translate(member, from: from, to: peer)
            let moved = try await tx.query("""
                UPDATE sessions SET status = $2, status_changed_by = $3, status_changed_at = now()
                WHERE id = $1 AND (status = 'closed') = $4 RETURNING id
                """, [session, closed ? "closed" : "active", by, !closed])
            if !moved.isEmpty, let theirs = try await SessionStore.fetch(tx, id: session, member: by) {
                try await SessionStore.announce(tx, session: theirs, to: theirs.members.map(\.userId), changedBy: by)
                changed.append(peer)
            }
        }
        try await tx.enter(home)
        return changed
    }

    /// A member's read position, raised in each peer's copy (never lowered), with
    /// `message.read` to that copy's members when it moved.
    static func mirrorRead(_ tx: Transaction, session: UUID, reader: String, upTo: Int64, home: TenantScope, from: String, peers: [String]) async throws {
        for peer in peers {
            // A brokerage deleted without this copy unlinked (a send unlinks it): nothing to move.
            guard try await enterIfPresent(tx, peer) else { continue }
            let member = RemoteMember.translate(reader, from: from, to: peer)
            let moved = try await tx.query("""
                WITH s AS (SELECT id, last_seq FROM sessions WHERE id = $1 FOR SHARE)
                UPDATE session_members m SET last_read_seq = LEAST($3::bigint, s.last_seq)
                FROM s WHERE m.session_id = s.id AND m.user_id = $2 AND m.last_read_seq < LEAST($3::bigint, s.last_seq)
                RETURNING m.last_read_seq
                """, [session, member, upTo]).first
            if let moved {
                let members = try await SessionStore.readPositions(tx, session: session)
                try await EventLog.append(
                    tx, .messageRead, session: session, recipients: Array(members.keys),
                    data: SessionStore.ReadEvent(
                        sessionId: session.uuidString.lowercased(), userId: member, lastReadSeq: try moved.decode(Int64.self, "last_read_seq")))
            }
        }
        try await tx.enter(home)
    }
}

/// Which sessions have copies in other brokerages, as sends learn it. A session's peers are set
/// when it is made and change only when a peer brokerage is deleted or imported again (a failed
/// send forgets what it remembered and asks the copy); sessions without
/// peers are not remembered (their sends find out in the one round trip they make anyway).
/// Bounded: forgotten all at once past `capacity`.
///
/// Keyed by brokerage and session: the two copies of a session have the same id and each names
/// the other as its peer.
final class SharedPeers: Sendable {
    struct Key: Hashable {
        let brokerage: String
        let session: UUID
    }

    private let known = Mutex<[Key: [String]]>([:])
    let capacity: Int

    init(capacity: Int = 10_000) {
        self.capacity = capacity
    }

    func peers(of session: UUID, in brokerage: String) -> [String]? {
        known.withLock { $0[Key(brokerage: brokerage, session: session)] }
    }

    /// After a failed shared send: the next one asks the database again (a peer brokerage may
    /// have been deleted, and the session no longer names it).
    func forget(_ session: UUID, in brokerage: String) {
        _ = known.withLock { $0.removeValue(forKey: Key(brokerage: brokerage, session: session)) }
    }

    func remember(_ session: UUID, in brokerage: String, peers: [String]) {
        known.withLock { known in
            if known.count >= capacity { known.removeAll(keepingCapacity: true) }
            known[Key(brokerage: brokerage, session: session)] = peers
        }
    }
}
