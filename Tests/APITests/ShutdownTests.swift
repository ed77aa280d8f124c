import Database
import DatabaseTesting
import Domain
import Foundation
import HTTPTypes
import NIOPosix
import ParleyTesting
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// SIGTERM against a real `parley serve` (issue 14, item 6): bounded, and nothing left behind.
@Suite("Bounded graceful shutdown")
struct ShutdownTests {
    @Test("SIGTERM with an open stream, an idle connection and a half-sent request: 1001 with a resume cursor, connections dropped, exit within the timeout, embedded PostgreSQL stopped")
    func boundedShutdownOfAnEmbeddedServer() async throws { try await HeavyTest.run { try await self.boundedShutdownOfAnEmbeddedServerAlone() } }

    private func boundedShutdownOfAnEmbeddedServerAlone() async throws {
        let directory = "/tmp/parley-sd-" + randomName("", length: 8)
        defer { Self.removeCluster(directory) }
        let server = try await ServerProcess.startEmbedded(dataDirectory: directory, environment: ["PARLEY_SHUTDOWN_TIMEOUT": "4"])
        defer { server.killNow() }
        let token = try await Self.demoToken(dataDirectory: directory)

        let stream = try await TestStream.connect(port: server.port, token: token)
        let hello = try #require(await stream.next())
        #expect(hello.type == "hello")
        let cursor = try #require(hello.cursor)
        // An idle keep-alive connection (answered, then silent) and a request whose body
        // never finishes (the head is complete, 10 of 100 body bytes sent).
        let idle = try RawHTTP.HeldConnection(port: server.port, sending: "GET /health HTTP/1.1\r\nHost: parley\r\n\r\n")
        let halfSent = try RawHTTP.HeldConnection(port: server.port, sending: """
            POST /v1/sessions HTTP/1.1\r\nHost: parley\r\nAuthorization: Bearer \(token)\r\n\
            Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"members"
            """)
        // The server has the half-sent request's head once /health answers on a third connection.
        #expect(try await server.withClient { try await $0.json(.get, "/health").status } == .ok)

        kill(server.pid, SIGTERM)
        #expect(await stream.waitClosed(within: .seconds(20)))
        #expect(stream.closeCode == 1001)
        #expect(stream.closeReason?.contains("resume with after=\(cursor)") == true, "close reason: \(stream.closeReason ?? "-")")
        #expect(await idle.closedByServer(within: .seconds(20)) != nil, "the idle connection stays open")
        #expect(await halfSent.closedByServer(within: .seconds(20)) != nil, "the half-sent request's connection stays open")
        #expect(await server.exited(within: .seconds(20)), "still running 20 s after SIGTERM with a 4 s timeout")
        let postmaster = URL(fileURLWithPath: directory).appendingPathComponent("pgdata/postmaster.pid").path
        #expect(!FileManager.default.fileExists(atPath: postmaster), "the embedded PostgreSQL is still running")
    }

    @Test("SIGTERM during a request: it finishes and is answered; new connections are refused")
    func inFlightRequestsFinish() async throws { try await HeavyTest.run { try await self.inFlightRequestsFinishAlone() } }

    private func inFlightRequestsFinishAlone() async throws {
        let (conninfo, tenant) = try await TestTenant.onScratchDatabase()
        // A grace (¾ of 20 s) well beyond what the test holds the request for, even under load.
        let server = try await ServerProcess.start(conninfo: conninfo, environment: ["PARLEY_SHUTDOWN_TIMEOUT": "20"])
        defer { server.killNow() }
        let token = try await tenant.token(sub: "agent-1")
        #expect(try await server.withClient { try await $0.json(.get, "/v1/sessions", token: token).status } == .ok)

        // The request waits for a lock this test holds across the SIGTERM.
        let lock = try await HeldTransaction(conninfo: conninfo, "BEGIN; LOCK TABLE \(tenant.scope.schema.quoted).sessions IN ACCESS EXCLUSIVE MODE")
        let request = Task { try await server.withClient { try await $0.json(.get, "/v1/sessions", token: token).status } }
        try await Task.sleep(for: .milliseconds(500))
        kill(server.pid, SIGTERM)
        // Until the server has closed its listening socket, a connection may still get in.
        var refused = false
        for _ in 0..<500 where !refused {
            refused = (try? RawHTTP.HeldConnection(port: server.port, sending: "")) == nil
            if !refused { try await Task.sleep(for: .milliseconds(20)) }
        }
        #expect(refused, "new connections are still accepted after SIGTERM")
        await lock.release()
        #expect(try await request.value == .ok)
        #expect(await server.exited(within: .seconds(30)))
    }

    /// `parley token` against the embedded cluster in `dataDirectory` (the demo brokerage).
    @Test("an embedded PostgreSQL whose server was killed is stopped by the next command that finds it: never left running for good")
    func orphanedClusterAdopted() async throws { try await HeavyTest.run { try await self.orphanedClusterAdoptedAlone() } }

    private func orphanedClusterAdoptedAlone() async throws {
        let directory = "/tmp/parley-oc-" + randomName("", length: 8)
        defer { Self.removeCluster(directory) }
        let server = try await ServerProcess.startEmbedded(dataDirectory: directory, environment: [:])
        // As a Ctrl-C in its start-up, a closed terminal or a crash: no clean-up runs, and the
        // cluster (in a session of its own) keeps running.
        server.killNow()
        #expect(await server.exited(within: .seconds(10)))
        let cluster = try EmbeddedCluster(root: directory, logger: testLogger)
        #expect(try cluster.isRunning())
        // The next command adopts it, and stops it when it is done.
        let status = try await NIOThreadPool.singleton.runIfActive {
            try ServerProcess.run([ServerProcess.executable, "tenant", "list"], environment: ["DATABASE_URL": "", "PARLEY_DATA_DIR": directory])
        }
        #expect(status == 0)
        #expect(try cluster.isRunning() == false, "the cluster of a gone server was left running")
    }

    @Test("a command that started the embedded PostgreSQL leaves it running while another process uses it (a parley serve that found it running)")
    func clusterInUseKept() async throws { try await HeavyTest.run { try await self.clusterInUseKeptAlone() } }

    private func clusterInUseKeptAlone() async throws {
        let directory = "/tmp/parley-iu-" + randomName("", length: 8)
        defer { Self.removeCluster(directory) }
        let cluster = try EmbeddedCluster(root: directory, logger: testLogger)
        try await NIOThreadPool.singleton.runIfActive { _ = try cluster.start() }
        let other = Database(configuration: .init(conninfo: cluster.conninfo, maxConnections: 1), logger: testLogger)
        _ = try await other.withConnection { try await $0.query("SELECT 1 AS one") }
        #expect(try await NIOThreadPool.singleton.runIfActive { try cluster.stopUnlessInUse() } == false)
        #expect(try cluster.isRunning(), "stopped under a process using it")
        await other.close()
        #expect(try await NIOThreadPool.singleton.runIfActive { try cluster.stopUnlessInUse() })
        #expect(try cluster.isRunning() == false)
    }

    /// Whatever happened, leaves no cluster running in `directory` and no folder behind.
    static func removeCluster(_ directory: String) {
        if let cluster = try? EmbeddedCluster(root: directory, logger: testLogger), (try? cluster.isRunning()) == true {
            try? cluster.stop(immediate: true)
        }
        try? FileManager.default.removeItem(atPath: directory)
    }

    static func demoToken(dataDirectory: String) async throws -> String {
        let output = "/tmp/parley-token-\(randomName("", length: 8))"
        defer { try? FileManager.default.removeItem(atPath: output) }
        let status = try await NIOThreadPool.singleton.runIfActive {
            try ServerProcess.run(
                [ServerProcess.executable, "token", "--tenant", "demo", "--sub", "agent-1", "--role", "agent", "--name", "Avery Agent"],
                environment: ["DATABASE_URL": "", "PARLEY_DATA_DIR": dataDirectory], logPath: output)
        }
        let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        guard status == 0, let token = text.split(separator: "\n").last(where: { $0.split(separator: ".").count == 3 }) else {
            throw ServerProcess.Failure("parley token failed (\(status)): \(text)")
        }
        return String(token)
    }
}
