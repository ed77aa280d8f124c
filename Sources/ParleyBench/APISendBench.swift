import Database
import DatabaseTesting
import Foundation
import NIOPosix
import ParleyTesting

#if canImport(Glibc)
import Glibc
#endif

/// `--api-send [R] --minimal CMD`: issue 15, point 1's second half — sends through the API
/// against the comparison kit's minimal send, on one cluster, R rounds (default 2) that take
/// turns at going first.
///
/// - The API side: `parley serve` in its own process, 16 keep-alive connections posting
///   `POST /v1/sessions/{id}/messages` back to back, spread over 400 one-to-one sessions (agent
///   k with client k) so that, as in the kit's 10,000 sessions among 400 users, concurrent sends
///   rarely meet on one session. The connections are wrk's (two threads, a Lua script that
///   gives every request its session, token and client id), as in the issue's first figure,
///   when `wrk` is installed: it costs the two shared cores ~10× less per request than this
///   process's HTTP client, as pgbench costs the minimal side little. Without wrk, this
///   process's client sends, and its CPU is printed.
/// - The minimal side: `CMD`, the kit's pgbench run (16 clients), whose `tps = …` line is read.
///
/// Both sides' PostgreSQL CPU per send is printed too: the cluster's processes, the backends
/// that exited included (the postmaster's children's time). `Benchmarks/api-send-vs-minimal.sh`
/// runs it on the kit's cluster (durable settings) through `PARLEY_TEST_DATABASE_URL`.
func apiSendBenchmark(rounds: Int, seconds: Double, minimal: String) async throws {
    let conninfo = try await TestDatabase.shared.makeScratchDatabase()
    let database = Database(configuration: .init(conninfo: conninfo, maxConnections: 2, applicationName: "parley-bench"), logger: testLogger)
    let server = try await ServerProcess.start(conninfo: conninfo, environment: serverEnvironment)
    defer { server.killNow() }
    let backend = try await database.withConnection { try await $0.simpleQuery("SELECT pg_backend_pid() AS pid") }
    guard let pid = backend.rows.first.flatMap({ try? $0.decode(Int32.self, "pid") }), let cluster = ClusterCPU(backend: pid) else {
        throw EmbeddedCluster.Failure(description: "--api-send needs the cluster on this machine (its processes' CPU is read from /proc)")
    }

    let tenant = try await TestTenant.make(database, prefix: "api")
    let pairs = 400
    print("\(pairs) one-to-one sessions (agent k with client k), made over HTTP:")
    let fixture = try await makeFixture(tenant, port: server.port, sessions: pairs, clientPerSession: true)
    let wrk = WrkLoad(fixture: fixture)
    // The script holds the sessions' tokens: removed however the bench ends.
    defer { if let wrk { try? FileManager.default.removeItem(atPath: wrk.script) } }
    print("the API side's client: " + (wrk.map { "wrk (\($0.executable))" } ?? "this process's HTTP client (install wrk for a lighter one)"))
    func apiSend(seconds: Double, label: String) async throws -> Double {
        if let wrk { return try await wrk.run(seconds: seconds, label: label) }
        return try await throughput(fixture, senders: 16, seconds: seconds, listeners: 0, label: label, server: server).rate
    }
    _ = try await apiSend(seconds: 10, label: "warm-up (not a result)")

    print(String(format: "send through the API (16 connections) against the kit's minimal send (pgbench, 16 clients), %.0f s each:", seconds))
    var ratios: [Double] = []
    for round in 1...rounds {
        var api = 0.0, apiCPU = 0.0, kit = 0.0, kitCPU = 0.0
        for apiTurn in round % 2 == 1 ? [true, false] : [false, true] {
            let before = cluster.seconds()
            if apiTurn {
                let serverBefore = server.cpuSeconds ?? 0
                let rate = try await apiSend(seconds: seconds, label: "round \(round): API send")
                (api, apiCPU) = (rate, (cluster.seconds() - before) / max(rate * seconds, 1))
                print(String(format: "    the server's CPU per message: %.0f µs", ((server.cpuSeconds ?? 0) - serverBefore) / max(rate * seconds, 1) * 1e6))
            } else {
                let (tps, transactions) = try await runMinimal(minimal)
                (kit, kitCPU) = (tps, (cluster.seconds() - before) / Double(max(transactions, 1)))
                print(String(format: "  round %d: minimal send %.0f tps", round, tps))
            }
        }
        ratios.append(api / kit)
        print(String(format: "  round %d: API send %.0f msgs/s / minimal send %.0f tps = %.2f (target ≥ 0.60); PostgreSQL CPU per send %.3f / %.3f ms = %.2f×",
                     round, api, kit, api / kit, apiCPU * 1000, kitCPU * 1000, apiCPU / kitCPU))
    }
    print("  API send / minimal send, each round: " + ratios.map { String(format: "%.2f", $0) }.joined(separator: ", "))
    await database.close()
}

/// The API side's load from wrk: 2 threads, 16 connections, a Lua script with every session's
/// path and token; each request gets the next session and a client id unique to the run.
struct WrkLoad {
    let executable: String
    let script: String
    let port: Int

    init?(fixture: Fixture) {
        guard let executable = ["/usr/bin/wrk", "/usr/local/bin/wrk"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            return nil
        }
        let targets = fixture.sessions.map { #"{"/v1/sessions/\#($0.id)/messages", "Bearer \#($0.agentToken)"}"# }
        let lua = """
            -- parley-bench --api-send: every request to the next session, with its agent's token
            -- and a client id unique to the run (wrk's arguments after --: the run's id).
            local targets = {
            \(targets.joined(separator: ",\n"))
            }
            local threads = 0
            function setup(thread)
                threads = threads + 1
                thread:set("lane", threads)
            end
            local run, count = "", 0
            function init(args)
                run = args[1] or "run"
            end
            function request()
                count = count + 1
                local target = targets[(count * 2 + lane) % #targets + 1]
                local body = '{"clientMessageId":"' .. run .. '-' .. lane .. '-' .. count .. '","text":"throughput ' .. count .. '"}'
                return wrk.format("POST", target[1], {["Authorization"] = target[2], ["Content-Type"] = "application/json"}, body)
            end
            """
        let path = NSTemporaryDirectory() + "parley-bench-wrk-\(getpid()).lua"
        guard (try? lua.write(toFile: path, atomically: true, encoding: .utf8)) != nil else { return nil }
        (self.executable, script, port) = (executable, path, fixture.port)
    }

    /// One run; prints wrk's figures and returns the messages created per second (wrk's
    /// requests less its non-2xx answers and socket errors).
    func run(seconds: Double, label: String) async throws -> Double {
        let arguments = [executable, "-t", "2", "-c", "16", "-d", "\(Int(seconds))s", "--latency", "-s", script,
                         "http://127.0.0.1:\(port)/", "--", UUID().uuidString.prefix(8).lowercased()]
        let (status, output) = try await runLogged(arguments)
        func number(after prefix: String, in line: Substring) -> Double? {
            line.range(of: prefix).flatMap { Double(line[$0.upperBound...].prefix { $0.isNumber || $0 == "." }) }
        }
        let lines = output.split(separator: "\n")
        // "  12345 requests in 15.00s, 6.78MB read"; "  Non-2xx or 3xx responses: 12";
        // "  Socket errors: connect 0, read 0, write 0, timeout 3"
        guard status == 0, let summary = lines.first(where: { $0.contains(" requests in ") }),
              let requests = summary.split(separator: " ").first.flatMap({ Double($0) }),
              let elapsed = number(after: " requests in ", in: summary)
        else { throw EmbeddedCluster.Failure(description: "wrk failed (status \(status)):\n\(output)") }
        let refused = lines.first { $0.contains("Non-2xx or 3xx responses:") }.flatMap { number(after: "responses: ", in: $0) } ?? 0
        let errors = lines.first { $0.contains("Socket errors:") }.map { line in
            ["connect ", "read ", "write ", "timeout "].compactMap { number(after: $0, in: line) }.reduce(0, +)
        } ?? 0
        let rate = (requests - refused) / max(elapsed, 0.001)
        let p99 = lines.first { $0.trimmingCharacters(in: .whitespaces).hasPrefix("99%") }.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
        print(String(format: "  %@: %.0f messages in %.1f s = %.0f msgs/s (wrk, 16 connections)", label, requests - refused, elapsed, rate)
              + (refused + errors > 0 ? String(format: "; %.0f answers not 2xx, %.0f socket errors", refused, errors) : "")
              + (p99.isEmpty ? "" : "; latency \(p99)"))
        return rate
    }
}

/// Runs the minimal send's pgbench (`/bin/sh -c command`) and reads its tps and transactions.
private func runMinimal(_ command: String) async throws -> (tps: Double, transactions: Int) {
    let (status, output) = try await runLogged(["/bin/sh", "-c", command])
    // "tps = 2512.345678 (without initial connection time)"; "number of transactions actually processed: 37686"
    let lines = output.split(separator: "\n")
    let tps = lines.first { $0.hasPrefix("tps = ") }.flatMap { Double($0.dropFirst(6).prefix { $0 != " " }) }
    let transactions = lines.first { $0.hasPrefix("number of transactions actually processed: ") }
        .flatMap { Int($0.split(separator: " ").last?.split(separator: "/").first ?? "") }
    guard status == 0, let tps, let transactions else {
        throw EmbeddedCluster.Failure(description: "the minimal send's command failed (status \(status)):\n\(output)")
    }
    return (tps, transactions)
}

/// Runs a command to completion off the cooperative pool; its exit status and what it printed.
private func runLogged(_ arguments: [String]) async throws -> (status: Int32, output: String) {
    let log = NSTemporaryDirectory() + "parley-bench-\(getpid())-\(UUID().uuidString.prefix(8)).log"
    defer { try? FileManager.default.removeItem(atPath: log) }
    let status = try await NIOThreadPool.singleton.runIfActive { try ServerProcess.run(arguments, logPath: log) }
    return (status, (try? String(contentsOfFile: log, encoding: .utf8)) ?? "")
}

/// CPU time of a PostgreSQL cluster on this machine: its postmaster, the postmaster's live
/// children, and the children that exited (their time is added to the postmaster's cutime and
/// cstime when it reaps them: pgbench's backends end with its run).
struct ClusterCPU {
    let postmaster: pid_t

    /// The cluster of the backend `backend` (its parent is the postmaster).
    init?(backend: pid_t) {
        guard let fields = Self.stat(backend), fields.count > 1, let parent = pid_t(fields[1]) else { return nil }
        postmaster = parent
    }

    func seconds() -> Double {
        let tick = Double(sysconf(Int32(_SC_CLK_TCK)))
        // After "pid (comm) ": field 3 is fields[0]; utime … cstime (14–17) are fields[11…14].
        let own = Self.stat(postmaster).map { $0.count > 14 ? $0[11...14].compactMap { Double($0) }.reduce(0, +) : 0 } ?? 0
        let pids = (try? FileManager.default.contentsOfDirectory(atPath: "/proc"))?.compactMap { pid_t($0) } ?? []
        let children = pids.reduce(0.0) { total, pid in
            guard let fields = Self.stat(pid), fields.count > 12, pid_t(fields[1]) == postmaster else { return total }
            return total + (Double(fields[11]) ?? 0) + (Double(fields[12]) ?? 0)
        }
        return (own + children) / tick
    }

    /// The fields of /proc/PID/stat after "pid (comm) ".
    private static func stat(_ pid: pid_t) -> [Substring]? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return nil }
        return text[text.index(after: close)...].split(separator: " ")
    }
}
