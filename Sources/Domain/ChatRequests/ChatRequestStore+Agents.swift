import Database
import Foundation

/// Request Chat: an agent asks a listed agent of any brokerage for a chat (decision 0028).
///
/// The request lives in the asked agent's brokerage (`chat_requests`, `source = 'agent'`, beside
/// the website's), and the asking agent's brokerage keeps its side (`sent_chat_requests`, the same
/// id). Both are written in one transaction, each under its own brokerage's role; accepting
/// opens an agent-to-agent session with a copy in each brokerage.
extension ChatRequestStore {
    /// What an agent sends with Request Chat.
    public struct AgentRequestDraft: Sendable {
        public var brokerage: String?
        public var memberKey: String?
        public var message: String?
        public var property: Listing?

        public init(brokerage: String?, memberKey: String?, message: String?, property: Listing?) {
            self.brokerage = brokerage
            self.memberKey = memberKey
            self.message = message
            self.property = property
        }
    }

    static let agentNotFound = DomainError.notFound(
        code: "directory_member_not_found", message: "no listed agent with this MemberKey in that brokerage")

    /// Asks a listed agent for a chat. One pending request per pair: asking again returns it
    /// (`created == false`). Refused when the asked agent blocked the caller or their brokerage
    /// (403 `requester_blocked`) and past the caller's brokerage's hourly limit (429).
    public func requestChat(_ caller: Caller, _ draft: AgentRequestDraft) async throws -> (SentChatRequest, created: Bool) {
        guard caller.isAgent else { throw DomainError.forbidden(code: "agents_only", message: "only agents can request a chat with an agent") }
        var v = Validator()
        let brokerage = v.requireText(draft.brokerage, "brokerage", maxLength: 40)
        let key = v.requireText(draft.memberKey, "memberKey", maxLength: 200)
        let message = draft.message ?? ""
        v.checkText(message, "message", maxLength: 5000)
        draft.property?.validate(into: &v, prefix: "property")
        if let brokerage, let key, brokerage == caller.tenant.slug.rawValue, key == caller.userID {
            v.add("memberKey", "invalid_value", "you cannot request a chat with yourself")
        }
        try v.check()
        guard let brokerage, let key, let slug = TenantSlug(brokerage), !RemoteMember.isRemote(key) else { throw Self.agentNotFound }
        let home = caller.tenant
        let property = try draft.property.map { try SQLJSON(encoding: $0) }
        let (row, created, target) = try await database.withTransaction { tx -> (Row, Bool, String) in
            // The control plane first (the directory and the asked brokerage), as Parley's own role.
            guard let target = try await TenantStore.find(tx, slug), target.isServable,
                let asked = try await DirectoryStore.publicMember(tx, tenant: target.id, key: key), asked.listed
            else { throw Self.agentNotFound }
            let requester = try await DirectoryStore.publicMember(tx, tenant: home.id, key: caller.userID)?.member
                ?? Self.minimalProfile(caller)
            // One count of an agent's requests at a time (the hourly limit), and one request
            // between two agents at a time, whichever of them asks.
            let me = "\(home.slug)/\(caller.userID)", them = "\(slug)/\(key)"
            try await tx.query("SELECT pg_advisory_xact_lock(hashtext('parley.agent-requests-of'), hashtext($1))", [me])
            try await tx.query("SELECT pg_advisory_xact_lock(hashtext('parley.agent-request'), hashtext($1))", [[me, them].sorted().joined(separator: ">")])

            // Reads in the asking agent's brokerage: a request the other agent already made to
            // the caller, and the caller's requests of the last hour.
            try await tx.enter(home.scope)
            if let theirs = try await tx.query("""
                SELECT r.id FROM chat_requests r
                WHERE r.agent_id = $1 AND r.source = 'agent' AND r.requester_brokerage = $2 AND r.requester_key = $3
                  AND r.status = 'pending' AND r.created_at > now() - make_interval(hours => $4)
                """, [caller.userID, slug.rawValue, key, home.settings.chatRequestTTLHours]).first {
                throw DomainError.conflict(
                    code: "request_pending_from_them",
                    message: "this agent has already asked you for a chat: accept or decline their request \(try theirs.decode(UUID.self, "id").uuidString.lowercased())")
            }
            let recent = try await tx.query("""
                SELECT count(*) AS n, ceil(extract(epoch FROM min(created_at) + interval '1 hour' - now()))::int8 AS wait
                FROM sent_chat_requests WHERE requester_id = $1 AND created_at > now() - interval '1 hour'
                """, [caller.userID]).rows[0]

            // The asked agent's brokerage, whose row is the request's truth: blocks, a pending
            // request of the pair (returned), else the new one. Its rows are locked before the
            // asker's, as the sweeper and blocks do.
            try await tx.enter(target.scope)
            try await UserStore.insertIfMissing(tx, id: key, role: .agent, name: asked.member.record.MemberFullName ?? key)
            // Waits for a block being made right now (it locks the blocker's row), so no request
            // slips in beside it.
            try await tx.query("SELECT 1 FROM users WHERE id = $1 FOR SHARE", [key])
            if try await tx.query("""
                SELECT 1 FROM agent_blocks WHERE agent_id = $1 AND brokerage = $2 AND (member_key IS NULL OR member_key = $3)
                """, [key, home.slug.rawValue, caller.userID]).first != nil {
                throw DomainError.forbidden(code: "requester_blocked", message: "this agent does not accept chat requests from you")
            }
            let ttl = target.settings.chatRequestTTLHours
            // A request past its time that no sweep has reached does not hold the pair.
            let stale = try await tx.query("""
                UPDATE chat_requests r SET status = 'expired', decided_at = now()
                WHERE r.agent_id = $1 AND r.source = 'agent' AND r.requester_brokerage = $2 AND r.requester_key = $3
                  AND r.status = 'pending' AND r.created_at <= now() - make_interval(hours => $4)
                RETURNING \(Self.columns)
                """, [key, home.slug.rawValue, caller.userID, ttl]).rows
            for row in stale {
                try await EventLog.append(tx, .requestUpdated, session: nil, recipients: [key], data: try Self.request(row, viewer: nil, ttl: ttl))
            }
            if let pending = try await tx.query("""
                SELECT r.id FROM chat_requests r
                WHERE r.agent_id = $1 AND r.source = 'agent' AND r.requester_brokerage = $2 AND r.requester_key = $3 AND r.status = 'pending'
                """, [key, home.slug.rawValue, caller.userID]).first {
                let id = try pending.decode(UUID.self, "id")
                try await tx.enter(home.scope)
                guard let sent = try await tx.query("SELECT \(Self.sentColumns) FROM sent_chat_requests r WHERE r.id = $1", [id]).first else {
                    throw DatabaseError.undecodable("the asking agent's side of request \(id) is missing")
                }
                return (sent, false, slug.rawValue)
            }
            if try recent.decode(Int.self, "n") >= home.settings.agentChatRequestsPerHour {
                throw DomainError.rateLimited(
                    code: "request_rate_limited",
                    message: "you may send \(home.settings.agentChatRequestsPerHour) chat requests to agents per hour; retry later",
                    retryAfter: max(1, Int(try recent.decode(Int64?.self, "wait") ?? 60)))
            }
            let id = UUID()
            guard let inserted = try await tx.query("""
                INSERT INTO chat_requests AS r (id, source, agent_id, name, message, property, preferred_contact_method,
                                                requester_brokerage, requester_key, requester)
                VALUES ($1, 'agent', $2, $3, $4, $5::jsonb, 'chat', $6, $7, $8::jsonb)
                ON CONFLICT DO NOTHING
                RETURNING \(Self.columns)
                """, [id, key, requester.record.MemberFullName ?? caller.name, message, property, home.slug.rawValue, caller.userID,
                      try SQLJSON(encoding: requester, encoder: ParleyJSON.encoder())]).first
            else {
                throw DomainError.conflict(code: "contention", message: "the request collided with a concurrent one; retry it")
            }
            let incoming = try Self.request(inserted, viewer: nil, ttl: ttl)
            try await EventLog.append(tx, .requestCreated, session: nil, recipients: [key], data: incoming)
            try await BadgeStore.announce(tx, users: [key])

            // Back in the asking agent's brokerage: its side of the same request, and of the
            // expired one.
            _ = try await Self.mirrorDecisions(tx, stale, home: home.scope)
            try await UserStore.insertIfMissing(tx, id: caller.userID, role: .agent, name: caller.name)
            let sent = try await tx.query("""
                INSERT INTO sent_chat_requests AS r (id, requester_id, target_brokerage, target_key, target, message, property, expires_at, created_at)
                VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7::jsonb, $8, $9)
                RETURNING \(Self.sentColumns)
                """, [id, caller.userID, slug.rawValue, key, try SQLJSON(encoding: asked.member, encoder: ParleyJSON.encoder()),
                      message, property, incoming.expiresAt, incoming.createdAt]).rows[0]
            try await EventLog.append(tx, .requestCreated, session: nil, recipients: [caller.userID], data: try Self.sentRequest(sent))
            return (sent, true, slug.rawValue)
        }
        if created {
            notifier?.tenantChanged(home)
            notifier?.tenantChanged(slug: target)
        }
        return (try Self.sentRequest(row), created)
    }

    /// The caller's own requests to agents, newest first.
    public func sent(_ caller: Caller, status: ChatRequest.Status?, after: String?, limit: Int) async throws -> (items: [SentChatRequest], next: String?) {
        try requireAgent(caller)
        let position = try Keyset.decode(after)
        let rows = try await database.withTenant(caller.tenant.scope) { tx in
            try await tx.query("""
                SELECT \(Self.sentColumns), to_char(r.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') AS cursor_time
                FROM sent_chat_requests r
                WHERE r.requester_id = $1 AND ($2::text IS NULL OR r.status = $2)
                  AND ($3::timestamp IS NULL OR (r.created_at, r.id) < ($3::timestamp AT TIME ZONE 'UTC', $4::uuid))
                ORDER BY r.created_at DESC, r.id DESC LIMIT $5
                """, [caller.userID, status?.rawValue, position?.key, position?.id, limit + 1]).rows
        }
        let items = try rows.prefix(limit).map(Self.sentRequest)
        var next: String?
        if rows.count > limit, let last = rows.prefix(limit).last {
            next = Keyset(key: try last.decode(String.self, "cursor_time"), id: try last.decode(UUID.self, "id")).cursor
        }
        return (items, next)
    }

    /// A profile for an agent whose brokerage publishes no directory record for them: their
    /// name as their token gives it, and their brokerage.
    static func minimalProfile(_ caller: Caller) -> DirectoryMember {
        var record = DirectoryRecord()
        record.MemberFullName = caller.name
        return DirectoryMember(
            MemberKey: caller.userID, brokerage: .init(slug: caller.tenant.slug.rawValue, name: caller.tenant.displayName),
            record: record, updatedAt: Date())
    }

    /// Moves the asking agent's side of agent requests to what the asked side decided, with a
    /// `request.updated` to the asking agent (the transaction is in `home`'s scope before and
    /// after). Returns the brokerages written.
    static func mirrorDecisions(_ tx: Transaction, _ rows: [Row], home: TenantScope) async throws -> Set<String> {
        var written: Set<String> = []
        for row in rows where try row.decode(String.self, "source") == ChatRequest.Source.agent.rawValue {
            guard let brokerage = try row.decode(String?.self, "requester_brokerage") else { continue }
            let scope = try SharedCopies.scope(brokerage)
            // A brokerage deleted since it asked has no side to update (its role is gone).
            guard try await tx.roleExists(scope.role.rawValue) else { continue }
            try await tx.enter(scope)
            let sent = try await tx.query("""
                UPDATE sent_chat_requests r SET status = $2, decided_at = $3, session_id = $4
                WHERE r.id = $1 AND r.status = 'pending'
                RETURNING \(Self.sentColumns)
                """, [try row.decode(UUID.self, "id"), try row.decode(String.self, "status"), try row.decode(Date?.self, "decided_at"),
                      try row.decode(UUID?.self, "session_id")]).rows
            for sent in sent {
                try await EventLog.append(
                    tx, .requestUpdated, session: nil, recipients: [try sent.decode(String.self, "requester_id")], data: try Self.sentRequest(sent))
            }
            written.insert(brokerage)
        }
        try await tx.enter(home)
        return written
    }
}

// MARK: - Accepting an agent's request

extension ChatRequestStore {
    /// A contact for an agent, from what their public profile shows.
    static func contactDraft(_ profile: DirectoryMember) -> ContactDraft {
        let record = profile.record
        return ContactDraft(
            fullName: record.MemberFullName ?? profile.MemberKey, firstName: record.MemberFirstName, lastName: record.MemberLastName,
            email: record.MemberEmail.flatMap(ContactPoint.email), mobilePhone: record.MemberMobilePhone.flatMap(ContactPoint.phone),
            leadSource: "Agent directory", preferredContactMethod: .chat)
    }

    /// 409 `request_expired`: the asking agent's brokerage no longer exists.
    static let askerGone = DomainError.conflict(code: "request_expired", message: "the asking agent's brokerage no longer exists")

    /// Accepts an agent's request (the caller's transaction, locked row `row`): a `kind: agent`
    /// session between the two, with the request's message as its first message, each agent
    /// the other's contact. Across brokerages, the asking agent's brokerage gets its own copy
    /// of the session (same id, members, message) in this transaction (decision 0028).
    static func acceptFromAgent(_ tx: Transaction, _ row: Row, caller: Caller, ttl: Int) async throws -> (ChatRequest, Session, peers: [String]) {
        let id = try row.decode(UUID.self, "id")
        guard let brokerage = try row.decode(String?.self, "requester_brokerage"), let key = try row.decode(String?.self, "requester_key"),
            let profileText = try row.decode(String?.self, "requester")
        else { throw DatabaseError.undecodable("an agent's chat request without its requester") }
        let requester = try ParleyJSON.sharedDecoder.decode(DirectoryMember.self, from: Data(profileText.utf8))
        let home = caller.tenant.slug.rawValue
        let crossing = brokerage != home
        let requesterID = crossing ? RemoteMember.id(brokerage: brokerage, key: key) : key
        let requesterName = requester.record.MemberFullName ?? key
        let session = UUID()
        let peers = crossing ? [brokerage] : []
        // The asking side must still be there, as this very request: a brokerage deleted since
        // has no side (its role is gone), and one that got its slug later never asked.
        if crossing {
            let scope = try SharedCopies.scope(brokerage)
            if try await tx.roleExists(scope.role.rawValue) {
                try await tx.enter(scope)
                let asked = try await tx.query("SELECT 1 FROM sent_chat_requests WHERE id = $1", [id]).first != nil
                try await tx.enter(caller.tenant.scope)
                if !asked { throw Self.askerGone }
            } else {
                throw Self.askerGone
            }
        }

        // The asked agent's copy (the caller's brokerage).
        try await UserStore.upsert(tx, id: caller.userID, role: .agent, name: caller.name)
        try await upsertAgent(tx, id: requesterID, name: requesterName, brokerage: crossing ? brokerage : nil)
        try await createSession(tx, id: session, createdBy: caller.userID, members: [caller.userID, requesterID], peers: peers)

        // The asking agent's copy, before the first message is written into both.
        var asked: DirectoryMember?
        if crossing {
            try await tx.enter(try SharedCopies.scope(brokerage))
            asked = try await tx.query("SELECT target::text AS target FROM sent_chat_requests WHERE id = $1 FOR UPDATE", [id]).first
                .map { try ParleyJSON.sharedDecoder.decode(DirectoryMember.self, from: Data(try $0.decode(String.self, "target").utf8)) }
            let callerThere = RemoteMember.id(brokerage: home, key: caller.userID)
            try await UserStore.insertIfMissing(tx, id: key, role: .agent, name: requesterName)
            try await upsertAgent(tx, id: callerThere, name: asked?.record.MemberFullName ?? caller.name, brokerage: home)
            try await createSession(tx, id: session, createdBy: callerThere, members: [key, callerThere], peers: [home])
            try await tx.enter(caller.tenant.scope)
        }

        let message = try row.decode(String.self, "message")
        let property = try row.decode(String?.self, "property")
        // Message 1: the message with the property as its listing, or the property alone.
        if !message.isEmpty || property != nil {
            let sent = try await tx.query(
                "SELECT outcome, message::text AS message FROM send_message($1, $2, $3, $4, $5, $6, $7::jsonb, '{}'::uuid[], true)",
                [session, requesterID, "chat-request-\(id.uuidString.lowercased())", message, MessageFormatter.html(message),
                 SessionStore.preview(message, listing: Self.listing(property)), property]).rows[0]
            if crossing, let text = try sent.decode(String?.self, "message") {
                let first = try ParleyJSON.sharedDecoder.decode(Message.self, from: Data(text.utf8))
                guard let messageID = UUID(uuidString: first.id) else { throw DatabaseError.undecodable("a message id is no UUID") }
                try await SharedCopies.mirrorMessage(
                    tx, session: session, message: messageID, home: caller.tenant.scope, from: home, peers: peers)
            }
        }

        let contact = try await ContactStore.findOrCreate(tx, owner: caller.userID, userID: requesterID, contactDraft(requester))
        let updated = try await tx.query("""
            UPDATE chat_requests r SET status = 'accepted', decided_by = $2, decided_at = now(), session_id = $3,
                contact_id = coalesce(r.contact_id, $4)
            WHERE r.id = $1 RETURNING \(columns)
            """, [id, caller.userID, session, UUID(uuidString: contact.ContactKey)]).rows[0]
        let request = try Self.request(updated, viewer: caller.userID, ttl: ttl)
        guard let view = try await SessionStore.fetch(tx, id: session, member: caller.userID) else { throw SessionStore.notFound }
        try await SessionStore.announce(tx, session: view, to: view.members.map(\.userId), changedBy: caller.userID, badges: false)
        try await EventLog.append(tx, .requestUpdated, session: session, recipients: [caller.userID], data: request.withoutNotes)
        try await BadgeStore.announce(tx, users: [caller.userID])

        // The asking agent's side: their contact, their request accepted, their session.
        if crossing { try await tx.enter(try SharedCopies.scope(brokerage)) }
        let callerThere = crossing ? RemoteMember.id(brokerage: home, key: caller.userID) : caller.userID
        var askedProfile = asked
        if askedProfile == nil, let row = try await tx.query("SELECT target::text AS target FROM sent_chat_requests WHERE id = $1", [id]).first {
            askedProfile = try ParleyJSON.sharedDecoder.decode(DirectoryMember.self, from: Data(try row.decode(String.self, "target").utf8))
        }
        if let askedProfile {
            _ = try await ContactStore.findOrCreate(tx, owner: key, userID: callerThere, contactDraft(askedProfile))
        }
        _ = try await mirrorDecisions(tx, [updated], home: crossing ? try SharedCopies.scope(brokerage) : caller.tenant.scope)
        if crossing, let theirs = try await SessionStore.fetch(tx, id: session, member: key) {
            try await SessionStore.announce(tx, session: theirs, to: theirs.members.map(\.userId), changedBy: callerThere, badges: false)
        }
        try await tx.enter(caller.tenant.scope)
        return (request, view, peers)
    }

    /// An agent as a brokerage's copies know them, their name kept current.
    /// Locks the row only when the name changed (ON CONFLICT DO UPDATE would lock it every
    /// time): accepts of different pairs that share an agent do not queue on it.
    private static func upsertAgent(_ tx: Transaction, id: String, name: String, brokerage: String?) async throws {
        try await tx.query("""
            INSERT INTO users (id, role, display_name, brokerage) VALUES ($1, 'agent', $2, $3) ON CONFLICT (id) DO NOTHING
            """, [id, name, brokerage])
        try await tx.query("""
            UPDATE users SET display_name = $2, updated_at = now() WHERE id = $1 AND display_name IS DISTINCT FROM $2
            """, [id, name])
    }

    private static func createSession(_ tx: Transaction, id: UUID, createdBy: String, members: [String], peers: [String]) async throws {
        try await tx.query(
            "INSERT INTO sessions (id, kind, created_by, peers) VALUES ($1, 'agent', $2, $3::text[])",
            [id, createdBy, SQLArray.text(peers)])
        try await tx.query(
            "INSERT INTO session_members (session_id, user_id, role) SELECT $1, u, 'agent' FROM unnest($2::text[]) AS u",
            [id, SQLArray.text(members)])
    }
}

// MARK: - Blocking

/// An agent, or a whole brokerage, an agent takes no chat requests from.
public struct AgentBlock: Codable, Sendable {
    public let id: String
    public let brokerage: String
    /// Nil: every agent of the brokerage.
    public let memberKey: String?
    public let createdAt: Date
}

extension ChatRequestStore {
    /// Blocks an agent (`memberKey`) or every agent of a brokerage: their requests are refused
    /// from now on, and their pending ones are declined (without notes). Blocking again returns
    /// the same block (`created == false`).
    public func block(_ caller: Caller, brokerage: String?, memberKey: String?) async throws -> (AgentBlock, created: Bool) {
        try requireAgent(caller)
        var v = Validator()
        let brokerage = v.requireText(brokerage, "brokerage", maxLength: 40)
        if let brokerage, TenantSlug(brokerage) == nil { v.add("brokerage", "invalid_format", "a brokerage slug: \(TenantSlug.rule)") }
        if let memberKey { v.requireText(memberKey, "memberKey", maxLength: 200) }
        if brokerage == caller.tenant.slug.rawValue && memberKey == caller.userID {
            v.add("memberKey", "invalid_value", "you cannot block yourself")
        }
        try v.check()
        guard let brokerage else { throw DomainError.validation(v.errors) }
        let ttl = caller.tenant.settings.chatRequestTTLHours
        // The blocked brokerage's request lifetime, for the requests of the caller's it expires.
        var targetTTL = ttl
        if let slug = TenantSlug(brokerage), let target = try await database.withTransaction({ tx in try await TenantStore.find(tx, slug) }) {
            targetTTL = target.settings.chatRequestTTLHours
        }
        let (block, created, written) = try await database.withTenant(caller.tenant.scope) { tx -> (AgentBlock, Bool, Set<String>) in
            try await UserStore.upsert(tx, id: caller.userID, role: .agent, name: caller.name)
            // A request being made to the caller right now waits for this (it share-locks the
            // same row), so it sees the block or is declined by it.
            try await tx.query("SELECT 1 FROM users WHERE id = $1 FOR UPDATE", [caller.userID])
            let inserted = try await tx.query("""
                INSERT INTO agent_blocks (agent_id, brokerage, member_key) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING
                RETURNING id, brokerage, member_key, created_at
                """, [caller.userID, brokerage, memberKey]).first
            guard let inserted else {
                let existing = try await tx.query("""
                    SELECT id, brokerage, member_key, created_at FROM agent_blocks
                    WHERE agent_id = $1 AND brokerage = $2 AND coalesce(member_key, '') = coalesce($3, '')
                    """, [caller.userID, brokerage, memberKey]).rows[0]
                return (try Self.block(existing), false, [])
            }
            let declined = try await tx.query("""
                UPDATE chat_requests r SET status = 'declined', decided_by = $1, decided_at = now()
                WHERE r.agent_id = $1 AND r.source = 'agent' AND r.status = 'pending' AND r.requester_brokerage = $2
                  AND ($3::text IS NULL OR r.requester_key = $3)
                RETURNING \(Self.columns)
                """, [caller.userID, brokerage, memberKey]).rows
            for row in declined {
                try await EventLog.append(tx, .requestUpdated, session: nil, recipients: [caller.userID],
                                          data: try Self.request(row, viewer: caller.userID, ttl: ttl).withoutNotes)
            }
            if !declined.isEmpty { try await BadgeStore.announce(tx, users: [caller.userID]) }
            var written = try await Self.mirrorDecisions(tx, declined, home: caller.tenant.scope)
            // The caller's own pending requests to whom they block are withdrawn (expired on both
            // sides): accepted after the block, one opened a session with them all the same.
            written.formUnion(try await Self.withdrawSent(tx, caller: caller, brokerage: brokerage, memberKey: memberKey, ttl: targetTTL))
            return (try Self.block(inserted), true, written)
        }
        if created { notifier?.tenantChanged(caller.tenant) }
        for brokerage in written { notifier?.tenantChanged(slug: brokerage) }
        // Only for a new block: blocking again must not close what the caller reopened since.
        if created { await closeConversations(caller, brokerage: brokerage, memberKey: memberKey) }
        return (block, created)
    }

    /// Ends the caller's open conversations with the blocked agent (or with every agent of the
    /// blocked brokerage), in every copy, as the caller's Close would (decision 0061): a block
    /// that only refused new requests left the blocked agent writing on into existing ones.
    /// The block is stored by then, so a conversation that cannot be closed now (a lock held
    /// past its timeout) is logged and left open, not answered as the block's failure.
    private func closeConversations(_ caller: Caller, brokerage: String, memberKey: String?) async {
        // In the caller's copy an agent of their own brokerage is their MemberKey, one of another
        // brokerage `@<brokerage>:<MemberKey>` (RemoteMember).
        let own = brokerage == caller.tenant.slug.rawValue
        let exact = memberKey.map { own ? $0 : RemoteMember.id(brokerage: brokerage, key: $0) }
        let ids: [UUID]
        do {
            ids = try await database.withTenant(caller.tenant.scope) { tx in
                try await tx.query("""
                    SELECT s.id FROM sessions s JOIN session_members me ON me.session_id = s.id AND me.user_id = $1
                    WHERE s.kind = 'agent' AND s.status <> 'closed'
                      AND EXISTS (SELECT 1 FROM session_members o
                                  WHERE o.session_id = s.id AND o.user_id <> $1 AND o.role = 'agent'
                                    AND CASE WHEN $2::text IS NOT NULL THEN o.user_id = $2
                                             WHEN $3 THEN NOT starts_with(o.user_id, '@')
                                             ELSE starts_with(o.user_id, $4) END)
                    """, [caller.userID, exact, own, RemoteMember.id(brokerage: brokerage, key: "")]).rows.map { try $0.decode(UUID.self, "id") }
            }
        } catch {
            logger.warning("block: the conversations to close could not be read", metadata: ["error": "\(error)"])
            return
        }
        let sessions = SessionStore(database: database, notifier: notifier)
        for id in ids {
            do {
                _ = try await sessions.transition(caller, id: id.uuidString, .close)
            } catch {
                logger.warning("block: a conversation was not closed", metadata: ["session": "\(id)", "error": "\(error)"])
            }
        }
    }

    /// Expires the caller's pending requests to `brokerage` (to `memberKey` there, or to any of
    /// its agents), in the caller's brokerage and in the asked one, each announced to its agent;
    /// returns the brokerages written besides the caller's.
    static func withdrawSent(
        _ tx: Transaction, caller: Caller, brokerage: String, memberKey: String?, ttl: Int
    ) async throws -> Set<String> {
        let withdrawn = try await expireSent(
            tx, where: "r.requester_id = $1 AND r.target_brokerage = $2 AND ($3::text IS NULL OR r.target_key = $3)",
            [caller.userID, brokerage, memberKey])
        guard !withdrawn.isEmpty else { return [] }
        let scope = try SharedCopies.scope(brokerage)
        // A brokerage deleted since has no side to update (its role is gone).
        guard try await tx.roleExists(scope.role.rawValue) else { return [] }
        try await tx.enter(scope)
        let expired = try await tx.query("""
            UPDATE chat_requests r SET status = 'expired', decided_at = now()
            WHERE r.id = ANY ($1::uuid[]) AND r.status = 'pending'
            RETURNING \(Self.columns)
            """, [SQLArray.uuids(try withdrawn.map { try $0.decode(UUID.self, "id") })]).rows
        try await announceExpired(tx, expired, ttl: ttl)
        try await tx.enter(caller.tenant.scope)
        return brokerage == caller.tenant.slug.rawValue ? [] : [brokerage]
    }

    public func blocks(_ caller: Caller) async throws -> [AgentBlock] {
        try requireAgent(caller)
        return try await database.withTenant(caller.tenant.scope) { tx in
            try await tx.query("""
                SELECT id, brokerage, member_key, created_at FROM agent_blocks WHERE agent_id = $1 ORDER BY created_at DESC, id LIMIT 1000
                """, [caller.userID]).rows.map(Self.block)
        }
    }

    /// Lifts a block. 404 `block_not_found` when the caller has no such block.
    public func unblock(_ caller: Caller, id: String) async throws {
        try requireAgent(caller)
        let notFound = DomainError.notFound(code: "block_not_found", message: "no such block")
        guard let uuid = UUID(uuidString: id) else { throw notFound }
        let deleted = try await database.withTenant(caller.tenant.scope) { tx in
            try await tx.query("DELETE FROM agent_blocks WHERE id = $1 AND agent_id = $2 RETURNING id", [uuid, caller.userID]).first != nil
        }
        guard deleted else { throw notFound }
    }

    static func block(_ row: Row) throws -> AgentBlock {
        AgentBlock(
            id: try row.decode(UUID.self, "id").uuidString.lowercased(), brokerage: try row.decode(String.self, "brokerage"),
            memberKey: try row.decode(String?.self, "member_key"), createdAt: try row.decode(Date.self, "created_at"))
    }
}
