import API
import Database
import DatabaseTesting
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOPosix
import ParleyTesting
import Testing

@Suite("API: health, readiness, metrics, contract")
struct SystemTests {
    actor Flag {
        var value = false
        func set() { value = true }
    }

    @Test("/health answers while more pg_sleep queries run than the pool has connections")
    func healthUnderLoad() async throws {
        try await TestApp.run(maxConnections: 4, acquireTimeout: .milliseconds(500)) { app, client in
            // Long sleepers, cancelled at the end (the marker finds exactly these).
            let marker = randomName("sleeper_")
            let done = Flag()
            let sleepers = Task {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for _ in 0..<6 {
                        group.addTask {
                            // A sleeper whose wait runs out waits again: sleepers stay first in
                            // line, so a connection the pool replaces meanwhile (one that served
                            // its share of brokerages) goes to them, not to the request below.
                            while await !done.value {
                                do {
                                    try await app.database.withConnection { connection in
                                        guard await !done.value else { return }
                                        // The pool's statement_timeout (30 s) would end them early.
                                        _ = try await connection.query("SET statement_timeout = 0")
                                        _ = try await connection.query("SELECT pg_sleep(120) AS \(marker)")
                                    }
                                    return
                                } catch let error as DatabaseError {
                                    guard case .poolTimeout = error else { return }
                                } catch {
                                    return
                                }
                            }
                        }
                    }
                    try await group.waitForAll()
                }
            }
            // Until the sleepers hold every connection.
            let deadline = ContinuousClock.now + .seconds(2)
            while await app.database.poolStats().inUse < 4, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
            #expect(await app.database.poolStats().inUse == 4)
            // A request that needs the database waits at most the acquire timeout, then 503.
            let busy = try await client.send(.get, "/ready")
            #expect(busy.status == .serviceUnavailable)
            #expect(busy.headers[.contentType] == "application/problem+json")
            #expect(busy.code == "not_ready")
            // /health needs no connection: every answer is 200, given while the pool is still
            // exhausted (a request that asked for one would have got a 503 after 500 ms).
            for _ in 0..<20 {
                #expect(try await client.send(.get, "/health").status == .ok)
            }
            #expect(await app.database.poolStats().inUse == 4, "the sleepers finished before /health was checked")
            await done.set()
            try await withRawConnection { admin in
                _ = try admin.execParams(
                    "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query LIKE $1 AND pid <> pg_backend_pid()",
                    [.text("SELECT pg_sleep(120) AS \(marker)%")])
            }
            try await sleepers.value
        }
    }

    @Test("/ready is 200 once the database answers and the listener is connected")
    func ready() async throws {
        // A database of its own: "tenants" is ok only if every brokerage of the database is, and
        // other tests break and import brokerages in the shared one (a broken one failed this in CI).
        try await TestApp.run(conninfo: try await TestDatabase.shared.makeScratchDatabase()) { app, client in
            let deadline = ContinuousClock.now + .seconds(5)
            while !app.listener.isListening, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
            let response = try await client.send(.get, "/ready")
            #expect(response.status == .ok)
            #expect(try response.decode(ReadinessBody.self).checks == ["database": "ok", "listener": "ok", "tenants": "ok"])
        }
    }

    @Test("/metrics exposes request counts by route and the pool gauges")
    func metrics() async throws {
        try await TestApp.run { _, client in
            _ = try await client.send(.get, "/health")
            _ = try await client.send(.get, "/ready")
            let text = try await client.send(.get, "/metrics").text
            #expect(text.contains("http_route=\"/health\""))
            #expect(text.contains("parley_db_pool_in_use"))
            #expect(text.contains("parley_db_pool_waiting"))
            #expect(text.contains("parley_db_pool_brokerages_served"))
        }
    }

    @Test("/metrics counts the maintenance passes and the time they took")
    func maintenanceMetrics() async throws {
        try await TestApp.run { app, client in
            await app.dependencies.maintenance.runOnce()
            let lines = try await client.send(.get, "/metrics").text.split(separator: "\n")
            let passes = lines.first { $0.hasPrefix("parley_maintenance_passes_total ") }
            #expect(passes.flatMap { Double($0.split(separator: " ").last ?? "") }.map { $0 >= 1 } == true)
            #expect(lines.contains { $0.hasPrefix("parley_maintenance_pass_milliseconds_total ") })
        }
    }

    @Test("/openapi.yaml is served and documents every route the server has")
    func openAPI() async throws {
        try await TestApp.run { _, client in
            let response = try await client.send(.get, "/openapi.yaml")
            #expect(response.status == .ok)
            let document = response.text
            #expect(document.hasPrefix("openapi: 3.1"))
            // Every route the server registers (keep in step with Sources/API/Routes).
            for path in [
                "/health:", "/ready:", "/metrics:", "/openapi.yaml:", "/v1/me:", "/v1/badge:", "/v1/stream:",
                "/app/:", "/app/{file}:",
                "/v1/tenants:", "/v1/tenants/{slug}:", "/v1/tenants/{slug}/settings:",
                "/v1/tenants/{slug}/signing-keys:", "/v1/tenants/{slug}/signing-keys/{kid}:",
                "/v1/sessions:", "/v1/sessions/{id}:", "/v1/sessions/{id}/close:", "/v1/sessions/{id}/archive:",
                "/v1/sessions/{id}/reopen:", "/v1/sessions/{id}/messages:", "/v1/sessions/{id}/read:",
                "/v1/sessions/{id}/unread:", "/v1/sessions/{id}/typing:", "/v1/sessions/{id}/attachments:",
                "/v1/attachments/{id}:", "/v1/contacts:", "/v1/contacts/{id}:", "/v1/search:",
                "/v1/chat-requests:", "/v1/chat-requests/{id}:", "/v1/chat-requests/{id}/accept:",
                "/v1/chat-requests/{id}/decline:", "/v1/chat-requests/{id}/convert-to-crm:", "/v1/chat-requests/sent:",
                "/v1/chat-requests/blocks:", "/v1/chat-requests/blocks/{id}:",
                "/v1/public/{tenant}/chat-requests:", "/v1/public/{tenant}/chat-requests/{id}:",
                "/v1/directory:", "/v1/directory/me:", "/v1/directory/agents:", "/v1/directory/agents/{MemberKey}:",
                "/v1/webhooks/endpoints:", "/v1/webhooks/endpoints/{id}:", "/v1/webhooks/endpoints/{id}/secret:",
                "/v1/webhooks/endpoints/{id}/rotate-secret:", "/v1/tenants/{slug}/webhooks/endpoints:",
                "/v1/tenants/{slug}/webhooks/endpoints/{id}:", "/v1/tenants/{slug}/webhooks/endpoints/{id}/secret:",
                "/v1/tenants/{slug}/webhooks/endpoints/{id}/rotate-secret:",
                "/v1/webhooks/endpoints/{id}/deliveries:", "/v1/webhooks/endpoints/{id}/deliveries/{delivery}:",
                "/v1/webhooks/endpoints/{id}/deliveries/{delivery}/redeliver:",
                "/v1/tenants/{slug}/webhooks/endpoints/{id}/deliveries:", "/v1/tenants/{slug}/webhooks/endpoints/{id}/deliveries/{delivery}:",
                "/v1/tenants/{slug}/webhooks/endpoints/{id}/deliveries/{delivery}/redeliver:",
            ] {
                #expect(document.contains("\n  \(path)"), "openapi.yaml lacks \(path)")
            }
        }
    }

    @Test("a setting that does not parse stops the command and names the variable; an unset one takes its default")
    func settingsThatDoNotParse() async throws {
        let conninfo = try await TestDatabase.shared.makeScratchDatabase()
        for (name, value) in [("PARLEY_DB_POOL_TIMEOUT_MS", "0"), ("PARLEY_DB_LOCK_TIMEOUT_MS", "10s"), ("LOG_LEVEL", "loud"),
                              ("PARLEY_DB_STATEMENT_TIMEOUT_MS", "-1")] {
            let log = NSTemporaryDirectory() + "parley-settings-\(randomName("", length: 8)).log"
            defer { try? FileManager.default.removeItem(atPath: log) }
            let status = try await NIOThreadPool.singleton.runIfActive {
                try ServerProcess.run([ServerProcess.executable, "migrate"], environment: ["DATABASE_URL": conninfo, name: value], logPath: log)
            }
            #expect(status != 0, "\(name)=\(value) was taken")
            let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            #expect(output.contains(name == "LOG_LEVEL" ? "log level" : name), "\(output)")
        }
        // warn is taken for warning; nothing set is the defaults.
        for environment in [["DATABASE_URL": conninfo, "LOG_LEVEL": "warn"], ["DATABASE_URL": conninfo]] {
            let status = try await NIOThreadPool.singleton.runIfActive { try ServerProcess.run([ServerProcess.executable, "migrate"], environment: environment) }
            #expect(status == 0, "\(environment)")
        }
    }

    @Test("an unknown route is a 404 problem with a request id")
    func notFound() async throws {
        try await TestApp.run { _, client in
            let response = try await client.send(.get, "/v1/nothing-here")
            #expect(response.status == .notFound)
            #expect(response.headers[.contentType] == "application/problem+json")
            let body = try #require(response.problem)
            #expect(body.code == "not_found")
            #expect(body.status == 404)
            #expect(body.title == "Not Found")
            #expect(body.type.hasPrefix("urn:parley:problem:"))
            #expect(body.requestId == response.headers[try #require(HTTPField.Name("X-Request-Id"))])
        }
    }
}
