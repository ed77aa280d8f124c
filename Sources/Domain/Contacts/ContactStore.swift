import Database
import Foundation

/// Contacts of an agent ("people you message get added to your contacts"), deduplicated per
/// owner by case-insensitive email and by E.164 mobile phone.
public struct ContactStore: Sendable {
    public let database: Database

    public init(database: Database) {
        self.database = database
    }

    static let columns = """
        c.id, c.owner_member_key, c.user_id, c.first_name, c.last_name, c.full_name, c.email, c.mobile_phone,
        c.preferred_phone, c.lead_source, c.notes, c.preferred_contact_method, c.created_at, c.updated_at
        """

    // MARK: - API operations (agents only)

    /// POST /v1/contacts: the new contact, or the owner's existing one with that email/phone.
    public func create(_ caller: Caller, _ draft: ContactDraft) async throws -> (Contact, created: Bool) {
        try requireAgent(caller)
        let draft = try Self.validated(draft, prefix: "")
        return try await database.withTenant(caller.tenant.scope) { tx in
            try await UserStore.upsert(tx, id: caller.userID, role: .agent, name: caller.name)
            return try await Self.findOrCreate(tx, owner: caller.userID, draft)
        }
    }

    public func get(_ caller: Caller, id: String) async throws -> Contact {
        try requireAgent(caller)
        guard let uuid = UUID(uuidString: id) else { throw Self.notFound }
        return try await database.withTenant(caller.tenant.scope) { tx in
            guard var contact = try await Self.fetch(tx, id: uuid, owner: caller.userID) else { throw Self.notFound }
            contact.sessions = try await Self.sessions(tx, contact: uuid, owner: caller.userID)
            return contact
        }
    }

    /// The caller's contacts by name, optionally filtered by `q` (a prefix of any word of the
    /// name, of the email, or digits of the phone).
    public func list(_ caller: Caller, q: String?, after: String?, limit: Int) async throws -> (items: [Contact], next: String?) {
        try requireAgent(caller)
        let position = try Keyset.decode(after)
        let query = q?.trimmingCharacters(in: .whitespaces).lowercased()
        let pattern = query.flatMap { $0.isEmpty ? nil : Self.likeEscape($0) + "%" }
        let digits = query.map { $0.filter(\.isNumber) }.flatMap { $0.count >= 3 ? "%" + $0 + "%" : nil }
        let rows = try await database.withTenant(caller.tenant.scope) { tx in
            try await tx.query("""
                SELECT \(Self.columns), lower(c.full_name) AS sort_name FROM contacts c
                WHERE c.owner_member_key = $1
                  AND ($2::text IS NULL OR lower(c.full_name) LIKE $2 OR lower(c.full_name) LIKE '% ' || $2
                       OR c.email_key LIKE $2 OR ($3::text IS NOT NULL AND c.mobile_phone LIKE $3))
                  AND ($4::text IS NULL OR (lower(c.full_name), c.id) > ($4, $5::uuid))
                ORDER BY lower(c.full_name), c.id
                LIMIT $6
                """, [caller.userID, pattern, digits, position?.key, position?.id, limit + 1]).rows
        }
        let contacts = try rows.prefix(limit).map(Self.contact)
        var next: String?
        if rows.count > limit, let last = rows.prefix(limit).last {
            next = Keyset(key: try last.decode(String.self, "sort_name"), id: try last.decode(UUID.self, "id")).cursor
        }
        return (contacts, next)
    }

    public func update(_ caller: Caller, id: String, _ patch: ContactPatch) async throws -> Contact {
        try requireAgent(caller)
        guard let uuid = UUID(uuidString: id) else { throw Self.notFound }
        return try await database.withTenant(caller.tenant.scope) { tx in
            try await Self.lockOwner(tx, caller.userID)
            guard let current = try await Self.fetch(tx, id: uuid, owner: caller.userID) else { throw Self.notFound }
            var draft = ContactDraft(
                fullName: current.FullName, firstName: current.FirstName, lastName: current.LastName, email: current.Email,
                mobilePhone: current.MobilePhone, preferredPhone: current.PreferredPhone, leadSource: current.LeadSource,
                notes: current.Notes, preferredContactMethod: current.preferredContactMethod, userId: current.userId)
            func apply<T>(_ field: PatchField<T>, _ keyPath: WritableKeyPath<ContactDraft, T?>) {
                if case .set(let value) = field { draft[keyPath: keyPath] = value }
            }
            if case .set(let name) = patch.fullName { draft.fullName = name ?? "" }
            apply(patch.firstName, \.firstName)
            apply(patch.lastName, \.lastName)
            apply(patch.email, \.email)
            apply(patch.mobilePhone, \.mobilePhone)
            apply(patch.preferredPhone, \.preferredPhone)
            apply(patch.leadSource, \.leadSource)
            apply(patch.notes, \.notes)
            apply(patch.preferredContactMethod, \.preferredContactMethod)
            let valid = try Self.validated(draft, prefix: "")
            if let other = try await Self.match(tx, owner: caller.userID, valid), other.ContactKey != current.ContactKey {
                throw DomainError.conflict(code: "contact_exists", message: "another of your contacts (\(other.ContactKey)) has that email or phone")
            }
            try await tx.query("""
                UPDATE contacts SET first_name = $3, last_name = $4, full_name = $5, email = $6, mobile_phone = $7,
                    preferred_phone = $8, lead_source = $9, notes = $10, preferred_contact_method = $11, updated_at = now()
                WHERE id = $1 AND owner_member_key = $2
                """, [uuid, caller.userID, valid.firstName, valid.lastName, valid.fullName, valid.email, valid.mobilePhone,
                      valid.preferredPhone, valid.leadSource, valid.notes, valid.preferredContactMethod?.rawValue])
            guard var updated = try await Self.fetch(tx, id: uuid, owner: caller.userID) else { throw Self.notFound }
            updated.sessions = try await Self.sessions(tx, contact: uuid, owner: caller.userID)
            return updated
        }
    }

    // MARK: - Building blocks for other stores (inside their transaction)

    /// The owner's contact matching the draft's email or phone, completed with what the draft
    /// adds (user id, missing email/phone), or a new one. Serialized per owner, so two
    /// concurrent calls for the same person make one contact.
    static func findOrCreate(_ tx: Transaction, owner: String, _ draft: ContactDraft) async throws -> (Contact, created: Bool) {
        try await lockOwner(tx, owner)
        // A contact links a user Parley knows (users are never deleted): say which field is
        // wrong instead of failing on the foreign key.
        if let userId = draft.userId, try await UserStore.role(tx, id: userId) == nil {
            throw DomainError.validation([FieldError("userId", "unknown_user", "userId is no user of this brokerage")])
        }
        if let existing = try await match(tx, owner: owner, draft) {
            try await tx.query("""
                UPDATE contacts SET user_id = COALESCE(user_id, $3), email = COALESCE(email, $4),
                    mobile_phone = COALESCE(mobile_phone, $5),
                    preferred_contact_method = COALESCE(preferred_contact_method, $6), updated_at = now()
                WHERE id = $1 AND owner_member_key = $2
                  AND (user_id IS NULL AND $3::text IS NOT NULL OR email IS NULL AND $4::text IS NOT NULL
                       OR mobile_phone IS NULL AND $5::text IS NOT NULL
                       OR preferred_contact_method IS NULL AND $6::text IS NOT NULL)
                """, [existing.ContactKey, owner, draft.userId, draft.email, draft.mobilePhone, draft.preferredContactMethod?.rawValue])
            guard let uuid = UUID(uuidString: existing.ContactKey), let contact = try await fetch(tx, id: uuid, owner: owner) else {
                throw notFound
            }
            return (contact, false)
        }
        return (try await insert(tx, owner: owner, draft), true)
    }

    /// The owner's contact for the user `userID` (an agent of the directory, decision 0028): found
    /// by that user id only — never by email or phone, which another brokerage's directory sets
    /// and nobody here has verified — or a new one, without an email or phone another of the
    /// owner's contacts already has.
    static func findOrCreate(_ tx: Transaction, owner: String, userID: String, _ draft: ContactDraft) async throws -> Contact {
        try await lockOwner(tx, owner)
        if let row = try await tx.query("""
            SELECT \(columns) FROM contacts c WHERE c.owner_member_key = $1 AND c.user_id = $2 ORDER BY c.created_at LIMIT 1
            """, [owner, userID]).first {
            return try contact(row)
        }
        let taken = try await tx.query("""
            SELECT coalesce(bool_or(email_key = lower($2)), false) AS email, coalesce(bool_or(mobile_phone = $3), false) AS phone
            FROM contacts WHERE owner_member_key = $1 AND (email_key = lower($2) OR mobile_phone = $3)
            """, [owner, draft.email, draft.mobilePhone]).rows[0]
        var draft = draft
        draft.userId = userID
        if try taken.decode(Bool.self, "email") { draft.email = nil }
        if try taken.decode(Bool.self, "phone") { draft.mobilePhone = nil }
        return try await insert(tx, owner: owner, draft)
    }

    private static func insert(_ tx: Transaction, owner: String, _ draft: ContactDraft) async throws -> Contact {
        let row = try await tx.query("""
            INSERT INTO contacts (owner_member_key, user_id, first_name, last_name, full_name, email, mobile_phone,
                preferred_phone, lead_source, notes, preferred_contact_method)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
            RETURNING id
            """, [owner, draft.userId, draft.firstName, draft.lastName, draft.fullName, draft.email, draft.mobilePhone,
                  draft.preferredPhone, draft.leadSource, draft.notes, draft.preferredContactMethod?.rawValue])
        guard let contact = try await fetch(tx, id: try row.rows[0].decode(UUID.self, "id"), owner: owner) else { throw notFound }
        return contact
    }

    static func fetch(_ tx: Transaction, id: UUID, owner: String) async throws -> Contact? {
        try await tx.query("SELECT \(columns) FROM contacts c WHERE c.id = $1 AND c.owner_member_key = $2", [id, owner])
            .first.map(contact)
    }

    /// Checks and normalizes a draft (email trimmed, phones to E.164), listing every bad field.
    static func validated(_ draft: ContactDraft, prefix: String) throws -> ContactDraft {
        var validator = Validator()
        var out = draft
        let p = prefix.isEmpty ? "" : prefix + "."
        // Trimmed first: a line break around the name is not in it.
        if let name = validator.requireLine(draft.fullName.trimmingCharacters(in: .whitespacesAndNewlines), p + "FullName", maxLength: 200) {
            out.fullName = name
        }
        for (value, field, max) in [(draft.firstName, "FirstName", 100), (draft.lastName, "LastName", 100),
                                    (draft.leadSource, "LeadSource", 100), (draft.notes, "Notes", 5000)] {
            Listing.checkText(value, p + field, max: max, into: &validator)
        }
        if let userId = draft.userId { validator.requireText(userId, p + "userId", maxLength: 200) }
        if let email = draft.email {
            out.email = ContactPoint.email(email)
            if out.email == nil { validator.add(p + "Email", "invalid_format", "Email is not a valid email address") }
        }
        for (value, field, keyPath) in [(draft.mobilePhone, "MobilePhone", \ContactDraft.mobilePhone),
                                        (draft.preferredPhone, "PreferredPhone", \ContactDraft.preferredPhone)] {
            guard let value else { continue }
            out[keyPath: keyPath] = ContactPoint.phone(value)
            if out[keyPath: keyPath] == nil { validator.add(p + field, "invalid_format", "\(field) is not a valid phone number") }
        }
        try validator.check()
        return out
    }

    // MARK: - Internals

    static let notFound = DomainError.notFound(code: "contact_not_found", message: "no such contact")

    private func requireAgent(_ caller: Caller) throws {
        guard caller.isAgent else { throw DomainError.forbidden(code: "agents_only", message: "only agents have contacts") }
    }

    private static func lockOwner(_ tx: Transaction, _ owner: String) async throws {
        try await tx.query("SELECT pg_advisory_xact_lock(hashtext('parley.contacts:' || current_schema()), hashtext($1))", [owner])
    }

    private static func match(_ tx: Transaction, owner: String, _ draft: ContactDraft) async throws -> Contact? {
        guard draft.email != nil || draft.mobilePhone != nil else { return nil }
        return try await tx.query("""
            SELECT \(columns) FROM contacts c
            WHERE c.owner_member_key = $1 AND (c.email_key = lower($2) OR c.mobile_phone = $3)
            ORDER BY (c.email_key = lower($2)) DESC NULLS LAST, c.created_at
            LIMIT 1
            """, [owner, draft.email, draft.mobilePhone]).first.map(contact)
    }

    private static func sessions(_ tx: Transaction, contact: UUID, owner: String) async throws -> [Contact.SessionRef] {
        try await tx.query("""
            SELECT s.id, s.kind, \(SessionStore.status) AS status, s.last_activity_at
            FROM sessions s JOIN session_members me ON me.session_id = s.id AND me.user_id = $2
            WHERE s.contact_id = $1
            ORDER BY s.last_activity_at DESC LIMIT 100
            """, [contact, owner]).rows.map { row in
            Contact.SessionRef(
                id: try row.decode(UUID.self, "id").uuidString.lowercased(), kind: try row.decode(String.self, "kind"),
                status: try row.decode(String.self, "status"), lastActivityAt: try row.decode(Date.self, "last_activity_at"))
        }
    }

    static func likeEscape(_ text: String) -> String {
        var out = ""
        for character in text {
            if character == "%" || character == "_" || character == "\\" { out.append("\\") }
            out.append(character)
        }
        return out
    }

    static func contact(_ row: Row) throws -> Contact {
        Contact(
            ContactKey: try row.decode(UUID.self, "id").uuidString.lowercased(),
            FirstName: try row.decode(String?.self, "first_name"), LastName: try row.decode(String?.self, "last_name"),
            FullName: try row.decode(String.self, "full_name"), Email: try row.decode(String?.self, "email"),
            MobilePhone: try row.decode(String?.self, "mobile_phone"), PreferredPhone: try row.decode(String?.self, "preferred_phone"),
            LeadSource: try row.decode(String?.self, "lead_source"), Notes: try row.decode(String?.self, "notes"),
            OwnerMemberKey: try row.decode(String.self, "owner_member_key"),
            preferredContactMethod: try row.decode(String?.self, "preferred_contact_method").flatMap(ContactMethod.init(rawValue:)),
            userId: try row.decode(String?.self, "user_id"), sessions: nil,
            createdAt: try row.decode(Date.self, "created_at"), updatedAt: try row.decode(Date.self, "updated_at"))
    }
}
