import API
import Database
import DatabaseTesting
import Domain
import Foundation
import HTTPTypes
import NIOCore
import ParleyTesting
import Testing

/// Hostile input and abuse, tried from outside (issue 14).
@Suite("Hardening: hostile input and abuse")
struct HardeningTests {
    /// The server's count of pooled connections asked for (each transaction asks once).
    static func acquisitions(_ server: ServerProcess) async throws -> Int {
        try #require(try await server.poolAcquisitions())
    }

    @Test("5,000 requests that cannot be authenticated or name no brokerage cause fewer than 10 database transactions")
    func unauthenticatedCostsNothing() async throws { try await HeavyTest.run { try await self.unauthenticatedCostsNothingAlone() } }

    private func unauthenticatedCostsNothingAlone() async throws {
        // A server of its own (its own process and database): the flood's CPU stays out of
        // this process, and the server's pool counts only the flood's transactions.
        let conninfo = try await TestDatabase.shared.makeScratchDatabase()
        let database = Database(configuration: .init(conninfo: conninfo, maxConnections: 2), logger: testLogger)
        let tenant = try await TestTenant.make(database)
        // No maintenance pass during the flood: its few transactions a minute are not the flood's.
        let server = try await ServerProcess.start(conninfo: conninfo, environment: ["PARLEY_MAINTENANCE_INTERVAL": "3600"])
        defer { server.killNow() }
        // The real brokerage works, and its directory entry and keys are loaded.
        let genuine = try await tenant.token(sub: "agent-1")
        #expect(try await server.withClient { try await $0.json(.get, "/v1/me", token: genuine).status } == .ok)
        let before = try await Self.acquisitions(server)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<10 {
                group.addTask {
                    try await server.withClient { http in
                        for index in 0..<500 {
                            let made = "nx" + randomName("")
                            let status: HTTPResponse.Status
                            let expected: HTTPResponse.Status
                            switch (worker * 500 + index) % 3 {
                            case 0:
                                // A token naming a brokerage that does not exist.
                                status = try await http.json(.get, "/v1/me", token: ForgedToken.make(tid: made)).status
                                expected = .unauthorized
                            case 1:
                                // A website visitor's request to a brokerage that does not exist.
                                let body = ["name": "V", "email": "v@example.com", "message": "hi"]
                                status = try await http.json(.post, "/v1/public/\(made)/chat-requests", body: body).status
                                expected = .notFound
                            default:
                                // A real brokerage's name with a forged signature.
                                status = try await http.json(.get, "/v1/me", token: ForgedToken.make(tid: tenant.slug.rawValue)).status
                                expected = .unauthorized
                            }
                            #expect(status == expected)
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        let used = try await Self.acquisitions(server) - before
        #expect(used < 10, "\(used) connections were asked for")
        // A brokerage created right after (as by another process) is known at once: its
        // creation is announced to every process.
        let later = try await TestTenant.make(database)
        let token = try await later.token(sub: "agent-1")
        let deadline = ContinuousClock.now + .seconds(2)
        var status = 0
        while status != 200, ContinuousClock.now < deadline {
            status = Int(try await server.withClient { try await $0.json(.get, "/v1/me", token: token).status.code })
            if status != 200 { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(status == 200)
        await server.stop()
        await database.close()
    }

    @Test("a website chat request reaches only a known agent: a client's id, or an id of nobody, is refused")
    func chatRequestsOnlyToAgents() async throws {
        try await TestApp.run { app, client in
            let tenant = try await TestTenant.make(app.database)
            // Both have signed in once (any request); neither has written anything.
            let agent = try await tenant.token(sub: "agent-7", role: .agent, name: "Avery Agent")
            let member = try await tenant.token(sub: "client-7", role: .client, name: "Casey Client")
            #expect(try await client.json(.get, "/v1/me", token: agent).status == .ok)
            #expect(try await client.json(.get, "/v1/me", token: member).status == .ok)
            func submit(_ agentId: String) async throws -> APIResponse {
                try await client.json(.post, "/v1/public/\(tenant.slug)/chat-requests", body: [
                    "agentId": agentId, "name": "Vera Visitor", "email": "vera-\(agentId)@example.com", "message": "Is the house still for sale?",
                ])
            }
            for target in ["client-7", "nobody-at-all"] {
                let refused = try await submit(target)
                #expect(refused.status == .unprocessableContent, "\(target): \(refused.text)")
                #expect(refused.problem?.fields == ["agentId"])
            }
            #expect(try await submit("agent-7").status == .created)
        }
    }

    @Test("answers schemathesis found outside the contract: 405 with Allow for a method a path lacks; a preflight to no brokerage is 404")
    func outsideTheContract() async throws {
        try await TestApp.run { _, client in
            let preflight = try await client.send(.options, "/v1/public/\(randomName("nx"))/chat-requests")
            #expect(preflight.status == .notFound)
            #expect(preflight.code == "tenant_not_found")
            let trace = try await client.send(.init(rawValue: "TRACE")!, "/health")
            #expect(trace.status == .methodNotAllowed)
            #expect(trace.code == "method_not_allowed")
            #expect(trace.headers[.allow] == "GET")
            let delete = try await client.send(.delete, "/v1/sessions/\(UUID())/messages")
            #expect(delete.status == .methodNotAllowed)
            #expect(delete.headers[.allow] == "POST, GET")
            #expect(try await client.send(.get, "/v1/nothing-here").status == .notFound)
        }
    }

    @Test("a token in the query string never reaches the log, not even at debug level")
    func tokenNotLogged() async throws {
        let (conninfo, tenant) = try await TestTenant.onScratchDatabase()
        let server = try await ServerProcess.start(conninfo: conninfo, environment: ["LOG_LEVEL": "debug"])
        defer { server.killNow() }
        let token = try await tenant.token(sub: "agent-1")
        // A plain GET of the stream (no Upgrade: a proxy that drops it, a curl) is routed and logged.
        let answer = try await server.withClient { try await $0.json(.get, "/v1/stream?after=1&access_token=\(token)") }
        #expect(answer.status == .upgradeRequired)
        try await Task.sleep(for: .milliseconds(300))
        #expect(server.log.contains("access_token=[redacted]"), "\(server.log.suffix(600))")
        #expect(!server.log.contains(token))
    }

    @Test("a JSON body declared as another media type is 415 unsupported_media_type; application/json with a charset, +json types and no Content-Type are read")
    func jsonMediaType() async throws {
        try await TestApp.run { app, client in
            let tenant = try await TestTenant.make(app.database)
            let agent = try await tenant.token(sub: "agent-1", role: .agent)
            func post(_ type: String?, _ name: String) async throws -> APIResponse {
                var headers: HTTPFields = [.authorization: "Bearer \(agent)"]
                if let type { headers[.contentType] = type }
                return try await client.execute(uri: "/v1/contacts", method: .post, headers: headers, body: ByteBuffer(string: #"{"FullName":"\#(name)"}"#))
            }
            for type in ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/xml"] {
                let refused = try await post(type, "Nobody")
                #expect(refused.status == .unsupportedMediaType, "\(type): \(refused.text)")
                #expect(refused.code == "unsupported_media_type")
            }
            for (index, type) in ["application/json", "Application/JSON; charset=utf-8", "application/merge-patch+json", nil].enumerated() {
                #expect(try await post(type, "Person \(index)").status == .created, "\(type ?? "none")")
            }
        }
    }

    /// A letter with a combining accent is one Swift `Character` but two code points. Lengths
    /// were counted in Characters, while the contract's `maxLength` and the tables' checks
    /// (`char_length`) count code points: such text passed validation and then failed the
    /// table's check, a 422 `invalid_value` that named no field (found with schemathesis'
    /// combining-mark queries).
    @Test("lengths are counted in code points, as the contract and the tables count them: the field's own too_long")
    func lengthsInCodePoints() async throws {
        try await TestApp.run { app, client in
            let (_, agent, _, session) = try await AttachmentTests.pair(app, client)
            let accented = "e\u{301}"  // é as e + combining acute: 1 Character, 2 code points
            let text = try await client.json(.post, "/v1/sessions/\(session)/messages", token: agent,
                                             body: ["clientMessageId": "long", "text": String(repeating: accented, count: 6_000)])
            #expect(text.status == .unprocessableContent)
            #expect(text.code == "validation_failed")
            #expect(try #require(text.problem).fields == ["text"])
            let name = try await client.json(.post, "/v1/contacts", token: agent, body: ["FullName": String(repeating: accented, count: 150)])
            #expect(name.code == "validation_failed")
            #expect(try #require(name.problem).fields == ["FullName"])
            let search = try await client.json(.get, "/v1/contacts?q=" + String(repeating: "e%CC%81", count: 150), token: agent)
            #expect(search.code == "validation_failed")
            // Within the limit in code points, it is stored whole.
            let fits = try await client.json(.post, "/v1/sessions/\(session)/messages", token: agent,
                                             body: ["clientMessageId": "fits", "text": String(repeating: accented, count: 5_000)])
            #expect(fits.status == .created)
            #expect(try fits.decode(Message.self).text == String(repeating: accented, count: 5_000))
        }
    }
}
