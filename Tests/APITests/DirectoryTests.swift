import DatabaseTesting
import Domain
import Foundation
import HummingbirdTesting
import ParleyTesting
import Testing

/// The agent directory (issue 16): the integration API and Find an agent.
@Suite("API: agent directory")
struct DirectoryTests {
    struct Entry: Decodable {
        let MemberKey: String
        let MemberFullName: String?
        let MemberEmail: String?
        let MemberMobilePhone: String?
        let MemberCity: String?
        let listed: Bool?
        let showEmail: Bool?
        let ModificationTimestamp: String?
        let brokerage: DirectoryMember.Brokerage
    }

    struct SyncAnswer: Decodable {
        struct Result: Decodable {
            let MemberKey: String?
            let outcome: String
            let reason: String?
            let errors: [FieldError]?
        }

        let results: [Result]
        let counts: [String: Int]
    }

    @Test("PUT and bulk sync are idempotent, ignore stale records and report each one; DELETE unlists; tokens are kept to their side")
    func integrationAPI() async throws {
        try await TestApp.run { app, client in
            let tenant = try await TestTenant.make(app.database, prefix: "dir")
            let integration = try await tenant.integrationToken()
            let surname = "Quillfeather" + randomName("", length: 6)
            let record: [String: Any] = [
                "MemberFirstName": "Ada", "MemberLastName": surname, "MemberEmail": "ada@example.com",
                "MemberMobilePhone": "+1 415 555 0100", "MemberCity": "Oakland", "MemberLanguages": ["English", "Spanish"],
                "ModificationTimestamp": "2026-11-01T10:00:00+01:00", "listed": true,
            ]
            let created = try await client.json(.put, "/v1/directory/agents/agent-1", token: integration, body: record)
            #expect(created.status == .created, "\(created.text)")
            #expect(created.headers[.init("Parley-Outcome")!] == "created")
            let stored = try created.decode(Entry.self)
            #expect(stored.MemberFullName == "Ada \(surname)")
            #expect(stored.MemberEmail == "ada@example.com")
            #expect(stored.ModificationTimestamp == "2026-11-01T09:00:00.000Z")

            // The same again: nothing changes. Older: ignored. Newer: replaces.
            let again = try await client.json(.put, "/v1/directory/agents/agent-1", token: integration, body: record)
            #expect(again.status == .ok)
            #expect(again.headers[.init("Parley-Outcome")!] == "unchanged; same")
            var older = record
            older["MemberCity"] = "Fresno"
            older["ModificationTimestamp"] = "2026-10-01T00:00:00Z"
            let stale = try await client.json(.put, "/v1/directory/agents/agent-1", token: integration, body: older)
            #expect(stale.headers[.init("Parley-Outcome")!] == "unchanged; stale")
            #expect(try stale.decode(Entry.self).MemberCity == "Oakland")

            // Bulk: a new record, a newer agent-1, a bad email, a repeated key, a record that is not an object.
            var newer = record
            newer["MemberCity"] = "Berkeley"
            newer["ModificationTimestamp"] = "2026-11-02T00:00:00Z"
            let batch: [Any] = [
                ["MemberKey": "agent-2", "MemberFullName": "Bo \(surname)", "listed": true, "ModificationTimestamp": "2026-11-01T00:00:00Z"],
                newer.merging(["MemberKey": "agent-1"]) { $1 },
                ["MemberKey": "agent-3", "MemberFullName": "Cy \(surname)", "MemberEmail": "not-an-email"],
                ["MemberKey": "agent-2", "MemberFullName": "Bo Again"],
                ["MemberKey": "agent-4", "MemberLanguages": "English"],
                ["agent-5"],
            ]
            let first = try await client.json(.post, "/v1/directory/agents", token: integration, body: ["records": batch]).decode(SyncAnswer.self)
            #expect(first.results.map(\.outcome) == ["created", "updated", "rejected", "rejected", "rejected", "rejected"])
            #expect(first.results[2].errors?.map(\.field) == ["records[2].MemberEmail"])
            // In the API's words, named from the record (the decoder's own named Swift types).
            #expect(first.results[4].errors?.map(\.message) == ["MemberLanguages has the wrong type"])
            #expect(first.results[5].errors?.map(\.message) == ["the record is not a JSON object"])
            #expect(first.results[3].errors?.first?.code == "duplicate")
            #expect(first.counts == ["created": 1, "updated": 1, "unchanged": 0, "rejected": 4])
            let second = try await client.json(.post, "/v1/directory/agents", token: integration, body: ["records": batch]).decode(SyncAnswer.self)
            #expect(second.results.map(\.outcome) == ["unchanged", "unchanged", "rejected", "rejected", "rejected", "rejected"])
            #expect(try await client.json(.get, "/v1/directory/agents/agent-1", token: integration).decode(Entry.self).MemberCity == "Berkeley")
            #expect(try await client.json(.get, "/v1/directory/agents/agent-3", token: integration).code == "directory_member_not_found")

            // Reconciliation: records modified since a moment, oldest first, in pages.
            let since = try await client.json(.get, "/v1/directory/agents?modifiedSince=2026-11-01T12:00:00Z", token: integration)
            #expect(try since.items(Entry.self).map(\.MemberKey) == ["agent-1"])
            let pageOne = try await client.json(.get, "/v1/directory/agents?limit=1", token: integration).page(of: Entry.self)
            let cursor = try #require(pageOne.nextCursor)
            let pageTwo = try await client.json(.get, "/v1/directory/agents?limit=1&after=\(cursor)", token: integration).page(of: Entry.self)
            #expect(pageOne.items.map(\.MemberKey) + pageTwo.items.map(\.MemberKey) == ["agent-2", "agent-1"])
            #expect(pageTwo.nextCursor == nil)

            // Agents see listed records, public fields only; DELETE unlists.
            let agent = try await tenant.token(sub: "agent-9", role: .agent)
            let found = try await client.json(.get, "/v1/directory?q=\(surname)&brokerage=\(tenant.slug)", token: agent).items(Entry.self)
            #expect(found.map(\.MemberKey).sorted() == ["agent-1", "agent-2"])
            #expect(found.allSatisfy { $0.MemberEmail == nil && $0.MemberMobilePhone == nil && $0.showEmail == nil })
            #expect(try await client.json(.delete, "/v1/directory/agents/agent-2", token: integration).status == .noContent)
            let afterDelete = try await client.json(.get, "/v1/directory?q=\(surname)&brokerage=\(tenant.slug)", token: agent).items(Entry.self)
            #expect(afterDelete.map(\.MemberKey) == ["agent-1"])
            #expect(try await client.json(.get, "/v1/directory/agents/agent-2", token: integration).decode(Entry.self).listed == false)
            // The agent opted in to show their email.
            var optedIn = newer
            optedIn["showEmail"] = true
            optedIn["ModificationTimestamp"] = "2026-11-03T00:00:00Z"
            #expect(try await client.json(.put, "/v1/directory/agents/agent-1", token: integration, body: optedIn).status == .ok)
            let shown = try await client.json(.get, "/v1/directory?q=\(surname)", token: agent).items(Entry.self)
            #expect(shown.first?.MemberEmail == "ada@example.com")
            #expect(shown.first?.MemberMobilePhone == nil)

            // Each token to its side; another brokerage's integration sees none of this one's records.
            let wrongSide = try await client.json(.get, "/v1/directory/agents/agent-1", token: agent)
            #expect(wrongSide.status == .forbidden)
            #expect(wrongSide.code == "integration_only")
            let integrationAsUser = try await client.json(.get, "/v1/sessions", token: integration)
            #expect(integrationAsUser.status == .forbidden)
            #expect(integrationAsUser.code == "integration_token")
            let other = try await TestTenant.make(app.database, prefix: "dirx")
            let otherIntegration = try await other.integrationToken()
            #expect(try await client.json(.get, "/v1/directory/agents/agent-1", token: otherIntegration).status == .notFound)
            #expect(try await client.json(.get, "/v1/directory/agents", token: otherIntegration).items(Entry.self).isEmpty)
            #expect(try await client.json(.get, "/v1/directory/agents", token: nil).code == "missing_token")
        }
    }

    @Test("a forged changes cursor naming any time is a 422 on after, never a crash; names with | or 200 letters page to the end")
    func hostileCursors() async throws {
        try await TestApp.run { app, client in
            let tenant = try await TestTenant.make(app.database, prefix: "dircur")
            let integration = try await tenant.integrationToken()
            // Keys far outside the years any record has: Int64's ends made the server trap
            // converting the time back to microseconds.
            for key in ["9223372036854775807", "-9223372036854775808", "100000000000000000000", "253402300800000000"] {
                let forged = Base64URL.encode(Array("\(key)|00000000-0000-0000-0000-000000000000".utf8))
                let answer = try await client.json(.get, "/v1/directory/agents?after=\(forged)", token: integration)
                #expect(answer.status == .unprocessableContent, "\(key): \(answer.text)")
                #expect(answer.problem?.fields == ["after"], "\(key)")
            }
            // Browsing by name: names holding the cursor's separator, and names whose cursor
            // is longer than 512 characters (names of nearly 200 letters of 2 and 3 UTF-8 bytes each).
            let surname = "Pipewright" + randomName("", length: 6)
            let names = ["Doe | RE/MAX", "Doe || Zillow |", "|", String(repeating: "語", count: 180), String(repeating: "Ж", count: 180)]
            let records: [[String: Any]] = names.enumerated().map { index, first in
                ["MemberKey": "k\(index)", "MemberFirstName": first, "MemberLastName": surname, "listed": true]
            }
            let sync = try await client.json(.post, "/v1/directory/agents", token: integration, body: ["records": records])
            #expect(try sync.decode(SyncAnswer.self).counts["created"] == 5, "\(sync.text)")
            let agent = try await tenant.token(sub: "agent-1", role: .agent)
            var seen: [String] = []
            var cursor: String?
            var pages = 0
            repeat {
                let answer = try await client.json(
                    .get, "/v1/directory?brokerage=\(tenant.slug)&limit=1" + (cursor.map { "&after=\($0)" } ?? ""), token: agent)
                let page = try answer.page(of: Entry.self)
                seen += page.items.map(\.MemberKey)
                cursor = page.nextCursor
                pages += 1
            } while cursor != nil && pages < 10
            #expect(seen.sorted() == ["k0", "k1", "k2", "k3", "k4"])
        }
    }

    @Test("find an agent of any brokerage by name prefix and small typos, filter by city, language, designation and brokerage, in pages")
    func findAnAgent() async throws {
        try await TestApp.run { app, client in
            let north = try await TestTenant.make(app.database, prefix: "north")
            let south = try await TestTenant.make(app.database, prefix: "south")
            let surname = "Brightwater" + randomName("", length: 6)
            func record(_ key: String, _ first: String, city: String, languages: [String], designations: [String] = [], listed: Bool = true) -> [String: Any] {
                ["MemberKey": key, "MemberFirstName": first, "MemberLastName": surname, "MemberCity": city,
                 "MemberLanguages": languages, "MemberDesignation": designations, "listed": listed]
            }
            let northAnswer = try await client.json(.post, "/v1/directory/agents", token: try await north.integrationToken(), body: ["records": [
                record("n1", "John", city: "São Paulo", languages: ["Portuguese", "English"], designations: ["ABR"]),
                record("n2", "Maria", city: "Lisbon", languages: ["Portuguese"]),
                record("n3", "Hidden", city: "Lisbon", languages: ["Portuguese"], listed: false),
            ]]).decode(SyncAnswer.self)
            #expect(northAnswer.counts["created"] == 3)
            let southAnswer = try await client.json(.post, "/v1/directory/agents", token: try await south.integrationToken(), body: ["records": [
                record("s1", "Joan", city: "Sao Paulo", languages: ["Spanish"], designations: ["CRS", "abr"]),
                record("s2", "Kenji", city: "Osaka", languages: ["Japanese", "English"]),
                record("s3", "Lena", city: "Osaka", languages: ["German"]),
                record("s4", "Omar", city: "Cairo", languages: ["Arabic", "English"]),
                record("s5", "Priya", city: "Pune", languages: ["Hindi", "English"]),
            ]]).decode(SyncAnswer.self)
            #expect(southAnswer.counts["created"] == 5)

            // An agent of a third brokerage searches them all.
            let searcher = try await TestTenant.make(app.database, prefix: "third")
            let agent = try await searcher.token(sub: "agent-1", role: .agent)
            func keys(_ query: String) async throws -> [String] {
                try await client.json(.get, "/v1/directory?\(query)", token: agent).items(Entry.self).map(\.MemberKey)
            }
            let everyone = try await keys("q=\(surname)&limit=100")
            #expect(Set(everyone) == ["n1", "n2", "s1", "s2", "s3", "s4", "s5"])
            // Small typos find the name; a name that begins with what was typed comes first.
            #expect(try await keys("q=jonh&brokerage=\(north.slug)") == ["n1"])
            #expect(try await keys("q=jonh%20\(surname)").contains("n1"))
            #expect(try await keys("q=\(surname.dropLast(2))x").count == 7)
            #expect(try await keys("q=keni%20\(surname)").first == "s2")
            #expect(try await keys("q=jo&brokerage=\(south.slug)") == ["s1"])
            #expect(try await keys("q=\(surname.prefix(8).lowercased())&city=sao%20paulo").sorted() == ["n1", "s1"])
            #expect(try await keys("q=\(surname)&language=english").sorted() == ["n1", "s2", "s4", "s5"])
            #expect(try await keys("q=\(surname)&designation=ABR").sorted() == ["n1", "s1"])
            #expect(try await keys("q=\(surname)&brokerage=\(north.slug)").sorted() == ["n1", "n2"])
            // Browsing by name, in pages: everyone once.
            var seen: [String] = []
            var cursor: String?
            repeat {
                let page = try await client.json(
                    .get, "/v1/directory?q=\(surname)&limit=3" + (cursor.map { "&after=\($0)" } ?? ""), token: agent).page(of: Entry.self)
                seen += page.items.map(\.MemberKey)
                cursor = page.nextCursor
            } while cursor != nil
            #expect(seen.count == 7 && Set(seen) == Set(everyone))
            var browsed: [Entry] = []
            cursor = nil
            repeat {
                let page = try await client.json(
                    .get, "/v1/directory?brokerage=\(south.slug)&limit=2" + (cursor.map { "&after=\($0)" } ?? ""), token: agent).page(of: Entry.self)
                browsed += page.items
                cursor = page.nextCursor
            } while cursor != nil
            #expect(browsed.map(\.MemberKey) == ["s1", "s2", "s3", "s4", "s5"])
            #expect(browsed.allSatisfy { $0.brokerage.slug == south.slug.rawValue })

            // Clients cannot browse the directory; bad cursors and over-long filters are 422.
            let visitor = try await searcher.token(sub: "client-1", role: .client)
            #expect(try await client.json(.get, "/v1/directory?q=\(surname)", token: visitor).code == "agents_only")
            #expect(try await client.json(.get, "/v1/directory?q=x&after=bogus", token: agent).code == "validation_failed")
            #expect(try await client.json(.get, "/v1/directory?city=" + String(repeating: "a", count: 101), token: agent).code == "validation_failed")
        }
    }

    @Test("an agent edits their own profile with their user token; an older sync does not undo it")
    func ownProfile() async throws {
        try await TestApp.run { app, client in
            let tenant = try await TestTenant.make(app.database, prefix: "own")
            let integration = try await tenant.integrationToken()
            let agent = try await tenant.token(sub: "agent-5", role: .agent)
            let missing = try await client.json(.get, "/v1/directory/me", token: agent)
            #expect(missing.status == .notFound)
            #expect(missing.code == "directory_member_not_found")
            let surname = "Ottersby" + randomName("", length: 6)
            _ = try await client.json(.put, "/v1/directory/agents/agent-5", token: integration, body: [
                "MemberFullName": "Eve \(surname)", "MemberEmail": "eve@example.com", "ModificationTimestamp": "2026-11-01T00:00:00Z",
            ])
            // Unlisted until the agent opts in.
            #expect(try await client.json(.get, "/v1/directory?q=\(surname)", token: agent).items(Entry.self).isEmpty)
            let edited = try await client.json(.patch, "/v1/directory/me", token: agent, body: [
                "listed": true, "showEmail": true, "MemberBio": "Waterfront homes.", "specialties": ["Condos", "condos", "Lofts"],
                "MemberFullName": "Not Mine",
            ])
            #expect(edited.status == .ok, "\(edited.text)")
            let mine = try await client.json(.get, "/v1/directory/me", token: agent).text
            #expect(mine.contains(#""MemberBio":"Waterfront homes.""#) && mine.contains(#""specialties":["Condos","Lofts"]"#))
            #expect(mine.contains("Eve \(surname)") && !mine.contains("Not Mine"))
            let found = try await client.json(.get, "/v1/directory?q=\(surname)", token: agent).items(Entry.self)
            #expect(found.map(\.MemberKey) == ["agent-5"])
            #expect(found.first?.MemberEmail == "eve@example.com")
            // The integration syncs from data older than the edit: ignored.
            let older = try await client.json(.put, "/v1/directory/agents/agent-5", token: integration, body: [
                "MemberFullName": "Eve \(surname)", "ModificationTimestamp": "2026-11-02T00:00:00Z",
            ])
            #expect(older.headers[.init("Parley-Outcome")!] == "unchanged; stale")
            #expect(try await client.json(.patch, "/v1/directory/me", token: agent, body: ["photoUrl": "http://example.com/x.jpg"]).code == "validation_failed")
            let visitor = try await tenant.token(sub: "client-1", role: .client)
            #expect(try await client.json(.get, "/v1/directory/me", token: visitor).code == "agents_only")

            // The integration's clock is ahead (a time in the future): the agent's opt-out still
            // takes effect, and says so.
            _ = try await client.json(.put, "/v1/directory/agents/agent-5", token: integration, body: [
                "MemberFullName": "Eve \(surname)", "MemberMobilePhone": "+1 415 555 0101", "listed": true, "showMobilePhone": true,
                "ModificationTimestamp": "2099-01-01T00:00:00Z",
            ])
            #expect(try await client.json(.get, "/v1/directory?q=\(surname)", token: agent).items(Entry.self).first?.MemberMobilePhone != nil)
            let optOut = try await client.json(.patch, "/v1/directory/me", token: agent, body: ["showMobilePhone": false, "listed": false])
            #expect(optOut.status == .ok)
            #expect(try optOut.decode(Entry.self).listed == false, "\(optOut.text)")
            #expect(try await client.json(.get, "/v1/directory?q=\(surname)", token: agent).items(Entry.self).isEmpty)

            // A later sync of newer data (the office moved) changes the brokerage's fields and
            // keeps the agent's own: their bio, their languages, their opt-outs.
            _ = try await client.json(.patch, "/v1/directory/me", token: agent, body: [
                "listed": true, "MemberLanguages": ["English", "Tagalog"], "MemberBio": "Mine.",
            ])
            let newer = try await client.json(.put, "/v1/directory/agents/agent-5", token: integration, body: [
                "MemberFullName": "Eve \(surname)", "MemberMobilePhone": "+1 415 555 0101", "MemberEmail": "eve@example.com",
                "OfficeName": "Harbor Office", "MemberBio": "From the MLS.", "MemberLanguages": ["English"],
                "listed": true, "showMobilePhone": true, "showEmail": true, "ModificationTimestamp": "2099-02-01T00:00:00Z",
            ])
            #expect(newer.status == .ok, "\(newer.text)")
            let afterSync = try await client.json(.get, "/v1/directory/me", token: agent).text
            #expect(afterSync.contains("Harbor Office") && afterSync.contains(#""MemberBio":"Mine.""#), "\(afterSync)")
            let seen = try await client.json(.get, "/v1/directory?q=\(surname)&language=tagalog", token: agent).items(Entry.self)
            #expect(seen.map(\.MemberKey) == ["agent-5"])
            #expect(seen.first?.MemberMobilePhone == nil, "the agent's opt-out of showing their phone stands")
            // The integration's DELETE unlists whatever the agent chose.
            #expect(try await client.json(.delete, "/v1/directory/agents/agent-5", token: integration).status == .noContent)
            #expect(try await client.json(.get, "/v1/directory?q=\(surname)", token: agent).items(Entry.self).isEmpty)
            // An agent who opted out stays out through an unlisting and a re-listing sync.
            _ = try await client.json(.patch, "/v1/directory/me", token: agent, body: ["listed": false])
            #expect(try await client.json(.delete, "/v1/directory/agents/agent-5", token: integration).status == .noContent)
            _ = try await client.json(.put, "/v1/directory/agents/agent-5", token: integration, body: [
                "MemberFullName": "Eve \(surname)", "listed": true, "ModificationTimestamp": "2099-03-01T00:00:00Z",
            ])
            #expect(try await client.json(.get, "/v1/directory?q=\(surname)", token: agent).items(Entry.self).isEmpty)
        }
    }
}
