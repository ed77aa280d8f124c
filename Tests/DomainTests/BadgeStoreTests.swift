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
