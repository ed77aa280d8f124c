import Database
import DatabaseTesting
import Domain
import Foundation
import ParleyTesting
import Testing

/// The server never logs in as a superuser (issue 14, item 9).
@Suite("Least privilege")
struct LeastPrivilegeTests {
    @Test("embedded mode: the server logs in as a non-superuser role with CREATEROLE, adopts a cluster made by the superuser, and everything works")
    func embeddedServerIsNoSuperuser() async throws { try await HeavyTest.run { try await self.embeddedServerIsNoSuperuserAlone() } }

    private func embeddedServerIsNoSuperuserAlone() async throws {
        let directory = "/tmp/parley-lp-" + randomName("", length: 8)
        let cluster = try EmbeddedCluster(root: directory, logger: testLogger)
        defer {
            try? cluster.stop(immediate: true)
            try? FileManager.default.removeItem(atPath: directory)
        }
        // A cluster as an older Parley left it: control schema and a brokerage made by the
        // superuser (everything owned by it).
        try await blocking { _ = try cluster.start() }
        let admin = Database(configuration: .init(conninfo: cluster.conninfo, maxConnections: 2), logger: testLogger)
        try await Migrator(database: admin, logger: testLogger).migrateControl()
        let old = try await TestTenant.make(admin, prefix: "old")
        // ... and from before advisory locks were Parley's alone (decision 0059): every login
        // may take them, and the brokerage's role is no member of the role that may.
        try await admin.withConnection { connection in
            _ = try await connection.queryUnprepared("""
                DO $$
                DECLARE f regprocedure;
                BEGIN
                    FOR f IN \(Migrator.lockFunctionsQuery) LOOP
                        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO PUBLIC', f);
                    END LOOP;
                END $$
                """)
            _ = try await connection.queryUnprepared("REVOKE \(Migrator.lockRole) FROM \(old.scope.role.quoted)")
            let member = try await connection.query("SELECT pg_has_role($1, $2, 'MEMBER') AS m", [old.scope.role.rawValue, Migrator.lockRole])
                .rows.first?.decode(Bool.self, "m")
            #expect(member == false)
        }
        await admin.close()
        try await blocking { try cluster.stop() }

        let server = try await ServerProcess.startEmbedded(dataDirectory: directory)
        defer { server.killNow() }
        let superuser = Database(configuration: .init(conninfo: cluster.conninfo, maxConnections: 1), logger: testLogger)
        let backends = try await superuser.withConnection { connection in
            try await connection.query("""
                SELECT DISTINCT a.usename AS name, r.rolsuper AS superuser, r.rolcreaterole AS createrole, r.rolcreatedb AS createdb
                FROM pg_stat_activity a JOIN pg_roles r ON r.rolname = a.usename
                WHERE a.datname = 'parley' AND a.backend_type = 'client backend' AND a.pid <> pg_backend_pid()
                """).rows.map { row in
                    (try row.decode(String.self, "name"), try row.decode(Bool.self, "superuser"),
                     try row.decode(Bool.self, "createrole"), try row.decode(Bool.self, "createdb"))
                }
        }
        #expect(backends.count == 1 && backends.first?.0 == "parley", "\(backends)")
        #expect(backends.first?.1 == false, "the server logs in as a superuser")
        #expect(backends.first?.2 == true)
        #expect(backends.first?.3 == false)
        // Advisory locks: no longer everyone's; the old brokerage's role got them at the start.
        let locks = try await superuser.withConnection { connection in
            try await connection.query("""
                SELECT has_function_privilege('public', 'pg_catalog.pg_advisory_lock(bigint)', 'EXECUTE') AS everyone,
                       has_function_privilege($1, 'pg_catalog.pg_advisory_xact_lock(integer,integer)', 'EXECUTE') AS old
                """, [old.scope.role.rawValue]).rows.first.map { (try $0.decode(Bool.self, "everyone"), try $0.decode(Bool.self, "old")) }
        }
        #expect(locks?.0 == false && locks?.1 == true, "\(String(describing: locks))")

        // The old brokerage is served (its objects are reachable through the adopted roles),
        // a new one is provisioned (CREATE ROLE, schema, trusted extensions' functions), and
        // each does the work that touches the most objects.
        let operatorKey = try String(contentsOfFile: directory + "/operator-key", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let created = try await server.withClient {
            try await $0.json(.post, "/v1/tenants", token: operatorKey, body: ["slug": "fresh" + randomName("", length: 6), "name": "Fresh Homes"])
        }
        #expect(created.status == .created, "\(created.text)")
        for token in [try await old.token(sub: "agent-1"), try await Self.demoToken(directory)] {
            try await server.withClient { http in
                let session = try await http.json(.post, "/v1/sessions", token: token, body: ["client": ["userId": "client-1", "name": "Casey"]])
                #expect(session.status == .created, "\(session.text)")
                let id = try session.decode(Session.self).id
                let sent = try await http.json(.post, "/v1/sessions/\(id)/messages", token: token, body: ["clientMessageId": "m1", "text": "the garden is lovely"])
                #expect(sent.status == .created, "\(sent.text)")
                let found = try await http.json(.get, "/v1/search?q=garden", token: token)
                #expect(found.status == .ok && found.text.contains(id), "\(found.text)")
            }
        }
        await superuser.close()
    }

    @Test("a brokerage role that is no member of the advisory-lock role becomes one at the next start (secureLockFunctions)")
    func lockRoleGrantedAtStart() async throws {
        let database = try await TestDatabase.shared.makeDatabase()
        defer { Task { await database.close() } }
        let tenant = try await TestTenant.make(database, prefix: "lck")
        func member() async throws -> Bool? {
            try await database.withTransaction { tx in
                try await tx.query("SELECT pg_has_role($1, $2, 'MEMBER') AS m", [tenant.scope.role.rawValue, Migrator.lockRole]).rows.first?
                    .decode(Bool.self, "m")
            }
        }
        #expect(try await member() == true, "a brokerage's role is a member from its creation")
        try await database.withTransaction { tx in try await tx.simpleQuery("REVOKE \(Migrator.lockRole) FROM \(tenant.scope.role.quoted)") }
        #expect(try await member() == false)
        let secured = try await Migrator(database: database, logger: testLogger).secureLockFunctions()
        #expect(secured.granted >= 1 && !secured.stillPublic)
        #expect(try await member() == true)
    }

    static func demoToken(_ directory: String) async throws -> String {
        try await ShutdownTests.demoToken(dataDirectory: directory)
    }
}
