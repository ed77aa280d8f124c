import Database
import Foundation

/// Chat sessions: creation, the session list, status changes. Messages and receipts are in
/// the `+Messages` and `+Receipts` extensions. Every call runs in the caller's tenant scope;
/// a session the caller is not a member of is "not found", exactly like one that does not exist.
public struct SessionStore: Sendable {
    public let database: Database
    /// Wakes live streams after a commit that appended events (nil: no live delivery).
    public let notifier: Notifier?

    /// Sessions of this process's sends that have copies in other brokerages (decision 0028).
    let sharedPeers = SharedPeers()

    public init(database: Database, notifier: Notifier? = nil) {
        self.database = database
        self.notifier = notifier
    }

    /// Who to start a session with.
    public enum Counterpart: Sendable {
        /// A client by their brokerage user id, with what the agent knows of them.
        case newClient(userID: String, name: String, email: String?, phone: String?)
        /// A client already in the caller's contacts (`userID` when the contact has none yet).
        case contact(id: String, userID: String?)
        /// Another agent of the same brokerage.
        case agent(userID: String, name: String)

        /// The user ids it names, with their request fields.
        var userIDs: [(String, String)] {
            switch self {
            case .newClient(let userID, _, _, _): [("client.userId", userID)]
            case .contact(_, let userID): userID.map { [("client.userId", $0)] } ?? []
            case .agent(let userID, _): [("agent.userId", userID)]
            }
        }
    }

    /// Starts a session (agents only). Agents of other brokerages are asked with Request Chat
    /// (ChatRequestStore.requestChat), never named here. An active session of the same kind
    /// between exactly these two people is returned instead of making a second one, and back in
    /// the caller's list if they had archived it.
    public func create(_ caller: Caller, with counterpart: Counterpart) async throws -> (Session, created: Bool) {
        guard caller.isAgent else {
            throw DomainError.forbidden(code: "agents_only", message: "only agents can start sessions")
        }
        let counterpart = try Self.validated(counterpart)
        let result = try await database.withTenant(caller.tenant.scope) { tx -> (session: Session, created: Bool, announced: Bool) in
            try await UserStore.upsert(tx, id: caller.userID, role: .agent, name: caller.name)
            let kind: Session.Kind
            let otherID: String
            var contactID: UUID?
            switch counterpart {
            case .newClient(let userID, let name, let email, let phone):
                kind = .client
                otherID = userID
                try await Self.requireNotAgent(tx, userID)
                // The name seeds a user Parley has not seen; an existing user's name is theirs
                // (their own token's), not what one agent calls them.
                try await UserStore.insertIfMissing(tx, id: userID, role: .client, name: name)
                let draft = try ContactStore.validated(
                    ContactDraft(fullName: name, email: email, mobilePhone: phone, userId: userID), prefix: "client")
                contactID = UUID(uuidString: try await ContactStore.findOrCreate(tx, owner: caller.userID, draft).0.ContactKey)
            case .contact(let id, let userID):
                kind = .client
                guard let uuid = UUID(uuidString: id), let contact = try await ContactStore.fetch(tx, id: uuid, owner: caller.userID) else {
                    throw ContactStore.notFound
                }
                guard let clientID = contact.userId ?? userID else {
                    throw DomainError.validation([FieldError("client.userId", "required", "this contact has no user id yet; pass client.userId")])
                }
                otherID = clientID
                try await Self.requireNotAgent(tx, clientID)
                try await UserStore.insertIfMissing(tx, id: clientID, role: .client, name: contact.FullName)
                try await tx.query("UPDATE contacts SET user_id = $2, updated_at = now() WHERE id = $1 AND user_id IS NULL", [uuid, clientID])
                contactID = uuid
            case .agent(let userID, let name):
                kind = .agent
                otherID = userID
                if try await UserStore.role(tx, id: userID) == .client {
                    throw DomainError.validation([FieldError("agent.userId", "invalid_value", "that user is a client")])
                }
                try await UserStore.insertIfMissing(tx, id: userID, role: .agent, name: name)
            }
            guard otherID != caller.userID else {
                throw DomainError.validation([FieldError("\(kind == .agent ? "agent" : "client").userId", "invalid_value", "you cannot start a session with yourself")])
            }
            // One open session per pair and kind, even when two requests race.
            let pair = [caller.userID, otherID].sorted().joined(separator: "\u{1F}")
            try await tx.query("SELECT pg_advisory_xact_lock(hashtext('parley.session-pair:' || current_schema()), hashtext($1))", [kind.rawValue + pair])
            let existing = try await tx.query("""
                SELECT s.id FROM sessions s
                WHERE s.kind = $1 AND s.status <> 'closed'
                  AND EXISTS (SELECT 1 FROM session_members m WHERE m.session_id = s.id AND m.user_id = $2)
                  AND EXISTS (SELECT 1 FROM session_members m WHERE m.session_id = s.id AND m.user_id = $3)
                  AND (SELECT count(*) FROM session_members m WHERE m.session_id = s.id) = 2
                ORDER BY s.created_at LIMIT 1
                """, [kind.rawValue, caller.userID, otherID])
            if let row = existing.first {
                let id = try row.decode(UUID.self, "id")
                let unarchived = try await Self.setArchived(tx, id: id, member: caller.userID, false)
                guard let session = try await Self.fetch(tx, id: id, member: caller.userID) else { throw Self.notFound }
                if unarchived { try await Self.announce(tx, session: session, to: [caller.userID], changedBy: caller.userID) }
                return (session, false, unarchived)
            }
            let id = try await tx.query(
                "INSERT INTO sessions (kind, created_by, contact_id) VALUES ($1, $2, $3) RETURNING id",
                [kind.rawValue, caller.userID, contactID]).rows[0].decode(UUID.self, "id")
            try await tx.query("""
                INSERT INTO session_members (session_id, user_id, role) VALUES ($1, $2, 'agent'), ($1, $3, $4)
                """, [id, caller.userID, otherID, kind == .agent ? "agent" : "client"])
            guard let session = try await Self.fetch(tx, id: id, member: caller.userID) else { throw Self.notFound }
            try await Self.announce(tx, session: session, to: session.members.map(\.userId), changedBy: caller.userID, badges: false)
            return (session, true, true)
        }
        if result.announced { committed(caller) }
        return (result.session, result.created)
    }

    public func get(_ caller: Caller, id: String) async throws -> Session {
        let uuid = try Self.sessionID(id)
        return try await database.withTenant(caller.tenant.scope) { tx in
            guard let session = try await Self.fetch(tx, id: uuid, member: caller.userID) else { throw Self.notFound }
            return session
        }
    }

    /// From this many sessions on, a caller's list is planned for them (`list`).
    static let manySessions: Int64 = 100

    /// The caller's sessions in one status, newest activity first, keyset-paginated.
    public func list(_ caller: Caller, status: Session.Status, kind: Session.Kind?, after: String?, limit: Int) async throws -> (items: [Session], next: String?) {
        let position = try Keyset.decode(after)
        let micros = try position?.integerKey()
        // Which plan is fast depends on how many sessions the caller has, and a prepared
        // statement's generic plan guesses every user has the table's average (2): for an agent
        // with 2,000 of a brokerage's 20,000 sessions it sorted all 2,000 for a page of 50
        // (postgres CPU 12 ms a request). So the caller's sessions are counted up to
        // `Self.manySessions` with BEGIN (no extra round trip): a caller with fewer gets the
        // prepared statement (its generic plan, membership first, is right for them and costs
        // no planning); one with more gets it planned for their values (it walks the activity
        // index and probes membership: 3–5 ms with the planning).
        let count = PipelinedStatement(
            "SELECT count(*) AS n FROM (SELECT 1 FROM session_members WHERE user_id = $1 LIMIT \(Self.manySessions)) mine",
            [caller.userID], prepared: true)
        let rows = try await database.withTenant(caller.tenant.scope, opening: [count]) { opened, tx in
            let many = (try opened[0].rows.first?.decode(Int64.self, "n") ?? 0) >= Self.manySessions
            let sql = """
                \(Self.select)
                FROM session_members me JOIN sessions s ON s.id = me.session_id
                WHERE me.user_id = $1 AND \(Self.status) = $2 AND ($3::text IS NULL OR s.kind = $3)
                  AND ($4::bigint IS NULL
                       OR (s.last_activity_at, s.id) < (timestamptz 'epoch' + $4::bigint * interval '1 microsecond', $5::uuid))
                ORDER BY s.last_activity_at DESC, s.id DESC
                LIMIT $6
                """
            let params: [any SQLEncodable] = [caller.userID, status.rawValue, kind?.rawValue, micros, position?.id, limit + 1]
            return many ? try await tx.queryUnprepared(sql, params).rows : try await tx.query(sql, params).rows
        }
        let sessions = try rows.prefix(limit).map { try Self.session($0, member: caller.userID) }
        var next: String?
        if rows.count > limit, let last = rows.prefix(limit).last {
            next = Keyset(key: String(try last.decode(Int64.self, "activity_us")), id: try last.decode(UUID.self, "id")).cursor
        }
        return (sessions, next)
    }

    public enum Transition: String, Sendable {
        case close, archive, reopen
    }

    /// Changes the status as the caller sees it. Closing and reopening change the session for
    /// every member, in every brokerage's copy of a shared session; archiving is the caller's
    /// own (decision 0061): it hides the session from their list and badge only, whether it is
    /// active or closed, and reopening brings it back (and makes a closed session active). Each
    /// change is a conditional UPDATE, so racing requests cannot produce a state the machine does
    /// not allow, and repeating a transition is a no-op. Only agent members may.
    public func transition(_ caller: Caller, id: String, _ transition: Transition) async throws -> Session {
        let uuid = try Self.sessionID(id)
        let (session, changed, peers) = try await database.withTenant(caller.tenant.scope) { tx -> (Session, Bool, [String]) in
            // The session's change first, then the caller's archive: each badge trigger counts
            // against the other table as it is, so the two are separate statements (one
            // statement changing both would count the difference twice).
            var everyone = false
            var peers: [String] = []
            if transition != .archive {
                // A shared session's copies close and reopen together: its advisory lock first,
                // as its sends and receipts take it, so the copies' rows are locked in one order.
                peers = try await SharedCopies.peers(tx, session: uuid)
                if !peers.isEmpty {
                    try await tx.query("SELECT pg_advisory_xact_lock(hashtext('parley.session'), hashtext($1::text))", [uuid])
                }
                // Closing: anything not closed (an `archived` of an older release included).
                everyone = try await !tx.query("""
                    UPDATE sessions s SET status = $3, status_changed_by = $2, status_changed_at = now()
                    WHERE s.id = $1 AND (s.status = 'closed') = $4
                      AND EXISTS (SELECT 1 FROM session_members m WHERE m.session_id = s.id AND m.user_id = $2 AND m.role = 'agent')
                    RETURNING s.id
                    """, [uuid, caller.userID, transition == .close ? "closed" : "active", transition == .reopen]).isEmpty
            }
            var mine = false
            if transition != .close {
                mine = try await Self.setArchived(tx, id: uuid, member: caller.userID, transition == .archive)
            }
            guard let session = try await Self.fetch(tx, id: uuid, member: caller.userID) else { throw Self.notFound }
            guard session.members.first(where: { $0.userId == caller.userID })?.role == "agent" else {
                throw DomainError.forbidden(code: "agents_only", message: "only agents can change a session's status")
            }
            if everyone {
                try await Self.announce(tx, session: session, to: session.members.map(\.userId), changedBy: caller.userID)
            } else if mine {
                try await Self.announce(tx, session: session, to: [caller.userID], changedBy: caller.userID)
            }
            // The other copies follow, also when this one had already changed (copies that an
            // older release let differ come back in step).
            let mirrored = peers.isEmpty ? [] : try await SharedCopies.mirrorStatus(
                tx, session: uuid, closed: transition == .close, by: caller.userID, home: caller.tenant.scope,
                from: caller.tenant.slug.rawValue, peers: peers)
            return (session, everyone || mine, mirrored)
        }
        if changed { committed(caller) }
        for peer in peers { notifier?.tenantChanged(slug: peer) }
        return session
    }

    /// Archives (or brings back) session `id` for agent member `member` only; false when it
    /// already was. The session row is share-locked first, as receipts do: a send or status
    /// change of the session waits for this and this for them, so the badge triggers each count
    /// against the other's committed state (badge_session_changed.sql).
    static func setArchived(_ tx: Transaction, id: UUID, member: String, _ archived: Bool) async throws -> Bool {
        // Two texts, not `CASE WHEN … THEN now()`: Citus refuses a stable function inside CASE
        // (decision 0032).
        try await !tx.query("""
            WITH s AS (\(lockedSession))
            UPDATE session_members m SET archived_at = \(archived ? "now()" : "NULL")
            FROM s
            WHERE m.session_id = s.id AND m.user_id = $2 AND m.role = 'agent' AND m.archived_at IS \(archived ? "NULL" : "NOT NULL")
            RETURNING m.user_id
            """, [id, member]).isEmpty
    }

    // MARK: - Shared

    static let notFound = DomainError.notFound(code: "session_not_found", message: "no such session")

    static func sessionID(_ text: String) throws -> UUID {
        guard let uuid = UUID(uuidString: text) else { throw notFound }
        return uuid
    }

    /// A session's status as member `me` sees it: `archived` while they have archived it
    /// (archiving is each member's own, decision 0061), else the session's `active` or `closed`.
    /// A session status `archived` of an older release is active (convert_archived_sessions()).
    static let status = "(CASE WHEN me.archived_at IS NOT NULL THEN 'archived' WHEN s.status = 'closed' THEN 'closed' ELSE 'active' END)"

    /// Columns of a session row as seen by member `me` (the caller), with every member.
    static let select = """
        SELECT s.id, s.kind, \(status) AS status, s.status = 'closed' AS closed, s.contact_id, s.last_seq, s.last_message_at, s.last_message_preview,
               s.last_sender_id, s.last_activity_at, s.created_at, me.last_read_seq, me.marked_unread,
               (extract(epoch FROM s.last_activity_at) * 1000000)::int8 AS activity_us,
               (SELECT array_agg(ARRAY[m.user_id, u.display_name, m.role, m.last_read_seq::text, u.brokerage] ORDER BY m.joined_at, m.user_id)
                  FROM session_members m JOIN users u ON u.id = m.user_id WHERE m.session_id = s.id) AS members
        """

    /// The members of a `select` row: a text array of one row per member, read without JSON —
    /// decoding each session's members from JSON took a quarter of the server's CPU for a list
    /// of 50 sessions.
    static func members(_ row: Row) throws -> [Session.Member] {
        // Per member, in `select`'s order: user id, name, role, read position, brokerage.
        let width = 5
        let cells = try row.decodeArray(String?.self, "members")
        guard cells.count.isMultiple(of: width) else { throw DatabaseError.undecodable("members: \(cells.count) cells") }
        return try stride(from: 0, to: cells.count, by: width).map { at in
            guard let userId = cells[at], let name = cells[at + 1], let role = cells[at + 2], let read = cells[at + 3].flatMap({ Int64($0) })
            else { throw DatabaseError.undecodable("members: a member without id, name, role or read position") }
            return Session.Member(userId: userId, name: name, role: role, lastReadSeq: read, brokerage: cells[at + 4])
        }
    }

    static func fetch(_ tx: Transaction, id: UUID, member: String) async throws -> Session? {
        try await tx.query("""
            \(select)
            FROM sessions s JOIN session_members me ON me.session_id = s.id AND me.user_id = $2
            WHERE s.id = $1
            """, [id, member]).first.map { try session($0, member: member) }
    }

    static func session(_ row: Row, member: String) throws -> Session {
        let members = try Self.members(row)
        let lastSeq = try row.decode(Int64.self, "last_seq")
        let lastRead = try row.decode(Int64.self, "last_read_seq")
        let markedUnread = try row.decode(Bool.self, "marked_unread")
        guard let kind = Session.Kind(rawValue: try row.decode(String.self, "kind")),
            let status = Session.Status(rawValue: try row.decode(String.self, "status"))
        else { throw DatabaseError.undecodable("unknown session kind or status") }
        var lastMessage: Session.LastMessage?
        if let at = try row.decode(Date?.self, "last_message_at") {
            lastMessage = Session.LastMessage(
                seq: lastSeq, preview: try row.decode(String?.self, "last_message_preview") ?? "",
                senderId: try row.decode(String?.self, "last_sender_id") ?? "", createdAt: at)
        }
        return Session(
            id: try row.decode(UUID.self, "id").uuidString.lowercased(), kind: kind, agentToAgent: kind == .agent,
            status: status, closed: try row.decode(Bool.self, "closed"), members: members,
            title: members.filter { $0.userId != member }.map(\.name).joined(separator: ", "),
            contactId: try row.decode(UUID?.self, "contact_id")?.uuidString.lowercased(),
            lastMessage: lastMessage, lastSeq: lastSeq, lastReadSeq: lastRead,
            unreadCount: max(lastSeq - lastRead, markedUnread ? 1 : 0),
            lastActivityAt: try row.decode(Date.self, "last_activity_at"), createdAt: try row.decode(Date.self, "created_at"))
    }

    private static func validated(_ counterpart: Counterpart) throws -> Counterpart {
        var validator = Validator()
        switch counterpart {
        case .newClient(let userID, let name, let email, let phone):
            let id = validator.requireText(userID, "client.userId", maxLength: 200)
            // Checked here as the contact it becomes checks it, under the request's own names.
            let name = validator.requireLine(name.trimmingCharacters(in: .whitespacesAndNewlines), "client.name", maxLength: 200)
            if let email, ContactPoint.email(email) == nil {
                validator.add("client.email", "invalid_format", "client.email is not a valid email address")
            }
            if let phone, ContactPoint.phone(phone) == nil {
                validator.add("client.phone", "invalid_format", "client.phone is not a valid phone number")
            }
            try validator.check()
            return .newClient(userID: id ?? userID, name: name ?? "", email: email, phone: phone)
        case .contact(let id, let userID):
            if let userID { validator.requireText(userID, "client.userId", maxLength: 200) }
            if UUID(uuidString: id) == nil { validator.add("client.contactId", "invalid_format", "client.contactId must be a contact id") }
        case .agent(let userID, let name):
            validator.requireText(userID, "agent.userId", maxLength: 200)
            validator.requireLine(name.trimmingCharacters(in: .whitespacesAndNewlines), "agent.name", maxLength: 200)
        }
        for (field, id) in counterpart.userIDs where RemoteMember.isRemote(id) {
            validator.add(field, "invalid_value", "ids beginning with '@' name agents of other brokerages; ask them with Request Chat")
        }
        try validator.check()
        return counterpart
    }

    private static func requireNotAgent(_ tx: Transaction, _ userID: String) async throws {
        if try await UserStore.role(tx, id: userID) == .agent {
            throw DomainError.validation([FieldError("client.userId", "invalid_value", "that user is an agent; start an agent session instead")])
        }
    }
}
