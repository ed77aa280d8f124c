import Database
import Foundation

extension ChatRequestStore {
    /// Validates and stores a submission. The same agent + email (or phone, without email)
    /// while a request is pending returns that request (`created == false`).
    public func submit(_ tenant: Tenant, _ submission: ChatRequestSubmission, origin: String?) async throws -> (ChatRequest, visitorID: String, created: Bool) {
        let valid = try Self.validated(submission, settings: tenant.settings)
        let ttl = tenant.settings.chatRequestTTLHours
        let result = try await database.withTenant(tenant.scope) { tx -> (Row, Bool) in
            // Requests go to agents: a client's id would put a public stranger's text into that
            // client's event stream, and an unknown id into nobody's. Agents are known from
            // their first signed-in request (UserDirectory).
            guard try await UserStore.role(tx, id: valid.agentId) == .agent else {
                throw DomainError.validation([FieldError(
                    "agentId", "invalid_value", "agentId is not an agent of this brokerage (agents are known once they have signed in)")])
            }
            // A request of this visitor's past its time that no sweep has reached does not hold
            // their place (the widget told them it ended): it expires now, as the sweep would
            // expire it, and this one is new. Planned at each call (decision 0052).
            let stale = try await tx.queryUnprepared("""
                UPDATE chat_requests r SET status = 'expired', decided_at = now()
                WHERE r.agent_id = $1 AND r.source = 'website' AND r.status = 'pending'
                  AND r.created_at <= now() - make_interval(hours => $4)
                  AND (($2::text IS NOT NULL AND lower(r.email) = lower($2)) OR ($2::text IS NULL AND r.email IS NULL AND r.phone = $3))
                RETURNING \(Self.columns)
                """, [valid.agentId, valid.email, valid.phone, ttl]).rows
            for row in stale {
                try await EventLog.append(tx, .requestUpdated, session: nil, recipients: [valid.agentId], data: try Self.request(row, viewer: nil, ttl: ttl))
            }
            let visitorID = Self.visitorIDPrefix + UUID().uuidString.lowercased()
            let inserted = try await tx.query("""
                INSERT INTO chat_requests AS r (agent_id, visitor_id, name, email, phone, message, property, preferred_contact_method, origin)
                VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9)
                ON CONFLICT DO NOTHING
                RETURNING \(Self.columns)
                """, [valid.agentId, visitorID, valid.name, valid.email, valid.phone, valid.message,
                      try valid.property.map { try SQLJSON(encoding: $0) }, valid.method.rawValue, origin])
            if let row = inserted.first {
                try await EventLog.append(tx, .requestCreated, session: nil, recipients: [valid.agentId],
                                          data: try Self.request(row, viewer: nil, ttl: ttl))
                try await BadgeStore.announce(tx, users: [valid.agentId])
                return (row, true)
            }
            // Planned at each call, for its values and the table as it is then: prepared, the
            // statement went generic after five runs, and planned on a young brokerage's empty
            // table that plan walked every pending request of the brokerage (the age index) with
            // the agent and the email as a filter (decision 0052). Only a resubmission gets here.
            guard let existing = try await tx.queryUnprepared("""
                SELECT \(Self.columns) FROM chat_requests r
                WHERE r.agent_id = $1 AND r.status = 'pending'
                  AND (($2::text IS NOT NULL AND lower(r.email) = lower($2)) OR ($2::text IS NULL AND r.email IS NULL AND r.phone = $3))
                """, [valid.agentId, valid.email, valid.phone]).first
            else {
                // Lost a race with a decision on the pending duplicate: the caller may retry.
                throw DomainError.conflict(code: "contention", message: "the request collided with a concurrent one; retry it")
            }
            return (existing, false)
        }
        if result.1 { notifier?.tenantChanged(tenant) }
        return (try Self.request(result.0, viewer: nil, ttl: ttl), try result.0.decode(String.self, "visitor_id"), result.1)
    }

    /// The visitor's view of their own request (their token's subject is the request's visitor).
    public func visitorView(_ tenant: Tenant, visitorID: String, id: String) async throws -> VisitorChatRequest {
        guard let uuid = UUID(uuidString: id) else { throw Self.notFound }
        let request = try await database.withTenant(tenant.scope) { tx in
            try await tx.query("SELECT \(Self.columns) FROM chat_requests r WHERE r.id = $1 AND r.visitor_id = $2", [uuid, visitorID]).first
                .map { try Self.request($0, viewer: nil, ttl: tenant.settings.chatRequestTTLHours) }
        }
        guard let request else { throw Self.notFound }
        return VisitorChatRequest(id: request.id, status: request.status, createdAt: request.createdAt, expiresAt: request.expiresAt,
                                  sessionId: request.sessionId)
    }
}

extension ChatRequestStore {
    /// Every visitor's user id starts with this (`visitor-` and a UUID, made at submission).
    public static let visitorIDPrefix = "visitor-"

    /// Whether a visitor's token may still act as a user (stream, REST): nil when `userID` is
    /// no visitor of this tenant, false once their request was declined or has expired (swept
    /// or not yet), true while it is pending or accepted.
    ///
    /// Only ids Parley gave a visitor (`visitorIDPrefix`) are looked up: every other client
    /// (the brokerage's own, the great majority of open streams) costs no query, on each
    /// request and on each credential check of an open stream.
    public func visitorMayAct(_ tenant: Tenant, userID: String) async throws -> Bool? {
        guard userID.hasPrefix(Self.visitorIDPrefix) else { return nil }
        return try await database.withTenant(tenant.scope) { tx in
            try await tx.query("""
                SELECT status = 'accepted' OR (status = 'pending' AND created_at + make_interval(hours => $2) > now()) AS open
                FROM chat_requests WHERE visitor_id = $1
                """, [userID, tenant.settings.chatRequestTTLHours]).first.map { try $0.decode(Bool.self, "open") }
        }
    }
}
