/// An error from libpq or from the server.
///
/// `description` is short and safe to log anywhere; the server's message, detail and hint are
/// only in `debugDescription` (they can quote row data). Nothing here is meant for API clients:
/// the API layer maps `sqlState` to a problem response and never prints the message.
public struct PQError: Error, Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// Could not connect (bad conninfo, server down, auth failed).
        case connectionFailed
        /// The connection broke while in use; the pool must discard it.
        case connectionLost
        /// The server answered with an error (see `sqlState`).
        case server
        /// A value could not be decoded into the requested Swift type.
        case decoding
        /// The caller used the API wrongly (e.g. a column that does not exist).
        case usage
    }

    public let kind: Kind
    public let sqlState: SQLState?
    public let message: String
    public let detail: String?
    public let hint: String?
    public let constraint: String?
    /// The server's source function that raised the error (`PG_DIAG_SOURCE_FUNCTION`): the same
    /// in every `lc_messages`, unlike the message.
    public let routine: String?

    public init(
        _ kind: Kind, sqlState: SQLState? = nil, message: String,
        detail: String? = nil, hint: String? = nil, constraint: String? = nil, routine: String? = nil
    ) {
        self.kind = kind
        self.sqlState = sqlState
        self.message = message
        self.detail = detail
        self.hint = hint
        self.constraint = constraint
        self.routine = routine
    }

    public var description: String {
        var text = "PQError(\(kind)"
        if let sqlState { text += ", sqlstate \(sqlState)" }
        if let constraint { text += ", constraint \(constraint)" }
        return text + ")"
    }

    public var debugDescription: String {
        var text = description + ": " + message
        if let detail { text += " DETAIL: \(detail)" }
        if let hint { text += " HINT: \(hint)" }
        return text
    }
}

/// Lets callers write `catch PQError.uniqueViolation` style matches: `case let e as PQError where e == .uniqueViolation`.
public func ~= (pattern: SQLState, error: any Error) -> Bool {
    (error as? PQError)?.sqlState == pattern
}
