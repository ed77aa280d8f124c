import Domain
import Foundation
import Hummingbird

/// /v1/sessions: chat sessions, their messages and read receipts.
struct SessionRoutes {
    let sessions: SessionStore

    func register(on group: RouterGroup<ParleyRequestContext>) {
        group.post("sessions", use: create)
        group.get("sessions", use: list)
        group.get("sessions/:id", use: get)
        for transition in [SessionStore.Transition.close, .archive, .reopen] {
            group.post("sessions/:id/\(transition.rawValue)") { request, context in
                let caller = try context.requireCaller()
                return JSONBody(try await sessions.transition(caller, id: try context.parameters.require("id"), transition))
            }
        }
        group.post("sessions/:id/messages", use: send)
        group.get("sessions/:id/messages", use: history)
        group.post("sessions/:id/read", use: read)
        group.post("sessions/:id/unread", use: unread)
    }

    struct CreateBody: Decodable {
        struct Client: Decodable {
            let userId: String?
            let name: String?
            let email: String?
            let phone: String?
            let contactId: String?
        }

        struct Agent: Decodable {
            let userId: String?
            let name: String?
        }

        let client: Client?
        let agent: Agent?
    }

    @Sendable func create(_ request: Request, context: ParleyRequestContext) async throws -> EditedResponse<JSONBody<Session>> {
        let caller = try context.requireCaller()
        let body = try await request.decodeJSON(as: CreateBody.self, context: context)
        let counterpart: SessionStore.Counterpart
        switch (body.client, body.agent) {
        case (let client?, nil):
            if let contactId = client.contactId {
                counterpart = .contact(id: contactId, userID: client.userId)
            } else {
                counterpart = .newClient(userID: client.userId ?? "", name: client.name ?? "", email: client.email, phone: client.phone)
            }
        case (nil, let agent?):
            counterpart = .agent(userID: agent.userId ?? "", name: agent.name ?? "")
        default:
            throw Problem.validation([.init("client", "required", "give exactly one of client or agent")])
        }
        let (session, created) = try await sessions.create(caller, with: counterpart)
        return createdOrFound(session, created: created, location: "/v1/sessions/\(session.id)")
    }

    @Sendable func list(_ request: Request, context: ParleyRequestContext) async throws -> Page<Session> {
        let caller = try context.requireCaller()
        let page = try await sessions.list(
            caller, status: try request.queryEnum("status", as: Session.Status.self) ?? .active,
            kind: try request.queryEnum("kind", as: Session.Kind.self), after: request.queryString("after"),
            limit: try pageLimit(request))
        return Page(items: page.items, nextCursor: page.next)
    }

    @Sendable func get(_ request: Request, context: ParleyRequestContext) async throws -> JSONBody<Session> {
        JSONBody(try await sessions.get(try context.requireCaller(), id: try context.parameters.require("id")))
    }

    struct SendBody: Decodable {
        let clientMessageId: String?
        let text: String?
        let listing: Listing?
        let attachmentIds: [String]?
    }

    @Sendable func send(_ request: Request, context: ParleyRequestContext) async throws -> EditedResponse<JSONBody<Message>> {
        let caller = try context.requireCaller()
        let body = try await request.decodeJSON(as: SendBody.self, context: context)
        let draft = SessionStore.Draft(
            clientMessageId: body.clientMessageId ?? "", text: body.text ?? "", listing: body.listing,
            attachmentIds: body.attachmentIds ?? [])
        let (message, created) = try await sessions.send(caller, sessionID: try context.parameters.require("id"), draft)
        return createdOrFound(message, created: created)
    }

    @Sendable func history(_ request: Request, context: ParleyRequestContext) async throws -> Page<Message> {
        let caller = try context.requireCaller()
        let before = try request.queryInt("before", range: 1...Int64.max)
        let after = try request.queryInt("after", range: 0...Int64.max)
        let cursor: SessionStore.HistoryCursor
        switch (before, after) {
        case (nil, nil): cursor = .latest
        case (let before?, nil): cursor = .before(before)
        case (nil, let after?): cursor = .after(after)
        default: throw Problem.validation([.init("before", "invalid_value", "give before or after, not both")])
        }
        let page = try await sessions.history(caller, sessionID: try context.parameters.require("id"), cursor, limit: try pageLimit(request))
        return Page(items: page.items, nextCursor: page.next.map(String.init))
    }

    struct ReadBody: Decodable {
        let upTo: Int64?
    }

    @Sendable func read(_ request: Request, context: ParleyRequestContext) async throws -> JSONBody<SessionStore.ReadState> {
        let caller = try context.requireCaller()
        let body = try await request.decodeJSON(as: ReadBody.self, context: context)
        guard let upTo = body.upTo else { throw Problem.validation([.init("upTo", "required", "upTo is required")]) }
        return JSONBody(try await sessions.markRead(caller, sessionID: try context.parameters.require("id"), upTo: upTo))
    }

    @Sendable func unread(_ request: Request, context: ParleyRequestContext) async throws -> JSONBody<SessionStore.ReadState> {
        JSONBody(try await sessions.markUnread(try context.requireCaller(), sessionID: try context.parameters.require("id")))
    }
}
