import DatabaseTesting
import Domain
import Foundation
import Testing

@Suite("Domain: SessionStore")
struct SessionStoreTests {
    /// A tenant, its agent and client, and the session the agent started with the client.
    struct Conversation {
        let fixture: TenantFixture
        let store: SessionStore
        let agent: Caller
        let client: Caller
        let session: Session

        static func start() async throws -> Conversation {
            let fixture = try await TenantFixture.make()
            let store = SessionStore(database: fixture.database)
            let agent = fixture.caller("agent-1", .agent, name: "Avery Agent")
            let client = fixture.caller("client-1", .client, name: "Maria Lopez")
            let (session, created) = try await store.create(agent, with: .newClient(userID: "client-1", name: "Maria Lopez", email: nil, phone: nil))
            #expect(created)
            return Conversation(fixture: fixture, store: store, agent: agent, client: client, session: session)
        }

        @discardableResult
        func send(_ text: String, as caller: Caller? = nil, key: String = UUID().uuidString) async throws -> (Message, created: Bool) {
            try await store.send(caller ?? agent, sessionID: session.id, .init(clientMessageId: key, text: text))
        }
    }

    @Test("an agent starts a client session; starting it again returns the same one; clients cannot start one")
    func create() async throws {
        let conversation = try await Conversation.start()
        defer { Task { await conversation.fixture.close() } }
        let session = conversation.session
        #expect(session.kind == .client)
        #expect(!session.agentToAgent)
        #expect(session.status == .active)
        #expect(session.title == "Maria Lopez")
        #expect(Set(session.members.map(\.userId)) == ["agent-1", "client-1"])
        #expect(session.contactId != nil)

        let (again, created) = try await conversation.store.create(
            conversation.agent, with: .newClient(userID: "client-1", name: "Maria Lopez", email: nil, phone: nil))
        #expect(!created)
        #expect(again.id == session.id)
        // The client sees the same session, titled with the agent's name.
        #expect(try await conversation.store.get(conversation.client, id: session.id).title == "Avery Agent")

        let refused = try await domainError {
            _ = try await conversation.store.create(conversation.client, with: .agent(userID: "agent-1", name: "Avery Agent"))
        }
        #expect(refused?.problemCode == "agents_only")
    }

    @Test("a retried send returns the stored message (created false); the same key with other text is idempotency_key_reused")
    func idempotentSend() async throws {
        let conversation = try await Conversation.start()
        defer { Task { await conversation.fixture.close() } }
        let (first, created) = try await conversation.send("only once", key: "key-1")
        #expect(created)
        #expect(first.seq == 1)
        #expect(first.text == "only once")
        #expect(first.clientMessageId == "key-1")
        #expect(first.delivery == .sent)

        let (retry, createdAgain) = try await conversation.send("only once", key: "key-1")
        #expect(!createdAgain)
        #expect(retry.id == first.id)
        #expect(retry.seq == 1)

        let reused = try await domainError { try await conversation.send("something else", key: "key-1") }
        #expect(reused?.problemCode == "idempotency_key_reused")
        let history = try await conversation.store.history(conversation.agent, sessionID: conversation.session.id, .latest, limit: 50)
        #expect(history.items.map(\.id) == [first.id])
    }

    @Test("history pages backwards and forwards by seq, without overlap or gap")
    func historyPaging() async throws {
        let conversation = try await Conversation.start()
        defer { Task { await conversation.fixture.close() } }
        for index in 1...10 { try await conversation.send("m\(index)", as: index.isMultiple(of: 2) ? conversation.client : nil) }
        let store = conversation.store, agent = conversation.agent, id = conversation.session.id

        var backwards: [Int64] = []
        var cursor = SessionStore.HistoryCursor.latest
        var pages = 0
        while true {
            let page = try await store.history(agent, sessionID: id, cursor, limit: 4)
            backwards += page.items.map(\.seq)
            pages += 1
            guard let next = page.next else { break }
            cursor = .before(next)
        }
        #expect(backwards == Array((1...10).reversed()))
        #expect(pages == 3)

        var forwards: [Int64] = []
        var after: Int64? = 0
        while let position = after {
            let page = try await store.history(agent, sessionID: id, .after(position), limit: 3)
            forwards += page.items.map(\.seq)
            after = page.next
        }
        #expect(forwards == Array(1...10))
        // Texts in order, and only the viewer's own messages carry the idempotency key.
        let latest = try await store.history(conversation.client, sessionID: id, .latest, limit: 2).items
        #expect(latest.map(\.text) == ["m10", "m9"])
        #expect(latest.map { $0.clientMessageId != nil } == [true, false])
    }

    @Test("a closed session refuses messages until reopened; archived while closed, it stays closed for the other member")
    func closeAndReopen() async throws {
        let conversation = try await Conversation.start()
        defer { Task { await conversation.fixture.close() } }
        let store = conversation.store, agent = conversation.agent, id = conversation.session.id
        #expect(try await store.transition(agent, id: id, .close).status == .closed)
        #expect(try await store.transition(agent, id: id, .close).status == .closed)
        let refused = try await domainError { try await conversation.send("hello?", as: conversation.client) }
        #expect(refused?.problemCode == "session_closed")
        #expect(try await store.transition(agent, id: id, .archive).status == .archived)
        #expect(try await store.get(conversation.client, id: id).status == .closed)
        let byClient = try await domainError { _ = try await store.transition(conversation.client, id: id, .reopen) }
        #expect(byClient?.problemCode == "agents_only")
        #expect(try await store.transition(agent, id: id, .reopen).status == .active)
        #expect(try await conversation.send("hello again", as: conversation.client).created)
    }

    @Test("the session list pages through every session exactly once, newest activity first, for a caller with many sessions and one with a single one")
    func listsManyAndFew() async throws {
        let conversation = try await Conversation.start()
        defer { Task { await conversation.fixture.close() } }
        let store = conversation.store, agent = conversation.agent
        // Past SessionStore.manySessions: this caller's list is planned for them, the client's
        // comes from the prepared statement.
        var ids = [conversation.session.id]
        for index in 2...130 {
            let (session, _) = try await store.create(agent, with: .newClient(userID: "client-\(index)", name: "Client \(index)", email: nil, phone: nil))
            ids.append(session.id)
        }
        let closed = Set(ids.suffix(5))
        for id in closed { _ = try await store.transition(agent, id: id, .close) }
        for _ in 0..<7 {  // past the executions after which PostgreSQL may keep a generic plan
            var seen: [Session] = []
            var after: String?
            repeat {
                let page = try await store.list(agent, status: .active, kind: nil, after: after, limit: 50)
                seen += page.items
                after = page.next
            } while after != nil
            #expect(seen.count == 125)
            #expect(Set(seen.map(\.id)) == Set(ids).subtracting(closed))
            #expect(zip(seen, seen.dropFirst()).allSatisfy { ($0.lastActivityAt, $0.id) >= ($1.lastActivityAt, $1.id) })
            #expect(Set(try await store.list(agent, status: .closed, kind: nil, after: nil, limit: 50).items.map(\.id)) == closed)
            let own = try await store.list(conversation.client, status: .active, kind: nil, after: nil, limit: 50).items
            #expect(own.map(\.id) == [conversation.session.id])
            #expect(own.first?.title == "Avery Agent")
        }
    }

    @Test("non-members and callers of another tenant get session_not_found, exactly like a missing session")
    func notFoundForStrangers() async throws {
        let conversation = try await Conversation.start()
        defer { Task { await conversation.fixture.close() } }
        let store = conversation.store, id = conversation.session.id
        let other = try await TenantFixture.make(conversation.fixture.database)
        let strangers = [
            conversation.fixture.caller("client-2", .client), conversation.fixture.caller("agent-9", .agent),
            other.caller("agent-1", .agent, name: "Avery Agent"),
        ]
        for stranger in strangers {
            #expect(try await domainError { _ = try await store.get(stranger, id: id) }?.problemCode == "session_not_found")
            #expect(try await domainError { _ = try await store.history(stranger, sessionID: id, .latest, limit: 10) }?.problemCode == "session_not_found")
            #expect(try await domainError { try await conversation.send("let me in", as: stranger) }?.problemCode == "session_not_found")
            #expect(try await store.list(stranger, status: .active, kind: nil, after: nil, limit: 10).items.isEmpty)
        }
        #expect(try await domainError { _ = try await store.get(conversation.agent, id: UUID().uuidString) }?.problemCode == "session_not_found")
    }

    @Test("receipts: read positions never move backwards; mark-unread shows at least one unread")
    func receipts() async throws {
        let conversation = try await Conversation.start()
        defer { Task { await conversation.fixture.close() } }
        let store = conversation.store, client = conversation.client, id = conversation.session.id
        for index in 1...3 { try await conversation.send("m\(index)") }
        #expect(try await store.get(client, id: id).unreadCount == 3)

        let read = try await store.markRead(client, sessionID: id, upTo: 2)
        #expect(read.lastReadSeq == 2)
        #expect(read.unreadCount == 1)
        #expect(try await store.markRead(client, sessionID: id, upTo: 1).lastReadSeq == 2)
        #expect(try await store.markRead(client, sessionID: id, upTo: 999).lastReadSeq == 3)
        // The sender sees ✓✓ once the other member has read.
        let own = try await store.history(conversation.agent, sessionID: id, .latest, limit: 10).items
        #expect(own.map(\.delivery) == [.read, .read, .read])
        #expect(own.first?.readBy == ["client-1"])

        let unread = try await store.markUnread(client, sessionID: id)
        #expect(unread.unreadCount == 1)
        #expect(unread.lastReadSeq == 3)
        let invalid = try await domainError { _ = try await store.markRead(client, sessionID: id, upTo: -1) }
        #expect(invalid == .validation([FieldError("upTo", "out_of_range", "upTo must be a message seq (0 or more)")]))
    }
}
