import Domain
import Foundation
import Hummingbird

/// /v1/contacts: an agent's contacts (RESO Contacts field names).
struct ContactRoutes {
    let contacts: ContactStore

    func register(on group: RouterGroup<ParleyRequestContext>) {
        group.get("contacts", use: list)
        group.post("contacts", use: create)
        group.get("contacts/:id", use: get)
        group.patch("contacts/:id", use: update)
    }

    struct CreateBody: Decodable {
        let FirstName: String?
        let LastName: String?
        let FullName: String?
        let Email: String?
        let MobilePhone: String?
        let PreferredPhone: String?
        let LeadSource: String?
        let Notes: String?
        let preferredContactMethod: ContactMethod?
        let userId: String?
    }

    @Sendable func create(_ request: Request, context: ParleyRequestContext) async throws -> EditedResponse<JSONBody<Contact>> {
        let caller = try context.requireCaller()
        let body = try await request.decodeJSON(as: CreateBody.self, context: context)
        let joined = [body.FirstName, body.LastName].compactMap { $0 }.joined(separator: " ")
        let draft = ContactDraft(
            fullName: body.FullName ?? joined, firstName: body.FirstName, lastName: body.LastName, email: body.Email,
            mobilePhone: body.MobilePhone, preferredPhone: body.PreferredPhone, leadSource: body.LeadSource,
            notes: body.Notes, preferredContactMethod: body.preferredContactMethod, userId: body.userId)
        let (contact, created) = try await contacts.create(caller, draft)
        return createdOrFound(contact, created: created, location: "/v1/contacts/\(contact.ContactKey)")
    }

    @Sendable func list(_ request: Request, context: ParleyRequestContext) async throws -> Page<Contact> {
        let caller = try context.requireCaller()
        let q = request.queryString("q")
        if let q, q.codePoints > 200 { throw Problem.validation([.init("q", "too_long", "q must be at most 200 characters")]) }
        let page = try await contacts.list(caller, q: q, after: request.queryString("after"), limit: try pageLimit(request))
        return Page(items: page.items, nextCursor: page.next)
    }

    @Sendable func get(_ request: Request, context: ParleyRequestContext) async throws -> JSONBody<Contact> {
        JSONBody(try await contacts.get(try context.requireCaller(), id: try context.parameters.require("id")))
    }

    /// JSON merge-patch semantics: an absent field is left alone, `null` clears it.
    struct PatchBody: Decodable {
        let patch: ContactPatch

        enum Keys: String, CodingKey, CaseIterable {
            case FirstName, LastName, FullName, Email, MobilePhone, PreferredPhone, LeadSource, Notes, preferredContactMethod
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: Keys.self)
            var patch = ContactPatch()
            patch.firstName = try container.patchField(.FirstName, String.self)
            patch.lastName = try container.patchField(.LastName, String.self)
            patch.fullName = try container.patchField(.FullName, String.self)
            patch.email = try container.patchField(.Email, String.self)
            patch.mobilePhone = try container.patchField(.MobilePhone, String.self)
            patch.preferredPhone = try container.patchField(.PreferredPhone, String.self)
            patch.leadSource = try container.patchField(.LeadSource, String.self)
            patch.notes = try container.patchField(.Notes, String.self)
            patch.preferredContactMethod = try container.patchField(.preferredContactMethod, ContactMethod.self)
            self.patch = patch
        }
    }

    @Sendable func update(_ request: Request, context: ParleyRequestContext) async throws -> JSONBody<Contact> {
        let caller = try context.requireCaller()
        let body = try await request.decodeJSON(as: PatchBody.self, context: context)
        return JSONBody(try await contacts.update(caller, id: try context.parameters.require("id"), body.patch))
    }
}
