import Foundation
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
            if try await Self.onCitus(tx) {
                // The control schema stays on the coordinator, whatever the cluster's default.
                try await tx.simpleQuery("SET LOCAL citus.enable_schema_based_sharding = off")
            }
            try await Self.runScript("""
                CREATE SCHEMA IF NOT EXISTS parley;
                REVOKE ALL ON SCHEMA parley FROM PUBLIC;
                CREATE TABLE IF NOT EXISTS parley.schema_migrations (
                    version    integer     PRIMARY KEY,
                    name       text        NOT NULL,
                    checksum   text        NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now()
                );
                """, in: tx)
        }
        var applied: [Int] = []
        for migration in Migrations.control {
            let didApply = try await database.withTransaction { tx in
                try await Self.lock(tx, schema: Self.controlSchema)
                return try await Self.apply(migration, in: tx, table: "parley.schema_migrations", set: "control", logger: logger)
            }
            if didApply { applied.append(migration.version) }
        }
        try await database.withTransaction { tx in
            try await Self.lock(tx, schema: Self.controlSchema)
            try await Self.applyFunctions(Migrations.controlFunctions, in: tx, ledger: "parley.schema_functions", logger: logger)
        }
        let locks = try await secureLockFunctions()
        if locks.granted > 0 { logger.info("brokerage roles may take advisory locks", metadata: ["roles": "\(locks.granted)"]) }
        if locks.stillPublic {
            logger.warning("""
                every login of this database may take advisory locks, so a reporting login could hold up Parley's \
                turns (sends, retention, migrations): revoke them from PUBLIC as docs/DEPLOY.md shows
                """)
        }
        return applied
    }

    /// Brings one tenant schema up to date, one transaction per migration, as the tenant's role.
    ///
    /// One look at the schema's ledgers comes first, without a lock: only what they lack (or
    /// record with another checksum) gets a transaction, which checks again under the schema's
    /// lock. A schema that has everything costs that one transaction (it cost one per migration
    /// before: 25 ms a brokerage, 250 s for 10,000).
    @discardableResult
    public func migrateTenant(_ scope: TenantScope) async throws -> [Int] {
        let ledgers = try await database.withTenant(scope) { tx in try await Self.readLedgers(tx) }
        var applied: [Int] = []
        for migration in Migrations.tenant where ledgers.migrations[migration.version] != migration.checksum {
            let didApply = try await database.withTenant(scope) { tx in
                try await Self.lock(tx, schema: scope.schema.rawValue)
                try await Self.createTenantLedger(tx)
                return try await Self.apply(migration, in: tx, table: "schema_migrations", set: "tenant", logger: logger)
            }
            if didApply { applied.append(migration.version) }
        }
        let functionsCurrent = Migrations.tenantFunctions.allSatisfy { ledgers.functions[$0.name] == $0.checksum }
        let reportingCurrent = Migrations.reporting.isEmpty || ledgers.reporting == Self.reportingChecksum
        if !functionsCurrent || !reportingCurrent || !applied.isEmpty {
            try await database.withTenant(scope) { tx in
                try await Self.lock(tx, schema: scope.schema.rawValue)
                try await Self.applyFunctions(Migrations.tenantFunctions, in: tx, ledger: "schema_functions", logger: logger)
                try await Self.applyReporting(in: tx, scope: scope, logger: logger)
                try await Self.pinFunctionPaths(in: tx, scope: scope)
            }
        }
        await vacuumRewritten(scope, after: applied)
        return applied
    }

    /// VACUUM (ANALYZE) of the tables the migrations just applied rewrote (`vacuumAfter`), as the
    /// pool's login, which may act as the brokerage's role. A failure is logged, not thrown: the
    /// migration is done, and autovacuum gets to the tables in time.
    private func vacuumRewritten(_ scope: TenantScope, after applied: [Int]) async {
        let tables = Set(Migrations.tenant.filter { applied.contains($0.version) }.flatMap(\.vacuumAfter))
        guard !tables.isEmpty else { return }
        let list = tables.map { "\(scope.schema.quoted).\($0.quoted)" }.sorted().joined(separator: ", ")
        do {
            try await database.withConnection { connection in _ = try await connection.simpleQuery("VACUUM (ANALYZE) \(list)") }
            logger.info("vacuumed rewritten tables", metadata: ["schema": "\(scope.schema)", "tables": "\(tables.count)"])
        } catch {
            logger.warning("vacuum after migration failed", metadata: ["schema": "\(scope.schema)", "error": "\(error)"])
        }
    }

    /// What a tenant schema's ledgers record (empty where a ledger does not exist yet).
    private static func readLedgers(_ tx: Transaction) async throws -> (migrations: [Int: String], functions: [String: String], reporting: String?) {
        let present = try await tx.queryUnprepared("""
            SELECT to_regclass('schema_migrations') IS NOT NULL AS migrations, to_regclass('schema_functions') IS NOT NULL AS functions,
                   to_regclass('schema_reporting') IS NOT NULL AS reporting
            """).rows[0]
        var migrations: [Int: String] = [:], functions: [String: String] = [:], reporting: String?
        if try present.decode(Bool.self, "migrations") {
            for row in try await tx.queryUnprepared("SELECT version, checksum FROM schema_migrations").rows {
                migrations[try row.decode(Int.self, "version")] = try row.decode(String.self, "checksum")
            }
        }
        if try present.decode(Bool.self, "functions") {
            for row in try await tx.queryUnprepared("SELECT name, checksum FROM schema_functions").rows {
                functions[try row.decode(String.self, "name")] = try row.decode(String.self, "checksum")
            }
        }
        if try present.decode(Bool.self, "reporting") {
            reporting = try await tx.queryUnprepared("SELECT checksum FROM schema_reporting").rows.first?.decode(String.self, "checksum")
        }
        return (migrations, functions, reporting)
    }

    /// Applies every tenant migration inside the caller's transaction, which must already be
    /// scoped to the tenant (provisioning: schema, role and tables appear together or not at all).
    ///
    /// A new schema is created from the baseline (`sql/baseline/tenant.sql`, decision 0045) when
    /// this build has one for its own files and the database is not Citus; `baseline: false`
    /// replays the files instead (the baseline's test compares the two).
    public static func applyTenantMigrations(in tx: Transaction, scope: TenantScope, baseline: Bool = true, logger: Logger) async throws {
        try await lock(tx, schema: scope.schema.rawValue)
        try await createTenantLedger(tx)
        if try await tx.queryUnprepared("SELECT 1 FROM schema_migrations LIMIT 1").isEmpty {
            try await provisionFresh(in: tx, scope: scope, baseline: baseline, logger: logger)
            try await pinFunctionPaths(in: tx, scope: scope)
            return
        }
        for migration in Migrations.tenant {
            _ = try await apply(migration, in: tx, table: "schema_migrations", set: "tenant", logger: logger)
        }
        try await applyFunctions(Migrations.tenantFunctions, in: tx, ledger: "schema_functions", logger: logger)
        try await applyReporting(in: tx, scope: scope, logger: logger)
        try await pinFunctionPaths(in: tx, scope: scope)
    }

    /// A new, empty schema (provisioning): every migration, function file and reporting view,
    /// with their ledger rows, sent as one multi-statement query — one round trip instead of
    /// two or three per file. The ledgers end up exactly as the file-by-file path leaves them.
    ///
    /// From the baseline, one script creates the tables, indexes, constraints and seed rows the
    /// migrations would; the function files (functions and triggers) and the reporting views
    /// follow from their own files as always, with the same ledger rows.
    private static func provisionFresh(in tx: Transaction, scope: TenantScope, baseline useBaseline: Bool, logger: Logger) async throws {
        let baseline = useBaseline ? Migrations.tenantBaseline : nil
        var fromBaseline = false
        if baseline != nil { fromBaseline = try await !onCitus(tx) }
        var script: [String] = []
        if fromBaseline, let baseline { script.append(TenantBaseline.script(baseline, scope: scope)) }
        for migration in Migrations.tenant {
            if !fromBaseline { script.append(migration.sql) }
            script.append("INSERT INTO schema_migrations (version, name, checksum) VALUES (\(migration.version), \(literal(migration.name)), \(literal(migration.checksum)))")
        }
        script.append("""
            CREATE TABLE IF NOT EXISTS schema_functions (
                name text PRIMARY KEY, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now()
            ) \(ledgerOptions)
            """)
        script.append("SET LOCAL check_function_bodies = off")
        for file in Migrations.tenantFunctions {
            script.append(file.sql)
            script.append("INSERT INTO schema_functions (name, checksum) VALUES (\(literal(file.name)), \(literal(file.checksum)))")
        }
        script.append("SET LOCAL check_function_bodies TO DEFAULT")
        if !Migrations.reporting.isEmpty {
            script.append("""
                CREATE TABLE IF NOT EXISTS schema_reporting (
                    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton), checksum text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now()
                ) \(ledgerOptions)
                """)
            script += Migrations.reporting.map(\.sql)
            script.append("INSERT INTO schema_reporting (checksum) VALUES (\(literal(reportingChecksum)))")
        }
        // Each file ends its last statement itself; a separator more is an empty statement.
        try await runScript(script.joined(separator: "\n;\n"), in: tx)
        logger.info("provisioned schema", metadata: [
            "schema": "\(scope.schema)", "migrations": "\(Migrations.tenant.count)", "from": "\(fromBaseline ? "baseline" : "files")",
        ])
    }

    static var reportingChecksum: String {
        FNV1a.hex(Migrations.reporting.map { $0.name + ":" + $0.checksum }.joined(separator: ","))
    }

    /// The reporting views (`sql/reporting/`), all of them in name order whenever any changed
    /// (each file drops and recreates its view, and a later file may read an earlier one's), then
    /// their grants to the brokerage's reporting role when it exists: recreating a view drops
    /// its grants.
    static func applyReporting(in tx: Transaction, scope: TenantScope, logger: Logger) async throws {
        let files = Migrations.reporting
        guard !files.isEmpty else { return }
        let checksum = reportingChecksum
        try await tx.simpleQuery("""
            CREATE TABLE IF NOT EXISTS schema_reporting (
                singleton  boolean     PRIMARY KEY DEFAULT true CHECK (singleton),
                checksum   text        NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            ) \(ledgerOptions)
            """)
        let recorded = try await tx.queryUnprepared("SELECT checksum FROM schema_reporting").first.map { try $0.decode(String.self, "checksum") }
        guard recorded != checksum else { return }
        for file in files { try await runScript(file.sql, in: tx) }
        try await tx.queryUnprepared("""
            INSERT INTO schema_reporting (checksum, applied_at) VALUES ($1, now())
            ON CONFLICT (singleton) DO UPDATE SET checksum = EXCLUDED.checksum, applied_at = EXCLUDED.applied_at
            """, [checksum])
        try await grantReporting(in: tx, scope: scope)
        logger.info("applied reporting views", metadata: ["schema": "\(scope.schema)", "files": "\(files.count)"])
    }

    /// The brokerage's reporting role: `<tenant role>_reporting` (`parley tenant reporting-role`).
    public static func reportingRole(_ scope: TenantScope) -> SQLName? {
        SQLName(scope.role.rawValue + "_reporting")
    }

    /// SELECT on every reporting view of the schema (and USAGE on the schema) to the brokerage's
    /// reporting role, if it exists; nothing else. Runs as the tenant's role, which owns both.
    public static func grantReporting(in tx: Transaction, scope: TenantScope) async throws {
        guard let role = reportingRole(scope),
            try await tx.queryUnprepared("SELECT 1 FROM pg_roles WHERE rolname = $1", [role.rawValue]).first != nil
        else { return }
        let views = try await tx.queryUnprepared("""
            SELECT c.relname FROM pg_class c
            WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'v' AND c.relname LIKE 'report\\_%'
            ORDER BY 1
            """).rows.compactMap { SQLName(try $0.decode(String.self, "relname")) }
        var statements = ["GRANT USAGE ON SCHEMA \(scope.schema.quoted) TO \(role.quoted)"]
        if !views.isEmpty { statements.append("GRANT SELECT ON \(views.map(\.quoted).joined(separator: ", ")) TO \(role.quoted)") }
        if try await onCitus(tx) {
            // Citus checks the reader's own privileges on the tables under a view when it runs the
            // view's query on a worker (citusdata/citus#1683), so there the login also gets the
            // columns the views read, and no other: never a message's text (decision 0032).
            let columns = try await tx.queryUnprepared("""
                SELECT table_name::text AS name, string_agg(DISTINCT quote_ident(column_name::text), ', ') AS columns
                FROM information_schema.view_column_usage
                WHERE view_schema = current_schema() AND view_name::text LIKE 'report\\_%'
                  AND table_schema = current_schema() AND table_name::text NOT LIKE 'report\\_%'
                GROUP BY 1 ORDER BY 1
                """).rows
            for row in columns {
                guard let table = SQLName(try row.decode(String.self, "name")) else { continue }
                statements.append("GRANT SELECT (\(try row.decode(String.self, "columns"))) ON \(table.quoted) TO \(role.quoted)")
            }
        }
        try await runScript(statements.joined(separator: ";\n"), in: tx)
    }

    /// Hands every object of the brokerage's schema to its role (Citus provisioning creates them
    /// as Parley's own role, decision 0032). Identity sequences follow their tables.
    public static func giveSchema(in tx: Transaction, scope: TenantScope) async throws {
        try await tx.queryUnprepared("""
            DO $$
            DECLARE r record;
            BEGIN
                FOR r IN
                    SELECT format('ALTER %s %I.%I OWNER TO %I',
                                  CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'S' THEN 'SEQUENCE' WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'TABLE' END,
                                  n.nspname, c.relname, \(literal(scope.role.rawValue))) AS command
                    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                    WHERE n.nspname = \(literal(scope.schema.rawValue)) AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
                      AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype IN ('a', 'i'))
                    UNION ALL
                    SELECT format('ALTER ROUTINE %s OWNER TO %I', p.oid::regprocedure, \(literal(scope.role.rawValue)))
                    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                    WHERE n.nspname = \(literal(scope.schema.rawValue))
                LOOP
                    EXECUTE r.command;
                END LOOP;
            END
            $$
            """)
    }

    /// On Citus, every function of the schema carries the schema as its search path: triggers
    /// fire on the worker, in a session whose search path is not the brokerage's (decision 0032).
    /// Run after function files are (re)created: CREATE OR REPLACE drops the setting.
    static func pinFunctionPaths(in tx: Transaction, scope: TenantScope) async throws {
        guard try await onCitus(tx) else { return }
        try await tx.queryUnprepared("""
            DO $$
            DECLARE r record;
            BEGIN
                FOR r IN SELECT format('ALTER ROUTINE %s SET search_path = %I, public', p.oid::regprocedure, n.nspname) AS command
                         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                         WHERE n.nspname = \(literal(scope.schema.rawValue))
                           AND NOT coalesce(p.proconfig @> ARRAY['search_path=' || quote_ident(n.nspname) || ', public'], false)
                LOOP
                    EXECUTE r.command;
                END LOOP;
            END
            $$
            """)
    }

    private static func literal(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "''") + "'" }

    // MARK: - Steps

    /// Runs a SQL file: as one query, or on Citus one statement per query (Citus forwards a
    /// DDL statement to the workers with the text of the whole query it came in; decision 0032).
    public static func runScript(_ sql: String, in tx: Transaction) async throws {
        guard try await onCitus(tx) else {
            try await tx.simpleQuery(sql)
            return
        }
        // Brokerage tables keep their triggers on Citus; they run on the worker (decision 0032).
        try await tx.simpleQuery("SET LOCAL citus.enable_unsafe_triggers = on")
        for statement in SQLScript.statements(sql) {
            for step in citusForm(statement) {
                guard step.coordinatorOnly else {
                    try await tx.simpleQuery(step.sql)
                    continue
                }
                try await tx.simpleQuery("SET LOCAL citus.enable_ddl_propagation = off")
                try await tx.simpleQuery(step.sql)
                try await tx.simpleQuery("SET LOCAL citus.enable_ddl_propagation = on")
            }
        }
    }

    /// A statement as Citus accepts it on a distributed table (decision 0032), as steps that
    /// build the same objects with the same names (SQLScriptTests builds a schema from these
    /// steps on PostgreSQL and compares it with the original):
    /// - `ADD COLUMN c type … CHECK (…)`: Citus wants every constraint named, so the column and
    ///   then its check under the name PostgreSQL would give it, `<table>_<column>_check`;
    /// - `ALTER COLUMN … SET STORAGE` (007: attachment chunks stored uncompressed) is refused;
    ///   it is kept on the coordinator's table only, and on the workers PostgreSQL tries to
    ///   compress chunks and keeps them as they are when that saves nothing.
    public static func citusForm(_ statement: String) -> [(sql: String, coordinatorOnly: Bool)] {
        let code = statement.split(separator: "\n").filter { !$0.trimmingCharacters(in: .whitespaces).hasPrefix("--") }
            .joined(separator: " ").trimmingCharacters(in: .whitespaces)
        let upper = code.uppercased()
        if upper.hasPrefix("ALTER TABLE"), upper.contains(" SET STORAGE ") { return [(statement, true)] }
        let pattern = #"^ALTER TABLE ([a-z_][a-z0-9_]*) ADD COLUMN ([a-z_][a-z0-9_]*) (.+?) CHECK \((.*)\)$"#
        if let regex = try? NSRegularExpression(pattern: pattern, options: [.caseInsensitive]),
            let match = regex.firstMatch(in: code, range: NSRange(code.startIndex..., in: code)), match.numberOfRanges == 5,
            let table = Range(match.range(at: 1), in: code), let column = Range(match.range(at: 2), in: code),
            let definition = Range(match.range(at: 3), in: code), let check = Range(match.range(at: 4), in: code) {
            // PostgreSQL names a check `<table>_<column>_check` when it reads that column alone,
            // `<table>_check` when it reads others too.
            let name = checkedColumns(String(code[check])) == [String(code[column]).lowercased()]
                ? "\(code[table])_\(code[column])_check" : "\(code[table])_check"
            return [
                ("ALTER TABLE \(code[table]) ADD COLUMN \(code[column]) \(code[definition])", false),
                ("ALTER TABLE \(code[table]) ADD CONSTRAINT \(name) CHECK (\(code[check]))", false),
            ]
        }
        return [(statement, false)]
    }

    /// The column names a check expression reads: its identifiers outside string constants that
    /// are neither keywords nor called as functions.
    static func checkedColumns(_ expression: String) -> Set<String> {
        let keywords: Set<String> = ["is", "null", "not", "and", "or", "in", "like", "ilike", "between", "true", "false", "any", "all", "similar", "to", "escape", "case", "when", "then", "else", "end"]
        var names = Set<String>()
        var quoted = false
        var word = ""
        var castType = false  // the word after `::` names a type
        func flush(next: Character?) {
            if !word.isEmpty, !castType, !(word.first?.isNumber ?? true), !keywords.contains(word), next != "(" { names.insert(word) }
            if !word.isEmpty { castType = false }
            word = ""
        }
        let characters = Array(expression.lowercased())
        for (index, character) in characters.enumerated() {
            if character == "'" { quoted.toggle(); word = ""; continue }
            if quoted { continue }
            if character.isLetter || character.isNumber || character == "_" {
                word.append(character)
            } else if character == ":" {
                word = ""
                castType = true
            } else if character == "." {
                word = ""
            } else {
                var next = index < characters.count ? Optional(character) : nil
                if character == " " { next = characters[(index + 1)...].first { $0 != " " } }
                flush(next: next)
            }
        }
        flush(next: nil)
        return names
    }

    // MARK: - Advisory locks (decision 0059)

    /// The role whose members may take advisory locks where they are not everyone's: Parley's
    /// own login and every brokerage's role. One role, so each function's ACL holds one entry
    /// however many brokerages there are (an entry per brokerage role made every call's
    /// privilege check longer, and concurrent GRANTs on one function's row fail with "tuple
    /// concurrently updated").
    public static let lockRole = "parley_advisory_locks"

    /// The functions that take an advisory lock (those that release one stay open to all: they
    /// release only the caller's own).
    public static let lockFunctionsQuery = """
        SELECT p.oid::regprocedure::text AS f FROM pg_proc p
        WHERE p.pronamespace = 'pg_catalog'::regnamespace AND p.proname ~ '^pg_(try_)?advisory_(xact_)?lock'
        ORDER BY 1
        """

    /// Makes a brokerage's role a member of `lockRole` (its sends, receipts and sweeps take
    /// advisory locks), where that role exists: the embedded cluster makes it; elsewhere the
    /// DBA does, as docs/DEPLOY.md shows. Without it, advisory locks are still everyone's.
    public static func grantLockFunctions(in tx: Transaction, to role: SQLName) async throws {
        guard try await tx.roleExists(lockRole) else { return }
        try await tx.queryUnprepared("GRANT \(lockRole) TO \(role.quoted)")
    }

    /// Every brokerage role that is not a member of `lockRole` yet becomes one: brokerages made
    /// before advisory locks were taken from `PUBLIC`. Run at every start (one look when none
    /// needs it). Returns whether advisory locks are still everyone's, so that a login which is
    /// not Parley's (a reporting login) could hold up Parley's turns.
    @discardableResult
    public func secureLockFunctions() async throws -> (stillPublic: Bool, granted: Int) {
        try await database.withTransaction { tx in
            // Under the control schema's migration lock: processes starting together would
            // otherwise grant the same membership at once, and one fails on the catalog's key.
            try await Self.lock(tx, schema: Self.controlSchema)
            let open = try await tx.query(
                "SELECT has_function_privilege('public', 'pg_catalog.pg_advisory_lock(bigint)', 'EXECUTE') AS open").rows.first?
                .decode(Bool.self, "open") ?? true
            guard try await tx.roleExists(Self.lockRole) else { return (open, 0) }
            let roles = try await tx.query("""
                SELECT t.role_name FROM parley.tenants t JOIN pg_roles r ON r.rolname = t.role_name
                WHERE NOT pg_has_role(t.role_name, $1, 'MEMBER')
                ORDER BY 1
                """, [Self.lockRole]).rows.compactMap { SQLName(try $0.decode(String.self, "role_name")) }
            for role in roles { try await tx.queryUnprepared("GRANT \(Self.lockRole) TO \(role.quoted)") }
            return (open, roles.count)
        }
    }

    /// Whether the server is a Citus coordinator (the extension is installed in this database).
    public static func onCitus(_ tx: Transaction) async throws -> Bool {
        try await tx.connection.isCitus()
    }

    private static func lock(_ tx: Transaction, schema: String) async throws {
        // A migration may build an index on a large table or wait for another process's
        // migration: the pool's statement and lock timeouts are for requests, not for this.
        try await tx.simpleQuery("SET LOCAL statement_timeout = 0; SET LOCAL lock_timeout = 0")
        try await tx.query("SELECT pg_advisory_xact_lock(hashtext('parley.migrate'), hashtext($1))", [schema])
    }

    /// Every table of a brokerage carries the autovacuum thresholds of migration 017, the
    /// ledgers too (docs/decisions/0025-autovacuum-per-brokerage.md).
    static let ledgerOptions = "WITH (autovacuum_vacuum_threshold = 1000, autovacuum_analyze_threshold = 1000)"

    private static func createTenantLedger(_ tx: Transaction) async throws {
        try await tx.simpleQuery("""
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version    integer     PRIMARY KEY,
                name       text        NOT NULL,
                checksum   text        NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            ) \(ledgerOptions)
            """)
    }

    /// Applies `migration` unless recorded in `table`; returns whether it ran.
    private static func apply(_ migration: Migration, in tx: Transaction, table: String, set: String, logger: Logger) async throws -> Bool {
        let recorded = try await tx.queryUnprepared("SELECT checksum FROM \(table) WHERE version = $1", [migration.version])
        if let row = recorded.first {
            let checksum = try row.decode(String.self, "checksum")
            if checksum == migration.checksum {
                return false
            }
            if Migrations.rewritten[set]?[migration.version] == checksum {
                try await tx.queryUnprepared("UPDATE \(table) SET checksum = $1 WHERE version = $2", [migration.checksum, migration.version])
                logger.info("re-recorded a rewritten migration", metadata: ["version": "\(migration.version)", "name": "\(migration.name)"])
            } else {
                logger.warning("applied migration was edited since; migrations are forward-only, add a new one",
                               metadata: ["version": "\(migration.version)", "name": "\(migration.name)"])
            }
            return false
        }
        try await runScript(migration.sql, in: tx)
        try await tx.queryUnprepared(
            "INSERT INTO \(table) (version, name, checksum) VALUES ($1, $2, $3)",
            [migration.version, migration.name, migration.checksum])
        logger.info("applied migration", metadata: ["version": "\(migration.version)", "name": "\(migration.name)"])
        return true
    }

    /// Applies each function file whose text differs from what `ledger` recorded (all of them
    /// on a new schema). Function bodies are not checked while they are created — files run in
    /// name order and may call each other — and are checked when called (every one is covered
    /// by tests).
    static func applyFunctions(_ files: [FunctionFile], in tx: Transaction, ledger: String, logger: Logger) async throws {
        try await tx.simpleQuery("""
            CREATE TABLE IF NOT EXISTS \(ledger) (
                name       text        PRIMARY KEY,
                checksum   text        NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            ) \(ledgerOptions)
            """)
        var recorded: [String: String] = [:]
        for row in try await tx.queryUnprepared("SELECT name, checksum FROM \(ledger)").rows {
            recorded[try row.decode(String.self, "name")] = try row.decode(String.self, "checksum")
        }
        let changed = files.filter { recorded[$0.name] != $0.checksum }
        guard !changed.isEmpty else { return }
        try await tx.simpleQuery("SET LOCAL check_function_bodies = off")
        for file in changed {
            try await runScript(file.sql, in: tx)
            try await tx.queryUnprepared("""
                INSERT INTO \(ledger) (name, checksum, applied_at) VALUES ($1, $2, now())
                ON CONFLICT (name) DO UPDATE SET checksum = EXCLUDED.checksum, applied_at = EXCLUDED.applied_at
                """, [file.name, file.checksum])
            logger.info("applied function", metadata: ["name": "\(file.name)"])
        }
        try await tx.simpleQuery("SET LOCAL check_function_bodies TO DEFAULT")
    }
}
