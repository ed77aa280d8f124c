import Domain
import HTTPTypes
import Hummingbird

/// CORS for the public API: a browser request from an origin in the tenant's `allowedOrigins`
/// gets the Access-Control headers (also on errors); any other origin is refused with 403
/// `origin_not_allowed`. Requests without Origin (servers, curl) pass, and so do the pages
/// Parley serves itself (the widget at `/app/widget.html`): an Origin equal to Parley's public
/// origin (`PARLEY_PUBLIC_ORIGIN`) — or, when that is not configured, naming the host the request
/// was sent to — is same-origin, which a browser never forges (decision 0035).
struct PublicCORSMiddleware: RouterMiddleware {
    typealias Context = ParleyRequestContext
    let verifier: TokenVerifier
    let publicOrigin: String?

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let origin = request.headers[.origin] else { return try await next(request, context) }
        let tenant = try await PublicChatRequestRoutes.tenant(context, verifier)
        guard tenant.settings.allowedOrigins.contains(origin.lowercased()) || Self.sameOrigin(origin, request, publicOrigin: publicOrigin) else {
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

    /// The configured public origin exactly; without one, `Origin: http(s)://<the request's Host>`.
    /// (Configure it when a proxy rewrites `Host`, or to refuse DNS-rebound pages: a page of
    /// another name pointed at Parley's address sends that name as both Origin and Host.)
    static func sameOrigin(_ origin: String, _ request: Request, publicOrigin: String?) -> Bool {
        if let publicOrigin { return origin.lowercased() == publicOrigin }
        guard let authority = request.head.authority?.lowercased(), !authority.isEmpty else { return false }
        let origin = origin.lowercased()
        return origin == "http://" + authority || origin == "https://" + authority
    }
}
