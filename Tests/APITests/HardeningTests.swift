import API
import Database
import DatabaseTesting
import Domain
import Foundation
import HTTPTypes
import ParleyTesting
import Testing

/// Hostile input and abuse, tried from outside (issue 14).
@Suite("Hardening: hostile input and abuse")
struct HardeningTests {
    /// A token as an attacker would make one: any `tid`, any `kid`, a signature of nothing.
    static func forgedToken(tid: String) -> String {
        func encode(_ json: String) -> String {
            Data(json.utf8).base64EncodedString().replacingOccurrences(of: "+", with: "-")
                .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        }
        let expires = Int(Date().timeIntervalSince1970) + 600
        return encode(#"{"alg":"HS256","typ":"JWT","kid":"forged"}"#) + "."
            + encode(#"{"tid":"\#(tid)","sub":"a","role":"agent","name":"A","exp":\#(expires)}"#) + "."
            + encode(randomName("signature-", length: 32))
    }

    /// The server's count of pooled connections asked for (each transaction asks once).
    static func acquisitions(_ server: ServerProcess) async throws -> Int {
        let metrics = try await server.withClient { try await $0.json(.get, "/metrics").text }
        let line = metrics.split(separator: "\n").first { $0.hasPrefix("parley_db_pool_acquisitions_total ") }
        return try #require(line.flatMap { Int($0.split(separator: " ").last ?? "") })
    }

    @Test("5,000 requests that cannot be authenticated or name no brokerage cause fewer than 10 database transactions")
    func unauthenticatedCostsNothing() async throws {
        // A server of its own (its own process and database): the flood's CPU stays out of
        // this process, and the server's pool counts only the flood's transactions.
        let conninfo = try await TestDatabase.shared.makeScratchDatabase()
        let database = Database(configuration: .init(conninfo: conninfo, maxConnections: 2), logger: testLogger)
        let tenant = try await TestTenant.make(database)
        let server = try await ServerProcess.start(conninfo: conninfo)
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
                                status = try await http.json(.get, "/v1/me", token: Self.forgedToken(tid: made)).status
                                expected = .unauthorized
                            case 1:
                                // A website visitor's request to a brokerage that does not exist.
                                let body = ["name": "V", "email": "v@example.com", "message": "hi"]
                                status = try await http.json(.post, "/v1/public/\(made)/chat-requests", body: body).status
                                expected = .notFound
                            default:
                                // A real brokerage's name with a forged signature.
                                status = try await http.json(.get, "/v1/me", token: Self.forgedToken(tid: tenant.slug.rawValue)).status
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
}
