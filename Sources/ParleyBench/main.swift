// parley-bench: send→deliver latency and send throughput of the real server.
//
//   swift run -c release parley-bench [--quick]
//   … --stall      send→deliver while another database holds a transaction open
//   … --events     the event log at 1M events: sequencing, replay, retention
//   … --formatter  message text → HTML for hostile 10,000-character texts (no database)
//   … --unauthenticated  a flood that cannot be authenticated, against a parley serve process
//   … --idle N [--hold S]  server memory and CPU of N idle streams
//   … --fanout [R]         send throughput without, with one and with 50 live sockets, R rounds
//   … --api-send [R] --minimal CMD  sends through the API against the kit's minimal send (CMD, its
//                          pgbench run), R rounds; run by Benchmarks/api-send-vs-minimal.sh
//   … --latency [R]        send→deliver at 200 msgs/s without and with 1,000 idle streams, R rounds
//                          (--streams N: N idle streams instead; --settle S: open S s before each run, 2 by default —
//                          past 30 the streams' pings and credential checks run during it)
//   … --brokerages [N]     provisioning N brokerages; sends over 50 of them against over all N
//                          (--maintenance: then waits for the server's second maintenance pass, prints their mean length;
//                          --vacuum-wave: then sends over all N while the 50 busy brokerages' tables are vacuumed)
//   … --provision [N] [--lanes 1,2,4,8]  N brokerages provisioned at each number of lanes
//   … --webhooks [R]       send throughput with and without a webhook endpoint (R rounds), delivery
//                          rate and lag, send→webhook latency beside send→stream
//   … --migrate [N] [--lanes L]        N brokerages: provisioning rate, footprint, `parley migrate` with nothing to do
//                          (--round-seconds S, --warm-up S: each round's and the warm-up's length)
//
// Starts a throwaway PostgreSQL cluster (or uses PARLEY_TEST_DATABASE_URL). The default run
// starts `parley serve` (the release build next to this executable) in its own process and
// drives it with real HTTP and WebSocket clients from this one (LiveBench.swift); --store,
// --search, --stall and --events run the application in this process. It prints the
// figures, it asserts nothing (docs/BENCHMARKS.md).
import API
import Database
import Domain
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import ParleyTesting
import Synchronization

let quick = CommandLine.arguments.contains("--quick")

/// Shared mutable state for the bench's tasks.
final class Shared<Value: Sendable>: Sendable {
    let state: Mutex<Value>
    init(_ value: Value) { state = Mutex(value) }
    func with<T>(_ body: (inout Value) -> T) -> T { state.withLock { body(&$0) } }
}

struct Stopwatch {
    static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }
}

func percentile(_ sorted: [Double], _ p: Double) -> Double {
    guard !sorted.isEmpty else { return .nan }
    let rank = Int((p / 100 * Double(sorted.count - 1)).rounded())
    return sorted[min(max(rank, 0), sorted.count - 1)]
}

func format(_ ms: Double) -> String { String(format: "%.2f ms", ms) }

/// An HTTP/1.1 keep-alive connection per sender (the test client serializes its requests).
func post(_ client: TestClient, _ path: String, token: String, json: String) async throws -> HTTPResponse.Status {
    var headers = HTTPFields()
    headers[.authorization] = "Bearer \(token)"
    headers[.contentType] = "application/json"
    return try await client.post(path, headers: headers, body: ByteBuffer(string: json)).status
}

struct Fixture: Sendable {
    let port: Int
    let tenant: TestTenant
    let agent: String
    let client: String
    /// Sessions between the client and `sessions.count` agents (token per session's agent).
    let sessions: [(id: String, agentToken: String)]
    var session: String { sessions[0].id }
}

/// Sends `count` messages at `rate` per second over `connections` connections, and measures for
/// each the time from issuing the POST to its `message.created` frame arriving on the reader.
/// Prints the figures; returns the send→deliver p99.
@discardableResult
func latency(_ fixture: Fixture, rate: Double, count: Int, connections: Int, label: String) async throws -> Double {
    let reader = try await TestStream.connect(port: fixture.port, token: fixture.client)
    _ = await reader.next()
    let started = Shared<[String: UInt64]>([:])
    let latencies = Shared<[Double]>([])
    let postTimes = Shared<[Double]>([])
    let collector = Task {
        var seen = 0
        while seen < count, let (frame, arrived) = await reader.nextEventTimed(["message.created"], timeout: .seconds(20)) {
            if let key = (try? frame.data(Message.self))?.clientMessageId, let start = started.with({ $0[key] }) {
                latencies.with { $0.append(Double(arrived - start) / 1_000_000) }
                seen += 1
            }
        }
    }
    let interval = 1.0 / rate
    let begin = Stopwatch.now()
    try await withThrowingTaskGroup(of: Void.self) { group in
        for lane in 0..<connections {
            group.addTask {
                try await TestClient.withClient(host: "127.0.0.1", port: fixture.port) { http in
                    var index = lane
                    while index < count {
                        // Message i is due at begin + i × interval (open-loop pacing).
                        let due = begin + UInt64(Double(index) * interval * 1_000_000_000)
                        let now = Stopwatch.now()
                        if due > now { try await Task.sleep(nanoseconds: due - now) }
                        let key = "\(label)-\(index)"
                        let sendStart = Stopwatch.now()
                        started.with { $0[key] = sendStart }
                        let target = fixture.sessions[index % fixture.sessions.count]
                        let status = try await post(http, "/v1/sessions/\(target.id)/messages", token: target.agentToken,
                                                    json: #"{"clientMessageId":"\#(key)","text":"latency probe \#(index)"}"#)
                        if status != .created, index < connections { print("  unexpected status \(status)") }
                        let postTime = Double(Stopwatch.now() - sendStart) / 1_000_000
                        postTimes.with { $0.append(postTime) }
                        index += connections
                    }
                }
            }
        }
        try await group.waitForAll()
    }
    let elapsed = Double(Stopwatch.now() - begin) / 1_000_000_000
    await collector.value
    await reader.close()
    let sorted = latencies.with { $0 }.sorted()
    let posts = postTimes.with { $0 }.sorted()
    print("  \(label): \(sorted.count)/\(count) delivered, achieved \(String(format: "%.0f", Double(count) / elapsed)) msgs/s; send→deliver p50 \(format(percentile(sorted, 50))), p99 \(format(percentile(sorted, 99))), max \(format(sorted.last ?? .nan)); the POST alone p50 \(format(percentile(posts, 50))), p99 \(format(percentile(posts, 99)))")
    return percentile(sorted, 99)
}

/// Closed-loop send throughput: `senders` connections sending back to back for `seconds`;
/// messages per second, and (given the server's process) the CPU time per message of the
/// server, of this process (the clients) and of PostgreSQL's processes.
///
/// `observer`: a token of a user of the brokerage who is in none of the fixture's sessions. Its
/// stream, open through the run, receives nothing, but with it the server numbers and reads the
/// brokerage's events as it does whenever anyone there is connected (without any stream the
/// events wait for the next stream or maintenance pass, which then pays for them).
@discardableResult
func throughput(_ fixture: Fixture, senders: Int, seconds: Double, listeners: Int, label: String, server: ServerProcess? = nil,
                observer: String? = nil) async throws -> (rate: Double, cpu: CPUPerMessage?) {
    // The recipient's live sockets, drained by one thread that discards what arrives (the
    // cheapest client: the server's fan-out is what is measured).
    let streams = StreamSockets()
    try await streams.open(port: fixture.port, tokens: Array(repeating: fixture.client, count: listeners))
    streams.startDraining()
    let watching = StreamSockets()
    if let observer {
        try await watching.open(port: fixture.port, tokens: [observer])
        watching.startDraining(lanes: 1)
    }
    defer { watching.close() }
    if listeners > 0 || observer != nil {
        // Before any send of this run: each stream should have had its hello and nothing else.
        try await Task.sleep(for: .milliseconds(500))
        if listeners > 0 { print("    before the first send, each socket had received \(streams.bytesReceived / listeners) bytes") }
    }
    let sent = Shared(0)
    let failed = Shared(0)
    // Keys unique to this run: a later run with the same label must send new messages, not
    // replay this run's (an idempotent replay answers 200 and would count as a failure).
    let run = UUID().uuidString.prefix(8)
    let deadline = Stopwatch.now() + UInt64(seconds * 1_000_000_000)
    let begin = Stopwatch.now()
    let cpuBefore = server.flatMap(CPUPerMessage.now)
    try await withThrowingTaskGroup(of: Void.self) { group in
        for lane in 0..<senders {
            group.addTask {
                let counter = Shared(0)
                while Stopwatch.now() < deadline {
                    // A request that gets no answer within the client's timeout is counted, and
                    // the lane goes on with a new connection (a stall is a result, not a crash).
                    do {
                        try await TestClient.withClient(host: "127.0.0.1", port: fixture.port) { http in
                            while Stopwatch.now() < deadline {
                                let index = counter.with { next in
                                    defer { next += 1 }
                                    return next
                                }
                                let target = fixture.sessions[(lane + index * senders) % fixture.sessions.count]
                                let status = try await post(http, "/v1/sessions/\(target.id)/messages", token: target.agentToken,
                                                            json: #"{"clientMessageId":"\#(run)-\#(lane)-\#(index)","text":"throughput \#(index)"}"#)
                                if status == .created { sent.with { $0 += 1 } } else { failed.with { $0 += 1 } }
                            }
                        }
                    } catch {
                        failed.with { $0 += 1 }
                    }
                }
            }
        }
        try await group.waitForAll()
    }
    let elapsed = Double(Stopwatch.now() - begin) / 1_000_000_000
    let total = sent.with { $0 }
    let failures = failed.with { $0 }
    var cpu: CPUPerMessage?
    if let before = cpuBefore, let after = server.flatMap(CPUPerMessage.now) { cpu = (after - before) / Double(max(total, 1)) }
    print("  \(label): \(total) messages in \(String(format: "%.1f", elapsed)) s = \(String(format: "%.0f", Double(total) / elapsed)) msgs/s (\(senders) senders, \(listeners) live sockets)"
          + (cpu.map { String(format: "; CPU per message: server %.0f µs, clients %.0f µs, PostgreSQL %.0f µs", $0.server * 1e6, $0.clients * 1e6, $0.postgres * 1e6) } ?? "")
          + (failures > 0 ? "; \(failures) requests failed or timed out" : ""))
    if listeners > 0 {
        print(String(format: "    each socket received %.0f bytes per message sent", Double(streams.bytesReceived) / Double(max(total, 1)) / Double(listeners))
              + (streams.closedByServer > 0 ? "; \(streams.closedByServer) of \(listeners) sockets closed by the server during the run (close codes \(streams.serverCloseCodes.sorted { $0.key < $1.key }))" : ""))
    }
    streams.close()
    return (Double(total) / elapsed, cpu)
}

/// The token of `throughput`'s observer: an agent of `tenant` in none of its sessions.
func observerToken(_ tenant: TestTenant) async throws -> String {
    try await tenant.token(sub: "observer-1", role: .agent, name: "Bench Observer", ttl: .seconds(3600))
}

/// CPU seconds used by the server, this process and PostgreSQL: a reading, or a difference
/// of two divided by the messages sent between them.
struct CPUPerMessage {
    var server = 0.0, clients = 0.0, postgres = 0.0

    static func now(_ server: ServerProcess) -> CPUPerMessage? {
        guard let serverCPU = server.cpuSeconds, let own = ServerProcess.cpuSeconds(pid: getpid()) else { return nil }
        return CPUPerMessage(server: serverCPU, clients: own, postgres: ServerProcess.cpuSeconds(ofProcessesNamed: "postgres"))
    }

    static func - (a: CPUPerMessage, b: CPUPerMessage) -> CPUPerMessage {
        CPUPerMessage(server: a.server - b.server, clients: a.clients - b.clients, postgres: a.postgres - b.postgres)
    }

    static func + (a: CPUPerMessage, b: CPUPerMessage) -> CPUPerMessage {
        CPUPerMessage(server: a.server + b.server, clients: a.clients + b.clients, postgres: a.postgres + b.postgres)
    }

    static func / (a: CPUPerMessage, b: Double) -> CPUPerMessage {
        CPUPerMessage(server: a.server / b, clients: a.clients / b, postgres: a.postgres / b)
    }
}

/// One client and `sessions` agents, each with a session with the client: the client's socket
/// sees every message, as an inbox would.
func makeFixture(_ app: TestApp, port: Int, sessions count: Int = 1) async throws -> Fixture {
    try await makeFixture(try await TestTenant.make(app.database, prefix: "bench"), port: port, sessions: count)
}

/// The same, in a brokerage that already exists (on a server in another process). With
/// `clientPerSession`, session k is agent k's with client k instead (the fixture's `client` is
/// still client 1).
func makeFixture(_ tenant: TestTenant, port: Int, sessions count: Int, clientPerSession: Bool = false) async throws -> Fixture {
    let client = try await tenant.token(sub: "client-1", role: .client, name: "Bench Client", ttl: .seconds(3600))
    var sessions: [(id: String, agentToken: String)] = []
    for index in 1...count {
        let agent = try await tenant.token(sub: "agent-\(index)", role: .agent, name: "Bench Agent \(index)", ttl: .seconds(3600))
        let other = clientPerSession ? index : 1
        let id = try await TestClient.withClient(host: "127.0.0.1", port: port) { http -> String in
            var headers = HTTPFields()
            headers[.authorization] = "Bearer \(agent)"
            headers[.contentType] = "application/json"
            let body = #"{"client":{"userId":"client-\#(other)","name":"Bench Client"}}"#
            let response = try await http.post("/v1/sessions", headers: headers, body: ByteBuffer(string: body))
            let object = try JSONSerialization.jsonObject(with: Data(buffer: response.body ?? ByteBuffer())) as? [String: Any]
            guard let id = object?["id"] as? String else { throw EmbeddedCluster.Failure(description: "could not create the session") }
            return id
        }
        sessions.append((id, agent))
    }
    return Fixture(port: port, tenant: tenant, agent: sessions[0].agentToken, client: client, sessions: sessions)
}

/// Round-trip time of a GET, to separate HTTP and auth cost from the database work.
func baseline(_ fixture: Fixture) async throws {
    try await TestClient.withClient(host: "127.0.0.1", port: fixture.port) { http in
        var headers = HTTPFields()
        headers[.authorization] = "Bearer \(fixture.agent)"
        for (label, path) in [("GET /health (no auth, no database)", "/health"), ("GET /v1/me (token check)", "/v1/me"),
                              ("GET /v1/badge (one tenant transaction)", "/v1/badge")] {
            var times: [Double] = []
            for _ in 0..<200 {
                let start = Stopwatch.now()
                _ = try await http.get(path, headers: headers)
                times.append(Double(Stopwatch.now() - start) / 1_000_000)
            }
            times.sort()
            print("  \(label): p50 \(format(percentile(times, 50))), p99 \(format(percentile(times, 99)))")
        }
        var times: [Double] = []
        for _ in 0..<200 {
            let start = Stopwatch.now()
            _ = try await post(http, "/v1/sessions/\(fixture.session)/read", token: fixture.agent, json: #"{"upTo":0}"#)
            times.append(Double(Stopwatch.now() - start) / 1_000_000)
        }
        times.sort()
        print("  POST /v1/sessions/{id}/read (small JSON body, one tenant transaction): p50 \(format(percentile(times, 50))), p99 \(format(percentile(times, 99)))")
    }
}

print("parley-bench (\(quick ? "quick" : "full") run) on \(ProcessInfo.processInfo.activeProcessorCount) cores")
if CommandLine.arguments.contains("--formatter") {
    formatterBenchmark()
    exit(0)
}
if CommandLine.arguments.contains("--unauthenticated") {
    try await unauthenticatedBenchmark(quick: quick)
    exit(0)
}
let inProcess = ["--store", "--search", "--stall", "--events"].contains { CommandLine.arguments.contains($0) }
if let flag = CommandLine.arguments.firstIndex(of: "--brokerages") {
    let count = CommandLine.arguments.dropFirst(flag + 1).first.flatMap { Int($0) } ?? 1_000
    func seconds(_ option: String, _ otherwise: Double) -> Double {
        CommandLine.arguments.firstIndex(of: option).flatMap { CommandLine.arguments.dropFirst($0 + 1).first }.flatMap(Double.init) ?? otherwise
    }
    try await brokeragesBenchmark(count: max(count, 50), quick: quick,
                                  roundSeconds: seconds("--round-seconds", quick ? 3 : 10), warmUpSeconds: seconds("--warm-up", quick ? 3 : 30))
    exit(0)
}
if let flag = CommandLine.arguments.firstIndex(of: "--provision") {
    let count = CommandLine.arguments.dropFirst(flag + 1).first.flatMap { Int($0) } ?? 200
    let lanes = CommandLine.arguments.firstIndex(of: "--lanes").flatMap { CommandLine.arguments.dropFirst($0 + 1).first }
        .map { $0.split(separator: ",").compactMap { Int($0) }.filter { $0 > 0 } } ?? [1, 2, 4, 8]
    try await provisionBenchmark(count: max(count, 10), lanes: lanes.isEmpty ? [2] : lanes)
    exit(0)
}
if let flag = CommandLine.arguments.firstIndex(of: "--migrate") {
    let count = CommandLine.arguments.dropFirst(flag + 1).first.flatMap { Int($0) } ?? 1_000
    let lanes = CommandLine.arguments.firstIndex(of: "--lanes").flatMap { CommandLine.arguments.dropFirst($0 + 1).first }.flatMap { Int($0) } ?? 2
    try await migrateBenchmark(count: max(count, 10), lanes: max(lanes, 1))
    exit(0)
}
if let flag = CommandLine.arguments.firstIndex(of: "--directory") {
    let count = CommandLine.arguments.dropFirst(flag + 1).first.flatMap { Int($0) } ?? (quick ? 10_000 : 100_000)
    try await directoryBenchmark(agents: max(count, 1_000), quick: quick)
    exit(0)
}
if let flag = CommandLine.arguments.firstIndex(of: "--webhooks") {
    let rounds = CommandLine.arguments.dropFirst(flag + 1).first.flatMap { Int($0) } ?? 2
    try await webhookBenchmark(rounds: rounds, quick: quick)
    exit(0)
}
if let flag = CommandLine.arguments.firstIndex(of: "--api-send") {
    let rounds = CommandLine.arguments.dropFirst(flag + 1).first.flatMap { Int($0) } ?? 2
    guard let minimal = CommandLine.arguments.firstIndex(of: "--minimal").flatMap({ CommandLine.arguments.dropFirst($0 + 1).first }) else {
        print("--api-send needs --minimal CMD, the kit's pgbench run (Benchmarks/api-send-vs-minimal.sh passes it)")
        exit(2)
    }
    let seconds = CommandLine.arguments.firstIndex(of: "--round-seconds").flatMap { CommandLine.arguments.dropFirst($0 + 1).first }.flatMap(Double.init) ?? 15
    try await apiSendBenchmark(rounds: max(rounds, 1), seconds: seconds, minimal: minimal)
    exit(0)
}
if let flag = CommandLine.arguments.firstIndex(of: "--fanout") {
    let rounds = CommandLine.arguments.dropFirst(flag + 1).first.flatMap { Int($0) } ?? 2
    try await fanOutBenchmark(rounds: max(rounds, 1))
    exit(0)
}
if let flag = CommandLine.arguments.firstIndex(of: "--latency") {
    let rounds = CommandLine.arguments.dropFirst(flag + 1).first.flatMap { Int($0) } ?? 2
    func option(_ name: String, _ otherwise: Int) -> Int {
        CommandLine.arguments.firstIndex(of: name).flatMap { CommandLine.arguments.dropFirst($0 + 1).first }.flatMap { Int($0) } ?? otherwise
    }
    try await latencyBenchmark(rounds: max(rounds, 1), streams: max(option("--streams", 1_000), 1), settle: max(option("--settle", 2), 0))
    exit(0)
}
if let flag = CommandLine.arguments.firstIndex(of: "--idle") {
    let count = CommandLine.arguments.dropFirst(flag + 1).first.flatMap { Int($0) } ?? 15_000
    try await idleBenchmark(count: count)
    exit(0)
}
if !inProcess {
    try await liveBenchmark(quick: quick)
    exit(0)
}
try await TestApp.run(maxConnections: 16) { app, client in
    guard let port = client.port else { return }
    try await app.waitUntilListening()
    if CommandLine.arguments.contains("--search") {
        print("search (HTTP GET /v1/search as an agent who is a member of 1/10 of the sessions):")
        try await searchBenchmark(app, port: port, quick: quick)
        return
    }
    if CommandLine.arguments.contains("--stall") {
        try await stallBenchmark(app, port: port)
        return
    }
    if CommandLine.arguments.contains("--events") {
        try await eventLogBenchmark(app, port: port, events: quick ? 100_000 : 1_000_000)
        return
    }
    if CommandLine.arguments.contains("--store") {
        let fixture = try await makeFixture(app, port: port)
        let caller = Caller(tenant: fixture.tenant.tenant, userID: "agent-1", role: .agent, name: "Bench Agent 1")
        var times: [Double] = []
        for index in 0..<300 {
            let start = Stopwatch.now()
            _ = try await app.dependencies.sessions.send(caller, sessionID: fixture.session, .init(clientMessageId: "s\(index)", text: "store probe"))
            times.append(Double(Stopwatch.now() - start) / 1_000_000)
        }
        times.sort()
        print("  SessionStore.send (no HTTP): p50 \(format(percentile(times, 50))), p99 \(format(percentile(times, 99)))")
        return
    }
    print("--store, --search, --stall or --events")
}
