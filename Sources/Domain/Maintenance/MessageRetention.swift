import Database
import Foundation

/// Message retention (issue 17, point 3): a brokerage with `messageRetentionDays` set has its
/// messages older than that many days deleted by the maintenance service — with their
/// attachments (rows and bytes), their search terms and their events — in batches, one short
/// transaction each, one process at a time per brokerage. Off by default.
///
/// Sessions stay (their status, members and read positions); a session whose last message went
/// loses its preview. In a session shared with another brokerage only this brokerage's copy is
/// trimmed: each brokerage keeps its own (decision 0028).
public struct MessageRetention: Sendable {
    public let database: Database
    public let blobs: any BlobStore

    public init(database: Database, blobs: any BlobStore) {
        self.database = database
        self.blobs = blobs
    }

    /// Deletes what is past the brokerage's retention, at most `maxBatches` batches in one
    /// call; returns how many messages went. A maintenance pass visits every brokerage in turn:
    /// retention switched on for one with years of history would otherwise keep the pass there
    /// until all of it was gone, and every other brokerage's jobs (request expiry, the upload
    /// sweep, event trimming) would wait. The next pass goes on where this one stopped.
    @discardableResult
    public func trim(_ tenant: Tenant, batch: Int = 500, maxBatches: Int = 20, now: Date = Date()) async throws -> Int {
        guard let days = tenant.settings.messageRetentionDays else { return 0 }
        let before = now.addingTimeInterval(-Double(days) * 86400)
        var total = 0
        for _ in 0..<max(1, maxBatches) {
            let deleted = try await trimBatch(tenant, before: before, batch: batch)
            guard let deleted else { return total }  // another process has this brokerage's turn
            total += deleted
            if deleted < batch { break }
        }
        // Their events too: the event log keeps nothing older than the messages.
        _ = try await EventLog.trim(database, tenant, before: before)
        return total
    }

    /// One batch: the oldest messages of the sessions that have any older than `before`.
    private func trimBatch(_ tenant: Tenant, before: Date, batch: Int) async throws -> Int? {
        // First the doomed messages' attachments: their bytes go before their rows (a row
        // whose bytes are gone is removed by the next batch; bytes are never left without one).
        let doomed = try await database.withTenant(tenant.scope) { tx -> (messages: [UUID], attachments: [UUID])? in
            guard try await tx.query("SELECT pg_try_advisory_xact_lock(hashtext('parley.retention'), hashtext($1)) AS ok",
                                     [tenant.slug.rawValue]).rows[0].decode(Bool.self, "ok")
            else { return nil }
            let rows = try await tx.query(Self.doomedSQL, [before, batch]).rows
            let messages = try rows.map { try $0.decode(UUID.self, "id") }
            guard !messages.isEmpty else { return ([], []) }
            let attachments = try await tx.query(
                "SELECT id FROM attachments WHERE message_id = ANY ($1::uuid[])", [SQLArray.uuids(messages)]
            ).rows.map { try $0.decode(UUID.self, "id") }
            return (messages, attachments)
        }
        guard let doomed else { return nil }
        guard !doomed.messages.isEmpty else { return 0 }
        try await blobs.delete(tenant.scope, ids: doomed.attachments)
        return try await database.withTenant(tenant.scope) { tx -> Int in
            let ids = SQLArray.uuids(doomed.messages)
            // The sessions one at a time in id order, each as a send takes it (its advisory lock,
            // then its row): no send writes search terms while they are counted again below.
            let sessions = try await tx.query("""
                SELECT s.id FROM sessions s
                WHERE s.id IN (SELECT DISTINCT session_id FROM messages WHERE id = ANY ($1::uuid[]))
                ORDER BY s.id
                """, [ids]).rows.map { try $0.decode(UUID.self, "id") }
            let sessionIDs = SQLArray.uuids(sessions)
            try await tx.query("""
                SELECT pg_advisory_xact_lock(hashtext('parley.session'), hashtext(id::text)) FROM unnest($1::uuid[]) AS id ORDER BY id
                """, [sessionIDs])
            try await tx.query("SELECT 1 FROM sessions WHERE id = ANY ($1::uuid[]) ORDER BY id FOR UPDATE", [sessionIDs])
            let deleted = try await tx.query("DELETE FROM messages WHERE id = ANY ($1::uuid[])", [ids]).affectedRows
            // Search terms: the sessions' words, counted again from what remains.
            try await tx.query("DELETE FROM session_terms WHERE session_id = ANY ($1::uuid[])", [sessionIDs])
            try await tx.query("""
                INSERT INTO session_terms (lexeme, session_id)
                SELECT DISTINCT t.lexeme, m.session_id
                FROM messages m CROSS JOIN LATERAL unnest(coalesce(m.search, m.search_long)) AS t
                WHERE m.session_id = ANY ($1::uuid[])
                ORDER BY 1, 2
                ON CONFLICT DO NOTHING
                """, [sessionIDs])
            // A session whose last message went shows no preview of it.
            try await tx.query("""
                UPDATE sessions SET last_message_preview = NULL
                WHERE id = ANY ($1::uuid[]) AND last_message_at < $2 AND last_message_preview IS NOT NULL
                """, [sessionIDs, before])
            return deleted
        }
    }

    /// Up to $2 messages older than $1, oldest first per session, from the sessions whose first
    /// message is older than $1 (one index probe per session; a session's messages are in time
    /// order by seq).
    static let doomedSQL = """
        SELECT m.id FROM sessions s
        CROSS JOIN LATERAL (
            SELECT e.id, e.created_at FROM messages e WHERE e.session_id = s.id ORDER BY e.seq LIMIT $2
        ) AS m
        WHERE s.created_at < $1
          AND (SELECT f.created_at FROM messages f WHERE f.session_id = s.id ORDER BY f.seq LIMIT 1) < $1
          AND m.created_at < $1
        LIMIT $2
        """
}
