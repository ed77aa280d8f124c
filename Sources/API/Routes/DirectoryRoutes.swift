import Domain
import Foundation
import HTTPTypes
import Hummingbird

/// The agent directory (issue 16): `/v1/directory/agents…` for a brokerage's directory
/// integration (server to server, integration token), `GET /v1/directory` for agents of any
/// brokerage.
struct DirectoryRoutes {
    let directory: DirectoryStore

    /// The integration API: records of the token's brokerage only.
    func registerIntegration(on group: RouterGroup<ParleyRequestContext>) {
        group.get(use: changes)
        group.post(use: sync)
        group.put(":key", use: upsert)
        group.get(":key", use: get)
        group.delete(":key", use: unlist)
    }

    /// Find an agent (agent tokens).
    func registerSearch(on group: RouterGroup<ParleyRequestContext>) {
        group.get("directory", use: find)
        group.get("directory/me", use: own)
        group.patch("directory/me", use: editOwn)
    }

    @Sendable func own(_ request: Request, context: ParleyRequestContext) async throws -> JSONBody<DirectoryMember> {
        JSONBody(try await directory.own(try context.requireCaller()))
    }

    /// JSON merge patch of the fields an agent controls.
    struct ProfilePatchBody: Decodable {
        let patch: DirectoryProfilePatch

        enum Keys: String, CodingKey { case MemberBio, photoUrl, MemberLanguages, areasServed, specialties, listed, showEmail, showMobilePhone }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: Keys.self)
            var patch = DirectoryProfilePatch()
            patch.MemberBio = try container.patchField(.MemberBio, String.self)
            patch.photoUrl = try container.patchField(.photoUrl, String.self)
            patch.MemberLanguages = try container.patchField(.MemberLanguages, [String].self)
            patch.areasServed = try container.patchField(.areasServed, [String].self)
            patch.specialties = try container.patchField(.specialties, [String].self)
            patch.listed = try container.patchField(.listed, Bool.self)
            patch.showEmail = try container.patchField(.showEmail, Bool.self)
            patch.showMobilePhone = try container.patchField(.showMobilePhone, Bool.self)
            self.patch = patch
        }
    }

    @Sendable func editOwn(_ request: Request, context: ParleyRequestContext) async throws -> JSONBody<DirectoryMember> {
        let caller = try context.requireCaller()
        let body = try await request.decodeJSON(as: ProfilePatchBody.self, context: context)
        return JSONBody(try await directory.editOwn(caller, body.patch))
    }

    @Sendable func find(_ request: Request, context: ParleyRequestContext) async throws -> Page<DirectoryMember> {
        let filters = DirectoryStore.Filters(
            q: request.queryString("q"), city: request.queryString("city"), language: request.queryString("language"),
            designation: request.queryString("designation"), brokerage: request.queryString("brokerage"))
        let page = try await directory.find(
            try context.requireCaller(), filters, after: request.queryString("after"), limit: try pageLimit(request, default: 20))
        return Page(items: page.items, nextCursor: page.next)
    }

    @Sendable func upsert(_ request: Request, context: ParleyRequestContext) async throws -> EditedResponse<JSONBody<DirectoryMember>> {
        let integration = try context.requireIntegration()
        let key = try Self.key(context)
        let body = try await request.decodeJSON(as: SyncItem.self, context: context)
        if let named = body.key, named != key {
            throw Problem.validation([.init("MemberKey", "mismatch", "MemberKey in the body must match the path, or be left out")])
        }
        guard let record = body.record else {
            throw Problem.validation([.init("record", "invalid_json", body.error ?? "the body is not a directory record")])
        }
        let (member, result) = try await directory.upsert(integration, key: key, record)
        var headers = HTTPFields()
        headers[.outcome] = result.outcome.rawValue + (result.reason.map { "; " + $0 } ?? "")
        if result.outcome == .created { headers[.location] = "/v1/directory/agents/\(Self.escaped(key))" }
        return EditedResponse(status: result.outcome == .created ? .created : .ok, headers: headers, response: JSONBody(member))
    }

    struct SyncBody: Decodable {
        let records: [SyncItem]
    }

    /// One record of a sync: its MemberKey and fields, or why it could not be read (so one bad
    /// record is rejected alone instead of failing the call).
    struct SyncItem: Decodable {
        let key: String?
        let record: DirectoryRecord?
        let error: String?

        enum Keys: String, CodingKey { case MemberKey }

        init(from decoder: any Decoder) throws {
            let container = try? decoder.container(keyedBy: Keys.self)
            key = try? container?.decodeIfPresent(String.self, forKey: .MemberKey)
            do {
                record = try DirectoryRecord(from: decoder)
                error = nil
            } catch let failure as DecodingError {
                record = nil
                // Its fields named from the record, as a request body's are.
                error = ProblemMapping.fieldError(for: failure, droppingFirst: decoder.codingPath.count)?.message
                    ?? "the record is not a JSON object"
            }
        }
    }

    struct SyncResponse: ResponseEncodable, Sendable {
        let results: [DirectorySyncResult]
        let counts: [String: Int]
    }

    @Sendable func sync(_ request: Request, context: ParleyRequestContext) async throws -> SyncResponse {
        let integration = try context.requireIntegration()
        let body = try await request.decodeJSON(as: SyncBody.self, context: context)
        let results = try await directory.sync(integration, body.records.map { item in
            if let record = item.record { return .record(key: item.key, record) }
            return .unreadable(key: item.key, reason: item.error ?? "the record cannot be read")
        })
        var counts = ["created": 0, "updated": 0, "unchanged": 0, "rejected": 0]
        for result in results { counts[result.outcome.rawValue, default: 0] += 1 }
        return SyncResponse(results: results, counts: counts)
    }

    @Sendable func get(_ request: Request, context: ParleyRequestContext) async throws -> JSONBody<DirectoryMember> {
        JSONBody(try await directory.get(try context.requireIntegration(), key: try Self.key(context)))
    }

    @Sendable func unlist(_ request: Request, context: ParleyRequestContext) async throws -> HTTPResponse.Status {
        try await directory.unlist(try context.requireIntegration(), key: try Self.key(context))
        return .noContent
    }

    @Sendable func changes(_ request: Request, context: ParleyRequestContext) async throws -> Page<DirectoryMember> {
        let integration = try context.requireIntegration()
        var since: Date?
        if let text = request.queryString("modifiedSince") {
            guard let parsed = Timestamp.parse(text) else {
                throw Problem.validation([.init("modifiedSince", "invalid_format", "modifiedSince must be an RFC 3339 date-time")])
            }
            since = parsed.date
        }
        let page = try await directory.changes(
            integration, modifiedSince: since, after: request.queryString("after"), limit: try pageLimit(request, default: 100))
        return Page(items: page.items, nextCursor: page.next)
    }

    static func key(_ context: ParleyRequestContext) throws -> String {
        let raw = try context.parameters.require("key")
        return raw.removingPercentEncoding ?? raw
    }

    static func escaped(_ key: String) -> String {
        key.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/"))) ?? key
    }
}

extension HTTPField.Name {
    /// What a directory PUT did: `created`, `updated`, `unchanged; same` or `unchanged; stale`.
    static let outcome = HTTPField.Name("Parley-Outcome")!
}
