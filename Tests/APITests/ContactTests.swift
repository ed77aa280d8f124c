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
            let contactKey = try #require(first["contactId"] as? String)
            let byEmail = try await client.json(.post, "/v1/contacts", token: agent, body: ["FullName": "M. Lopez", "Email": "maria.lopez@example.com"])
            #expect(byEmail.status == .ok)
            #expect(byEmail["ContactKey"] as? String == contactKey)
            let byPhone = try await client.json(.post, "/v1/contacts", token: agent, body: ["FullName": "Maria", "MobilePhone": "+1 415 555 0134"])
            #expect(byPhone.status == .ok)
            #expect(byPhone["ContactKey"] as? String == contactKey)
            let contact = try await client.json(.get, "/v1/contacts/\(contactKey)", token: agent)
            #expect(contact["MobilePhone"] as? String == "+14155550134")
            #expect(contact["userId"] as? String == "maria")
            #expect(contact["OwnerMemberKey"] as? String == "agent-1")
            #expect((contact["sessions"] as? [[String: Any]])?.first?["id"] as? String == first["id"] as? String)
            let all = try await client.json(.get, "/v1/contacts", token: agent)
            #expect(all.items.count == 1)
            // A session started from the contact is the same session.
            let fromContact = try await client.json(.post, "/v1/sessions", token: agent, body: ["client": ["contactId": contactKey]])
            #expect(fromContact.status == .ok)
            #expect(fromContact["id"] as? String == first["id"] as? String)
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
            #expect(created["FullName"] as? String == "Jonah Hill")
            let key = try #require(created["ContactKey"] as? String)
            _ = try await client.json(.post, "/v1/contacts", token: agent, body: ["FullName": "Ann Lee", "Email": "ann@example.com"])
            #expect(try await client.json(.get, "/v1/contacts?q=hil", token: agent).items.compactMap { $0["ContactKey"] as? String } == [key])
            #expect(try await client.json(.get, "/v1/contacts?q=jon", token: agent).items.count == 1)
            #expect(try await client.json(.get, "/v1/contacts?q=0199", token: agent).items.count == 1)
            #expect(try await client.json(.get, "/v1/contacts?q=%25", token: agent).items.isEmpty)

            let patched = try await client.json(.patch, "/v1/contacts/\(key)", token: agent, body: ["Notes": "Wants a garden", "LeadSource": NSNull()])
            #expect(patched["Notes"] as? String == "Wants a garden")
            #expect(patched["LeadSource"] == nil)
            #expect(patched["Email"] as? String == "jonah@example.com")
            let clash = try await client.json(.patch, "/v1/contacts/\(key)", token: agent, body: ["Email": "ANN@example.com"])
            #expect(clash.status == .conflict)
            #expect(clash.code == "contact_exists")
            let invalid = try await client.json(.patch, "/v1/contacts/\(key)", token: agent, body: ["Email": "nope", "MobilePhone": "call me", "FullName": ""])
            #expect(invalid.status == .unprocessableContent)
            #expect(Set((invalid["errors"] as? [[String: Any]] ?? []).compactMap { $0["field"] as? String }) == ["Email", "MobilePhone", "FullName"])

            let otherAgent = try await tenant.token(sub: "agent-2", role: .agent)
            #expect(try await client.json(.get, "/v1/contacts/\(key)", token: otherAgent).status == .notFound)
            #expect(try await client.json(.get, "/v1/contacts", token: otherAgent).items.isEmpty)
            let asClient = try await tenant.token(sub: "c", role: .client)
            #expect(try await client.json(.get, "/v1/contacts", token: asClient).status == .forbidden)
        }
    }
}
