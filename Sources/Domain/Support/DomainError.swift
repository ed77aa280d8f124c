/// One invalid field of a request, as listed in a validation problem.
public struct FieldError: Sendable, Hashable, Codable {
    /// JSON pointer-ish path of the field (`slug`, `client.email`).
    public let field: String
    /// Stable machine code (`required`, `too_long`, `invalid_format`, …).
    public let code: String
    public let message: String

    public init(_ field: String, _ code: String, _ message: String) {
        self.field = field
        self.code = code
        self.message = message
    }
}

/// What the product refuses, in its own words. The API maps each case to an HTTP status and
/// keeps `code` as the problem's stable code (docs/ERROR_CODES.md).
public enum DomainError: Error, Sendable, Equatable {
    case validation([FieldError])
    case notFound(code: String, message: String)
    case conflict(code: String, message: String)
    case forbidden(code: String, message: String)
    /// 413: a body or file over a limit (refused while it streams in).
    case tooLarge(code: String, message: String)
    /// 415: content that is not an accepted type.
    case unsupportedMediaType(code: String, message: String)
    /// 507: storing this would pass a storage quota (refused before the bytes are stored).
    case quotaExceeded(code: String, message: String)
    /// 429: over a rate limit; retry after the given seconds.
    case rateLimited(code: String, message: String, retryAfter: Int)
}
