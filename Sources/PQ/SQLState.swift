/// A PostgreSQL error code (SQLSTATE), read from `PG_DIAG_SQLSTATE`.
///
/// Named constants are generated from PostgreSQL's `errcodes.txt` (see `SQLState+Codes.swift`),
/// so code compares against `.uniqueViolation`, never against message text.
public struct SQLState: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String

    public init(rawValue: String) { self.rawValue = rawValue }
    public init(_ rawValue: String) { self.rawValue = rawValue }

    /// The two-character class ("23" for integrity constraint violations).
    public var errorClass: Substring { rawValue.prefix(2) }

    /// Class 08: the connection itself failed.
    public var isConnectionException: Bool { errorClass == "08" }

    public var description: String { rawValue }
}
