import Database
import DatabaseTesting
import Foundation
import HTTPTypes
import HummingbirdTesting
import ParleyTesting

/// `--unauthenticated`: what requests that cannot be authenticated cost a real `parley serve`
/// (its own process, clients here): the rate and database transactions of a flood of forged
/// tokens, made-up brokerages and badly signed tokens for a real brokerage, against the same
/// server answering `/health` (no auth, no database) and a valid token (decision 0013).
func unauthenticatedBenchmark(quick: Bool) async throws {
    let (conninfo, tenant) = try await TestTenant.onScratchDatabase(prefix: "bench")
    let server = try await ServerProcess.start(conninfo: conninfo, environment: ["LOG_LEVEL": "error"])
    defer { server.killNow() }
    let genuine = try await tenant.token(sub: "agent-1", ttl: .seconds(3600))
    let count = quick ? 6_000 : 30_000
    let connections = 8

    func acquisitions() async throws -> Int { try await server.poolAcquisitions() ?? -1 }

    /// `count` requests over `connections` keep-alive connections; requests per second and
    /// the p50/p99 latency in ms.
    func flood(_ label: String, _ request: @escaping @Sendable (TestClient, Int) async throws -> HTTPResponse.Status) async throws {
        let before = try await acquisitions()
        let start = Stopwatch.now()
        let times = try await withThrowingTaskGroup(of: [Double].self) { group in
            for worker in 0..<connections {
                group.addTask {
                    try await server.withClient { http in
                        var times: [Double] = []
                        for index in stride(from: worker, to: count, by: connections) {
                            let began = Stopwatch.now()
                            _ = try await request(http, index)
                            times.append(Double(Stopwatch.now() - began) / 1_000_000)
                        }
                        return times
                    }
                }
            }
            return try await group.reduce(into: [Double]()) { $0 += $1 }.sorted()
        }
        let seconds = Double(Stopwatch.now() - start) / 1e9
        let used = try await acquisitions() - before
        print(String(format: "  %@: %.0f req/s, p50 %@, p99 %@, database transactions: %d for %d requests",
                     label, Double(count) / seconds, format(percentile(times, 50)), format(percentile(times, 99)), max(used, 0), count))
    }

    print("unauthenticated requests (parley serve in its own process, \(connections) keep-alive connections, \(count) requests each):")
    try await flood("GET /health (no auth, no database: the floor)") { http, _ in try await http.json(.get, "/health").status }
    try await flood("GET /v1/me with a valid token (cached keys)") { http, _ in try await http.json(.get, "/v1/me", token: genuine).status }
    let slug = tenant.slug.rawValue
    try await flood("flood: forged tid / unknown brokerage's public form / bad signature for a real brokerage") { http, index in
        switch index % 3 {
        case 0: return try await http.json(.get, "/v1/me", token: ForgedToken.make(tid: "nx\(index)")).status
        case 1:
            return try await http.json(.post, "/v1/public/nx\(index)/chat-requests",
                                       body: ["agentId": "a", "name": "V", "email": "v@example.com", "message": "hi"]).status
        default: return try await http.json(.get, "/v1/me", token: ForgedToken.make(tid: slug)).status
        }
    }
}
