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
        group.get("chat-requests/:id", use: get)
        group.post("chat-requests/:id/accept", use: accept)
        group.post("chat-requests/:id/decline", use: decline)
        group.post("chat-requests/:id/convert-to-crm", use: convert)
    }

    @Sendable func list(_ request: Request, context: ParleyRequestContext) async throws -> Page<ChatRequest> {
        let caller = try context.requireCaller()
        var status: ChatRequest.Status?
        if let text = request.uri.queryParameters["status"].map(String.init) {
            guard let parsed = ChatRequest.Status(rawValue: text) else {
                throw Problem.validation([.init("status", "invalid_value", "status is one of pending, accepted, declined, expired")])
            }
            status = parsed
        }
        let page = try await requests.list(
            caller, status: status, after: request.uri.queryParameters["after"].map(String.init), limit: try pageLimit(request))
        return Page(items: page.items, nextCursor: page.next)
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

/// The public side: what an agent's website calls, without a login.
/// `POST /v1/public/{tenant}/chat-requests`, and with the visitor token
/// `GET /v1/public/{tenant}/chat-requests/{id}`. CORS per tenant (`allowedOrigins`).
struct PublicChatRequestRoutes {
    let requests: ChatRequestStore
    let tenants: TenantStore
    let verifier: TokenVerifier
    let trustedProxyHops: Int
    let limiter = RateLimiter()
    let honeypotCounter = Counter(label: "parley_chat_requests_honeypot_total")
    let rateLimitedCounter = Counter(label: "parley_chat_requests_rate_limited_total")

    /// How long a visitor token works (the visitor keeps chatting after acceptance).
    static let visitorTokenTTL: Duration = .seconds(30 * 24 * 3600)

    func register(on group: RouterGroup<ParleyRequestContext>) {
        let cors = PublicCORSMiddleware(verifier: verifier)
        let routes = group.group(":tenant/chat-requests").add(middleware: cors)
        routes.post(use: submit)
        routes.get(":id", use: visitorView)
        routes.on("", method: .options) { _, _ in Response(status: .noContent) }
        routes.on(":id", method: .options) { _, _ in Response(status: .noContent) }
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
        if let wait = limiter.take("ip|\(tenant.slug)|\(ip)", perHour: tenant.settings.chatRequestsPerIPPerHour)
            ?? limiter.take("tenant|\(tenant.slug)", perHour: tenant.settings.chatRequestsPerHour)
        {
            rateLimitedCounter.increment()
            throw DomainError.rateLimited(code: "rate_limited", message: "too many chat requests; retry later", retryAfter: wait)
        }
        let body = try await request.decodeJSON(as: SubmitBody.self, context: context)
        if let trap = body.website, !trap.isEmpty {
            // Looks accepted; nothing is stored.
            honeypotCounter.increment()
            let now = Date()
            let id = UUID().uuidString.lowercased()
            var headers = HTTPFields()
            headers[.location] = "/v1/public/\(tenant.slug)/chat-requests/\(id)"
            // Shaped like a real answer (a three-part token that verifies nowhere).
            let fake = (0..<3).map { _ in Base64URL.encode((0..<24).map { _ in UInt8.random(in: 0...255) }) }.joined(separator: ".")
            return EditedResponse(status: .created, headers: headers, response: Submitted(
                id: id, status: .pending, createdAt: now,
                expiresAt: now.addingTimeInterval(Double(tenant.settings.chatRequestTTLHours) * 3600), visitorToken: fake))
        }
        let submission = ChatRequestSubmission(
            agentId: body.agentId, name: body.name, email: body.email, phone: body.phone, message: body.message,
            property: body.property, preferredContactMethod: body.preferredContactMethod)
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

    @Sendable func visitorView(_ request: Request, context: ParleyRequestContext) async throws -> JSONBody<VisitorChatRequest> {
        let tenant = try await Self.tenant(context, verifier)
        guard let token = bearerToken(request) else {
            throw Problem.unauthorized(code: "missing_token", detail: "send the visitor token as Authorization: Bearer <token>")
        }
        let caller = try await verifier.verify(token)
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

/// CORS for the public API: a browser request from an origin in the tenant's `allowedOrigins`
/// gets the Access-Control headers (also on errors); any other origin is refused with 403
/// `origin_not_allowed`. Requests without Origin (servers, curl) pass.
struct PublicCORSMiddleware: RouterMiddleware {
    typealias Context = ParleyRequestContext
    let verifier: TokenVerifier

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let origin = request.headers[.origin] else { return try await next(request, context) }
        let tenant = try await PublicChatRequestRoutes.tenant(context, verifier)
        guard tenant.settings.allowedOrigins.contains(origin.lowercased()) else {
            throw Problem(.forbidden, code: "origin_not_allowed", detail: "this site is not allowed to send chat requests to this brokerage")
        }
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            let problem = ProblemMapping.problem(for: error)
            if problem.status.code >= 500 {
                context.logger.error("request failed", metadata: ["code": "\(problem.code)", "error": "\(String(reflecting: error))"])
            }
            response = problem.response(requestID: context.id, instance: request.uri.path)
        }
        response.headers[.accessControlAllowOrigin] = origin
        response.headers[.vary] = "Origin"
        response.headers[.accessControlExposeHeaders] = "Retry-After, X-Request-Id, Location"
        if request.method == .options {
            response.headers[.accessControlAllowMethods] = "GET, POST, OPTIONS"
            response.headers[.accessControlAllowHeaders] = "Content-Type, Authorization"
            response.headers[.accessControlMaxAge] = "600"
        }
        return response
    }
}

/// Which address a request comes from, for per-IP limits.
public enum ClientIP {
    /// The client's address: the TCP peer, or with `trustedHops` proxies in front, the entry of
    /// `X-Forwarded-For` that the outermost trusted proxy saw (counted from the right, since
    /// each proxy appends; anything further left was written by the client and is not trusted).
    public static func resolve(forwardedFor: [String], peer: String?, trustedHops: Int) -> String {
        guard trustedHops > 0 else { return peer ?? "unknown" }
        let hops = forwardedFor.flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !hops.isEmpty else { return peer ?? "unknown" }
        return hops[max(0, hops.count - trustedHops)]
    }
}
