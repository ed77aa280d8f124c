import Domain
import Foundation
import HTTPTypes
import Hummingbird
import Metrics

/// The public side: what an agent's website calls, without a login.
/// `POST /v1/public/{tenant}/chat-requests`, and with the visitor token
/// `GET /v1/public/{tenant}/chat-requests/{id}`. CORS per tenant (`allowedOrigins`).
struct PublicChatRequestRoutes {
    let requests: ChatRequestStore
    let tenants: TenantStore
    let verifier: TokenVerifier
    let trustedProxyHops: Int
    /// Parley's own public origin (`PARLEY_PUBLIC_ORIGIN`), for the same-origin rule of CORS.
    let publicOrigin: String?
    let limiter = RateLimiter()
    let honeypotCounter = Counter(label: "parley_chat_requests_honeypot_total")
    let rateLimitedCounter = Counter(label: "parley_chat_requests_rate_limited_total")

    /// How long a visitor token works (the visitor keeps chatting after acceptance).
    static let visitorTokenTTL: Duration = .seconds(30 * 24 * 3600)

    func register(on group: RouterGroup<ParleyRequestContext>) {
        let cors = PublicCORSMiddleware(verifier: verifier, publicOrigin: publicOrigin)
        let routes = group.group(":tenant/chat-requests").add(middleware: cors)
        routes.post(use: submit)
        routes.get(":id", use: visitorView)
        // Preflight: 204 for a brokerage that exists (answered from the verifier's directory and
        // cache, no database work for a made-up one), 404 `tenant_not_found` otherwise.
        routes.on("", method: .options, use: preflight)
        routes.on(":id", method: .options, use: preflight)
    }

    @Sendable func preflight(_ request: Request, context: ParleyRequestContext) async throws -> Response {
        _ = try await Self.tenant(context, verifier)
        return Response(status: .noContent)
    }

    struct SubmitBody: Decodable {
        let agentId: String?
        let name: String?
        let email: String?
        let phone: String?
        let message: String?
        let property: Listing?
        let preferredContactMethod: String?
        /// The honeypot: a form field humans never see or fill.
        let website: String?
    }

    struct Submitted: ResponseEncodable {
        let id: String
        let status: ChatRequest.Status
        let createdAt: Date
        let expiresAt: Date
        /// A bearer token for this request's visitor: status now, the chat once accepted. Only
        /// on the submission that created the request: a duplicate gets none, so knowing someone's
        /// email never yields a token for their chat.
        let visitorToken: String?
    }

    @Sendable func submit(_ request: Request, context: ParleyRequestContext) async throws -> EditedResponse<Submitted> {
        let tenant = try await Self.tenant(context, verifier)
        let ip = ClientIP.resolve(
            forwardedFor: request.headers[values: .init("X-Forwarded-For")!], peer: context.remoteAddress?.ipAddress, trustedHops: trustedProxyHops)
        // Every submission counts against its address (an IPv6 client by its /64); only a
        // well-formed one counts against the brokerage, so junk cannot use up the brokerage's
        // limit for genuine visitors (docs/CHAT_REQUESTS.md).
        if let wait = limiter.take("ip|\(tenant.slug)|\(ClientIP.limitKey(ip))", perHour: tenant.settings.chatRequestsPerIPPerHour) {
            throw rateLimited(wait)
        }
        let body = try await request.decodeJSON(as: SubmitBody.self, context: context)
        let submission = ChatRequestSubmission(
            agentId: body.agentId, name: body.name, email: body.email, phone: body.phone, message: body.message,
            property: body.property, preferredContactMethod: body.preferredContactMethod)
        // Checked before the honeypot: a trapped submission is refused as a real one would be,
        // so that refusals do not tell a bot it was trapped.
        try ChatRequestStore.validate(submission, settings: tenant.settings)
        if let trap = body.website, !trap.isEmpty {
            // Looks accepted; nothing is stored.
            honeypotCounter.increment()
            let now = Date()
            let id = UUID().uuidString.lowercased()
            var headers = HTTPFields()
            headers[.location] = "/v1/public/\(tenant.slug)/chat-requests/\(id)"
            // Shaped like a real answer: three parts that verify nowhere. Not a real token's
            // header and claims signed with a key thrown away: a token naming the brokerage
            // with a bad signature makes the verifier reload keys (it may be a new key), and a
            // bot polling with it would spend the reloads every brokerage shares.
            let fake = (0..<3).map { _ in Base64URL.encode((0..<24).map { _ in UInt8.random(in: 0...255) }) }.joined(separator: ".")
            return EditedResponse(status: .created, headers: headers, response: Submitted(
                id: id, status: .pending, createdAt: now,
                expiresAt: now.addingTimeInterval(Double(tenant.settings.chatRequestTTLHours) * 3600), visitorToken: fake))
        }
        if let wait = limiter.take("tenant|\(tenant.slug)", perHour: tenant.settings.chatRequestsPerHour) {
            throw rateLimited(wait)
        }
        let (stored, visitorID, created) = try await requests.submit(tenant, submission, origin: request.headers[.origin])
        var token: String?
        if created {
            guard let key = try await tenants.activeKeys(tenant).first else {
                throw Problem(.internalServerError, code: "internal_error", detail: "the brokerage has no signing key")
            }
            token = try await TokenIssuer.sign(
                tenant: tenant.slug, key: key, sub: visitorID, role: .client, name: stored.name, ttl: Self.visitorTokenTTL)
        }
        var headers = HTTPFields()
        headers[.location] = "/v1/public/\(tenant.slug)/chat-requests/\(stored.id)"
        return EditedResponse(status: created ? .created : .ok, headers: headers, response: Submitted(
            id: stored.id, status: stored.status, createdAt: stored.createdAt, expiresAt: stored.expiresAt, visitorToken: token))
    }

    private func rateLimited(_ wait: Int) -> DomainError {
        rateLimitedCounter.increment()
        return DomainError.rateLimited(code: "rate_limited", message: "too many chat requests; retry later", retryAfter: wait)
    }

    @Sendable func visitorView(_ request: Request, context: ParleyRequestContext) async throws -> JSONBody<VisitorChatRequest> {
        let tenant = try await Self.tenant(context, verifier)
        guard let token = bearerToken(request) else {
            throw Problem.unauthorized(code: "missing_token", detail: "send the visitor token as Authorization: Bearer <token>")
        }
        let caller = try await verifier.verify(token, visitorPolling: true)
        guard caller.tenant.slug == tenant.slug else {
            throw Problem.unauthorized(code: "invalid_token", detail: "the token belongs to another brokerage")
        }
        return JSONBody(try await requests.visitorView(tenant, visitorID: caller.userID, id: try context.parameters.require("id")))
    }

    static func tenant(_ context: ParleyRequestContext, _ verifier: TokenVerifier) async throws -> Tenant {
        guard let slug = TenantSlug(try context.parameters.require("tenant")), let tenant = try await verifier.tenant(slug) else {
            throw Problem.notFound(code: "tenant_not_found", detail: "no brokerage with that name")
        }
        return tenant
    }
}
