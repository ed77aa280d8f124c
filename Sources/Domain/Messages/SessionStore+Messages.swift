import Database
import Foundation

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
        let listingJSON = try draft.listing.map { try SQLJSON(encoding: $0) }
        // One round trip for the whole send: BEGIN, tenant scope, send_message() (lock, checks,
        // seq, message, receipt, events; sql/tenant/functions/send_message.sql), COMMIT,
        // pipelined. The HTML is rendered here, once, and stored with the message.
        let attachmentIDs = try Self.attachmentIDs(draft, limit: caller.tenant.settings.maxAttachmentsPerMessage)
        let params: [any SQLEncodable] = [
            uuid, caller.userID, draft.clientMessageId, draft.text, MessageFormatter.html(draft.text),
            Self.preview(draft.text, attachments: attachmentIDs.count, listing: draft.listing), listingJSON, SQLArray.uuids(attachmentIDs),
        ]
        // A session with copies in other brokerages (decision 0028) is written into every copy
        // in one transaction; which ones it has is remembered (it changes only when a peer
        // brokerage is deleted or imported again: a failed send asks the copy again).
        var peers = sharedPeers.peers(of: uuid, in: caller.tenant.slug.rawValue) ?? []
        var row: Row
        if peers.isEmpty {
            let result = try await database.tenantPipelined(
                caller.tenant.scope, "SELECT * FROM send_message($1, $2, $3, $4, $5, $6, $7::jsonb, $8::uuid[])", params)
            guard let first = result.first else { throw Self.notFound }
            row = first
            if try row.decode(String.self, "outcome") == "shared" {
                peers = try row.decodeJSON([String].self, "peers")
                do {
                    row = try await sendShared(caller, session: uuid, params, peers: peers, attachments: !attachmentIDs.isEmpty)
                } catch {
                    // The copy names a brokerage that is gone: deleted while this one could not be
                    // reached to unlink it (TenantStore.delete), and every send here failed.
                    // Unlinked now, the send is made again, once.
                    guard (try? await unlinkGonePeers(caller, session: uuid, peers: peers)) == true else { throw error }
                    return try await send(caller, sessionID: id, draft)
                }
                sharedPeers.remember(uuid, in: caller.tenant.slug.rawValue, peers: peers)
            }
        } else {
            do {
                row = try await sendShared(caller, session: uuid, params, peers: peers, attachments: !attachmentIDs.isEmpty)
            } catch {
                // What this process remembered may be out of date (a peer deleted and unlinked
                // since): the copy's own list decides, once. Nothing was kept of the failed try
                // (one transaction), and a send that did commit comes back as `existing`.
                sharedPeers.forget(uuid, in: caller.tenant.slug.rawValue)
                return try await send(caller, sessionID: id, draft)
            }
        }
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
        let message = try row.decodeJSON(Message.self, "message", decoder: ParleyJSON.sharedDecoder).viewed(by: caller.userID, members: members)
        if outcome == "existing" {
            guard message.text == draft.text, message.listing == draft.listing,
                message.attachments.map(\.id) == attachmentIDs.map({ $0.uuidString.lowercased() })
            else {
                throw DomainError.conflict(code: "idempotency_key_reused", message: "clientMessageId was already used for a different message")
            }
            return (message, false)
        }
        committed(caller)
        for peer in peers { notifier?.tenantChanged(slug: peer) }
        return (message, true)
    }

    /// Removes from the session's `peers`, in the caller's copy, the brokerages that no longer
    /// hold a copy of it: deleted (their role is gone), or made again under the same name since
    /// (no such session there, or one that no longer names the caller's brokerage: an import
    /// detaches it). False when every peer still holds its copy.
    private func unlinkGonePeers(_ caller: Caller, session: UUID, peers: [String]) async throws -> Bool {
        try await database.withTenant(caller.tenant.scope) { tx in
            var gone: [String] = []
            for peer in peers {
                if try await SharedCopies.enterIfPresent(tx, peer) {
                    let held = try await tx.query(
                        "SELECT 1 FROM sessions WHERE id = $1 AND $2 = ANY (peers)", [session, caller.tenant.slug.rawValue]).first != nil
                    try await tx.enter(caller.tenant.scope)
                    if held { continue }
                }
                gone.append(peer)
            }
            guard !gone.isEmpty else { return false }
            try await tx.query(
                "UPDATE sessions SET peers = ARRAY(SELECT p FROM unnest(peers) AS p WHERE p <> ALL ($2::text[])) WHERE id = $1",
                [session, SQLArray.text(gone)])
            return true
        }
    }

    /// The send of a shared session (decision 0028): send_message() in the caller's copy, then
    /// the message into each other brokerage's copy, in one transaction. Without attachments
    /// that is one pipeline, one round trip: send_message() leaves the message in a
    /// transaction-local setting that mirror_pending_message() reads in each other copy's
    /// scope. With attachments, their bytes are copied piece by piece (SharedCopies).
    private func sendShared(_ caller: Caller, session: UUID, _ params: [any SQLEncodable], peers: [String], attachments: Bool) async throws -> Row {
        let send = "SELECT * FROM send_message($1, $2, $3, $4, $5, $6, $7::jsonb, $8::uuid[], true)"
        let home = caller.tenant.slug.rawValue
        if !attachments {
            var statements = [PipelinedStatement(send, params, prepared: false)]
            for peer in peers {
                statements.append(try SharedCopies.scope(peer).enterStatement)
                statements.append(PipelinedStatement("SELECT mirror_pending_message($1, $2)", [home, peer], prepared: true))
            }
            guard let row = try await database.tenantPipelined(caller.tenant.scope, statements).first?.first else { throw Self.notFound }
            return row
        }
        return try await database.withTenant(caller.tenant.scope) { tx -> Row in
            guard let row = try await tx.query(send, params).first else { throw Self.notFound }
            guard try row.decode(String.self, "outcome") == "created" else { return row }
            let message = try row.decodeJSON(Message.self, "message", decoder: ParleyJSON.sharedDecoder)
            guard let id = UUID(uuidString: message.id) else { throw DatabaseError.undecodable("a message id is no UUID") }
            try await SharedCopies.mirrorMessage(tx, session: session, message: id, home: caller.tenant.scope, from: home, peers: peers)
            return row
        }
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
            let rows: [Row]
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
            let messages = try rows.prefix(limit).map {
                try $0.decodeJSON(Message.self, "message", decoder: ParleyJSON.sharedDecoder).viewed(by: caller.userID, members: members)
            }
            return (messages, rows.count > limit ? messages.last?.seq : nil)
        }
    }

    // MARK: - Internals

    /// History rows: message_json(), the shape the message.created event carries. Written so
    /// that it runs whole on a Citus worker against the shards (decision 0032): the rows go in
    /// as the tables' row types explicitly (a shard's row type is not its table's), and the
    /// attachments are read here, as `message_attachments()` reads them, not by a function
    /// that would query a table from inside the pushed-down query.
    static let messageSelect = """
        SELECT message_json(ROW(m.*)::messages, ROW(u.*)::users, files.list)::text AS message
        FROM messages m JOIN users u ON u.id = m.sender_id
        CROSS JOIN LATERAL (
            SELECT coalesce(jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
                       'id', a.id, 'fileName', a.file_name, 'mediaType', a.media_type, 'size', a.size,
                       'sha256', a.sha256, 'width', a.width, 'height', a.height,
                       'url', '/v1/attachments/' || a.id)) ORDER BY a.position), '[]'::jsonb) AS list
            FROM attachments a WHERE a.message_id = m.id
        ) AS files
        """

    /// Every member's read position (user id → last_read_seq).
    static func readPositions(_ tx: Transaction, session: UUID) async throws -> [String: Int64] {
        var positions: [String: Int64] = [:]
        for row in try await tx.query("SELECT user_id, last_read_seq FROM session_members WHERE session_id = $1", [session]).rows {
            positions[try row.decode(String.self, "user_id")] = try row.decode(Int64.self, "last_read_seq")
        }
        return positions
    }

    /// The session list's one-line preview: the first 140 characters, on one line ("📎 2 files"
    /// for a message of attachments only).
    static func preview(_ text: String, attachments: Int = 0, listing: Listing? = nil) -> String {
        if text.isEmpty && attachments > 0 { return attachments == 1 ? "📎 1 file" : "📎 \(attachments) files" }
        if text.isEmpty, let listing {
            return "🏠 " + (listing.address ?? listing.ListingId ?? listing.ListingKey ?? "a listing").prefix(137)
        }
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
        // A listing shared alone is a message ("share listings directly in chat messages").
        if draft.attachmentIds.isEmpty && draft.listing == nil && (draft.text.isEmpty || draft.text.allSatisfy(\.isWhitespace)) {
            validator.add("text", "required", "text is required (unless the message has attachments or a listing)")
        } else {
            validator.checkText(draft.text, "text", maxLength: 10_000)
        }
        draft.listing?.validate(into: &validator, prefix: "listing")
        for (index, id) in draft.attachmentIds.enumerated() where UUID(uuidString: id) == nil {
            validator.add("attachmentIds.\(index)", "invalid_format", "an attachment id is a UUID")
        }
        try validator.check()
        return draft
    }
}
