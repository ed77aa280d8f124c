import HTTPTypes
import Hummingbird

/// Echoes the request id (Hummingbird's, in the logger metadata) as `X-Request-Id`.
struct RequestIDHeaderMiddleware: RouterMiddleware {
    typealias Context = ParleyRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        response.headers[.requestID] = context.id
        return response
    }
}

extension HTTPField.Name {
    static let requestID = Self("X-Request-Id")!
}
