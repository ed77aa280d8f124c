import Logging
import PQ

/// Applies forward-only migrations, each in its own transaction, recorded per schema in
/// `schema_migrations`. Safe to run from several processes at once: each migration takes a
/// transaction-scoped advisory lock on its schema and re-checks what is applied under it.
public struct Migrator: Sendable {
    public let database: Database
    public let logger: Logger

    public init(database: Database, logger: Logger) {
        self.database = database
        self.logger = logger
    }

    static let controlSchema = "parley"

    /// Brings the `parley` control schema up to date. Returns the versions applied now.
    @discardableResult
    public func migrateControl() async throws -> [Int] {
        try await database.withTransaction { tx in
            try await Self.lock(tx, schema: Self.controlSchema)
            try await tx.simpleQuery("""
                CREATE SCHEMA IF NOT EXISTS parley;
                REVOKE ALL ON SCHEMA parley FROM PUBLIC;
                CREATE TABLE IF NOT EXISTS parley.schema_migrations (
                    version    integer     PRIMARY KEY,
                    name       text        NOT NULL,
                    checksum   text        NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now()
                );
                """)
        }
        var applied: [Int] = []
        for migration in Migrations.control {
            let didApply = try await database.withTransaction { tx in
                try await Self.lock(tx, schema: Self.controlSchema)
                return try await Self.apply(migration, in: tx, table: "parley.schema_migrations", logger: logger)
            }
            if didApply { applied.append(migration.version) }
        }
        return applied
    }

    /// Brings one tenant schema up to date, one transaction per migration, as the tenant's role.
    @discardableResult
    public func migrateTenant(_ scope: TenantScope) async throws -> [Int] {
        var applied: [Int] = []
        for migration in Migrations.tenant {
            let didApply = try await database.withTenant(scope) { tx in
                try await Self.lock(tx, schema: scope.schema.rawValue)
                try await Self.createTenantLedger(tx)
                return try await Self.apply(migration, in: tx, table: "schema_migrations", logger: logger)
            }
            if didApply { applied.append(migration.version) }
        }
        return applied
    }

    /// Applies every tenant migration inside the caller's transaction, which must already be
    /// scoped to the tenant (provisioning: schema, role and tables appear together or not at all).
    public static func applyTenantMigrations(in tx: Transaction, scope: TenantScope, logger: Logger) async throws {
        try await lock(tx, schema: scope.schema.rawValue)
        try await createTenantLedger(tx)
        for migration in Migrations.tenant {
            _ = try await apply(migration, in: tx, table: "schema_migrations", logger: logger)
        }
    }

    public struct TenantOutcome: Sendable {
        public let slug: String
        public let applied: [Int]
        public let error: (any Error)?
    }

    /// Upgrades the control schema, then every tenant in slug order. A tenant that fails is
    /// reported and skipped; the others still run, and a second run resumes where this one
    /// stopped (applied migrations are recorded per schema).
    public func migrateAll(progress: (TenantOutcome) -> Void) async throws -> [TenantOutcome] {
        try await migrateControl()
        let tenants = try await database.withTransaction { tx in
            try await tx.query("SELECT slug, schema_name, role_name FROM parley.tenants ORDER BY slug").rows.map { row in
                (try row.decode(String.self, "slug"), try row.decode(String.self, "schema_name"), try row.decode(String.self, "role_name"))
            }
        }
        var outcomes: [TenantOutcome] = []
        for (slug, schemaName, roleName) in tenants {
            let outcome: TenantOutcome
            if let schema = SQLName(schemaName), let role = SQLName(roleName) {
                do {
                    outcome = TenantOutcome(slug: slug, applied: try await migrateTenant(TenantScope(schema: schema, role: role)), error: nil)
                } catch {
                    logger.error("tenant migration failed", metadata: ["tenant": "\(slug)", "error": "\(String(reflecting: error))"])
                    outcome = TenantOutcome(slug: slug, applied: [], error: error)
                }
            } else {
                outcome = TenantOutcome(slug: slug, applied: [], error: DatabaseError.unavailable("invalid schema or role name"))
            }
            progress(outcome)
            outcomes.append(outcome)
        }
        return outcomes
    }

    // MARK: - Steps

    private static func lock(_ tx: Transaction, schema: String) async throws {
        try await tx.query("SELECT pg_advisory_xact_lock(hashtext('parley.migrate'), hashtext($1))", [schema])
    }

    private static func createTenantLedger(_ tx: Transaction) async throws {
        try await tx.simpleQuery("""
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version    integer     PRIMARY KEY,
                name       text        NOT NULL,
                checksum   text        NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """)
    }

    /// Applies `migration` unless recorded in `table`; returns whether it ran.
    private static func apply(_ migration: Migration, in tx: Transaction, table: String, logger: Logger) async throws -> Bool {
        let recorded = try await tx.queryUnprepared("SELECT checksum FROM \(table) WHERE version = $1", [migration.version])
        if let row = recorded.first {
            if try row.decode(String.self, "checksum") != migration.checksum {
                logger.warning("applied migration was edited since; migrations are forward-only, add a new one",
                               metadata: ["version": "\(migration.version)", "name": "\(migration.name)"])
            }
            return false
        }
        try await tx.simpleQuery(migration.sql)
        try await tx.queryUnprepared(
            "INSERT INTO \(table) (version, name, checksum) VALUES ($1, $2, $3)",
            [migration.version, migration.name, migration.checksum])
        logger.info("applied migration", metadata: ["version": "\(migration.version)", "name": "\(migration.name)"])
        return true
    }
}
