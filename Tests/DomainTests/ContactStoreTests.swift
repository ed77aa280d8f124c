import DatabaseTesting
import Domain
import Foundation
import Testing

@Suite("Domain: ContactStore")
struct ContactStoreTests {
    @Test("contacts are deduplicated per owner by case-insensitive email and by phone in any format")
    func dedupe() async throws {
        let fixture = try await TenantFixture.make()
        defer { Task { await fixture.close() } }
        let store = ContactStore(database: fixture.database)
        let agent = fixture.caller("agent-1", .agent, name: "Avery Agent")

        let (maria, created) = try await store.create(agent, ContactDraft(fullName: "Maria Lopez", email: "Maria.Lopez@Example.COM"))
        #expect(created)
        #expect(maria.OwnerMemberKey == "agent-1")
        let (byEmail, createdByEmail) = try await store.create(agent, ContactDraft(fullName: "M. Lopez", email: "maria.lopez@example.com"))
        #expect(!createdByEmail)
        #expect(byEmail.ContactKey == maria.ContactKey)
        #expect(byEmail.FullName == "Maria Lopez")

        let (jonah, _) = try await store.create(agent, ContactDraft(fullName: "Jonah Hill", mobilePhone: "(415) 555-0134"))
        #expect(jonah.MobilePhone == "+14155550134")
        let (byPhone, createdByPhone) = try await store.create(agent, ContactDraft(fullName: "Jonah", mobilePhone: "+1 415 555 0134"))
        #expect(!createdByPhone)
        #expect(byPhone.ContactKey == jonah.ContactKey)

        let all = try await store.list(agent, q: nil, after: nil, limit: 50).items
        #expect(all.map(\.FullName) == ["Jonah Hill", "Maria Lopez"])
        // Another agent has contacts of their own: the same email makes a new one.
        let other = fixture.caller("agent-2", .agent)
        let (theirs, theirsCreated) = try await store.create(other, ContactDraft(fullName: "Maria", email: "maria.lopez@example.com"))
        #expect(theirsCreated)
        #expect(theirs.ContactKey != maria.ContactKey)
    }

    @Test("an update may not take another contact's email; other agents and clients see nothing")
    func ownership() async throws {
        let fixture = try await TenantFixture.make()
        defer { Task { await fixture.close() } }
        let store = ContactStore(database: fixture.database)
        let agent = fixture.caller("agent-1")
        let (jonah, _) = try await store.create(agent, ContactDraft(fullName: "Jonah Hill", email: "jonah@example.com", leadSource: "Open house"))
        _ = try await store.create(agent, ContactDraft(fullName: "Ann Lee", email: "ann@example.com"))

        var patch = ContactPatch()
        patch.notes = .set("Wants a garden")
        patch.leadSource = .set(nil)
        let patched = try await store.update(agent, id: jonah.ContactKey, patch)
        #expect(patched.Notes == "Wants a garden")
        #expect(patched.LeadSource == nil)
        #expect(patched.Email == "jonah@example.com")

        var clash = ContactPatch()
        clash.email = .set("ANN@example.com")
        #expect(try await domainError { _ = try await store.update(agent, id: jonah.ContactKey, clash) }?.problemCode == "contact_exists")
        #expect(try await store.get(agent, id: jonah.ContactKey).Email == "jonah@example.com")

        let otherAgent = fixture.caller("agent-2")
        #expect(try await domainError { _ = try await store.get(otherAgent, id: jonah.ContactKey) }?.problemCode == "contact_not_found")
        #expect(try await store.list(otherAgent, q: nil, after: nil, limit: 50).items.isEmpty)
        let client = fixture.caller("client-1", .client)
        #expect(try await domainError { _ = try await store.list(client, q: nil, after: nil, limit: 50) }?.problemCode == "agents_only")
    }
}
