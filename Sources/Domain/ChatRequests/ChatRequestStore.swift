import Database
import Foundation
import Logging

/// Chat requests: public submission, the agent's inbox and decisions, the visitor's view, and
/// expiry. Every decision locks the request row first (`FOR UPDATE`) and acts only on a pending,
/// unexpired request, so accept / decline / expire racing on one request have exactly one
/// winner; the others get 409.
public struct ChatRequestStore: Sendable {
    public let database: Database
    let notifier: Notifier?
    let logger: Logger

    public init(database: Database, notifier: Notifier?, logger: Logger) {
        self.database = database
        self.notifier = notifier
        self.logger = logger
    }

    static let columns = """
        r.id, r.agent_id, r.visitor_id, r.name, r.email, r.phone, r.message, r.property::text AS property,
        r.preferred_contact_method, r.status, r.created_at, r.decided_by, r.decided_at, r.decline_notes,
        r.session_id, r.contact_id
        """

    static let notFound = DomainError.notFound(code: "chat_request_not_found", message: "no such chat request")

    // MARK: - Public side

    /// Validates and stores a submission. The same agent + email (or phone, without email)
    /// while a request is pending returns that request (`created == false`).
    public func submit(_ tenant: Tenant, _ submission: ChatRequestSubmission, origin: String?) async throws -> (ChatRequest, visitorID: String, created: Bool) {
        let valid = try Self.validated(submission, settings: tenant.settings)
        let ttl = tenant.settings.chatRequestTTLHours
        let result = try await database.withTenant(tenant.scope) { tx -> (Row, Bool) in
            // Requests go to agents: a client's id would put a public stranger's text into that
            // client's event stream. (An agent who has not used Parley yet has no row: allowed.)
            if try await UserStore.role(tx, id: valid.agentId) == .client {
                throw DomainError.validation([FieldError("agentId", "invalid_value", "agentId is not an agent of this brokerage")])
            }
            let visitorID = "visitor-" + UUID().uuidString.lowercased()
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
            guard let existing = try await tx.query("""
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

    // MARK: - Agent side

    public func list(_ caller: Caller, status: ChatRequest.Status?, after: String?, limit: Int) async throws -> (items: [ChatRequest], next: String?) {
        try requireAgent(caller)
        let position = try Keyset.decode(after)
        let ttl = caller.tenant.settings.chatRequestTTLHours
        let rows = try await database.withTenant(caller.tenant.scope) { tx in
            try await tx.query("""
                SELECT \(Self.columns), to_char(r.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') AS cursor_time
                FROM chat_requests r
                WHERE r.agent_id = $1 AND ($2::text IS NULL OR r.status = $2)
                  AND ($3::timestamp IS NULL OR (r.created_at, r.id) < ($3::timestamp AT TIME ZONE 'UTC', $4::uuid))
                ORDER BY r.created_at DESC, r.id DESC LIMIT $5
                """, [caller.userID, status?.rawValue, position?.key, position?.id, limit + 1]).rows
        }
        let items = try rows.prefix(limit).map { try Self.request($0, viewer: caller.userID, ttl: ttl) }
        var next: String?
        if rows.count > limit, let last = rows.prefix(limit).last {
            next = Keyset(key: try last.decode(String.self, "cursor_time"), id: try last.decode(UUID.self, "id")).cursor
        }
        return (items, next)
    }

    public func get(_ caller: Caller, id: String) async throws -> ChatRequest {
        try requireAgent(caller)
        let uuid = try Self.requestID(id)
        return try await database.withTenant(caller.tenant.scope) { tx in
            guard let row = try await Self.fetch(tx, uuid, agent: caller.userID, lock: false) else { throw Self.notFound }
            return try Self.request(row, viewer: caller.userID, ttl: caller.tenant.settings.chatRequestTTLHours)
        }
    }

    /// Accepts a pending request: a client session with the visitor, whose message becomes the
    /// first message. 409 `request_expired` / `request_already_decided` otherwise.
    public func accept(_ caller: Caller, id: String) async throws -> (ChatRequest, Session) {
        try requireAgent(caller)
        let uuid = try Self.requestID(id)
        let ttl = caller.tenant.settings.chatRequestTTLHours
        let result = try await database.withTenant(caller.tenant.scope) { tx -> (ChatRequest, Session) in
            let row = try await Self.pendingForDecision(tx, uuid, caller: caller, ttl: ttl)
            let visitor = try row.decode(String.self, "visitor_id")
            let name = try row.decode(String.self, "name")
            let message = try row.decode(String.self, "message")
            let property = try row.decode(String?.self, "property")
            try await UserStore.upsert(tx, id: caller.userID, role: .agent, name: caller.name)
            try await UserStore.upsert(tx, id: visitor, role: .client, name: name)
            let session = try await tx.query(
                "INSERT INTO sessions (kind, created_by, contact_id) VALUES ('client', $1, $2) RETURNING id",
                [caller.userID, try row.decode(UUID?.self, "contact_id")]).rows[0].decode(UUID.self, "id")
            try await tx.query(
                "INSERT INTO session_members (session_id, user_id, role) VALUES ($1, $2, 'agent'), ($1, $3, 'client')",
                [session, caller.userID, visitor])
            if !message.isEmpty {
                _ = try await tx.query(
                    "SELECT outcome FROM send_message($1, $2, $3, $4, $5, $6, $7::jsonb, '{}'::uuid[])",
                    [session, visitor, "chat-request-\(uuid.uuidString.lowercased())", message, MessageFormatter.html(message),
                     SessionStore.preview(message), property])
            }
            let updated = try await tx.query("""
                UPDATE chat_requests r SET status = 'accepted', decided_by = $2, decided_at = now(), session_id = $3
                WHERE r.id = $1 RETURNING \(Self.columns)
                """, [uuid, caller.userID, session]).rows[0]
            let request = try Self.request(updated, viewer: caller.userID, ttl: ttl)
            guard let view = try await SessionStore.fetch(tx, id: session, member: caller.userID) else { throw SessionStore.notFound }
            try await SessionStore.announce(tx, session: view, changedBy: caller.userID, badges: false)
            try await EventLog.append(tx, .requestUpdated, session: session, recipients: [caller.userID], data: request.withoutNotes)
            try await BadgeStore.announce(tx, users: [caller.userID])
            return (request, view)
        }
        notifier?.tenantChanged(caller.tenant)
        return result
    }

    /// Declines a pending request. The notes are visible only to the agent who declined.
    public func decline(_ caller: Caller, id: String, notes: String?) async throws -> ChatRequest {
        try requireAgent(caller)
        let uuid = try Self.requestID(id)
        let notes = notes.flatMap { $0.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty ? nil : $0 }
        var validator = Validator()
        Listing.checkText(notes, "notes", max: 5000, into: &validator)
        try validator.check()
        let ttl = caller.tenant.settings.chatRequestTTLHours
        let request = try await database.withTenant(caller.tenant.scope) { tx -> ChatRequest in
            _ = try await Self.pendingForDecision(tx, uuid, caller: caller, ttl: ttl)
            let row = try await tx.query("""
                UPDATE chat_requests r SET status = 'declined', decided_by = $2, decided_at = now(), decline_notes = $3
                WHERE r.id = $1 RETURNING \(Self.columns)
                """, [uuid, caller.userID, notes]).rows[0]
            let request = try Self.request(row, viewer: caller.userID, ttl: ttl)
            try await EventLog.append(tx, .requestUpdated, session: nil, recipients: [caller.userID], data: request.withoutNotes)
            try await BadgeStore.announce(tx, users: [caller.userID])
            return request
        }
        notifier?.tenantChanged(caller.tenant)
        return request
    }

    /// Convert to CRM: the agent's contact for this person (deduplicated by email/phone with
    /// existing contacts), LeadSource "Website chat request", the property linked. Allowed in
    /// every status; repeating it returns the same contact.
    public func convertToContact(_ caller: Caller, id: String) async throws -> (Contact, created: Bool) {
        try requireAgent(caller)
        let uuid = try Self.requestID(id)
        return try await database.withTenant(caller.tenant.scope) { tx in
            guard let row = try await Self.fetch(tx, uuid, agent: caller.userID, lock: true) else { throw Self.notFound }
            if let contactID = try row.decode(UUID?.self, "contact_id") {
                guard let contact = try await ContactStore.fetch(tx, id: contactID, owner: caller.userID) else { throw ContactStore.notFound }
                return (contact, false)
            }
            try await UserStore.upsert(tx, id: caller.userID, role: .agent, name: caller.name)
            // No user id: what a visitor typed is unverified, so converting never binds their
            // identity to a contact (an existing one with that email could be someone else).
            let draft = ContactDraft(
                fullName: try row.decode(String.self, "name"), email: try row.decode(String?.self, "email"),
                mobilePhone: try row.decode(String?.self, "phone"), leadSource: "Website chat request",
                preferredContactMethod: ContactMethod(rawValue: try row.decode(String.self, "preferred_contact_method")))
            let (contact, created) = try await ContactStore.findOrCreate(tx, owner: caller.userID, draft)
            guard let contactID = UUID(uuidString: contact.ContactKey) else { throw ContactStore.notFound }
            if let property = try row.decode(String?.self, "property"),
                let listing = try? JSONDecoder().decode(Listing.self, from: Data(property.utf8)),
                let key = listing.ListingKey ?? listing.ListingId
            {
                try await tx.query("""
                    INSERT INTO contact_listings (contact_id, listing_key, listing, source) VALUES ($1, $2, $3::jsonb, 'chat_request')
                    ON CONFLICT DO NOTHING
                    """, [contactID, key, property])
            }
            try await tx.query("UPDATE chat_requests SET contact_id = $2 WHERE id = $1", [uuid, contactID])
            // A session already made from this request belongs to the contact too.
            try await tx.query("""
                UPDATE sessions SET contact_id = $2 WHERE contact_id IS NULL
                  AND id = (SELECT session_id FROM chat_requests WHERE id = $1)
                """, [uuid, contactID])
            return (contact, created)
        }
    }

    /// Expires pending requests older than the tenant's TTL, in one process at a time per
    /// tenant (advisory lock); each expiry is an event and a badge update for its agent.
    public func expire(_ tenant: Tenant) async throws -> Int {
        let ttl = tenant.settings.chatRequestTTLHours
        let expired = try await database.withTenant(tenant.scope) { tx -> Int in
            guard try await tx.query("SELECT pg_try_advisory_xact_lock(hashtext('parley.chat-requests'), hashtext($1)) AS ok",
                                     [tenant.slug.rawValue]).rows[0].decode(Bool.self, "ok")
            else { return 0 }
            let rows = try await tx.query("""
                UPDATE chat_requests r SET status = 'expired', decided_at = now()
                WHERE r.id IN (SELECT id FROM chat_requests WHERE status = 'pending' AND created_at <= now() - make_interval(hours => $1)
                               ORDER BY created_at LIMIT 1000 FOR UPDATE SKIP LOCKED)
                RETURNING \(Self.columns)
                """, [ttl]).rows
            for row in rows {
                let request = try Self.request(row, viewer: nil, ttl: ttl)
                try await EventLog.append(tx, .requestUpdated, session: nil, recipients: [request.agentId], data: request)
            }
            try await BadgeStore.announce(tx, users: try rows.map { try $0.decode(String.self, "agent_id") })
            return rows.count
        }
        if expired > 0 {
            notifier?.tenantChanged(tenant)
            logger.info("chat requests expired", metadata: ["tenant": "\(tenant.slug)", "count": "\(expired)"])
        }
        return expired
    }

    // MARK: - Internals

    private func requireAgent(_ caller: Caller) throws {
        guard caller.isAgent else { throw DomainError.forbidden(code: "agents_only", message: "only agents answer chat requests") }
    }

    static func requestID(_ text: String) throws -> UUID {
        guard let uuid = UUID(uuidString: text) else { throw notFound }
        return uuid
    }

    static func fetch(_ tx: Transaction, _ id: UUID, agent: String, lock: Bool) async throws -> Row? {
        try await tx.query(
            "SELECT \(columns) FROM chat_requests r WHERE r.id = $1 AND r.agent_id = $2\(lock ? " FOR UPDATE" : "")", [id, agent]).first
    }

    /// The request, locked, if it can still be decided; otherwise why not (404 / 409).
    static func pendingForDecision(_ tx: Transaction, _ id: UUID, caller: Caller, ttl: Int) async throws -> Row {
        guard let row = try await fetch(tx, id, agent: caller.userID, lock: true) else { throw notFound }
        let status = try row.decode(String.self, "status")
        let created = try row.decode(Date.self, "created_at")
        if status == "expired" || (status == "pending" && created.addingTimeInterval(Double(ttl) * 3600) <= Date()) {
            throw DomainError.conflict(code: "request_expired", message: "the chat request has expired")
        }
        guard status == "pending" else {
            throw DomainError.conflict(code: "request_already_decided", message: "the chat request was already \(status)")
        }
        return row
    }

    static func request(_ row: Row, viewer: String?, ttl: Int) throws -> ChatRequest {
        let created = try row.decode(Date.self, "created_at")
        let decidedBy = try row.decode(String?.self, "decided_by")
        return ChatRequest(
            id: try row.decode(UUID.self, "id").uuidString.lowercased(), agentId: try row.decode(String.self, "agent_id"),
            name: try row.decode(String.self, "name"), email: try row.decode(String?.self, "email"),
            phone: try row.decode(String?.self, "phone"), message: try row.decode(String.self, "message"),
            property: try row.decode(String?.self, "property").map { try JSONDecoder().decode(Listing.self, from: Data($0.utf8)) },
            preferredContactMethod: ContactMethod(rawValue: try row.decode(String.self, "preferred_contact_method")) ?? .chat,
            status: ChatRequest.Status(rawValue: try row.decode(String.self, "status")) ?? .pending,
            createdAt: created, expiresAt: created.addingTimeInterval(Double(ttl) * 3600),
            decidedAt: try row.decode(Date?.self, "decided_at"),
            sessionId: try row.decode(UUID?.self, "session_id")?.uuidString.lowercased(),
            contactId: try row.decode(UUID?.self, "contact_id")?.uuidString.lowercased(),
            declineNotes: viewer != nil && viewer == decidedBy ? try row.decode(String?.self, "decline_notes") : nil)
    }

    struct Valid {
        let agentId: String
        let name: String
        let email: String?
        let phone: String?
        let message: String
        let property: Listing?
        let method: ContactMethod
    }

    /// Every bad field at once: name; email or phone; valid email; phone to E.164; the
    /// preferred method reachable; message ≤ 5,000; the listing as in listing shares.
    static func validated(_ s: ChatRequestSubmission, settings: TenantSettings) throws -> Valid {
        var v = Validator()
        let agent = s.agentId ?? settings.defaultAgentId
        if agent == nil { v.add("agentId", "required", "agentId is required (this brokerage has no default agent)") }
        if let agent { v.requireText(agent, "agentId", maxLength: 200) }
        var name = v.requireText(s.name.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }, "name", maxLength: 200)
        if let text = name, text.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            // It becomes the visitor's display name (and their token's `name`): one line.
            v.add("name", "invalid_characters", "name must not contain control characters")
            name = nil
        }
        let email = s.email.flatMap { $0.isEmpty ? nil : $0 }
        let phone = s.phone.flatMap { $0.isEmpty ? nil : $0 }
        var normalizedEmail: String?
        var normalizedPhone: String?
        if email == nil && phone == nil {
            v.add("email", "required", "give an email or a phone number")
            v.add("phone", "required", "give an email or a phone number")
        }
        if let email {
            normalizedEmail = ContactPoint.email(email)
            if normalizedEmail == nil { v.add("email", "invalid_format", "email is not a valid email address") }
        }
        if let phone {
            normalizedPhone = ContactPoint.phone(phone)
            if normalizedPhone == nil { v.add("phone", "invalid_format", "phone is not a valid phone number") }
        }
        let message = s.message ?? ""
        if message.count > 5000 { v.add("message", "too_long", "message must be at most 5,000 characters") }
        if message.unicodeScalars.contains(where: { $0.value == 0 }) { v.add("message", "invalid_characters", "message must not contain NUL") }
        s.property?.validate(into: &v, prefix: "property")
        var method = ContactMethod.chat
        if let text = s.preferredContactMethod {
            if let parsed = ContactMethod(rawValue: text) {
                method = parsed
                if parsed == .email && email == nil {
                    v.add("preferredContactMethod", "unreachable", "email is preferred but no email was given")
                }
                if (parsed == .phone || parsed == .text) && phone == nil {
                    v.add("preferredContactMethod", "unreachable", "\(parsed.rawValue) is preferred but no phone was given")
                }
            } else {
                v.add("preferredContactMethod", "invalid_value", "one of email, phone, text, chat")
            }
        }
        try v.check()
        guard let agent, let name else { throw DomainError.validation(v.errors) }
        return Valid(agentId: agent, name: name, email: normalizedEmail, phone: normalizedPhone, message: message,
                     property: s.property, method: method)
    }
}
