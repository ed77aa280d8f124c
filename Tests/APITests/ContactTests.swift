import Domain
import Foundation
import HummingbirdTesting
import ParleyTesting
import Testing

@Suite("API: contacts")
struct ContactTests {
    @Test("people you message become contacts, deduplicated by email case and phone format")
    func dedupe() async throws {
        try await TestApp.run { app, client in
            let tenant = try await TestTenant.make(app.database)
            let agent = try await tenant.token(sub: "agent-1", role: .agent, name: "Avery Agent")
            let first = try await client.json(.post, "/v1/sessions", token: agent, body: [
                "client": ["userId": "maria", "name": "Maria Lopez", "email": "Maria.Lopez@Example.COM", "phone": "(415) 555-0134"],
            ])
            let session = try first.decode(Session.self)
            let contactKey = try #require(session.contactId)
            let byEmail = try await client.json(.post, "/v1/contacts", token: agent, body: ["FullName": "M. Lopez", "Email": "maria.lopez@example.com"])
            #expect(byEmail.status == .ok)
            #expect(try byEmail.decode(Contact.self).ContactKey == contactKey)
            let byPhone = try await client.json(.post, "/v1/contacts", token: agent, body: ["FullName": "Maria", "MobilePhone": "+1 415 555 0134"])
            #expect(byPhone.status == .ok)
            #expect(try byPhone.decode(Contact.self).ContactKey == contactKey)
            let contact = try await client.json(.get, "/v1/contacts/\(contactKey)", token: agent).decode(Contact.self)
            #expect(contact.MobilePhone == "+14155550134")
            #expect(contact.userId == "maria")
            #expect(contact.OwnerMemberKey == "agent-1")
            #expect(contact.sessions?.first?.id == session.id)
            let all = try await client.json(.get, "/v1/contacts", token: agent)
            #expect(try all.items(Contact.self).count == 1)
            // A session started from the contact is the same session.
            let fromContact = try await client.json(.post, "/v1/sessions", token: agent, body: ["client": ["contactId": contactKey]])
            #expect(fromContact.status == .ok)
            #expect(try fromContact.decode(Session.self).id == session.id)
        }
    }

    @Test("contacts named with the cursor's separator or 200 letters page to the end; bad details are named as the request names them")
    func hostileNamesAndDetails() async throws {
        try await TestApp.run { app, client in
            let tenant = try await TestTenant.make(app.database)
            let agent = try await tenant.token(sub: "agent-1", role: .agent)
            let names = ["Smith | Zillow lead", "a|b|c", "|", String(repeating: "語", count: 200), String(repeating: "Ж", count: 200)]
            for name in names {
                #expect(try await client.json(.post, "/v1/contacts", token: agent, body: ["FullName": name]).status == .created)
            }
            var seen: [String] = []
            var cursor: String?
            var pages = 0
            repeat {
                let answer = try await client.json(.get, "/v1/contacts?limit=1" + (cursor.map { "&after=\($0)" } ?? ""), token: agent)
                #expect(answer.status == .ok, "\(answer.text)")
                let page = try answer.page(of: Contact.self)
                seen += page.items.map(\.FullName)
                cursor = page.nextCursor
                pages += 1
            } while cursor != nil && pages < 10
            #expect(seen.sorted() == names.sorted())

            // An email with a NUL or another control character is not an email address.
            for email in ["a\u{0}b@example.com", "a\u{1}b@example.com"] {
                let answer = try await client.json(.post, "/v1/contacts", token: agent, body: ["FullName": "Ctl", "Email": email])
                #expect(answer.problem?.errors?.map { "\($0.field) \($0.code)" } == ["Email invalid_format"], "\(answer.text)")
            }
            // A session with a new client: bad details under the names the request used.
            func fields(_ details: [String: String]) async throws -> [String] {
                let answer = try await client.json(.post, "/v1/sessions", token: agent, body: ["client": details])
                #expect(answer.status == .unprocessableContent, "\(answer.text)")
                return answer.problem?.fields ?? []
            }
            #expect(try await fields(["userId": "u1", "name": "Maria", "email": "not-an-email"]) == ["client.email"])
            #expect(try await fields(["userId": "u1", "name": "Maria", "phone": "call me"]) == ["client.phone"])
            #expect(try await fields(["userId": "u1", "name": "Maria\nLopez"]) == ["client.name"])
            #expect(try await fields(["userId": "u1", "name": "Maria", "email": "m\u{0}@example.com"]) == ["client.email"])
        }
    }

    @Test("create, search, patch; another agent's contacts are invisible; clients have none")
    func crud() async throws {
        try await TestApp.run { app, client in
            let tenant = try await TestTenant.make(app.database)
            let agent = try await tenant.token(sub: "agent-1", role: .agent)
            let created = try await client.json(.post, "/v1/contacts", token: agent, body: [
                "FirstName": "Jonah", "LastName": "Hill", "Email": "jonah@example.com", "LeadSource": "Open house",
                "preferredContactMethod": "text", "MobilePhone": "555 010 0199",
            ])
            #expect(created.status == .created)
            let jonah = try created.decode(Contact.self)
            #expect(jonah.FullName == "Jonah Hill")
            // A link to a user Parley does not know is a field error, not a conflict.
            let unknown = try await client.json(.post, "/v1/contacts", token: agent, body: ["FirstName": "Nobody", "userId": "no-such-user"])
            #expect(unknown.status == .unprocessableContent)
            #expect(unknown.problem?.errors?.first?.field == "userId")
            #expect(unknown.problem?.errors?.first?.code == "unknown_user")
            let key = jonah.ContactKey
            _ = try await client.json(.post, "/v1/contacts", token: agent, body: ["FullName": "Ann Lee", "Email": "ann@example.com"])
            func search(_ q: String) async throws -> [Contact] { try await client.json(.get, "/v1/contacts?q=\(q)", token: agent).items(Contact.self) }
            #expect(try await search("hil").map(\.ContactKey) == [key])
            #expect(try await search("jon").count == 1)
            #expect(try await search("0199").count == 1)
            #expect(try await search("%25").isEmpty)

            let patched = try await client.json(.patch, "/v1/contacts/\(key)", token: agent, body: ["Notes": "Wants a garden", "LeadSource": NSNull()])
                .decode(Contact.self)
            #expect(patched.Notes == "Wants a garden")
            #expect(patched.LeadSource == nil)
            #expect(patched.Email == "jonah@example.com")
            let clash = try await client.json(.patch, "/v1/contacts/\(key)", token: agent, body: ["Email": "ANN@example.com"])
            #expect(clash.status == .conflict)
            #expect(clash.code == "contact_exists")
            let invalid = try await client.json(.patch, "/v1/contacts/\(key)", token: agent, body: ["Email": "nope", "MobilePhone": "call me", "FullName": ""])
            #expect(invalid.status == .unprocessableContent)
            #expect(Set(try #require(invalid.problem).fields) == ["Email", "MobilePhone", "FullName"])
            // A name is one line: it becomes the client's display name (schemathesis created a
            // contact named U+0019).
            for name in ["\u{19}", "Ann\nSmith", "Ann\u{7F}"] {
                let control = try await client.json(.post, "/v1/contacts", token: agent, body: ["FullName": name])
                #expect(control.status == .unprocessableContent)
                #expect(try #require(control.problem).fields == ["FullName"])
            }
            let trimmed = try await client.json(.post, "/v1/contacts", token: agent, body: ["FullName": "\n Bea Buyer \n"])
            #expect(trimmed.status == .created)
            #expect(try trimmed.decode(Contact.self).FullName == "Bea Buyer")

            let otherAgent = try await tenant.token(sub: "agent-2", role: .agent)
            #expect(try await client.json(.get, "/v1/contacts/\(key)", token: otherAgent).status == .notFound)
            #expect(try await client.json(.get, "/v1/contacts", token: otherAgent).items(Contact.self).isEmpty)
            let asClient = try await tenant.token(sub: "c", role: .client)
            #expect(try await client.json(.get, "/v1/contacts", token: asClient).status == .forbidden)
        }
    }
}
