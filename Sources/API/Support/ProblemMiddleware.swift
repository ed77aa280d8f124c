import Database
import Domain
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import PQ

/// Turns every error thrown below it into a problem+json response, and logs server-side
/// failures with the request id. Nothing from SQL or a stack reaches the client.
struct ProblemMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            let problem = ProblemMapping.problem(for: error)
            if problem.status.code >= 500 {
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

extension ProblemMapping {
    static func problem(for error: any Error) -> Problem {
        switch error {
        case let problem as Problem:
            return problem
        case let error as DomainError:
            return problem(for: error)
        case let error as DatabaseError:
            return problem(for: error)
        case let error as PQError:
            return problem(for: error)
        case let error as DecodingError:
            return problem(for: error)
        case let error as any HTTPResponseError:
            return problem(forStatus: error.status)
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
        case .unsupportedMediaType(let code, let message): Problem(.unsupportedMediaType, code: code, detail: message)
        case .rateLimited(let code, let message, let retryAfter):
            Problem(.tooManyRequests, code: code, detail: message, headers: [.retryAfter: String(retryAfter)])
        }
    }

    static func problem(for error: DatabaseError) -> Problem {
        var headers = HTTPFields()
        headers[.retryAfter] = "1"
        switch error {
        case .poolTimeout:
            return Problem(.serviceUnavailable, code: "database_busy", detail: "all database connections are busy; retry shortly", headers: headers)
        case .unavailable:
            return Problem(.serviceUnavailable, code: "database_unavailable", detail: "the database is unavailable; retry shortly", headers: headers)
        case .closed:
            return Problem(.serviceUnavailable, code: "shutting_down", detail: "the server is shutting down", headers: headers)
        }
    }

    /// A body that is not JSON is 400; JSON of the wrong shape names the field (422).
    static func problem(for error: DecodingError) -> Problem {
        func path(_ context: DecodingError.Context) -> String {
            context.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
        }
        switch error {
        case .keyNotFound(let key, let context):
            let field = (path(context).isEmpty ? "" : path(context) + ".") + key.stringValue
            return .validation([FieldError(field, "required", "\(field) is required")])
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            let field = path(context)
            if field.isEmpty { return .badRequest(code: "malformed_json", detail: "the body must be a JSON object") }
            return .validation([FieldError(field, "invalid_type", "\(field) has the wrong type")])
        case .dataCorrupted(let context):
            let field = path(context)
            if field.isEmpty { return .badRequest(code: "malformed_json", detail: "the body is not valid JSON") }
            return .validation([FieldError(field, "invalid_value", "\(field) is not a valid value")])
        @unknown default:
            return .badRequest(code: "malformed_json", detail: "the body could not be read")
        }
    }
}

/// The one place SQL errors become HTTP statuses (documented in docs/ERROR_CODES.md).
/// Only the SQLSTATE is inspected, never the message.
enum ProblemMapping {
    static func problem(for error: PQError) -> Problem {
        var retry = HTTPFields()
        retry[.retryAfter] = "1"
        if error.kind == .connectionLost || error.kind == .connectionFailed {
            return Problem(.serviceUnavailable, code: "database_unavailable", detail: "the database connection failed; retry shortly", headers: retry)
        }
        guard let state = error.sqlState else {
            return Problem(.internalServerError, code: "internal_error", detail: "the server failed to handle this request")
        }
        switch state {
        case .uniqueViolation, .exclusionViolation:
            return Problem(.conflict, code: "conflict", detail: "the request conflicts with existing data")
        case .foreignKeyViolation:
            return Problem(.conflict, code: "conflict", detail: "the request refers to something that does not exist or is still in use")
        case .checkViolation, .notNullViolation, .stringDataRightTruncation, .numericValueOutOfRange,
            .invalidTextRepresentation, .invalidDatetimeFormat, .datetimeFieldOverflow, .characterNotInRepertoire,
            .untranslatableCharacter:
            return Problem(.unprocessableContent, code: "invalid_value", detail: "a value in the request is not acceptable")
        case .serializationFailure, .deadlockDetected, .lockNotAvailable:
            return Problem(.serviceUnavailable, code: "contention", detail: "the request collided with a concurrent one; retry it", headers: retry)
        case .queryCanceled:
            return Problem(.serviceUnavailable, code: "timeout", detail: "the request took too long", headers: retry)
        case .tooManyConnections, .cannotConnectNow, .adminShutdown, .crashShutdown:
            return Problem(.serviceUnavailable, code: "database_unavailable", detail: "the database is unavailable; retry shortly", headers: retry)
        default:
            return Problem(.internalServerError, code: "internal_error", detail: "the server failed to handle this request")
        }
    }

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
