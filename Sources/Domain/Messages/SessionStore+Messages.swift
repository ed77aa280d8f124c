import Database
import Foundation
import PQ

extension SessionStore {
    /// What a member sends.
    public struct Draft: Sendable {
        public var clientMessageId: String
        public var text: String
        public var listing: Listing?
        public var attachmentIds: [String]

        public init(clientMessageId: String, text: String, listing: Listing? = nil, attachmentIds: [String] = []) {
            self.clientMessageId = clientMessageId
            self.text = text
            self.listing = listing
            self.attachmentIds = attachmentIds
        }
    }

    /// Sends a message. Idempotent per (sender, clientMessageId): a retry returns the stored
    /// message with `created == false`; the same key with different content is 409.
    ///
    /// The session row is locked for the transaction, which serializes sends per session: the
    /// per-session `seq` has no gaps, and a concurrent close either lands before (409
    /// `session_closed`) or after the message.
    public func send(_ caller: Caller, sessionID id: String, _ draft: Draft) async throws -> (Message, created: Bool) {
        let uuid = try Self.sessionID(id)
        let draft = try Self.validated(draft)
        let listingJSON = try draft.listing.map { try PQJSON(encoding: $0) }
        // One round trip for the whole send: BEGIN, tenant scope, send_message() (lock, checks,
        // seq, message, receipt, events; sql/tenant/004_send_message.sql), COMMIT, pipelined.
        let attachmentIDs = try Self.attachmentIDs(draft, limit: caller.tenant.settings.maxAttachmentsPerMessage)
        let result = try await database.tenantPipelined(
            caller.tenant.scope, "SELECT * FROM send_message($1, $2, $3, $4, $5, $6, $7::jsonb, $8::uuid[])",
            [uuid, caller.userID, draft.clientMessageId, draft.text, MessageFormatter.html(draft.text),
             Self.preview(draft.text, attachments: attachmentIDs.count), listingJSON, SQLArray.uuids(attachmentIDs)])
        guard let row = result.first else { throw Self.notFound }
        let outcome = try row.decode(String.self, "outcome")
        switch outcome {
        case "not_found":
            throw Self.notFound
        case "closed":
            throw DomainError.conflict(code: "session_closed", message: "the session is closed; reopen it to send")
        case "attachments_unavailable":
            throw DomainError.conflict(
                code: "attachment_unavailable",
                message: "every attachmentId must be your own finished upload to this session, not yet used in a message")
        default:
            break
        }
        let members = try row.decodeJSON([String: Int64].self, "members")
        let message = try Self.message(row, viewer: caller.userID, members: members, sessionID: uuid)
        if outcome == "existing" {
            guard message.text == draft.text, message.listing == draft.listing,
                message.attachments.map(\.id) == attachmentIDs.map({ $0.uuidString.lowercased() })
            else {
                throw DomainError.conflict(code: "idempotency_key_reused", message: "clientMessageId was already used for a different message")
            }
            return (message, false)
        }
        committed(caller)
        return (message, true)
    }

    public enum HistoryCursor: Sendable {
        /// The newest messages.
        case latest
        /// Messages with seq < n, newest first.
        case before(Int64)
        /// Messages with seq > n, oldest first.
        case after(Int64)
    }

    /// A page of history. `latest` and `before` page backwards (newest first); `after` pages
    /// forwards (oldest first). Keyset on seq: pages never overlap or skip, even while new
    /// messages arrive. Reading history does not mark anything read.
    public func history(_ caller: Caller, sessionID id: String, _ cursor: HistoryCursor, limit: Int) async throws -> (items: [Message], next: Int64?) {
        let uuid = try Self.sessionID(id)
        return try await database.withTenant(caller.tenant.scope) { tx in
            let members = try await Self.readPositions(tx, session: uuid)
            guard members[caller.userID] != nil else { throw Self.notFound }
            let rows: [PQRow]
            switch cursor {
            case .latest, .before:
                var before = Int64.max
                if case .before(let seq) = cursor { before = seq }
                rows = try await tx.query(
                    "\(Self.messageSelect) WHERE m.session_id = $1 AND m.seq < $2 ORDER BY m.seq DESC LIMIT $3",
                    [uuid, before, limit + 1]).rows
            case .after(let seq):
                rows = try await tx.query(
                    "\(Self.messageSelect) WHERE m.session_id = $1 AND m.seq > $2 ORDER BY m.seq ASC LIMIT $3",
                    [uuid, seq, limit + 1]).rows
            }
            let messages = try rows.prefix(limit).map { try Self.message($0, viewer: caller.userID, members: members) }
            return (messages, rows.count > limit ? messages.last?.seq : nil)
        }
    }

    // MARK: - Internals

    static let messageSelect = """
        SELECT m.id, m.session_id, m.seq, m.sender_id, u.display_name AS sender_name, u.role AS sender_role,
               m.client_message_id, m.text, m.listing::text AS listing, m.created_at,
               message_attachments(m.id)::text AS attachments
        FROM messages m JOIN users u ON u.id = m.sender_id
        """

    /// Every member's read position (user id → last_read_seq).
    static func readPositions(_ tx: Transaction, session: UUID) async throws -> [String: Int64] {
        var positions: [String: Int64] = [:]
        for row in try await tx.query("SELECT user_id, last_read_seq FROM session_members WHERE session_id = $1", [session]).rows {
            positions[try row.decode(String.self, "user_id")] = try row.decode(Int64.self, "last_read_seq")
        }
        return positions
    }

    /// A history row, or a send_message() row (which has no session_id column: pass `sessionID`).
    static func message(_ row: PQRow, viewer: String, members: [String: Int64], sessionID: UUID? = nil) throws -> Message {
        let seq = try row.decode(Int64.self, "seq")
        let senderID = try row.decode(String.self, "sender_id")
        let text = try row.decode(String.self, "text")
        let own = senderID == viewer
        var readBy: [String]?
        var delivery: Message.Delivery?
        if own {
            let others = members.filter { $0.key != senderID }
            let readers = others.filter { $0.value >= seq }.map(\.key).sorted()
            readBy = readers
            delivery = !others.isEmpty && readers.count == others.count ? .read : .sent
        }
        let listing = try row.decode(String?.self, "listing").map { text in
            try JSONDecoder().decode(Listing.self, from: Data(text.utf8))
        }
        return Message(
            id: try row.decode(UUID.self, "id").uuidString.lowercased(),
            sessionId: try (sessionID ?? row.decode(UUID.self, "session_id")).uuidString.lowercased(), seq: seq,
            sender: .init(userId: senderID, name: try row.decode(String.self, "sender_name"), role: try row.decode(String.self, "sender_role")),
            clientMessageId: own ? try row.decode(String.self, "client_message_id") : nil,
            text: text, html: MessageFormatter.html(text), listing: listing,
            attachments: try row.decode(String?.self, "attachments").map { try JSONDecoder().decode([Attachment].self, from: Data($0.utf8)) } ?? [],
            createdAt: try row.decode(Date.self, "created_at"), delivery: delivery, readBy: readBy)
    }

    /// The session list's one-line preview: the first 140 characters, on one line ("📎 2 files"
    /// for a message of attachments only).
    static func preview(_ text: String, attachments: Int = 0) -> String {
        if text.isEmpty && attachments > 0 { return attachments == 1 ? "📎 1 file" : "📎 \(attachments) files" }
        let line = text.split(whereSeparator: \.isNewline).joined(separator: " ")
        return line.count > 140 ? String(line.prefix(139)) + "…" : line
    }

    /// The draft's attachment ids: at most the tenant's per-message limit, no repeats.
    static func attachmentIDs(_ draft: Draft, limit: Int) throws -> [UUID] {
        let ids = draft.attachmentIds.compactMap { UUID(uuidString: $0) }
        var validator = Validator()
        if ids.count > limit {
            validator.add("attachmentIds", "too_many", "a message may have at most \(limit) attachments")
        }
        if Set(ids).count != ids.count {
            validator.add("attachmentIds", "duplicate", "an attachment may appear once per message")
        }
        try validator.check()
        return ids
    }

    static func validated(_ draft: Draft) throws -> Draft {
        var validator = Validator()
        validator.requireText(draft.clientMessageId, "clientMessageId", maxLength: 100)
        if draft.attachmentIds.isEmpty && (draft.text.isEmpty || draft.text.allSatisfy(\.isWhitespace)) {
            validator.add("text", "required", "text is required (unless the message has attachments)")
        } else if draft.text.count > 10_000 {
            validator.add("text", "too_long", "text must be at most 10,000 characters")
        } else if draft.text.unicodeScalars.contains(where: { $0.value == 0 }) {
            validator.add("text", "invalid_characters", "text must not contain NUL characters")
        }
        draft.listing?.validate(into: &validator, prefix: "listing")
        for (index, id) in draft.attachmentIds.enumerated() where UUID(uuidString: id) == nil {
            validator.add("attachmentIds.\(index)", "invalid_format", "an attachment id is a UUID")
        }
        try validator.check()
        return draft
    }
}
