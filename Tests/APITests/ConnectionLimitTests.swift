import Database
import DatabaseTesting
import Domain
import Foundation
import ParleyTesting
import Testing

/// Timeouts and caps on connections and streams, tried from outside against a real server
/// process (issue 14, item 5).
@Suite("Connection timeouts and caps")
struct ConnectionLimitTests {
    @Test("a slowloris head, a stalled body and an idle keep-alive connection are closed by the timeouts")
    func timeouts() async throws { try await HeavyTest.run { try await self.timeoutsAlone() } }

    private func timeoutsAlone() async throws {
        let conninfo = try await TestDatabase.shared.makeScratchDatabase()
        let server = try await ServerProcess.start(conninfo: conninfo, environment: [
            "PARLEY_HTTP_HEADER_TIMEOUT": "1", "PARLEY_HTTP_IDLE_TIMEOUT": "2",
        ])
        defer { server.killNow() }
        // A header line every 200 ms, never the blank line that ends the head.
        let slowloris = try RawHTTP.HeldConnection(port: server.port, sending: "GET /health HTTP/1.1\r\nHost: parley\r\n")
        let dribble = Task {
            for index in 0..<100 {
                try await Task.sleep(for: .milliseconds(200))
                if !slowloris.send("X-Slow-\(index): y\r\n") { return }
            }
        }
        defer { dribble.cancel() }
        let stalled = try RawHTTP.HeldConnection(port: server.port, sending: """
            POST /v1/sessions HTTP/1.1\r\nHost: parley\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"me
            """)
        let idle = try RawHTTP.HeldConnection(port: server.port, sending: "GET /health HTTP/1.1\r\nHost: parley\r\n\r\n")

        #expect(await slowloris.closedByServer(within: .seconds(15)) != nil, "a slowloris keeps its connection")
        #expect(await stalled.closedByServer(within: .seconds(15)) != nil, "a stalled body keeps its connection")
        let answered = await idle.closedByServer(within: .seconds(15))
        #expect(answered?.hasPrefix("HTTP/1.1 200") == true, "the idle connection is answered, then closed: \(answered ?? "still open")")
        // The server still serves everyone else.
        #expect(try await server.withClient { try await $0.json(.get, "/health").status } == .ok)
    }

    @Test("one connection over PARLEY_MAX_CONNECTIONS is answered 503 too_many_connections; a closed one frees its place")
    func connectionCap() async throws { try await HeavyTest.run { try await self.connectionCapAlone() } }

    private func connectionCapAlone() async throws {
        let conninfo = try await TestDatabase.shared.makeScratchDatabase()
        let server = try await ServerProcess.start(conninfo: conninfo, environment: ["PARLEY_MAX_CONNECTIONS": "3"])
        defer { server.killNow() }
        // Three keep-alive connections, each answered, then held open.
        var held: [RawHTTP.HeldConnection] = []
        for _ in 0..<3 {
            let connection = try await Self.answered(port: server.port)
            held.append(connection)
        }
        let refused = try await RawHTTP.partialUpload(port: server.port, head: "GET /health HTTP/1.1\r\nHost: parley\r\n", body: [], send: 0)
        #expect(refused.status == 503)
        #expect(refused.response.contains(#""code":"too_many_connections""#))
        #expect(refused.response.lowercased().contains("retry-after: 1"))
        held.removeLast()
        var status = 0
        for _ in 0..<50 where status != 200 {
            status = try await RawHTTP.partialUpload(port: server.port, head: "GET /health HTTP/1.1\r\nHost: parley\r\n", body: [], send: 0).status
            if status != 200 { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(status == 200, "a freed place is not given back")
    }

    /// A connection whose GET /health was answered 200 (retrying while probe connections of
    /// the readiness check are still being closed).
    static func answered(port: Int) async throws -> RawHTTP.HeldConnection {
        for _ in 0..<50 {
            let connection = try RawHTTP.HeldConnection(port: port, sending: "GET /health HTTP/1.1\r\nHost: parley\r\n\r\n")
            if let head = await connection.received(within: .seconds(5)), head.hasPrefix("HTTP/1.1 200") { return connection }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw ServerProcess.Failure("no connection was answered 200")
    }

    @Test("a stream over PARLEY_MAX_STREAMS_PER_USER gets too_many_streams and 4429; over PARLEY_MAX_STREAMS server_busy and 1013; a closed stream frees its place")
    func streamCaps() async throws { try await HeavyTest.run { try await self.streamCapsAlone() } }

    private func streamCapsAlone() async throws {
        let (conninfo, tenant) = try await TestTenant.onScratchDatabase()
        let server = try await ServerProcess.start(conninfo: conninfo, environment: [
            "PARLEY_MAX_STREAMS": "3", "PARLEY_MAX_STREAMS_PER_USER": "2",
        ])
        defer { server.killNow() }
        let avery = try await tenant.token(sub: "avery")
        let blake = try await tenant.token(sub: "blake")
        let casey = try await tenant.token(sub: "casey")

        var averyStreams: [TestStream] = []
        for _ in 0..<2 {
            let stream = try await TestStream.connect(port: server.port, token: avery)
            #expect(await stream.next()?.type == "hello")
            averyStreams.append(stream)
        }
        // A third, with the token on the request or in the first frame: an error frame, 4429.
        for viaFrame in [false, true] {
            let third = try await RawWebSocket.exchange(
                port: server.port, token: viaFrame ? nil : avery, send: viaFrame ? [#"{"type":"auth","token":"\#(avery)"}"#] : [])
            #expect(third.texts.count == 1 && third.texts.first?.contains(#""code":"too_many_streams""#) == true, "\(third)")
            #expect(third.closeCode == 4429)
            #expect(third.closeReason == "too_many_streams")
        }

        let blakeStream = try await TestStream.connect(port: server.port, token: blake)
        #expect(await blakeStream.next()?.type == "hello")
        let busy = try await RawWebSocket.exchange(port: server.port, token: casey)
        #expect(busy.texts.first?.contains(#""code":"server_busy""#) == true, "\(busy)")
        #expect(busy.closeCode == 1013)

        // Closing a stream gives its place back.
        await averyStreams.removeFirst().close()
        var reopened: StreamMessage?
        for _ in 0..<50 where reopened?.type != "hello" {
            let stream = try await TestStream.connect(port: server.port, token: casey)
            reopened = await stream.next(timeout: .seconds(5))
            if reopened?.type != "hello" { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(reopened?.type == "hello")
        for stream in averyStreams + [blakeStream] { await stream.close() }
    }
}
