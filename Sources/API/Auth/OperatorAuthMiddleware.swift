import Hummingbird

/// Requires the operator key (`Authorization: Bearer <PARLEY_OPERATOR_KEY>`).
struct OperatorAuthMiddleware: RouterMiddleware {
    typealias Context = ParleyRequestContext
    let operatorKey: String?

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let operatorKey, !operatorKey.isEmpty else {
            throw Problem(.forbidden, code: "operator_api_disabled", detail: "set PARLEY_OPERATOR_KEY to enable the operator API")
        }
        guard let token = bearerToken(request) else {
            throw Problem.unauthorized(code: "missing_token", detail: "send Authorization: Bearer <operator key>")
        }
        guard constantTimeEqual(Array(token.utf8), Array(operatorKey.utf8)) else {
            throw Problem.unauthorized(code: "invalid_operator_key", detail: "the operator key is not valid")
        }
        return try await next(request, context)
    }
}

/// Compares without an early exit, so timing does not reveal how much of a key was right.
func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    guard a.count == b.count else { return false }
    var difference: UInt8 = 0
    for index in a.indices { difference |= a[index] ^ b[index] }
    return difference == 0
}
