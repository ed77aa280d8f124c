import Domain
import Foundation
import HTTPTypes
import Hummingbird

/// An RFC 9457 `application/problem+json` response with a stable `code`.
///
/// Every error a client sees is one of these; `ProblemMiddleware` turns anything else into one
/// (an unknown error becomes a 500 `internal_error` that says nothing of the server's insides).
public struct Problem: Error, Sendable, Equatable {
    public var status: HTTPResponse.Status
    public var code: String
    public var title: String
    public var detail: String?
    public var errors: [FieldError]?
    /// Extra members (e.g. readiness checks), encoded beside the standard ones.
    public var extensions: [String: String]?
    public var headers: HTTPFields

    public init(
        _ status: HTTPResponse.Status, code: String, title: String? = nil, detail: String? = nil,
        errors: [FieldError]? = nil, extensions: [String: String]? = nil, headers: HTTPFields = [:]
    ) {
        self.status = status
        self.code = code
        self.title = title ?? status.reasonPhrase
        self.detail = detail
        self.errors = errors
        self.extensions = extensions
        self.headers = headers
    }

    public static func unauthorized(code: String, detail: String) -> Problem {
        var headers = HTTPFields()
        headers[.wwwAuthenticate] = "Bearer"
        return Problem(.unauthorized, code: code, detail: detail, headers: headers)
    }

    public static func validation(_ errors: [FieldError]) -> Problem {
        Problem(
            .unprocessableContent, code: "validation_failed", title: "Validation failed",
            detail: errors.count == 1 ? errors[0].message : "\(errors.count) fields are invalid", errors: errors)
    }

    public static func forbidden(code: String, detail: String) -> Problem {
        Problem(.forbidden, code: code, detail: detail)
    }

    public static func badRequest(code: String, detail: String) -> Problem {
        Problem(.badRequest, code: code, detail: detail)
    }

    public static func notFound(code: String = "not_found", detail: String) -> Problem {
        Problem(.notFound, code: code, detail: detail)
    }

    /// The brokerage's schema lacks a migration this server needs (its migration failed):
    /// nothing of it is served until a migration run succeeds; the others are unaffected.
    public static var tenantUnavailable: Problem {
        var headers = HTTPFields()
        headers[.retryAfter] = "30"
        return Problem(.serviceUnavailable, code: "tenant_unavailable",
                       detail: "this brokerage is unavailable while its database upgrade is incomplete; retry later", headers: headers)
    }

    /// The pool is closed or the request was cancelled: the process is going away.
    static var shuttingDown: Problem {
        var headers = HTTPFields()
        headers[.retryAfter] = "1"
        return Problem(.serviceUnavailable, code: "shutting_down", detail: "the server is shutting down", headers: headers)
    }

    static let mediaType = "application/problem+json"

    struct Body: Encodable {
        let type: String
        let title: String
        let status: Int
        let detail: String?
        let code: String
        let instance: String?
        let requestId: String?
        let errors: [FieldError]?
        let checks: [String: String]?
    }

    func response(requestID: String?, instance: String?) -> Response {
        let body = Body(
            type: "urn:parley:problem:\(code)",
            title: title, status: Int(status.code), detail: detail, code: code, instance: instance,
            requestId: requestID, errors: errors, checks: extensions)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(body)) ?? Data(#"{"code":"internal_error","status":500}"#.utf8)
        var fields = headers
        fields[.contentType] = Self.mediaType
        fields[.cacheControl] = "no-store"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
