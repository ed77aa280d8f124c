/// Failures of the database layer itself (not SQL errors, which are `PQError`).
public enum DatabaseError: Error, Sendable, CustomStringConvertible {
    /// No connection became free within the pool's acquire timeout.
    case poolTimeout(waited: Duration)
    /// A connection could not be opened (server down, bad credentials, …).
    case unavailable(String)
    /// The pool was shut down.
    case closed

    public var description: String {
        switch self {
        case .poolTimeout(let waited): "DatabaseError.poolTimeout(after \(waited))"
        case .unavailable(let reason): "DatabaseError.unavailable(\(reason))"
        case .closed: "DatabaseError.closed"
        }
    }
}
