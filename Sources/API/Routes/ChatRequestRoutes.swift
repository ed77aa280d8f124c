import Domain
import Foundation
import HTTPTypes
import Hummingbird
import Metrics

/// The agent's side of chat requests: `/v1/chat-requests`.
struct ChatRequestRoutes {
    let requests: ChatRequestStore

    func register(on group: RouterGroup<ParleyRequestContext>) {
        group.get("chat-requests", use: list)
        group.post("chat-requests", use: requestChat)
        group.get("chat-requests/sent", use: sent)
        group.get("chat-requests/blocks", use: blocks)
        group.post("chat-requests/blocks", use: block)
        group.delete("chat-requests/blocks/:id", use: unblock)
        group.get("chat-requests/:id", use: get)
        group.post("chat-requests/:id/accept", use: accept)
        group.post("chat-requests/:id/decline", use: decline)
        group.post("chat-requests/:id/convert-to-crm", use: convert)
    }

    @Sendable func list(_ request: Request, context: ParleyRequestContext) async throws -> Page<ChatRequest> {
        let caller = try context.requireCaller()
        let status = try Self.statusFilter(request)
        var source: ChatRequest.Source?
        if let text = request.uri.queryParameters["source"].map(String.init) {
            guard let parsed = ChatRequest.Source(rawValue: text) else {
                throw Problem.validation([.init("source", "invalid_value", "source is one of website, agent")])
            }
            source = parsed
        }
        let page = try await requests.list(
            caller, status: status, source: source, after: request.uri.queryParameters["after"].map(String.init), limit: try pageLimit(request))
        return Page(items: page.items, nextCursor: page.next)
    }

    /// `?status=`: one of the request statuses, or absent (422 `invalid_value` otherwise).
    static func statusFilter(_ request: Request) throws -> ChatRequest.Status? {
        guard let text = request.uri.queryParameters["status"].map(String.init) else { return nil }
        guard let status = ChatRequest.Status(rawValue: text) else {
            throw Problem.validation([.init("status", "invalid_value", "status is one of pending, accepted, declined, expired")])
        }
        return status
    }

    struct RequestChatBody: Decodable {
        let brokerage: String?
        let memberKey: String?
        let message: String?
        let property: Listing?
    }

    /// Request Chat: an agent asks a listed agent of any brokerage (from the directory).
    @Sendable func requestChat(_ request: Request, context: ParleyRequestContext) async throws -> EditedResponse<JSONBody<SentChatRequest>> {
        let caller = try context.requireCaller()
        let body = try await request.decodeJSON(as: RequestChatBody.self, context: context)
        let (sent, created) = try await requests.requestChat(
            caller, .init(brokerage: body.brokerage, memberKey: body.memberKey, message: body.message, property: body.property))
        return createdOrFound(sent, created: created, location: "/v1/chat-requests/sent?status=pending")
    }

    @Sendable func sent(_ request: Request, context: ParleyRequestContext) async throws -> Page<SentChatRequest> {
        let caller = try context.requireCaller()
        let status = try Self.statusFilter(request)
        let page = try await requests.sent(
            caller, status: status, after: request.uri.queryParameters["after"].map(String.init), limit: try pageLimit(request))
        return Page(items: page.items, nextCursor: page.next)
    }

    struct Blocks: ResponseEncodable {
        let items: [AgentBlock]
    }

    @Sendable func blocks(_ request: Request, context: ParleyRequestContext) async throws -> Blocks {
        Blocks(items: try await requests.blocks(try context.requireCaller()))
    }

    struct BlockBody: Decodable {
        let brokerage: String?
        let memberKey: String?
    }

    @Sendable func block(_ request: Request, context: ParleyRequestContext) async throws -> EditedResponse<JSONBody<AgentBlock>> {
        let caller = try context.requireCaller()
        let body = try await request.decodeJSON(as: BlockBody.self, context: context)
        let (block, created) = try await requests.block(caller, brokerage: body.brokerage, memberKey: body.memberKey)
        return createdOrFound(block, created: created, location: "/v1/chat-requests/blocks/\(block.id)")
    }

    @Sendable func unblock(_ request: Request, context: ParleyRequestContext) async throws -> HTTPResponse.Status {
        try await requests.unblock(try context.requireCaller(), id: try context.parameters.require("id"))
        return .noContent
    }

    @Sendable func get(_ request: Request, context: ParleyRequestContext) async throws -> JSONBody<ChatRequest> {
        JSONBody(try await requests.get(try context.requireCaller(), id: try context.parameters.require("id")))
    }

    struct Accepted: ResponseEncodable {
        let request: ChatRequest
        let session: Session
    }

    @Sendable func accept(_ request: Request, context: ParleyRequestContext) async throws -> Accepted {
        let (accepted, session) = try await requests.accept(try context.requireCaller(), id: try context.parameters.require("id"))
        return Accepted(request: accepted, session: session)
    }

    struct DeclineBody: Decodable {
        let notes: String?
    }

    @Sendable func decline(_ request: Request, context: ParleyRequestContext) async throws -> JSONBody<ChatRequest> {
        let caller = try context.requireCaller()
        let buffer = try await request.body.collect(upTo: context.maxUploadSize)
        let body = buffer.readableBytes == 0 ? DeclineBody(notes: nil) : try JSONDecoder().decode(DeclineBody.self, from: Data(buffer: buffer))
        return JSONBody(try await requests.decline(caller, id: try context.parameters.require("id"), notes: body.notes))
    }

    @Sendable func convert(_ request: Request, context: ParleyRequestContext) async throws -> EditedResponse<JSONBody<Contact>> {
        let (contact, created) = try await requests.convertToContact(try context.requireCaller(), id: try context.parameters.require("id"))
        return createdOrFound(contact, created: created, location: "/v1/contacts/\(contact.ContactKey)")
    }
}
