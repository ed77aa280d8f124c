import Database
import DatabaseTesting
import Domain
import Foundation
import HTTPTypes
import NIOCore
import ParleyTesting

/// `parley-bench --directory [N]`: N listed agents (default 100,000) over 100 brokerages, synced
/// through the integration API in calls of 1,000 records, then "Find an agent" through the API
/// (issue 16, point 3: p95 ≤ 20 ms). The release server runs in its own process.
func directoryBenchmark(agents: Int, quick: Bool) async throws {
    let conninfo = try await TestDatabase.shared.makeScratchDatabase()
    let database = Database(configuration: .init(conninfo: conninfo, maxConnections: 2), logger: testLogger)
    let server = try await ServerProcess.start(conninfo: conninfo, environment: serverEnvironment)
    defer { server.killNow() }
    let brokerages = 100
    var tenants: [TestTenant] = []
    for _ in 0..<brokerages { tenants.append(try await TestTenant.make(database, prefix: "dir")) }

    // Names, cities and languages drawn like a real directory: common first and last names,
    // a few large cities and many small ones, English plus one or two others.
    let first = ["John", "Maria", "James", "Mary", "Robert", "Patricia", "Michael", "Jennifer", "David", "Linda", "William",
                 "Elizabeth", "Richard", "Barbara", "Joseph", "Susan", "Thomas", "Jessica", "Carlos", "Sarah", "Wei", "Priya",
                 "Ahmed", "Olga", "Kenji", "Fatima", "Luis", "Ana", "Chen", "Noah", "Emma", "Liam", "Olivia", "Mateo", "Sofia"]
    let last = ["Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
                "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin", "Lee",
                "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young",
                "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores", "Green", "Adams", "Nelson", "Baker"]
    let cities = ["Los Angeles", "San Diego", "San Jose", "San Francisco", "Fresno", "Sacramento", "Long Beach", "Oakland"]
        + (1...192).map { "Town \($0)" }
    let languages = ["Spanish", "Chinese", "Tagalog", "Vietnamese", "Korean", "Armenian", "Hindi", "Russian", "Japanese", "Arabic"]
    let designations = ["ABR", "CRS", "GRI", "SRES", "CIPS", "e-PRO", "SRS", "PSA"]
    var random = SplitMix64(seed: 7)
    func pick<T>(_ values: [T]) -> T { values[Int(random.next() % UInt64(values.count))] }

    let perBrokerage = agents / brokerages
    var syncTimes: [Double] = []
    let started = Stopwatch.now()
    for tenant in tenants {
        let token = try await tenant.integrationToken()
        var offset = 0
        while offset < perBrokerage {
            let count = min(1000, perBrokerage - offset)
            var records: [[String: Any]] = []
            for index in offset..<(offset + count) {
                var record: [String: Any] = [
                    "MemberKey": "agent-\(index)", "MemberFirstName": pick(first), "MemberLastName": pick(last),
                    "MemberCity": pick(cities), "MemberStateOrProvince": "CA",
                    "MemberLanguages": ["English"] + (random.next() % 3 == 0 ? [pick(languages)] : []),
                    "OfficeName": "Office \(index % 20)", "JobTitle": "Agent", "listed": true,
                    "ModificationTimestamp": "2026-11-30T09:00:00Z",
                ]
                if random.next() % 4 == 0 { record["MemberDesignation"] = [pick(designations)] }
                records.append(record)
            }
            let body = ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: ["records": records]))
            var headers = HTTPFields()
            headers[.authorization] = "Bearer \(token)"
            headers[.contentType] = "application/json"
            let start = Stopwatch.now()
            let answer = try await server.withClient { [headers] in
                try await $0.request(.post, "/v1/directory/agents", headers: headers, body: body)
            }
            syncTimes.append(Double(Stopwatch.now() - start) / 1_000_000)
            guard answer.status == .ok else { throw ServerProcess.Failure("sync answered \(answer.status): \(answer.text.prefix(300))") }
            offset += count
        }
    }
    let seconds = Double(Stopwatch.now() - started) / 1e9
    syncTimes.sort()
    print("directory: \(agents) listed agents over \(brokerages) brokerages synced in \(String(format: "%.1f", seconds)) s "
          + "(\(String(format: "%.0f", Double(agents) / seconds)) records/s; a call of 1,000: p50 \(format(percentile(syncTimes, 50))), "
          + "p95 \(format(percentile(syncTimes, 95))))")
    // The same calls again: every record unchanged.
    let again = Stopwatch.now()
    let repeatToken = try await tenants[0].integrationToken()
    let unchanged = try await server.withClient { http -> String in
        var records: [[String: Any]] = []
        let listing = try await http.json(.get, "/v1/directory/agents?limit=100", token: repeatToken)
        guard let object = try JSONSerialization.jsonObject(with: Data(listing.body.readableBytesView)) as? [String: Any],
            let items = object["items"] as? [[String: Any]]
        else { return "unreadable" }
        for item in items {
            var record = item
            record["brokerage"] = nil
            record["updatedAt"] = nil
            records.append(record)
        }
        let answer = try await http.json(.post, "/v1/directory/agents", token: repeatToken, body: ["records": records])
        return String(answer.text.suffix(80))
    }
    print("  a repeated sync of 100 stored records: \(unchanged) (\(format(Double(Stopwatch.now() - again) / 1_000_000)))")

    try await vacuumDirectory(database)
    let agent = try await tenants[0].token(sub: "searcher", role: .agent)
    let otherBrokerage = tenants[1].slug
    try await server.withClient { http in
        var headers = HTTPFields()
        headers[.authorization] = "Bearer \(agent)"
        let queries: [(String, String)] = [
            ("name prefix", "q=mar"), ("full name", "q=maria%20lopez"), ("typo", "q=jonh%20smiht"),
            ("last name, rare prefix", "q=ngu"), ("name in a city", "q=john&city=oakland"), ("language", "q=ana&language=korean"),
            ("designation, no name", "designation=SRES"), ("a brokerage, by name", "brokerage=\(otherBrokerage)"),
            ("browse everyone, page 1", ""), ("a name that no one has", "q=zyxwvut"),
        ]
        for (label, query) in queries {
            var times: [Double] = []
            var count = 0
            for index in 0..<(quick ? 10 : 60) {
                let start = Stopwatch.now()
                let response = try await http.get("/v1/directory?" + query, headers: headers)
                times.append(Double(Stopwatch.now() - start) / 1_000_000)
                if index == 0 {
                    guard response.status == .ok else { throw ServerProcess.Failure("\(query): \(response.status)") }
                    if let body = response.body,
                        let object = try? JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any]
                    {
                        count = (object["items"] as? [Any])?.count ?? 0
                    }
                }
            }
            times.sort()
            print("  \(label) (\(query.isEmpty ? "no filter" : query)): p50 \(format(percentile(times, 50))), p95 \(format(percentile(times, 95))) — \(count) in the first page")
        }
    }
    await database.close()
}

private func vacuumDirectory(_ database: Database) async throws {
    try await database.withConnection { connection in
        _ = try await connection.simpleQuery("VACUUM ANALYZE parley.directory_members")
    }
}
