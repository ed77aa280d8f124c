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
///   rarely meet on one session.
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
    try await throughput(fixture, senders: 16, seconds: 10, listeners: 0, label: "warm-up (not a result)")

    print(String(format: "send through the API (16 connections) against the kit's minimal send (pgbench, 16 clients), %.0f s each:", seconds))
    var ratios: [Double] = []
    for round in 1...rounds {
        var api = 0.0, apiCPU = 0.0, kit = 0.0, kitCPU = 0.0
        for apiTurn in round % 2 == 1 ? [true, false] : [false, true] {
            let before = cluster.seconds()
            if apiTurn {
                let rate = try await throughput(fixture, senders: 16, seconds: seconds, listeners: 0, label: "round \(round): API send", server: server).rate
                (api, apiCPU) = (rate, (cluster.seconds() - before) / max(rate * seconds, 1))
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

/// Runs the minimal send's pgbench (`/bin/sh -c command`) and reads its tps and transactions.
private func runMinimal(_ command: String) async throws -> (tps: Double, transactions: Int) {
    let log = NSTemporaryDirectory() + "parley-bench-minimal-\(getpid()).log"
    defer { try? FileManager.default.removeItem(atPath: log) }
    let status = try await NIOThreadPool.singleton.runIfActive { try ServerProcess.run(["/bin/sh", "-c", command], logPath: log) }
    let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
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
