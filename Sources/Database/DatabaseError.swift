import PQ

/// Every failure the database layer reports, as the cases callers act on. SQL errors arrive
/// here already sorted by SQLSTATE (`init(_:)` is the one place that reads one), so Domain and
/// API never see libpq's types.
public enum DatabaseError: Error, Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    /// No connection became free within the pool's acquire timeout.
    case poolTimeout(waited: Duration)
    /// The database cannot be reached, or the connection broke (server down, restarted,
    /// terminated backend, too many connections). Retrying later may work.
    case unavailable(String)
    /// The pool was shut down.
    case closed
    /// The change collides with existing data: a unique or exclusion constraint, or an object
    /// that already exists.
    case conflict(ServerError)
    /// A foreign key points at nothing, or a row is still referenced.
    case reference(ServerError)
    /// A value the schema refuses: a check or not-null constraint, a malformed or out-of-range
    /// value.
    case invalid(ServerError)
    /// Lost a race with a concurrent transaction (serialization failure, deadlock, lock not
    /// available): retry the whole transaction.
    case contention(ServerError)
    /// The statement was cancelled (statement_timeout, or a cancel request).
    case timeout(ServerError)
    /// A stored value could not be read as the expected type.
    case undecodable(String)
    /// COMMIT was answered ROLLBACK: the transaction had failed (an error inside it was caught
    /// and not rethrown) and nothing of it was kept. A bug of the caller's, never a success.
    case rolledBack(String)
    /// Anything else (privileges, syntax, a bug): not the caller's fault.
    case failed(ServerError)

    /// What the server said, for logs. `message` and `detail` may quote row data: never show
    /// them to API clients.
    public struct ServerError: Sendable, CustomStringConvertible {
        public let sqlState: String?
        public let constraint: String?
        public let message: String
        public let detail: String?
        /// The server function that raised it (`PQError.routine`).
        public let routine: String?

        public var description: String {
            "sqlstate \(sqlState ?? "-")" + (constraint.map { ", constraint \($0)" } ?? "")
        }
    }

    /// The SQLSTATE of a server error, if this is one.
    public var sqlState: String? {
        switch self {
        case .conflict(let error), .reference(let error), .invalid(let error), .contention(let error),
            .timeout(let error), .failed(let error):
            error.sqlState
        case .poolTimeout, .unavailable, .closed, .undecodable, .rolledBack:
            nil
        }
    }

    /// Sorts a libpq error into the cases above.
    public init(_ error: PQError) {
        let server = ServerError(
            sqlState: error.sqlState?.rawValue, constraint: error.constraint, message: error.message, detail: error.detail,
            routine: error.routine)
        switch error.kind {
        case .connectionFailed, .connectionLost:
            self = .unavailable(error.kind == .connectionLost ? "lost the database connection" : "cannot connect to the database")
            return
        case .decoding:
            self = .undecodable(error.message)
            return
        case .usage, .server:
            break
        }
        guard let state = error.sqlState else {
            self = .failed(server)
            return
        }
        switch state {
        case .uniqueViolation, .exclusionViolation, .duplicateObject, .duplicateSchema, .duplicateTable:
            self = .conflict(server)
        case .foreignKeyViolation:
            self = .reference(server)
        case .checkViolation, .notNullViolation, .stringDataRightTruncation, .numericValueOutOfRange,
            .invalidTextRepresentation, .invalidDatetimeFormat, .datetimeFieldOverflow, .characterNotInRepertoire,
            .untranslatableCharacter:
            self = .invalid(server)
        case .serializationFailure, .deadlockDetected, .lockNotAvailable:
            self = .contention(server)
        case .queryCanceled:
            self = .timeout(server)
        case .tooManyConnections, .cannotConnectNow, .adminShutdown, .crashShutdown:
            self = .unavailable("the database is not accepting work (sqlstate \(state))")
        default:
            self = state.isConnectionException ? .unavailable("lost the database connection (sqlstate \(state))") : .failed(server)
        }
    }

    public var description: String {
        switch self {
        case .poolTimeout(let waited): "DatabaseError.poolTimeout(after \(waited))"
        case .unavailable(let reason): "DatabaseError.unavailable(\(reason))"
        case .closed: "DatabaseError.closed"
        case .conflict(let error): "DatabaseError.conflict(\(error))"
        case .reference(let error): "DatabaseError.reference(\(error))"
        case .invalid(let error): "DatabaseError.invalid(\(error))"
        case .contention(let error): "DatabaseError.contention(\(error))"
        case .timeout(let error): "DatabaseError.timeout(\(error))"
        case .undecodable(let reason): "DatabaseError.undecodable(\(reason))"
        case .rolledBack(let reason): "DatabaseError.rolledBack(\(reason))"
        case .failed(let error): "DatabaseError.failed(\(error))"
        }
    }

    /// With the server's message, for server-side logs only.
    public var debugDescription: String {
        switch self {
        case .conflict(let error), .reference(let error), .invalid(let error), .contention(let error),
            .timeout(let error), .failed(let error):
            description + ": " + error.message + (error.detail.map { " DETAIL: \($0)" } ?? "")
        default:
            description
        }
    }
}
