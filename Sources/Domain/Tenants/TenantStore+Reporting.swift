import Database
import Foundation

extension TenantStore {
    /// A brokerage's reporting login, as `parley tenant reporting-role` prints it.
    public struct ReportingLogin: Sendable {
        public let role: String
        public let password: String
        public let schema: String
    }

    /// Creates the brokerage's reporting role, or gives it a new password (docs/REPORTING.md):
    /// a LOGIN role that can read the brokerage's reporting views and nothing else — no base
    /// table, no other brokerage, not the control schema — with a statement timeout, read-only
    /// transactions, UTC timestamps and the brokerage's schema as its search path.
    public func reportingLogin(_ tenant: Tenant, statementTimeoutSeconds: Int = 300, connectionLimit: Int = 5) async throws -> ReportingLogin {
        guard let role = Migrator.reportingRole(tenant.scope) else {
            throw DatabaseError.undecodable("no reporting role name for \(tenant.slug)")
        }
        var generator = SystemRandomNumberGenerator()
        let password = Base64URL.encode((0..<24).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
        // Two transactions: on Citus the grants below run on the workers over the brokerage
        // role's own connections, which cannot see a role created in the same transaction over
        // Parley's (decision 0032). Running the command again finishes what a failure left.
        try await database.withTransaction { tx in
            let exists = try await tx.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [role.rawValue]).first != nil
            // format(%I, %L) quotes the name and the password as PostgreSQL itself would.
            let statement = try await tx.query("""
                SELECT format('%s ROLE %I WITH LOGIN NOINHERIT NOCREATEDB NOCREATEROLE CONNECTION LIMIT %s PASSWORD %L',
                              $1::text, $2::text, $3::int, $4::text) AS sql
                """, [exists ? "ALTER" : "CREATE", role.rawValue, connectionLimit, password]).rows[0].decode(String.self, "sql")
            try await tx.simpleQuery(statement)
            // One statement per query: Citus forwards a role's settings to the workers as sent.
            for setting in [
                "statement_timeout = '\(max(1, statementTimeoutSeconds))s'",
                "idle_in_transaction_session_timeout = '\(max(1, statementTimeoutSeconds))s'",
                "default_transaction_read_only = on", "timezone = 'UTC'", "search_path = \(tenant.scope.schema.quoted)",
            ] {
                try await tx.simpleQuery("ALTER ROLE \(role.quoted) SET \(setting)")
            }
        }
        // The grants are the brokerage role's to give: it owns the schema and the views.
        try await database.withTransaction { tx in
            try await tx.enter(tenant.scope)
            try await Migrator.grantReporting(in: tx, scope: tenant.scope)
        }
        return ReportingLogin(role: role.rawValue, password: password, schema: tenant.scope.schema.rawValue)
    }
}
