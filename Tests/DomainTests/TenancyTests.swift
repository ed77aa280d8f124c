import Database
import DatabaseTesting
import Domain
import Foundation
import Testing

@Suite("Tenancy: isolation and migrations of provisioned tenants")
struct TenancyTests {
    @Test("a tenant's role cannot read or write another tenant's schema (42501)")
    func crossTenantDenied() async throws {
        let database = try await TestDatabase.shared.makeDatabase()
        defer { Task { await database.close() } }
        let a = try await TenantFixture.make(database)
        let b = try await TenantFixture.make(database)
        try await database.withTenant(b.scope) { tx in
            try await tx.query("INSERT INTO users (id, role, display_name) VALUES ('b-1', 'agent', 'Secret Agent')")
        }
        let other = b.scope.schema.quoted
        for sql in [
            "SELECT * FROM \(other).users",
            "INSERT INTO \(other).users (id, role, display_name) VALUES ('x', 'agent', 'X')",
            "SELECT * FROM parley.tenant_signing_keys",
        ] {
            await #expect {
                try await database.withTenant(a.scope) { tx in try await tx.queryUnprepared(sql) }
            } throws: { error in
                (error as? DatabaseError)?.sqlState == "42501"
            }
        }
    }

    @Test("unqualified names resolve to the caller's own schema")
    func scopedSearchPath() async throws {
        let database = try await TestDatabase.shared.makeDatabase()
        defer { Task { await database.close() } }
        let a = try await TenantFixture.make(database)
        let b = try await TenantFixture.make(database)
        try await database.withTenant(a.scope) { tx in
            try await tx.query("INSERT INTO users (id, role, display_name) VALUES ($1, 'agent', $2)", ["u1", "Ann"])
        }
        let inA = try await database.withTenant(a.scope) { tx in try await tx.query("SELECT id FROM users").rows.count }
        let inB = try await database.withTenant(b.scope) { tx in try await tx.query("SELECT id FROM users").rows.count }
        #expect(inA == 1)
        #expect(inB == 0)
    }

    @Test("the tenant scope ends with the transaction: the next one on the same connection is unscoped")
    func scopeDoesNotLeak() async throws {
        let database = try await TestDatabase.shared.makeDatabase(maxConnections: 1)
        defer { Task { await database.close() } }
        let tenant = try await TenantFixture.make(database)
        let inside = try await database.withTenant(tenant.scope) { tx in
            try await tx.query("SELECT current_user AS u, current_schema() AS s").rows[0]
        }
        #expect(try inside.decode(String.self, "u") == tenant.scope.role.rawValue)
        #expect(try inside.decode(String.self, "s") == tenant.scope.schema.rawValue)
        let after = try await database.withTransaction { tx in
            try await tx.query("SELECT current_user AS u, current_schema() AS s").rows[0]
        }
        #expect(try after.decode(String.self, "u") != tenant.scope.role.rawValue)
        #expect(try after.decode(String?.self, "s") != tenant.scope.schema.rawValue)
    }

    @Test("migrations are idempotent: a second run applies nothing and records nothing new")
    func migrationsIdempotent() async throws {
        let database = try await TestDatabase.shared.makeDatabase()
        defer { Task { await database.close() } }
        let tenant = try await TenantFixture.make(database)
        let migrator = Migrator(database: database, logger: testLogger)
        #expect(try await migrator.migrateControl().isEmpty)
        #expect(try await migrator.migrateTenant(tenant.scope).isEmpty)
        let recorded = try await database.withTenant(tenant.scope) { tx in
            try await tx.query("SELECT version FROM schema_migrations ORDER BY version").rows.map { try $0.decode(Int.self, "version") }
        }
        #expect(recorded == Migrations.tenant.map(\.version))
        // Objects belong to the tenant's role, not to the connecting superuser.
        let owner = try await database.withTransaction { tx in
            try await tx.query(
                "SELECT tableowner FROM pg_tables WHERE schemaname = $1 AND tablename = 'users'",
                [tenant.scope.schema.rawValue]).rows[0].decode(String.self, "tableowner")
        }
        #expect(owner == tenant.scope.role.rawValue)
    }

    @Test("migrateAll runs no more brokerages at once than its pool can serve: a slow one does not fail the others with a pool timeout")
    func migrateAllWithinThePool() async throws {
        let conninfo = try await TestDatabase.shared.makeScratchDatabase()
        // A pool of 2 with a short wait for a connection, as the CLI's was.
        let database = try await TestDatabase.shared.makeDatabase(conninfo: conninfo, maxConnections: 2, acquireTimeout: .seconds(1))
        defer { Task { await database.close() } }
        var fixtures: [TenantFixture] = []
        for _ in 0..<3 { fixtures.append(try await TenantFixture.make(database)) }
        // Each has its functions to write again (their ledger forgotten), which takes its lock.
        try await database.withTransaction { tx in
            for fixture in fixtures { try await tx.simpleQuery("DELETE FROM \(fixture.scope.schema.quoted).schema_functions") }
        }
        // Each brokerage's migration waits 2.5 s for its lock (as for a table rewrite, or
        // another process's migration), holding its connection meanwhile.
        let holds = try await withThrowingTaskGroup(of: HeldTransaction.self) { group in
            for fixture in fixtures {
                group.addTask {
                    try await HeldTransaction(conninfo: conninfo, "BEGIN; SELECT pg_advisory_xact_lock(hashtext('parley.migrate'), hashtext('\(fixture.scope.schema.rawValue)'))")
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        let release = Task {
            try await Task.sleep(for: .milliseconds(2500))
            for hold in holds { await hold.release() }
        }
        let outcomes = try await TenantStore(database: database, logger: testLogger).migrateAll(recheck: true, lanes: 4) { _ in }
        try await release.value
        let ours = outcomes.filter { outcome in fixtures.contains { $0.slug.rawValue == outcome.slug } }
        #expect(ours.count == 3)
        #expect(ours.allSatisfy { $0.error == nil }, "\(ours.compactMap(\.error))")
    }

    @Test("migrateAll reports each tenant and skips one that fails, resuming on the next run")
    func migrateAllResumes() async throws {
        // A database of its own: a server that another test starts in the shared database
        // migrates every brokerage there at start-up, and while this test's broken brokerage is
        // in it, that server's /ready reports it (SystemTests.ready failed in CI so).
        let database = try await TestDatabase.shared.makeDatabase(conninfo: try await TestDatabase.shared.makeScratchDatabase())
        defer { Task { await database.close() } }
        let healthy = try await TenantFixture.make(database)
        let broken = try await TenantFixture.make(database)
        // Simulate a tenant left behind: an empty schema whose role may not create anything.
        let schema = broken.scope.schema.quoted, role = broken.scope.role.quoted
        try await database.withTransaction { tx in
            try await tx.simpleQuery("""
                DROP SCHEMA \(schema) CASCADE;
                CREATE SCHEMA \(schema) AUTHORIZATION \(role);
                REVOKE CREATE ON SCHEMA \(schema) FROM \(role);
                """)
            // As a build with a new migration sees them: not migrated by it yet.
            for slug in [healthy.slug.rawValue, broken.slug.rawValue] {
                try await tx.query("UPDATE parley.tenants SET migrated_checksum = 'an-older-build' WHERE slug = $1", [slug])
            }
        }
        let tenants = TenantStore(database: database, logger: testLogger)
        var first: [TenantStore.MigrationOutcome] = []
        _ = try await tenants.migrateAll { first.append($0) }
        let failed = try #require(first.first { $0.slug == broken.slug.rawValue })
        #expect(failed.error != nil)
        #expect(first.first { $0.slug == healthy.slug.rawValue }?.error == nil)
        try await database.withTransaction { tx in
            try await tx.simpleQuery("GRANT CREATE ON SCHEMA \(broken.scope.schema.quoted) TO \(broken.scope.role.quoted)")
        }
        var second: [TenantStore.MigrationOutcome] = []
        _ = try await tenants.migrateAll { second.append($0) }
        let resumed = try #require(second.first { $0.slug == broken.slug.rawValue })
        #expect(resumed.error == nil)
        #expect(resumed.applied == Migrations.tenant.map(\.version))
        let healthyAgain = try #require(second.first { $0.slug == healthy.slug.rawValue })
        #expect(healthyAgain.skipped, "migrated by this build in the first run")
        // Nothing left to do: both are skipped without a look at their schemas; --recheck looks.
        var third: [TenantStore.MigrationOutcome] = []
        _ = try await tenants.migrateAll { third.append($0) }
        let ours = third.filter { $0.slug == healthy.slug.rawValue || $0.slug == broken.slug.rawValue }
        #expect(ours.count == 2 && ours.allSatisfy(\.skipped))
        var rechecked: [TenantStore.MigrationOutcome] = []
        _ = try await tenants.migrateAll(recheck: true) { rechecked.append($0) }
        let checked = try #require(rechecked.first { $0.slug == broken.slug.rawValue })
        #expect(!checked.skipped && checked.error == nil && checked.applied.isEmpty)
    }

    @Test("provisioning is all or nothing: a duplicate slug leaves no second role or schema")
    func provisioningConflict() async throws {
        let database = try await TestDatabase.shared.makeDatabase()
        defer { Task { await database.close() } }
        let tenant = try await TenantFixture.make(database)
        await #expect(throws: DomainError.conflict(code: "tenant_exists", message: "a tenant with slug '\(tenant.slug)' already exists")) {
            _ = try await TenantStore(database: database, logger: testLogger).create(slug: tenant.slug, displayName: "Again")
        }
        let count = try await database.withTransaction { tx in
            try await tx.query("SELECT count(*) AS n FROM parley.tenants WHERE slug = $1", [tenant.slug.rawValue]).rows[0].decode(Int.self, "n")
        }
        #expect(count == 1)
    }

    @Test("every table of a brokerage waits for 1,000 changed rows before autovacuum visits it; queues are never analyzed")
    func autovacuumThresholds() async throws {
        // Each autovacuum or autoanalyze of a table makes every backend walk all its cached plans,
        // which grow with the number of brokerages: with PostgreSQL's defaults (50 rows) sends
        // over 1,000 brokerages stalled for seconds at a time (decision 0025).
        let database = try await TestDatabase.shared.makeDatabase()
        defer { Task { await database.close() } }
        let tenant = try await TenantFixture.make(database)
        let tables = try await database.withTransaction { tx in
            try await tx.query("""
                SELECT c.relname AS name, coalesce(array_to_string(c.reloptions, ','), '') AS options
                FROM pg_class c WHERE c.relnamespace = $1::regnamespace AND c.relkind = 'r' ORDER BY 1
                """, [tenant.scope.schema.rawValue]).rows.map { (try $0.decode(String.self, "name"), try $0.decode(String.self, "options")) }
        }
        #expect(tables.count > 10)
        for (name, options) in tables {
            let set = Set(options.split(separator: ",").map(String.init))
            #expect(set.contains("autovacuum_vacuum_threshold=1000"), "\(name): \(options)")
            if ["event_outbox", "badge_deltas"].contains(name) {
                #expect(set.contains("autovacuum_analyze_threshold=2147483647") && set.contains("vacuum_truncate=false"), "\(name): \(options)")
            } else {
                #expect(set.contains("autovacuum_analyze_threshold=1000"), "\(name): \(options)")
            }
        }
    }

    @Test("the columns a send writes check their values as shared domains: a bad value written by SQL is refused with 23514 and the check's name")
    func sendColumnsChecked() async throws {
        // Decision 0042: the checks moved from the tables to domains, planned once per backend.
        let database = try await TestDatabase.shared.makeDatabase()
        defer { Task { await database.close() } }
        let tenant = try await TenantFixture.make(database)
        let types = try await database.withTransaction { tx in
            try await tx.query("""
                SELECT c.relname || '.' || a.attname AS col, n.nspname || '.' || t.typname AS type
                FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_type t ON t.oid = a.atttypid
                JOIN pg_namespace n ON n.oid = t.typnamespace
                WHERE c.relnamespace = $1::regnamespace AND c.relkind = 'r' AND t.typtype = 'd' AND a.attnum > 0 AND NOT a.attisdropped
                """, [tenant.scope.schema.rawValue]).rows.reduce(into: [String: String]()) {
                $0[try $1.decode(String.self, "col")] = try $1.decode(String.self, "type")
            }
        }
        #expect(types == [
            "sessions.kind": "public.parley_session_kind", "sessions.status": "public.parley_session_status",
            "session_members.role": "public.parley_member_role", "session_members.last_read_seq": "public.parley_read_seq",
            "messages.seq": "public.parley_message_seq", "messages.client_message_id": "public.parley_client_message_id",
            "messages.text": "public.parley_message_text", "messages.listing": "public.parley_listing",
            "event_outbox.type": "public.parley_event_type", "event_outbox.recipients": "public.parley_event_recipients",
        ])
        let session = "'00000000-0000-4000-8000-000000000001'"
        let refused: [(sql: String, constraint: String)] = [
            ("INSERT INTO sessions (id, kind, created_by) VALUES (\(session), 'group', 'a')", "sessions_kind_check"),
            ("INSERT INTO sessions (id, kind, status, created_by) VALUES (\(session), 'client', 'deleted', 'a')", "sessions_status_check"),
            ("INSERT INTO session_members (session_id, user_id, role) VALUES (\(session), 'a', 'owner')", "session_members_role_check"),
            ("INSERT INTO session_members (session_id, user_id, role, last_read_seq) VALUES (\(session), 'a', 'agent', -1)",
             "session_members_last_read_seq_check"),
            ("INSERT INTO messages (session_id, seq, sender_id, client_message_id, text) VALUES (\(session), 0, 'a', 'c', 'hi')", "messages_seq_check"),
            ("INSERT INTO messages (session_id, seq, sender_id, client_message_id, text) VALUES (\(session), 1, 'a', '', 'hi')",
             "messages_client_message_id_check"),
            ("INSERT INTO messages (session_id, seq, sender_id, client_message_id, text) VALUES (\(session), 1, 'a', 'c', repeat('x', 10001))",
             "messages_text_check"),
            ("INSERT INTO messages (session_id, seq, sender_id, client_message_id, text, listing) VALUES (\(session), 1, 'a', 'c', 'hi', '[1]')",
             "messages_listing_check"),
            ("INSERT INTO event_outbox (type, recipients, data) VALUES ('Message Created', '{a}', '{}')", "event_outbox_type_check"),
            ("INSERT INTO event_outbox (type, recipients, data) VALUES ('message.created', '{}', '{}')", "event_outbox_recipients_check"),
        ]
        for (sql, constraint) in refused {
            await #expect(Comment(rawValue: sql)) {
                try await database.withTenant(tenant.scope) { tx in try await tx.simpleQuery(sql) }
            } throws: { error in
                guard case .invalid(let server) = error as? DatabaseError else { return false }
                return server.sqlState == "23514" && server.constraint == constraint
            }
        }
    }
}

@Suite("Tenancy: pipelined tenant statements")
struct PipelinedTenantTests {
    @Test("tenantPipelined runs as the tenant role, denies other schemas, and leaves nothing behind")
    func pipelinedScope() async throws {
        let database = try await TestDatabase.shared.makeDatabase(maxConnections: 1)
        defer { Task { await database.close() } }
        let a = try await TenantFixture.make(database)
        let b = try await TenantFixture.make(database)
        let inside = try await database.tenantPipelined(a.scope, "SELECT current_user AS u, current_schema() AS s, $1::text AS echo", ["it's"])
        #expect(try inside.rows[0].decode(String.self, "u") == a.scope.role.rawValue)
        #expect(try inside.rows[0].decode(String.self, "s") == a.scope.schema.rawValue)
        #expect(try inside.rows[0].decode(String.self, "echo") == "it's")
        await #expect {
            _ = try await database.tenantPipelined(a.scope, "SELECT count(*) FROM \(b.scope.schema.quoted).users", [])
        } throws: { error in
            (error as? DatabaseError)?.sqlState == "42501"
        }
        let after = try await database.withTransaction { tx in try await tx.query("SELECT current_user AS u").rows[0].decode(String.self, "u") }
        #expect(after != a.scope.role.rawValue)
    }
}

@Suite("Tenancy: a brokerage's connections")
struct TenantAffinityTests {
    static func backend(_ database: Database, _ tenant: TenantFixture) async throws -> Int32 {
        try await database.withTenant(tenant.scope) { tx in
            try await tx.query("SELECT pg_backend_pid() AS pid").rows[0].decode(Int32.self, "pid")
        }
    }

    @Test("a brokerage's transactions return to the same backend while other brokerages' come and go, and the brokerages spread over the pool")
    func sameBackend() async throws {
        let database = try await TestDatabase.shared.makeDatabase(maxConnections: 4)
        defer { Task { await database.close() } }
        var tenants: [TenantFixture] = []
        for _ in 0..<10 { tenants.append(try await TenantFixture.make(database)) }
        // Four connections open and idle.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<4 {
                group.addTask { try await database.withTransaction { tx in _ = try await tx.query("SELECT pg_sleep(0.3)") } }
            }
            try await group.waitForAll()
        }
        var seen: [Int: Set<Int32>] = [:]
        for _ in 0..<5 {
            for (index, tenant) in tenants.enumerated() {
                seen[index, default: []].insert(try await Self.backend(database, tenant))
            }
        }
        for (index, backends) in seen { #expect(backends.count == 1, "brokerage \(index) ran on \(backends.count) backends") }
        #expect(Set(seen.values.flatMap { $0 }).count > 1, "every brokerage ran on one backend")
    }

    @Test("one busy brokerage still gets every connection of the pool, not only its first choices")
    func busyBrokerageGetsThePool() async throws {
        let database = try await TestDatabase.shared.makeDatabase(maxConnections: 4)
        defer { Task { await database.close() } }
        let tenant = try await TenantFixture.make(database)
        // Four connections open and idle, two of them outside the brokerage's first two choices.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<4 {
                group.addTask { try await database.withTransaction { tx in _ = try await tx.query("SELECT pg_sleep(0.2)") } }
            }
            try await group.waitForAll()
        }
        let backends = try await withThrowingTaskGroup(of: Int32.self) { group in
            for _ in 0..<4 {
                group.addTask {
                    try await database.withTenant(tenant.scope) { tx in
                        try await tx.query("SELECT pg_backend_pid() AS pid, pg_sleep(0.5)").rows[0].decode(Int32.self, "pid")
                    }
                }
            }
            return try await group.reduce(into: Set<Int32>()) { $0.insert($1) }
        }
        #expect(backends.count == 4)
    }

    @Test("a connection that has served maxTenantsPerConnection brokerages is replaced when it comes back")
    func retired() async throws {
        let conninfo = try await TestDatabase.shared.conninfo()
        let database = Database(configuration: .init(conninfo: conninfo, maxConnections: 1, maxTenantsPerConnection: 3), logger: testLogger)
        defer { Task { await database.close() } }
        var tenants: [TenantFixture] = []
        for _ in 0..<4 { tenants.append(try await TenantFixture.make(database)) }
        let first = try await Self.backend(database, tenants[0])
        #expect(try await Self.backend(database, tenants[1]) == first)
        #expect(try await Self.backend(database, tenants[0]) == first)
        #expect(try await Self.backend(database, tenants[2]) == first)
        let next = try await Self.backend(database, tenants[3])
        #expect(next != first)
        #expect(try await Self.backend(database, tenants[0]) == next)
    }
}
