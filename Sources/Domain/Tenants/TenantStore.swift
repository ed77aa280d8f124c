import Database
import Foundation
import Logging

/// The control plane's tenants and their signing keys (schema `parley`).
public struct TenantStore: Sendable {
    public let database: Database
    let logger: Logger

    public init(database: Database, logger: Logger) {
        self.database = database
        self.logger = logger
    }

    static let columns = "id, slug, display_name, created_at, settings::text AS settings, migrated_version, migration_error, migrated_checksum"

    /// Provisions a brokerage in one transaction: its NOLOGIN role, its schema owned by that
    /// role, the control rows, a first signing key, and every tenant migration (run as the
    /// role). Either all of it exists afterwards or none of it does. On Citus the role can log in
    /// (Citus connects to the workers as it) and the objects are created as Parley's role and
    /// then handed to it.
    public func create(slug: TenantSlug, displayName: String) async throws -> (Tenant, SigningKey) {
        var validator = Validator()
        let name = validator.requireText(displayName, "name", maxLength: 200)
        try validator.check()
        let scope = slug.scope
        let (kid, secret) = SigningKey.generate()
        do {
            return try await database.withTransaction { tx in
                if !(try await tx.query("SELECT 1 FROM parley.tenants WHERE slug = $1 OR schema_name = $2", [slug.rawValue, scope.schema.rawValue]).isEmpty) {
                    throw DomainError.conflict(code: "tenant_exists", message: "a tenant with slug '\(slug)' already exists")
                }
                // On Citus the schema is distributed and everything is created as Parley's own
                // role, then handed to the brokerage's: Citus reaches the workers as the current
                // role, over a connection of that role's own, which would not see the role and
                // schema this transaction created over Parley's (decision 0032).
                let citus = try await Migrator.onCitus(tx)
                if citus {
                    try await tx.simpleQuery("SET LOCAL citus.enable_schema_based_sharding = on")
                    try await tx.simpleQuery("SET LOCAL citus.enable_unsafe_triggers = on")
                }
                try await Migrator.runScript("""
                    CREATE ROLE \(scope.role.quoted) \(citus ? "LOGIN" : "NOLOGIN");
                    GRANT \(scope.role.quoted) TO CURRENT_USER;
                    CREATE SCHEMA \(scope.schema.quoted) AUTHORIZATION \(scope.role.quoted);
                    REVOKE ALL ON SCHEMA \(scope.schema.quoted) FROM PUBLIC;
                    """, in: tx)
                try await Migrator.grantLockFunctions(in: tx, to: scope.role)
                let row = try await tx.query("""
                    INSERT INTO parley.tenants (slug, schema_name, role_name, display_name, migrated_version, migrated_checksum)
                    VALUES ($1, $2, $3, $4, $5, $6) RETURNING \(Self.columns)
                    """, [slug.rawValue, scope.schema.rawValue, scope.role.rawValue, name, Migrations.tenantVersion, Migrations.tenantChecksum])
                let key = try await tx.query("""
                    INSERT INTO parley.tenant_signing_keys (kid, tenant_id, secret)
                    VALUES ($1, $2, $3) RETURNING kid, secret, created_at, retired_at
                    """, [kid, try row.rows[0].decode(UUID.self, "id"), secret])
                if citus {
                    try await tx.simpleQuery("SET LOCAL search_path TO \(scope.schema.quoted), public")
                    try await Migrator.applyTenantMigrations(in: tx, scope: scope, logger: logger)
                    try await Migrator.giveSchema(in: tx, scope: scope)
                } else {
                    // The rest runs as the tenant's role so every object it creates is owned by it.
                    try await tx.simpleQuery("SET LOCAL ROLE \(scope.role.quoted); SET LOCAL search_path TO \(scope.schema.quoted), public")
                    try await Migrator.applyTenantMigrations(in: tx, scope: scope, logger: logger)
                }
                // Every process learns of the new tenant at commit (its token verifier's
                // directory of slugs: docs/decisions/0013-unauthenticated-cost.md).
                try await tx.query("SELECT pg_notify($1, $2)", [LiveChannels.tenantsCreated, slug.rawValue])
                return (try Self.tenant(row.rows[0]), try Self.key(key.rows[0]))
            }
        } catch DatabaseError.conflict {
            // Lost a race with a concurrent create of the same slug.
            throw DomainError.conflict(code: "tenant_exists", message: "a tenant with slug '\(slug)' already exists")
        }
    }

    public func find(_ slug: TenantSlug) async throws -> Tenant? {
        try await database.withTransaction { tx in try await Self.find(tx, slug) }
    }

    static func find(_ tx: Transaction, _ slug: TenantSlug) async throws -> Tenant? {
        try await tx.query("SELECT \(columns) FROM parley.tenants WHERE slug = $1", [slug.rawValue]).first.map(tenant)
    }

    /// What the brokerage stores against its quotas: attachment bytes (`maxStorageBytes`).
    public func storageUsage(_ tenant: Tenant) async throws -> Int64 {
        try await database.tenantPipelined(tenant.scope, "SELECT attachment_bytes FROM storage_usage", [])
            .rows.first?.decode(Int64.self, "attachment_bytes") ?? 0
    }

    /// How many brokerages this build does not serve (their schema lacks a migration).
    public func unavailableCount() async throws -> Int {
        try await database.withTransaction { tx in
            try await tx.query("SELECT count(*) AS n FROM parley.tenants WHERE migrated_version < $1", [Migrations.tenantVersion])
                .rows.first?.decode(Int.self, "n") ?? 0
        }
    }

    /// Every tenant's slug (the verifier's directory: a name of no tenant is answered from it).
    public func slugs() async throws -> Set<String> {
        try await database.withTransaction { tx in
            Set(try await tx.query("SELECT slug FROM parley.tenants").rows.map { try $0.decode(String.self, "slug") })
        }
    }

    /// Replaces the tenant's settings (validated; the caller merges a patch into the current ones).
    public func updateSettings(_ tenant: Tenant, _ settings: TenantSettings) async throws -> Tenant {
        try settings.validate()
        let json = try SQLJSON(encoding: settings)
        return try await database.withTransaction { tx in
            try Self.tenant(try await tx.query(
                "UPDATE parley.tenants SET settings = $2::jsonb WHERE id = $1 RETURNING \(Self.columns)", [tenant.id, json]).rows[0])
        }
    }

    /// The brokerages that have had a webhook endpoint (what the webhook deliverer watches).
    public func withWebhooks() async throws -> [Tenant] {
        try await database.withTransaction { tx in
            try await tx.query("""
                SELECT \(Self.columns) FROM parley.tenants WHERE id IN (SELECT tenant_id FROM parley.webhook_brokerages)
                """).rows.map(Self.tenant)
        }
    }

    /// Records that the brokerage has webhook endpoints (idempotent).
    public func markWebhooks(_ tenant: Tenant) async throws {
        try await database.withTransaction { tx in
            try await tx.query("INSERT INTO parley.webhook_brokerages (tenant_id) VALUES ($1) ON CONFLICT DO NOTHING", [tenant.id])
        }
    }

    /// Tenants in slug order, after `after` (exclusive), at most `limit`.
    public func list(after: String?, limit: Int) async throws -> [Tenant] {
        try await database.withTransaction { tx in
            try await tx.query("""
                SELECT \(Self.columns) FROM parley.tenants
                WHERE $1::text IS NULL OR slug > $1 ORDER BY slug LIMIT $2
                """, [after, limit]).rows.map(Self.tenant)
        }
    }

    /// The tenant and the keys that currently verify its tokens (newest first), in one
    /// transaction: what the token verifier loads.
    public func findWithKeys(_ slug: TenantSlug) async throws -> (Tenant, [SigningKey])? {
        try await database.withTransaction { tx in
            guard let tenant = try await Self.find(tx, slug) else { return nil }
            return (tenant, try await Self.activeKeys(tx, tenant))
        }
    }

    /// Keys that currently verify tokens, newest first.
    public func activeKeys(_ tenant: Tenant) async throws -> [SigningKey] {
        try await database.withTransaction { tx in try await Self.activeKeys(tx, tenant) }
    }

    static func activeKeys(_ tx: Transaction, _ tenant: Tenant) async throws -> [SigningKey] {
        try await tx.query("""
            SELECT kid, secret, created_at, retired_at FROM parley.tenant_signing_keys
            WHERE tenant_id = $1 AND retired_at IS NULL ORDER BY created_at DESC, kid
            """, [tenant.id]).rows.map(key)
    }

    /// Rotation, step 1: a new key; old ones keep verifying until retired.
    public func addKey(_ tenant: Tenant) async throws -> SigningKey {
        let (kid, secret) = SigningKey.generate()
        return try await database.withTransaction { tx in
            try Self.key(try await tx.query("""
                INSERT INTO parley.tenant_signing_keys (kid, tenant_id, secret) VALUES ($1, $2, $3)
                RETURNING kid, secret, created_at, retired_at
                """, [kid, tenant.id, secret]).rows[0])
        }
    }

    /// Rotation, step 2: the old key stops verifying. The last active key cannot be retired.
    public func retireKey(_ tenant: Tenant, kid: String) async throws {
        try await database.withTransaction { tx in
            // Lock the tenant's keys so two concurrent retirements cannot leave none active.
            let active = try await tx.query("""
                SELECT kid FROM parley.tenant_signing_keys WHERE tenant_id = $1 AND retired_at IS NULL FOR UPDATE
                """, [tenant.id]).rows.map { try $0.decode(String.self, "kid") }
            guard active.contains(kid) else {
                throw DomainError.notFound(code: "signing_key_not_found", message: "no active signing key '\(kid)' for this tenant")
            }
            guard active.count > 1 else {
                throw DomainError.conflict(code: "last_signing_key", message: "add a new signing key before retiring the last one")
            }
            try await tx.query("UPDATE parley.tenant_signing_keys SET retired_at = now() WHERE kid = $1", [kid])
        }
    }

    static func tenant(_ row: Row) throws -> Tenant {
        let slugText = try row.decode(String.self, "slug")
        guard let slug = TenantSlug(slugText) else {
            throw DatabaseError.undecodable("stored tenant slug is invalid")
        }
        return Tenant(
            id: try row.decode(UUID.self, "id"), slug: slug,
            displayName: try row.decode(String.self, "display_name"), scope: slug.scope,
            createdAt: try row.decode(Date.self, "created_at"),
            settings: try JSONDecoder().decode(TenantSettings.self, from: Data(try row.decode(String.self, "settings").utf8)),
            migratedVersion: try row.decode(Int.self, "migrated_version"),
            migrationError: try row.decode(String?.self, "migration_error"),
            migratedChecksum: try row.decode(String?.self, "migrated_checksum"))
    }

    static func key(_ row: Row) throws -> SigningKey {
        SigningKey(
            kid: try row.decode(String.self, "kid"), secret: try row.decode([UInt8].self, "secret"),
            createdAt: try row.decode(Date.self, "created_at"), retiredAt: try row.decode(Date?.self, "retired_at"))
    }
}
