import Database
import Logging

extension ChatRequestStore {
    /// Expires pending requests older than the tenant's TTL, in one process at a time per
    /// tenant (advisory lock); each expiry is an event and a badge update for its agent.
    public func expire(_ tenant: Tenant) async throws -> Int {
        let ttl = tenant.settings.chatRequestTTLHours
        let (expired, written) = try await database.withTenant(tenant.scope) { tx -> (Int, Set<String>) in
            guard try await tx.query("SELECT pg_try_advisory_xact_lock(hashtext('parley.chat-requests'), hashtext($1)) AS ok",
                                     [tenant.slug.rawValue]).rows[0].decode(Bool.self, "ok")
            else { return (0, []) }
            let rows = try await tx.query("""
                UPDATE chat_requests r SET status = 'expired', decided_at = now()
                WHERE r.id IN (SELECT id FROM chat_requests WHERE status = 'pending' AND created_at <= now() - make_interval(hours => $1)
                               ORDER BY created_at LIMIT 1000 FOR UPDATE SKIP LOCKED)
                RETURNING \(Self.columns)
                """, [ttl]).rows
            try await Self.announceExpired(tx, rows, ttl: ttl)
            // Agents' requests: the asking agents' sides expire with them.
            return (rows.count, try await Self.mirrorDecisions(tx, rows, home: tenant.scope))
        }
        if expired > 0 {
            notifier?.tenantChanged(tenant)
            for brokerage in written { notifier?.tenantChanged(slug: brokerage) }
            logger.info("chat requests expired", metadata: ["tenant": "\(tenant.slug)", "count": "\(expired)"])
        }
        return expired
    }

    /// The pending requests of a deleted brokerage's agents to this one's (the transaction's
    /// scope) expire: nobody is left to talk to, and accepting one would open a session with
    /// whatever brokerage has the slug later. Each is announced to its agent, with their badge.
    static func expireFromDeleted(_ tx: Transaction, brokerage: String, ttl: Int) async throws {
        let rows = try await tx.query("""
            UPDATE chat_requests r SET status = 'expired', decided_at = now()
            WHERE r.source = 'agent' AND r.requester_brokerage = $1 AND r.status = 'pending'
            RETURNING \(Self.columns)
            """, [brokerage]).rows
        try await announceExpired(tx, rows, ttl: ttl)
        // And this brokerage's own requests to the deleted one's agents: nobody will answer
        // them, and a pending one kept its asker from asking that agent again (a brokerage that
        // takes the slug later): 409 for ever.
        try await expireSent(tx, where: "r.target_brokerage = $1", [brokerage])
    }

    /// Expires the brokerage's pending requests to other brokerages' agents matching `condition`
    /// (on `sent_chat_requests r`), each announced to its asker; returns their rows.
    @discardableResult
    static func expireSent(_ tx: Transaction, where condition: String, _ params: [any SQLEncodable]) async throws -> [Row] {
        let sent = try await tx.query("""
            UPDATE sent_chat_requests r SET status = 'expired', decided_at = now()
            WHERE r.status = 'pending' AND \(condition)
            RETURNING \(Self.sentColumns)
            """, params).rows
        for row in sent {
            try await EventLog.append(
                tx, .requestUpdated, session: nil, recipients: [try row.decode(String.self, "requester_id")], data: try Self.sentRequest(row))
        }
        return sent
    }

    /// An imported brokerage (the transaction's) shares nothing with the others any more: those
    /// it shared sessions or requests with unlinked it when it was deleted, or never knew it (an
    /// import into another deployment). Its sessions name no peers, so their sends stay here;
    /// its pending requests to or from other brokerages' agents expire.
    public static func detachImported(_ tx: Transaction, slug: String, ttl: Int) async throws {
        try await tx.query("UPDATE sessions SET peers = '{}' WHERE peers <> '{}'")
        let received = try await tx.query("""
            UPDATE chat_requests r SET status = 'expired', decided_at = now()
            WHERE r.source = 'agent' AND r.status = 'pending' AND r.requester_brokerage <> $1
            RETURNING \(Self.columns)
            """, [slug]).rows
        try await announceExpired(tx, received, ttl: ttl)
        try await expireSent(tx, where: "r.target_brokerage <> $1", [slug])
    }

    /// Expired requests (rows of `columns`), each announced to its agent, with their badge.
    static func announceExpired(_ tx: Transaction, _ rows: [Row], ttl: Int) async throws {
        for row in rows {
            let request = try Self.request(row, viewer: nil, ttl: ttl)
            try await EventLog.append(tx, .requestUpdated, session: nil, recipients: [request.agentId], data: request)
        }
        try await BadgeStore.announce(tx, users: try rows.map { try $0.decode(String.self, "agent_id") })
    }
}
