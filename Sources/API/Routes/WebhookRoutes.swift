import Domain
import Foundation
import HTTPTypes
import Hummingbird

/// A brokerage's webhook endpoints (issue 19; docs/WEBHOOKS.md): managed by its integrations
/// (`/v1/webhooks/endpoints`, integration token) and by the operator
/// (`/v1/tenants/{slug}/webhooks/endpoints`, operator key). Both sides share these handlers and
/// differ only in how they name the brokerage.
struct WebhookRoutes {
    let webhooks: WebhookStore
    /// The brokerage the request acts on.
    let brokerage: @Sendable (Request, ParleyRequestContext) async throws -> Tenant
    /// The path of the endpoints collection, for `Location`.
    let collection: @Sendable (Tenant) -> String

    func register(on group: RouterGroup<ParleyRequestContext>) {
        group.post(use: create)
        group.get(use: list)
        group.get(":id", use: get)
        group.patch(":id", use: update)
        group.delete(":id", use: delete)
        group.get(":id/secret", use: secrets)
        group.post(":id/rotate-secret", use: rotate)
        group.get(":id/deliveries", use: deliveries)
        group.get(":id/deliveries/:delivery", use: delivery)
        group.post(":id/deliveries/:delivery/redeliver", use: redeliver)
    }

    struct Body: Decodable {
        let url: String?
        let eventTypes: [String]?
        let description: String?
        let enabled: Bool?

        var draft: WebhookEndpointDraft {
            WebhookEndpointDraft(url: url, eventTypes: eventTypes, description: description, enabled: enabled)
        }
    }

    /// The new endpoint with its secret (shown here, and by `GET …/secret`).
    struct Created: Encodable, Sendable {
        let endpoint: WebhookEndpoint
        let secret: String

        enum Keys: String, CodingKey { case secret }

        func encode(to encoder: any Encoder) throws {
            try endpoint.encode(to: encoder)
            var container = encoder.container(keyedBy: Keys.self)
            try container.encode(secret, forKey: .secret)
        }
    }

    @Sendable func create(_ request: Request, context: ParleyRequestContext) async throws -> EditedResponse<JSONBody<Created>> {
        let tenant = try await brokerage(request, context)
        let body = try await request.decodeJSON(as: Body.self, context: context)
        let (endpoint, secrets) = try await webhooks.create(tenant, body.draft)
        return createdOrFound(
            Created(endpoint: endpoint, secret: secrets.secret), created: true, location: collection(tenant) + "/" + endpoint.id)
    }

    @Sendable func list(_ request: Request, context: ParleyRequestContext) async throws -> Page<WebhookEndpoint> {
        // At most WebhookStore.maxEndpoints: one page.
        Page(items: try await webhooks.list(try await brokerage(request, context)), nextCursor: nil)
    }

    @Sendable func get(_ request: Request, context: ParleyRequestContext) async throws -> JSONBody<WebhookEndpoint> {
        JSONBody(try await webhooks.get(try await brokerage(request, context), id: try context.parameters.require("id")))
    }

    @Sendable func update(_ request: Request, context: ParleyRequestContext) async throws -> JSONBody<WebhookEndpoint> {
        let tenant = try await brokerage(request, context)
        let body = try await request.decodeJSON(as: Body.self, context: context)
        return JSONBody(try await webhooks.update(tenant, id: try context.parameters.require("id"), body.draft))
    }

    @Sendable func delete(_ request: Request, context: ParleyRequestContext) async throws -> HTTPResponse.Status {
        try await webhooks.delete(try await brokerage(request, context), id: try context.parameters.require("id"))
        return .noContent
    }

    @Sendable func secrets(_ request: Request, context: ParleyRequestContext) async throws -> JSONBody<WebhookSecrets> {
        JSONBody(try await webhooks.secrets(try await brokerage(request, context), id: try context.parameters.require("id")))
    }

    /// `?overlapSeconds=` (default a day): how long the old secret keeps signing beside the new.
    @Sendable func rotate(_ request: Request, context: ParleyRequestContext) async throws -> JSONBody<WebhookSecrets> {
        let tenant = try await brokerage(request, context)
        let overlap = try request.queryInt("overlapSeconds", range: 0...604_800).map(TimeInterval.init) ?? WebhookStore.rotationOverlap
        return JSONBody(try await webhooks.rotate(tenant, id: try context.parameters.require("id"), overlap: overlap))
    }

    /// The delivery log, newest first: `?status=pending|succeeded|failed`, `after`, `limit`.
    @Sendable func deliveries(_ request: Request, context: ParleyRequestContext) async throws -> Page<WebhookDelivery> {
        let tenant = try await brokerage(request, context)
        let page = try await webhooks.deliveries(
            tenant, endpoint: try context.parameters.require("id"), status: request.queryString("status"),
            after: request.queryString("after"), limit: try pageLimit(request))
        return Page(items: page.items, nextCursor: page.next)
    }

    /// One delivery: its body and every attempt.
    @Sendable func delivery(_ request: Request, context: ParleyRequestContext) async throws -> JSONBody<WebhookDelivery> {
        let tenant = try await brokerage(request, context)
        return JSONBody(try await webhooks.delivery(
            tenant, endpoint: try context.parameters.require("id"), id: try context.parameters.require("delivery")))
    }

    /// Sends a delivery again now (202: queued), with the same `webhook-id`.
    @Sendable func redeliver(_ request: Request, context: ParleyRequestContext) async throws -> EditedResponse<JSONBody<WebhookDelivery>> {
        let tenant = try await brokerage(request, context)
        let delivery = try await webhooks.redeliver(
            tenant, endpoint: try context.parameters.require("id"), id: try context.parameters.require("delivery"))
        return EditedResponse(status: .accepted, response: JSONBody(delivery))
    }
}
