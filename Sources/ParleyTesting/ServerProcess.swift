import DatabaseTesting
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
#if canImport(Glibc)
import Glibc
#endif

/// A real `parley serve` process (the executable built next to the test bundle) on a loopback
/// port, for fault tests that kill it, run several, or take its database away.
public final class ServerProcess: Sendable {
    public let port: Int
    public let pid: pid_t
    public let logPath: String

    private init(port: Int, pid: pid_t, logPath: String) {
        self.port = port
        self.pid = pid
        self.logPath = logPath
    }

    /// The `parley` executable SwiftPM built with the tests (same folder as the test bundle),
    /// or `PARLEY_SERVER_EXECUTABLE` (a benchmark comparing against another commit's build).
    public static var executable: String {
        if let chosen = ProcessInfo.processInfo.environment["PARLEY_SERVER_EXECUTABLE"], !chosen.isEmpty { return chosen }
        let folder = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        // The bundle is `…/debug/parleyPackageTests.xctest` (a file on Linux).
        return folder.appendingPathComponent("parley").path
    }

    /// Starts `parley serve` on `conninfo` and waits until `/ready` answers 200.
    public static func start(
        conninfo: String, port: Int? = nil, environment: [String: String] = [:], readyWithin: Duration = .seconds(60)
    ) async throws -> ServerProcess {
        try await start(environment: ["DATABASE_URL": conninfo].merging(environment) { $1 }, port: port, readyWithin: readyWithin)
    }

    /// Starts `parley serve` with no `DATABASE_URL`: on its own embedded cluster in
    /// `dataDirectory` (created, initialised and stopped by the server).
    public static func startEmbedded(
        dataDirectory: String, environment: [String: String] = [:], readyWithin: Duration = .seconds(180)
    ) async throws -> ServerProcess {
        try await start(
            environment: ["DATABASE_URL": "", "PARLEY_DATA_DIR": dataDirectory].merging(environment) { $1 },
            port: nil, readyWithin: readyWithin)
    }

    private static func start(environment: [String: String], port: Int?, readyWithin: Duration) async throws -> ServerProcess {
        let port = try port ?? freePort()
        let logPath = "/tmp/parley-fault-\(port)-\(UInt32.random(in: 0...UInt32.max)).log"
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw Failure("no parley executable at \(executable): build it with the tests (swift build --build-tests)")
        }
        let pid = try spawn([executable, "serve", "--port", String(port)], environment: [
            // Webhook delivery only where a test asks (TestApp explains why).
            "LOG_LEVEL": "warning", "PARLEY_DB_POOL_SIZE": "6", "PARLEY_WEBHOOK_DELIVERY": "off",
        ].merging(environment) { $1 }, logPath: logPath)
        let server = ServerProcess(port: port, pid: pid, logPath: logPath)
        try await server.waitReady(within: readyWithin)
        return server
    }

    /// Waits until `/ready` is 200 (the process answers, its pool and LISTEN connection work).
    public func waitReady(within limit: Duration = .seconds(60)) async throws {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if try await readyStatus() == 200 { return }
            guard kill(pid, 0) == 0 else { throw Failure("parley serve exited; log: \(log)") }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw Failure("parley serve not ready within \(limit); log: \(log)")
    }

    /// `/ready`'s status, or nil when nothing answers.
    public func readyStatus() async throws -> Int? {
        try? await withClient { client in Int(try await client.json(.get, "/ready").status.code) }
    }

    /// The server's count of pooled connections asked for (`parley_db_pool_acquisitions_total`
    /// on /metrics: one per transaction), or nil if /metrics does not show it.
    public func poolAcquisitions() async throws -> Int? {
        try await metric("parley_db_pool_acquisitions_total")
    }

    /// The streams the server has open (`parley_stream_subscriptions` on /metrics).
    public func openStreams() async throws -> Int? {
        try await metric("parley_stream_subscriptions")
    }

    /// A metric without labels from /metrics, as an integer.
    public func metric(_ name: String) async throws -> Int? {
        let metrics = try await withClient { try await $0.json(.get, "/metrics").text }
        let line = metrics.split(separator: "\n").first { $0.hasPrefix(name + " ") }
        return line.flatMap { Double($0.split(separator: " ").last ?? "") }.map { Int($0) }
    }

    /// The process's resident memory (VmRSS) in KiB, or nil when it cannot be read.
    public var residentKiB: Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") }
        return line.flatMap { Int($0.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") }
    }

    /// CPU time the process has used (user + system), in seconds, or nil when it cannot be read.
    public var cpuSeconds: Double? { Self.cpuSeconds(pid: pid) }

    /// CPU time process `pid` has used (user + system), in seconds, or nil when it cannot be read.
    public static func cpuSeconds(pid: pid_t) -> Double? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        // Fields after "pid (comm) ": state is field 3; utime and stime are fields 14 and 15.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// CPU time used so far by the live processes named `name` (all PostgreSQL backends of this
    /// machine, say), in seconds. A process that exits takes its share with it.
    public static func cpuSeconds(ofProcessesNamed name: String) -> Double {
        let pids = (try? FileManager.default.contentsOfDirectory(atPath: "/proc"))?.compactMap { pid_t($0) } ?? []
        return pids.reduce(0) { total, pid in
            let comm = (try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
            return comm == name ? total + (cpuSeconds(pid: pid) ?? 0) : total
        }
    }

    /// Runs `body` with an HTTP/1.1 client on its own connection to this server.
    public func withClient<T: Sendable>(_ body: @escaping @Sendable (TestClient) async throws -> T) async throws -> T {
        try await TestClient.withClient(host: "127.0.0.1", port: port, configuration: .init(timeout: .seconds(15)), operation: body)
    }

    /// Runs `body` with the API client tests use on a `TestApp`, on its own connection here.
    public func withAPIClient<T: Sendable>(_ body: @escaping @Sendable (TestAPIClient) async throws -> T) async throws -> T {
        let port = port
        return try await TestClient.withClient(host: "127.0.0.1", port: port, configuration: .init(timeout: TestAPIClient.timeout)) {
            try await body(TestAPIClient(port: port, client: $0))
        }
    }

    /// `kill -9`: no shutdown of any kind. Waits (without blocking a thread) until it is gone.
    public func killHard() async {
        kill(pid, SIGKILL)
        _ = await exited(within: .seconds(10))
    }

    /// SIGTERM (a graceful shutdown), then SIGKILL if it has not exited within 10 s. The
    /// server's log file goes with it (read `log` before, for a failure's message).
    public func stop() async {
        defer { unlink(logPath) }
        kill(pid, SIGTERM)
        if await exited(within: .seconds(10)) { return }
        await killHard()
    }

    /// For `defer`: SIGKILL without waiting (the zombie is reaped when the test process ends),
    /// and the log file removed.
    public func killNow() {
        kill(pid, SIGKILL)
        unlink(logPath)
    }

    /// Polls for the exit (never `waitpid` without WNOHANG: this runs on the cooperative pool,
    /// whose two threads every test of the process shares).
    public func exited(within limit: Duration) async -> Bool {
        let deadline = ContinuousClock.now + limit
        var status: Int32 = 0
        while ContinuousClock.now < deadline {
            let result = waitpid(pid, &status, WNOHANG)
            if result == pid || (result < 0 && errno == ECHILD) { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return false
    }

    public var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)).map { String($0.suffix(4000)) } ?? "" }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
        public init(_ description: String) { self.description = description }
    }

    /// A port nothing listens on now (bound to port 0, then released).
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure("socket() failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Bool in
                bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard bound else { throw Failure("bind() failed") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// posix_spawn without waiting: stdin /dev/null, stdout and stderr to `logPath`, the test
    /// process's environment plus `environment`. (Not Foundation's Process: see Database/Spawn.)
    static func spawn(_ arguments: [String], environment: [String: String], logPath: String) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var merged = ProcessInfo.processInfo.environment
        for (key, value) in environment { merged[key] = value }
        let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = merged.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, arguments[0], &actions, nil, argv, envp)
        guard status == 0 else { throw Failure("cannot start \(arguments[0]): \(String(cString: strerror(status)))") }
        return pid
    }
}

extension TestClient {
    /// Like `TestAPIClient.json`, for a client of a server in another process.
    public func json(_ method: HTTPRequest.Method, _ uri: String, token: String? = nil, body: Any? = nil) async throws -> APIResponse {
        var headers = HTTPFields()
        if let token { headers[.authorization] = "Bearer \(token)" }
        var buffer: ByteBuffer?
        if let body {
            headers[.contentType] = "application/json"
            buffer = ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: body))
        }
        return try await request(method, uri, headers: headers, body: buffer)
    }

    /// One request with these headers and body bytes.
    public func request(_ method: HTTPRequest.Method, _ uri: String, headers: HTTPFields, body: ByteBuffer?) async throws -> APIResponse {
        let response = try await execute(.init(uri, method: method, headers: headers, body: body))
        return APIResponse(status: response.head.status, headers: response.head.headerFields, body: response.body ?? ByteBuffer())
    }
}

extension ServerProcess {
    /// Runs a command to completion (output to `logPath`) and returns its exit status.
    /// Blocking: call it on a thread that may block (NIOThreadPool), not the cooperative pool.
    public static func run(_ arguments: [String], environment: [String: String] = [:], logPath: String = "/dev/null") throws -> Int32 {
        let pid = try spawn(arguments, environment: environment, logPath: logPath)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { throw Failure("waitpid failed for \(arguments[0])") }
        }
        return status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }
}
