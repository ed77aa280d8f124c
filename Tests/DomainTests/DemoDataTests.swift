import Database
import DatabaseTesting
import Domain
import Foundation
import Testing

@Suite("Domain: DemoData")
struct DemoDataTests {
    /// Everything a run leaves that a second run must not change.
    struct Snapshot: Equatable {
        var sessions: [String: String] = [:]
        var pendingRequests: [String] = []
        var allRequests = 0
        var badge = Badge(unreadMessages: 0, pendingRequests: 0)
        var hanaSessions: [String] = []
        var contacts = 0
    }

    @Test("fill: the inbox agent's conversations in every status, unread, a listing and files; three pending requests; Hana in the directory; a second run changes nothing")
    func fill() async throws {
        let database = try await TestDatabase.shared.makeDatabase()
        defer { Task { await database.close() } }
        guard let demo = TenantSlug(randomName("demo-")), let harbor = TenantSlug(randomName("harbor-")) else {
            Issue.record("generated slugs are valid")
            return
        }
        let first = try await DemoData.fill(database: database, logger: testLogger, demo: demo, harbor: harbor)
        #expect(first.brokerages.map(\.slug) == [demo.rawValue, harbor.rawValue])
        #expect(first.brokerages.filter(\.created).count == 2)
        #expect(first.sessionsCreated == 6)
        #expect(first.requestsCreated == 3)
        #expect(first.attachmentsSent == 2)
        #expect(first.directory.map(\.outcome) == [.created, .created, .created, .created])

        let tenants = TenantStore(database: database, logger: testLogger)
        guard let demoTenant = try await tenants.find(demo), let harborTenant = try await tenants.find(harbor) else {
            Issue.record("both brokerages exist")
            return
        }
        let avery = Caller(tenant: demoTenant, userID: "agent-1", role: .agent, name: "Avery Agent")
        let hana = Caller(tenant: harborTenant, userID: "hana", role: .agent, name: "Hana Ito")
        let sessions = SessionStore(database: database)
        let requests = ChatRequestStore(database: database, notifier: nil, logger: testLogger)

        func allSessions(_ caller: Caller) async throws -> [Session] {
            var all: [Session] = []
            for status in Session.Status.allCases {
                all += try await sessions.list(caller, status: status, kind: nil, after: nil, limit: 100).items
            }
            return all
        }
        func snapshot() async throws -> Snapshot {
            var snapshot = Snapshot()
            for session in try await allSessions(avery) {
                snapshot.sessions[session.title] = "\(session.status.rawValue) \(session.lastSeq) \(session.unreadCount)"
            }
            snapshot.pendingRequests = try await requests.list(avery, status: .pending, after: nil, limit: 100).items.map(\.name).sorted()
            snapshot.allRequests = try await requests.list(avery, status: nil, after: nil, limit: 100).items.count
            snapshot.badge = try await BadgeStore(database: database).badge(avery)
            snapshot.hanaSessions = try await allSessions(hana).map { "\($0.title) \($0.lastSeq)" }
            snapshot.contacts = try await ContactStore(database: database).list(avery, q: nil, after: nil, limit: 100).items.count
            return snapshot
        }

        let byTitle = Dictionary(uniqueKeysWithValues: try await allSessions(avery).map { ($0.title, $0) })
        #expect(Set(byTitle.keys) == ["Maria Lopez", "Sam Lee", "Priya Patel", "Jordan Kim", "Blake Morgan", "Hana Ito"])
        #expect(byTitle["Maria Lopez"]?.status == .active)
        #expect(byTitle["Sam Lee"]?.status == .closed)
        #expect(byTitle["Priya Patel"]?.status == .archived)
        #expect(byTitle["Jordan Kim"]?.status == .active)
        #expect(byTitle["Jordan Kim"]?.unreadCount == 1)
        #expect(byTitle["Blake Morgan"]?.kind == .agent)
        #expect(byTitle["Blake Morgan"]?.agentToAgent == true)
        let hanaSession = byTitle["Hana Ito"]
        #expect(hanaSession?.kind == .agent)
        #expect(hanaSession?.members.contains { $0.userId == "@\(harbor):hana" && $0.brokerage == harbor.rawValue } == true)
        // Hana's brokerage has its own copy of the same session.
        #expect(try await allSessions(hana).map(\.id) == [hanaSession?.id].compactMap { $0 })

        // Maria's conversation: unread for Avery, a shared listing, a picture and a text file.
        guard let maria = byTitle["Maria Lopez"] else { return }
        #expect(maria.unreadCount == 3)
        #expect(maria.members.contains { $0.userId == "client-1" })
        let history = try await sessions.history(avery, sessionID: maria.id, .latest, limit: 100).items
        #expect(history.count == 10)
        #expect(history.contains { $0.listing?.ListingId == "ML81234" && $0.listing?.OriginatingSystemName == "BRMLS" })
        #expect(history.contains { $0.html.contains("<strong>") && $0.html.contains("<ul>") && $0.html.contains("<a ") })
        let files = history.flatMap(\.attachments)
        #expect(files.contains { $0.mediaType == "image/png" && $0.width == 64 && $0.height == 40 })
        #expect(files.contains { $0.fileName == "notes.txt" && $0.mediaType.hasPrefix("text/plain") })

        let pending = try await requests.list(avery, status: .pending, after: nil, limit: 100).items
        #expect(pending.count == 3)
        #expect(pending.filter { $0.source == .website }.count == 2)
        #expect(pending.contains { $0.source == .agent && $0.requester?.MemberKey == "kai" && $0.requester?.brokerage.slug == harbor.rawValue })
        #expect(try await BadgeStore(database: database).badge(avery) == Badge(unreadMessages: 6, pendingRequests: 3))

        let found = try await DirectoryStore(database: database).find(
            avery, .init(q: "hana", brokerage: harbor.rawValue), after: nil, limit: 10).items
        #expect(found.map(\.MemberKey) == ["hana"])
        #expect(found.first?.record.MemberCity == "Oakland")
        #expect(found.first?.record.MemberLanguages == ["English", "Japanese"])

        // Again: nothing new, nothing moved.
        let before = try await snapshot()
        let second = try await DemoData.fill(database: database, logger: testLogger, demo: demo, harbor: harbor)
        #expect(!second.changedAnything)
        #expect(second.brokerages.allSatisfy { !$0.created })
        #expect(second.sessionsCreated == 0)
        #expect(second.messagesSent == 0)
        #expect(second.requestsCreated == 0)
        #expect(second.contactsCreated == 0)
        #expect(second.directory.map(\.outcome) == [.unchanged, .unchanged, .unchanged, .unchanged])
        #expect(try await snapshot() == before)
    }
}
