import Domain
import Foundation
import HTTPTypes
import Hummingbird

/// Requires a user token (`Authorization: Bearer <JWT>`) and puts the caller in the context.
struct UserAuthMiddleware: RouterMiddleware {
    typealias Context = ParleyRequestContext
    let verifier: TokenVerifier
    let users: UserDirectory

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let token = bearerToken(request) else {
            throw Problem.unauthorized(code: "missing_token", detail: "send Authorization: Bearer <token>")
        }
        var context = context
        let caller = try await verifier.verify(token)
        context.caller = caller
        await users.record(caller)
        context.logger[metadataKey: "tenant"] = "\(caller.tenant.slug)"
        context.logger[metadataKey: "user"] = "\(caller.userID)"
        return try await next(request, context)
    }
}
