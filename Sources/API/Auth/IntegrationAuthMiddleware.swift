import Domain
import Hummingbird

/// Requires a directory integration's token (`role: integration`, signed with one of the
/// brokerage's keys, like user tokens) and puts the integration in the context.
struct IntegrationAuthMiddleware: RouterMiddleware {
    typealias Context = ParleyRequestContext
    let verifier: TokenVerifier

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let token = bearerToken(request) else {
            throw Problem.unauthorized(code: "missing_token", detail: "send Authorization: Bearer <integration token>")
        }
        var context = context
        let integration = try await verifier.verifyIntegration(token)
        context.integration = integration
        context.logger[metadataKey: "tenant"] = "\(integration.tenant.slug)"
        context.logger[metadataKey: "integration"] = "\(integration.name)"
        return try await next(request, context)
    }
}
