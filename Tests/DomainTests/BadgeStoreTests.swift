import DatabaseTesting
import Domain
import Foundation
import Testing

@Suite("Domain: BadgeStore")
struct BadgeStoreTests {
    @Test("the badge counts unread messages in active sessions only, and pending requests")
    func badge() async throws {
        let fixture = try await TenantFixture.make()
        defer { Task { await fixture.close() } }
        let sessions = SessionStore(database: fixture.database)
        let badges = BadgeStore(database: fixture.database)
        let agent = fixture.caller("agent-1")
        #expect(try await badges.badge(agent) == Badge(unreadMessages: 0, pendingRequests: 0))
        var ids: [String] = []
        for index in 0..<3 {
            let (session, _) = try await sessions.create(agent, with: .newClient(userID: "c\(index)", name: "C\(index)", email: nil, phone: nil))
            ids.append(session.id)
            for message in 0...index {
                _ = try await sessions.send(fixture.caller("c\(index)", .client), sessionID: session.id, .init(clientMessageId: "m\(message)", text: "hi"))
            }
        }
        #expect(try await badges.badge(agent).unreadMessages == 6)
        // The sender's own messages are never unread for them.
        #expect(try await badges.badge(fixture.caller("c2", .client)).unreadMessages == 0)
        _ = try await sessions.transition(agent, id: ids[1], .close)
        #expect(try await badges.badge(agent).unreadMessages == 4)
        _ = try await sessions.transition(agent, id: ids[2], .archive)
        #expect(try await badges.badge(agent).unreadMessages == 1)
        _ = try await sessions.markRead(agent, sessionID: ids[0], upTo: 1)
        #expect(try await badges.badge(agent).unreadMessages == 0)

        _ = try await ChatRequestStore(database: fixture.database, notifier: nil, logger: testLogger)
            .submit(fixture.tenant, ChatRequestStoreTests.submission(), origin: nil)
        let badge = try await badges.badge(agent)
        #expect(badge == Badge(unreadMessages: 0, pendingRequests: 1))
        #expect(badge.total == 1)
    }
}

@Suite("Domain: badge counts kept as they change")
struct BadgeCountTests {
    @Test("a membership added to or removed from a session with messages, by SQL, moves its user's badge by what it contributes")
    func membershipsAddedAndRemoved() async throws {
        let fixture = try await TenantFixture.make()
        defer { Task { await fixture.close() } }
        let sessions = SessionStore(database: fixture.database)
        let badges = BadgeStore(database: fixture.database)
        let agent = fixture.caller("agent-1")
        let (session, _) = try await sessions.create(agent, with: .newClient(userID: "c1", name: "C1", email: nil, phone: nil))
        for message in 0..<3 {
            _ = try await sessions.send(fixture.caller("c1", .client), sessionID: session.id, .init(clientMessageId: "m\(message)", text: "hi"))
        }
        // The dispatcher numbers the sends before the changes below (in CI another test's server
        // did): the changes' differences then come with no event of their own.
        _ = try await Self.usersOffOnceFolded(fixture)
        // A second agent joins having read the first message: two unread; then marked unread
        // with nothing unread counts one; then leaves: none.
        let colleague = fixture.caller("agent-2")
        let statements = [
            ("INSERT INTO users (id, role, display_name) VALUES ('agent-2', 'agent', 'Agent Two')", 0),
            ("INSERT INTO session_members (session_id, user_id, role, last_read_seq) VALUES ($1, 'agent-2', 'agent', 1)", 2),
            ("UPDATE session_members SET last_read_seq = 3, marked_unread = true WHERE session_id = $1 AND user_id = 'agent-2'", 1),
            ("DELETE FROM session_members WHERE session_id = $1 AND user_id = 'agent-2'", 0),
        ]
        for (statement, expected) in statements {
            try await fixture.database.withTenant(fixture.tenant.scope) { tx in
                _ = try await tx.query(statement, statement.contains("$1") ? [UUID(uuidString: session.id)] : [])
            }
            #expect(try await badges.badge(colleague).unreadMessages == expected, "after \(statement)")
            // The numbering folds the change though it came with no event, and announces it
            // on the user's stream.
            #expect(try await Self.usersOffOnceFolded(fixture) == 0, "after \(statement)")
            if statement.contains("session_members") {
                #expect(try await Self.lastBadgeAnnounced(fixture, "agent-2") == Int64(expected), "after \(statement)")
            }
        }
        #expect(try await badges.badge(agent).unreadMessages == 3)
    }

    /// The unread count of the last badge.updated numbered for `user`.
    static func lastBadgeAnnounced(_ fixture: TenantFixture, _ user: String) async throws -> Int64? {
        try await fixture.database.withTenant(fixture.tenant.scope) { tx in
            try await tx.query("""
                SELECT (data->>'unreadMessages')::bigint AS unread FROM events
                WHERE type = 'badge.updated' AND recipients = ARRAY[$1] ORDER BY pos DESC LIMIT 1
                """, [user]).rows.first?.decode(Int64.self, "unread")
        }
    }

    @Test("a session deleted by SQL takes its unread messages out of its members' badges")
    func sessionDeleted() async throws {
        let fixture = try await TenantFixture.make()
        defer { Task { await fixture.close() } }
        let sessions = SessionStore(database: fixture.database)
        let badges = BadgeStore(database: fixture.database)
        let agent = fixture.caller("agent-1")
        var ids: [String] = []
        for client in ["c1", "c2"] {
            let (session, _) = try await sessions.create(agent, with: .newClient(userID: client, name: client, email: nil, phone: nil))
            ids.append(session.id)
            for message in 0..<2 {
                _ = try await sessions.send(fixture.caller(client, .client), sessionID: session.id, .init(clientMessageId: "m\(message)", text: "hi"))
            }
        }
        #expect(try await badges.badge(agent).unreadMessages == 4)
        _ = try await Self.usersOffOnceFolded(fixture)  // the sends numbered first, as the dispatcher does
        try await fixture.database.withTenant(fixture.tenant.scope) { tx in
            _ = try await tx.query("DELETE FROM sessions WHERE id = $1", [UUID(uuidString: ids[0])])
        }
        #expect(try await badges.badge(agent).unreadMessages == 2)
        #expect(try await Self.usersOffOnceFolded(fixture) == 0)
        #expect(try await Self.lastBadgeAnnounced(fixture, "agent-1") == 2)
    }

    /// The users whose kept row (`badge_counts`) differs from their count once the dispatcher's
    /// numbering (`sequence_events()`) has folded every difference in.
    static func usersOffOnceFolded(_ fixture: TenantFixture) async throws -> Int64 {
        try await fixture.database.withTenant(fixture.tenant.scope) { tx in
            _ = try await tx.query("SELECT sequence_events() AS p")
            return try await tx.query("""
                SELECT count(*) AS off FROM users u
                WHERE coalesce((SELECT unread FROM badge_counts b WHERE b.user_id = u.id), 0) <> unread_messages(u.id)
                """).rows[0].decode(Int64.self, "off")
        }
    }

    @Test("after a concurrent storm of sends, receipts, marks and status changes, every kept count equals a recount")
    func keptCountsAreExact() async throws {
        let fixture = try await TenantFixture.make()
        defer { Task { await fixture.close() } }
        let sessions = SessionStore(database: fixture.database)
        let agents = ["agent-1", "agent-2"].map { fixture.caller($0, .agent) }
        let clients = ["c1", "c2", "c3"].map { fixture.caller($0, .client) }
        // Six agent–client sessions and one between the agents, sharing users in both orders.
        var ids: [(String, [Caller])] = []
        for agent in agents {
            for client in clients {
                let (session, _) = try await sessions.create(agent, with: .newClient(userID: client.userID, name: client.name, email: nil, phone: nil))
                ids.append((session.id, [agent, client]))
            }
        }
        let (between, _) = try await sessions.create(agents[0], with: .agent(userID: agents[1].userID, name: agents[1].name))
        ids.append((between.id, agents))
        let plan = ids
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<8 {
                group.addTask {
                    var random = SplitMix64(seed: UInt64(worker + 1))
                    for step in 0..<60 {
                        let (id, members) = plan[Int(random.next() % UInt64(plan.count))]
                        let member = members[Int(random.next() % UInt64(members.count))]
                        do {
                            switch random.next() % 6 {
                            case 0, 1, 2:
                                _ = try await sessions.send(member, sessionID: id, .init(clientMessageId: "w\(worker)-\(step)", text: "storm \(step)"))
                            case 3:
                                _ = try await sessions.markRead(member, sessionID: id, upTo: Int64(random.next() % 40))
                            case 4:
                                _ = try await sessions.markUnread(member, sessionID: id)
                            default:
                                let transition: SessionStore.Transition = [.close, .archive, .reopen][Int(random.next() % 3)]
                                _ = try await sessions.transition(member, id: id, transition)
                            }
                        } catch is DomainError {
                            // closed sessions, invalid transitions, clients changing status: expected
                        }
                        if step % 10 == 0 { await Task.yield() }
                    }
                }
            }
            try await group.waitForAll()
        }
        let mismatches = try await fixture.database.withTenant(fixture.tenant.scope) { tx in
            try await tx.query("""
                SELECT u.id, unread_messages(u.id) AS kept, coalesce(r.unread, 0)::bigint AS recount
                FROM users u
                LEFT JOIN (SELECT m.user_id, sum(GREATEST(s.last_seq - m.last_read_seq, CASE WHEN m.marked_unread THEN 1 ELSE 0 END)) AS unread
                           FROM session_members m JOIN sessions s ON s.id = m.session_id WHERE s.status = 'active' AND m.archived_at IS NULL
                           GROUP BY m.user_id) r ON r.user_id = u.id
                WHERE unread_messages(u.id) <> coalesce(r.unread, 0)
                """).rows.map { "\(try $0.decode(String.self, "id")): kept \(try $0.decode(Int64.self, "kept")), recount \(try $0.decode(Int64.self, "recount"))" }
        }
        #expect(mismatches.isEmpty, "\(mismatches)")
        // And once the dispatcher's numbering has folded every difference in, the kept rows
        // alone agree too.
        let folded = try await fixture.database.withTenant(fixture.tenant.scope) { tx in
            _ = try await tx.query("SELECT sequence_events() AS p")
            return try await tx.query("""
                SELECT (SELECT count(*) FROM badge_deltas) AS left,
                       (SELECT count(*) FROM users u WHERE coalesce((SELECT unread FROM badge_counts b WHERE b.user_id = u.id), 0)
                                                           <> unread_messages(u.id)) AS off
                """).rows[0]
        }
        #expect(try folded.decode(Int64.self, "left") == 0)
        #expect(try folded.decode(Int64.self, "off") == 0)
        let messages = try await fixture.database.withTenant(fixture.tenant.scope) { tx in
            try await tx.query("SELECT count(*) AS n FROM messages").rows[0].decode(Int64.self, "n")
        }
        #expect(messages > 50, "the storm sent too little to prove anything")
    }
}
