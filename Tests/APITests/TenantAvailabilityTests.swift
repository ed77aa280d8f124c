import Database
import DatabaseTesting
import Domain
import Foundation
import NIOPosix
import ParleyTesting
import Testing

/// A brokerage whose migration failed is not served on its old schema (issue 14, item 7).
@Suite("Tenant availability after a failed migration")
struct TenantAvailabilityTests {
    @Test("a brokerage whose migration fails at start-up answers 503 tenant_unavailable, /ready names it, the others work; a successful run brings it back")
    func failedMigrationIsNotServed() async throws { try await HeavyTest.run { try await self.failedMigrationIsNotServedAlone() } }

    private func failedMigrationIsNotServedAlone() async throws {
        let conninfo = try await TestDatabase.shared.makeScratchDatabase()
        let database = Database(configuration: .init(conninfo: conninfo, maxConnections: 1), logger: testLogger)
        defer { Task { await database.close() } }
        let healthy = try await TestTenant.make(database, prefix: "ok")
        let broken = try await TestTenant.make(database, prefix: "broken")
        // Migration 016 of `broken` is forgotten by its ledger, so the start-up run applies it
        // again, and it fails (it creates a table, which exists).
        let schema = broken.scope.schema.quoted
        let forgotten = 16
        let ledger = try await database.withTransaction { tx in
            // As a build that brings a migration sees it: not migrated by that build yet
            // (a brokerage migrated by the running build is not looked at again, decision 0030).
            try await tx.query("UPDATE parley.tenants SET migrated_checksum = 'an-older-build' WHERE slug = $1", [broken.slug.rawValue])
            return try await tx.query("DELETE FROM \(schema).schema_migrations WHERE version = $1 RETURNING name, checksum", [forgotten]).rows
        }
        let name = try #require(ledger.first).decode(String.self, "name")
        let checksum = try #require(ledger.first).decode(String.self, "checksum")

        let operatorKey = "op-" + randomName("", length: 16)
        let server = try await ServerProcess.start(conninfo: conninfo, environment: ["PARLEY_OPERATOR_KEY": operatorKey])
        defer { server.killNow() }
        let good = try await healthy.token(sub: "agent-1")
        let bad = try await broken.token(sub: "agent-1")

        #expect(try await server.withClient { try await $0.json(.get, "/v1/sessions", token: good).status } == .ok)
        let refused = try await server.withClient { try await $0.json(.get, "/v1/sessions", token: bad) }
        #expect(refused.status == .serviceUnavailable)
        #expect(refused.code == "tenant_unavailable")
        #expect(refused.headers[.retryAfter] != nil)
        let visitor = try await server.withClient {
            try await $0.json(.post, "/v1/public/\(broken.slug)/chat-requests", body: ["agentId": "agent-1", "name": "V", "email": "v@example.com", "message": "hi"])
        }
        #expect(visitor.code == "tenant_unavailable")
        let stream = try await RawWebSocket.exchange(port: server.port, token: bad)
        #expect(stream.texts.first?.contains(#""code":"tenant_unavailable""#) == true, "\(stream)")
        #expect(stream.closeCode == 1013)

        let ready = try await server.withClient { try await $0.json(.get, "/ready") }
        #expect(ready.status == .ok)
        #expect(ready.text.contains(#""status":"degraded""#))
        // Counted, not named: /ready answers anyone who can reach the port.
        #expect(ready.text.contains("1 unavailable") && !ready.text.contains(broken.slug.rawValue), "\(ready.text)")
        let view = try await server.withClient {
            try await $0.json(.get, "/v1/tenants/\(broken.slug)", token: operatorKey)
        }
        #expect(view.text.contains(#""available":false"#), "\(view.text)")
        #expect(view.text.contains("migrationError"))

        // The operator repairs the ledger and runs the migrations again: served within the
        // verifier's cache time, without a restart.
        try await database.withTransaction { tx in
            try await tx.query("INSERT INTO \(schema).schema_migrations (version, name, checksum) VALUES ($1, $2, $3)", [forgotten, name, checksum])
        }
        let status = try await NIOThreadPool.singleton.runIfActive {
            try ServerProcess.run([ServerProcess.executable, "migrate"], environment: ["DATABASE_URL": conninfo, "LOG_LEVEL": "warning"])
        }
        #expect(status == 0)
        var answer = refused.status
        for _ in 0..<100 where answer != .ok {
            try await Task.sleep(for: .milliseconds(200))
            answer = try await server.withClient { try await $0.json(.get, "/v1/sessions", token: bad).status }
        }
        #expect(answer == .ok)
        #expect(try await server.withClient { try await $0.json(.get, "/ready") }.text.contains(#""status":"ready""#))

        // A stream open while the brokerage's migration fails again: it ends with 1013
        // (reconnect later), not 4401, which tells a client its token is no good.
        let open = try await TestStream.connect(port: server.port, token: bad)
        #expect(await open.next()?.type == "hello")
        try await database.withTransaction { tx in
            try await tx.query("UPDATE parley.tenants SET migrated_checksum = 'an-older-build' WHERE slug = $1", [broken.slug.rawValue])
            try await tx.query("DELETE FROM \(schema).schema_migrations WHERE version = $1", [forgotten])
        }
        _ = try await NIOThreadPool.singleton.runIfActive {
            try ServerProcess.run([ServerProcess.executable, "migrate"], environment: ["DATABASE_URL": conninfo, "LOG_LEVEL": "critical"])
        }
        let ended = await open.next(timeout: .seconds(20))
        #expect(ended?.type == "error" && ended?.code == "tenant_unavailable", "\(String(describing: ended))")
        for _ in 0..<200 where !open.isClosed { try await Task.sleep(for: .milliseconds(50)) }
        #expect(open.closeCode == 1013)
    }
}
