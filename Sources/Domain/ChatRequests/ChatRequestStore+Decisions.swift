import Database
import Foundation

extension ChatRequestStore {
    /// Accepts a pending request: a client session with the visitor, whose message becomes the
    /// first message. 409 `request_expired` / `request_already_decided` otherwise.
    public func accept(_ caller: Caller, id: String) async throws -> (ChatRequest, Session) {
        try requireAgent(caller)
        let uuid = try Self.requestID(id)
        let ttl = caller.tenant.settings.chatRequestTTLHours
        let result = try await database.withTenant(caller.tenant.scope) { tx -> (ChatRequest, Session, peers: [String]) in
            let row = try await Self.pendingForDecision(tx, uuid, caller: caller, ttl: ttl)
            if try row.decode(String.self, "source") == ChatRequest.Source.agent.rawValue {
                return try await Self.acceptFromAgent(tx, row, caller: caller, ttl: ttl)
            }
            let visitor = try row.decode(String.self, "visitor_id")
            let name = try row.decode(String.self, "name")
            let message = try row.decode(String.self, "message")
            let property = try row.decode(String?.self, "property")
            try await UserStore.upsert(tx, id: caller.userID, role: .agent, name: caller.name)
            try await UserStore.upsert(tx, id: visitor, role: .client, name: name)
            // "People you message get added to your contacts": the person becomes the agent's
            // contact now, unless Convert to CRM made them one already.
            var contactID = try row.decode(UUID?.self, "contact_id")
            if contactID == nil {
                contactID = UUID(uuidString: try await Self.convert(tx, row, id: uuid, caller: caller).0.ContactKey)
            }
            let session = try await tx.query(
                "INSERT INTO sessions (kind, created_by, contact_id) VALUES ('client', $1, $2) RETURNING id",
                [caller.userID, contactID]).rows[0].decode(UUID.self, "id")
            try await tx.query(
                "INSERT INTO session_members (session_id, user_id, role) VALUES ($1, $2, 'agent'), ($1, $3, 'client')",
                [session, caller.userID, visitor])
            // Message 1: the visitor's message with the property as its listing, or the
            // property alone (a request may have either).
            if !message.isEmpty || property != nil {
                _ = try await tx.query(
                    "SELECT outcome FROM send_message($1, $2, $3, $4, $5, $6, $7::jsonb, '{}'::uuid[])",
                    [session, visitor, "chat-request-\(uuid.uuidString.lowercased())", message, MessageFormatter.html(message),
                     SessionStore.preview(message, listing: Self.listing(property)), property])
            }
            let updated = try await tx.query("""
                UPDATE chat_requests r SET status = 'accepted', decided_by = $2, decided_at = now(), session_id = $3
                WHERE r.id = $1 RETURNING \(Self.columns)
                """, [uuid, caller.userID, session]).rows[0]
            let request = try Self.request(updated, viewer: caller.userID, ttl: ttl)
            guard let view = try await SessionStore.fetch(tx, id: session, member: caller.userID) else { throw SessionStore.notFound }
            try await SessionStore.announce(tx, session: view, to: view.members.map(\.userId), changedBy: caller.userID, badges: false)
            try await EventLog.append(tx, .requestUpdated, session: session, recipients: [caller.userID], data: request.withoutNotes)
            try await BadgeStore.announce(tx, users: [caller.userID])
            return (request, view, [])
        }
        notifier?.tenantChanged(caller.tenant)
        for peer in result.peers { notifier?.tenantChanged(slug: peer) }
        return (result.0, result.1)
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
        let (request, written) = try await database.withTenant(caller.tenant.scope) { tx -> (ChatRequest, Set<String>) in
            _ = try await Self.pendingForDecision(tx, uuid, caller: caller, ttl: ttl)
            let row = try await tx.query("""
                UPDATE chat_requests r SET status = 'declined', decided_by = $2, decided_at = now(), decline_notes = $3
                WHERE r.id = $1 RETURNING \(Self.columns)
                """, [uuid, caller.userID, notes]).rows[0]
            let request = try Self.request(row, viewer: caller.userID, ttl: ttl)
            try await EventLog.append(tx, .requestUpdated, session: nil, recipients: [caller.userID], data: request.withoutNotes)
            try await BadgeStore.announce(tx, users: [caller.userID])
            // An agent's request: their side learns it was declined, never the notes.
            let written = try await Self.mirrorDecisions(tx, [row], home: caller.tenant.scope)
            return (request, written)
        }
        notifier?.tenantChanged(caller.tenant)
        for brokerage in written { notifier?.tenantChanged(slug: brokerage) }
        return request
    }

    /// `contact.created`: a request converted into a CRM contact (`created`: false when an
    /// existing contact of the agent's matched).
    struct ConversionEvent: Encodable {
        let requestId: String
        let contact: Contact
        let created: Bool
    }

    /// Convert to CRM: the agent's contact for this person (deduplicated by email/phone with
    /// existing contacts), LeadSource "Website chat request", the property linked. Allowed in
    /// every status; repeating it returns the same contact.
    public func convertToContact(_ caller: Caller, id: String) async throws -> (Contact, created: Bool) {
        try requireAgent(caller)
        let uuid = try Self.requestID(id)
        let (contact, created, linked) = try await database.withTenant(caller.tenant.scope) { tx -> (Contact, Bool, Bool) in
            guard let row = try await Self.fetch(tx, uuid, agent: caller.userID, lock: true) else { throw Self.notFound }
            if let contactID = try row.decode(UUID?.self, "contact_id") {
                guard let contact = try await ContactStore.fetch(tx, id: contactID, owner: caller.userID) else { throw ContactStore.notFound }
                return (contact, false, false)
            }
            try await UserStore.upsert(tx, id: caller.userID, role: .agent, name: caller.name)
            let (contact, created) = try await Self.convert(tx, row, id: uuid, caller: caller)
            return (contact, created, true)
        }
        if linked { notifier?.tenantChanged(caller.tenant) }
        return (contact, created)
    }

    /// A request's stored property (JSON text) as a listing.
    static func listing(_ property: String?) -> Listing? {
        property.flatMap { try? ParleyJSON.sharedDecoder.decode(Listing.self, from: Data($0.utf8)) }
    }

    /// The request's person as the agent's contact (found by email or phone among the agent's
    /// contacts, or new), linked to the request, its session and its property, with a
    /// `contact.created` event. For a request (locked) with no contact yet; the agent is a user.
    static func convert(_ tx: Transaction, _ row: Row, id uuid: UUID, caller: Caller) async throws -> (Contact, created: Bool) {
        // No user id: what a visitor typed is unverified, so converting never binds their
        // identity to a contact (an existing one with that email could be someone else).
        let draft: ContactDraft
        if let requester = try row.decode(String?.self, "requester") {
            // An agent's request: what their public profile shows.
            draft = Self.contactDraft(try ParleyJSON.sharedDecoder.decode(DirectoryMember.self, from: Data(requester.utf8)))
        } else {
            draft = ContactDraft(
                fullName: try row.decode(String.self, "name"), email: try row.decode(String?.self, "email"),
                mobilePhone: try row.decode(String?.self, "phone"), leadSource: "Website chat request",
                preferredContactMethod: ContactMethod(rawValue: try row.decode(String.self, "preferred_contact_method")))
        }
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
        // The conversion, for the agent's other devices and the brokerage's webhooks.
        try await EventLog.append(
            tx, .contactCreated, session: nil, recipients: [caller.userID],
            data: ConversionEvent(requestId: uuid.uuidString.lowercased(), contact: contact, created: created))
        return (contact, created)
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
}
