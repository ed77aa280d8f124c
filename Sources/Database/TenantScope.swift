import PQ

/// A validated PostgreSQL identifier for a schema or role: `[a-z][a-z0-9_]*`, at most 63 bytes.
///
/// The only way to put a name into SQL text is `quoted`, and the only way to make one is this
/// validating initializer, so no request data can reach an identifier position unchecked.
public struct SQLName: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String

    public init?(_ rawValue: String) {
        let bytes = Array(rawValue.utf8)
        guard let first = bytes.first, bytes.count <= 63, (97...122).contains(first),
            bytes.allSatisfy({ (97...122).contains($0) || (48...57).contains($0) || $0 == 95 })
        else { return nil }
        self.rawValue = rawValue
    }

    /// The name as a quoted SQL identifier.
    public var quoted: String { Identifier.quote(rawValue) }
    public var description: String { rawValue }
}

/// Where a tenant's transaction runs: its schema and the NOLOGIN role that owns it.
public struct TenantScope: Hashable, Sendable {
    public let schema: SQLName
    public let role: SQLName

    public init(schema: SQLName, role: SQLName) {
        self.schema = schema
        self.role = role
    }

    /// One round trip that opens the transaction and confines it to the tenant: the role has
    /// rights on its own schema only, so even a wrong query cannot read another brokerage.
    /// `public` follows for the shared extensions (pg_trgm, unaccent) installed there.
    public var beginSQL: String {
        "BEGIN; SET LOCAL ROLE \(role.quoted); SET LOCAL search_path TO \(schema.quoted), public"
    }

    /// The same as statements of a pipeline: BEGIN, then the scope as `set_config` (transaction
    /// local, like SET LOCAL; prepared once per connection, its values bound).
    var pipelinedBegin: [PipelinedStatement] {
        [
            PipelinedStatement("BEGIN", [], prepared: false),
            PipelinedStatement(Self.enterSQL, [role.rawValue, schema.quoted + ", public"], prepared: true),
        ]
    }

    /// The scope as a statement of a pipeline inside an open transaction: the transaction moves
    /// into this brokerage's role and schema (decision 0028).
    public var enterStatement: PipelinedStatement {
        PipelinedStatement(Self.enterSQL, [role.rawValue, schema.quoted + ", public"], prepared: true)
    }

    /// The scope as a statement inside an open transaction (transaction-local, like SET LOCAL).
    static let enterSQL = "SELECT set_config('role', $1, true), set_config('search_path', $2, true)"
}
