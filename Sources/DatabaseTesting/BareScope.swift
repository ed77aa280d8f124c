import Database
import Foundation

/// A brokerage's role and schema made as provisioning makes them, without the rest of
/// provisioning (no control row, no migrations): the role owns the schema, the test's login may
/// act as it, and it may take advisory locks where the lock role exists (decision 0059).
public func makeBareScope(_ database: Database, prefix: String) async throws -> TenantScope {
    let name = randomName(prefix, length: 8)
    guard let schema = SQLName("t_" + name), let role = SQLName("parley_t_" + name) else {
        preconditionFailure("generated names are valid")
    }
    try await database.withTransaction { tx in
        try await tx.simpleQuery("""
            CREATE ROLE \(role.quoted) NOLOGIN;
            GRANT \(role.quoted) TO CURRENT_USER;
            CREATE SCHEMA \(schema.quoted) AUTHORIZATION \(role.quoted);
            REVOKE ALL ON SCHEMA \(schema.quoted) FROM PUBLIC;
            """)
        try await Migrator.grantLockFunctions(in: tx, to: role)
    }
    return TenantScope(schema: schema, role: role)
}
