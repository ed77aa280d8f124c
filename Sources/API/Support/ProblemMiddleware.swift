import Database
import Domain
import Foundation
import HTTPTypes
import Hummingbird
import Logging

/// Turns every error thrown below it into a problem+json response, and logs server-side
/// failures with the request id. Nothing from SQL or a stack reaches the client.
struct ProblemMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            let problem = ProblemMapping.problem(for: error)
            if error is CancellationError {
                // Shutdown cancelled a request that outlived its grace (docs/decisions/0014).
                context.logger.notice("request cancelled by shutdown")
            } else if problem.status.code >= 500 {
                context.logger.error("request failed", metadata: [
                    "status": "\(problem.status.code)", "code": "\(problem.code)", "error": "\(String(reflecting: error))",
                ])
            } else {
                context.logger.debug("request refused", metadata: ["status": "\(problem.status.code)", "code": "\(problem.code)"])
            }
            return problem.response(requestID: context.id, instance: request.uri.path)
        }
    }

}

enum ProblemMapping {
    static func problem(for error: any Error) -> Problem {
        switch error {
        case let problem as Problem:
            return problem
        case let error as DomainError:
            return problem(for: error)
        case let error as DatabaseError:
            return problem(for: error)
        case let error as DecodingError:
            return problem(for: error)
        case let error as any HTTPResponseError:
            return problem(forStatus: error.status)
        case let error as StreamLimitReached:
            return problem(for: error)
        case is CancellationError:
            return .shuttingDown
        default:
            return Problem(.internalServerError, code: "internal_error", detail: "the server failed to handle this request")
        }
    }

    static func problem(for error: DomainError) -> Problem {
        switch error {
        case .validation(let errors): .validation(errors)
        case .notFound(let code, let message): Problem(.notFound, code: code, detail: message)
        case .conflict(let code, let message): Problem(.conflict, code: code, detail: message)
        case .forbidden(let code, let message): Problem(.forbidden, code: code, detail: message)
        case .tooLarge(let code, let message): Problem(.contentTooLarge, code: code, detail: message)
        case .quotaExceeded(let code, let message): Problem(HTTPResponse.Status(code: 507, reasonPhrase: "Insufficient Storage"), code: code, detail: message)
        case .unsupportedMediaType(let code, let message): Problem(.unsupportedMediaType, code: code, detail: message)
        case .rateLimited(let code, let message, let retryAfter):
            Problem(.tooManyRequests, code: code, detail: message, headers: [.retryAfter: String(retryAfter)])
        }
    }

    static func problem(for limit: StreamLimitReached) -> Problem {
        var retry = HTTPFields()
        switch limit {
        case .process:
            retry[.retryAfter] = "5"
            return Problem(.serviceUnavailable, code: "server_busy", detail: "this server has as many live streams as it takes; retry shortly or elsewhere", headers: retry)
        case .user:
            retry[.retryAfter] = "30"
            return Problem(.tooManyRequests, code: "too_many_streams", detail: "you have as many live streams open as allowed; close one first", headers: retry)
        }
    }

    /// The one place database failures become HTTP statuses (docs/ERROR_CODES.md). The
    /// server's message never reaches the client.
    static func problem(for error: DatabaseError) -> Problem {
        var retry = HTTPFields()
        retry[.retryAfter] = "1"
        switch error {
        case .poolTimeout:
            return Problem(.serviceUnavailable, code: "database_busy", detail: "all database connections are busy; retry shortly", headers: retry)
        case .unavailable:
            return Problem(.serviceUnavailable, code: "database_unavailable", detail: "the database is unavailable; retry shortly", headers: retry)
        case .closed:
            return .shuttingDown
        case .conflict:
            return Problem(.conflict, code: "conflict", detail: "the request conflicts with existing data")
        case .reference:
            return Problem(.conflict, code: "conflict", detail: "the request refers to something that does not exist or is still in use")
        case .invalid:
            return Problem(.unprocessableContent, code: "invalid_value", detail: "a value in the request is not acceptable")
        case .contention:
            return Problem(.serviceUnavailable, code: "contention", detail: "the request collided with a concurrent one; retry it", headers: retry)
        case .timeout:
            return Problem(.serviceUnavailable, code: "timeout", detail: "the request took too long", headers: retry)
        case .undecodable, .rolledBack, .failed:
            return Problem(.internalServerError, code: "internal_error", detail: "the server failed to handle this request")
        }
    }

    /// A body that is not JSON is 400; JSON of the wrong shape names the field (422).
    static func problem(for error: DecodingError) -> Problem {
        if let field = fieldError(for: error) { return .validation([field]) }
        switch error {
        case .dataCorrupted: return .badRequest(code: "malformed_json", detail: "the body is not valid JSON")
        case .typeMismatch, .valueNotFound, .keyNotFound: return .badRequest(code: "malformed_json", detail: "the body must be a JSON object")
        @unknown default: return .badRequest(code: "malformed_json", detail: "the body could not be read")
        }
    }

    /// The field a decoding error is about, in the API's words (the decoder's own name Swift
    /// types), its path from `depth` components down (a directory sync's record is decoded at
    /// `records.<i>`); nil when it is about the whole value.
    static func fieldError(for error: DecodingError, droppingFirst depth: Int = 0) -> FieldError? {
        func path(_ context: DecodingError.Context) -> String {
            context.codingPath.dropFirst(depth).map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
        }
        switch error {
        case .keyNotFound(let key, let context):
            let field = (path(context).isEmpty ? "" : path(context) + ".") + key.stringValue
            return FieldError(field, "required", "\(field) is required")
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            let field = path(context)
            return field.isEmpty ? nil : FieldError(field, "invalid_type", "\(field) has the wrong type")
        case .dataCorrupted(let context):
            let field = path(context)
            return field.isEmpty ? nil : FieldError(field, "invalid_value", "\(field) is not a valid value")
        @unknown default:
            return nil
        }
    }
}

extension ProblemMapping {
    static func problem(forStatus status: HTTPResponse.Status) -> Problem {
        switch status {
        case .notFound: Problem(.notFound, code: "not_found", detail: "no such resource")
        case .methodNotAllowed: Problem(.methodNotAllowed, code: "method_not_allowed", detail: "this method is not allowed here")
        case .contentTooLarge: Problem(.contentTooLarge, code: "payload_too_large", detail: "the request body is too large")
        case .unsupportedMediaType: Problem(.unsupportedMediaType, code: "unsupported_media_type", detail: "send application/json")
        case .badRequest: Problem(.badRequest, code: "bad_request", detail: "the request could not be understood")
        case .unauthorized: Problem.unauthorized(code: "invalid_token", detail: "the token is not valid")
        default:
            status.code >= 500
                ? Problem(.internalServerError, code: "internal_error", detail: "the server failed to handle this request")
                : Problem(status, code: "bad_request", detail: status.reasonPhrase)
        }
    }
}
