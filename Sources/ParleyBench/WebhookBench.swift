import Database
import DatabaseTesting
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import ParleyTesting

/// `--webhooks [R]`: what webhook delivery costs and how fast it is (issue 19), against a real
/// `parley serve` (release build, delivery on) and a receiver in this process that answers 200:
///
/// - send throughput of a brokerage with no endpoint against one with an endpoint for
///   `message.created`, R rounds of none / hooked / hooked / none (the ratio is the cost of
///   webhooks to the send path, which writes nothing for them);
/// - deliveries per second during the hooked runs, and how long the last one lagged;
/// - send→webhook latency at 50 msgs/s (POST issued → the receiver has the delivery), beside
///   send→stream latency measured in the same run.
func webhookBenchmark(rounds: Int, quick: Bool) async throws {
    let conninfo = try await TestDatabase.shared.makeScratchDatabase()
    let database = Database(configuration: .init(conninfo: conninfo, maxConnections: 2), logger: testLogger)
    var environment = serverEnvironment
    environment["PARLEY_WEBHOOK_DELIVERY"] = "on"
    environment["PARLEY_WEBHOOK_ALLOWED_HOSTS"] = "127.0.0.1"
    environment["LOG_LEVEL"] = "warning"
    let server = try await ServerProcess.start(conninfo: conninfo, environment: environment)
    defer { server.killNow() }
    try await WebhookReceiver.run { receiver in
        let plain = try await makeFixture(try await TestTenant.make(database, prefix: "plain"), port: server.port, sessions: 20)
        let hookedTenant = try await TestTenant.make(database, prefix: "hooked")
        let hooked = try await makeFixture(hookedTenant, port: server.port, sessions: 20)
        let integration = try await hookedTenant.integrationToken(sub: "bench")
        try await TestClient.withClient(host: "127.0.0.1", port: server.port) { http in
            var headers = HTTPFields()
            headers[.authorization] = "Bearer \(integration)"
            headers[.contentType] = "application/json"
            let body = #"{"url":"\#(receiver.url("bench"))","eventTypes":["message.created"]}"#
            let response = try await http.post("/v1/webhooks/endpoints", headers: headers, body: ByteBuffer(string: body))
            guard response.status == .created else { throw EmbeddedCluster.Failure(description: "endpoint not created: \(response.status)") }
        }
        print("webhook delivery (one endpoint for message.created, a receiver answering 200 on 127.0.0.1):")
        _ = try await throughput(plain, senders: 16, seconds: 3, listeners: 0, label: "warm-up (not a result)")
        // Latency first, with no backlog: POST issued → the receiver has it; the stream's in the
        // same run for comparison.
        try await latency(hooked, rate: 50, count: quick ? 100 : 500, connections: 4, label: "send→stream at 50 msgs/s (comparison)")
        let count = quick ? 100 : 500
        let issued = Shared<[String: Date]>([:])
        let before = await receiver.received("bench").count
        try await TestClient.withClient(host: "127.0.0.1", port: server.port) { http in
            let begin = ContinuousClock.now
            for index in 0..<count {
                let due = begin + .milliseconds(index * 20)
                if due > .now { try await Task.sleep(until: due) }
                let key = "wl-\(index)"
                issued.with { $0[key] = Date() }
                let target = hooked.sessions[index % hooked.sessions.count]
                _ = try await post(http, "/v1/sessions/\(target.id)/messages", token: target.agentToken,
                                   json: #"{"clientMessageId":"\#(key)","text":"\#(key)"}"#)
            }
        }
        _ = await drain(receiver)
        let sentAt = issued.with { $0 }
        var latencies: [Double] = []
        for request in (await receiver.received("bench")).dropFirst(before) {
            guard let object = try? JSONSerialization.jsonObject(with: Data(request.body.utf8)) as? [String: Any],
                let data = object["data"] as? [String: Any], let text = data["text"] as? String, let start = sentAt[text]
            else { continue }
            latencies.append(request.at.timeIntervalSince(start) * 1000)
        }
        latencies.sort()
        print("  send→webhook at 50 msgs/s: \(latencies.count)/\(count) delivered; p50 \(format(percentile(latencies, 50))), p99 \(format(percentile(latencies, 99))), max \(format(latencies.last ?? .nan))")
        _ = try await throughput(hooked, senders: 16, seconds: 3, listeners: 0, label: "warm-up with webhooks (not a result)")
        _ = await drain(receiver)
        let seconds: Double = quick ? 3 : 10
        for round in 1...rounds {
            var none = 0.0, with = 0.0
            for (index, hookedRun) in [false, true, true, false].enumerated() {
                if hookedRun {
                    let before = await receiver.received("bench").count
                    let start = Date()
                    with += try await throughput(hooked, senders: 8, seconds: seconds, listeners: 0, label: "round \(round).\(index + 1), with an endpoint").rate
                    let sent = Date()
                    let (total, last) = await drain(receiver)
                    let during = (await receiver.received("bench")).filter { $0.at <= sent }.count - before
                    print(String(format: "    webhooks: %.0f deliveries/s while sending; all %d delivered %.2f s after the last send",
                                 Double(during) / sent.timeIntervalSince(start), total - before, last.timeIntervalSince(sent)))
                } else {
                    none += try await throughput(plain, senders: 8, seconds: seconds, listeners: 0, label: "round \(round).\(index + 1), no endpoint").rate
                }
            }
            print(String(format: "  round %d: send throughput with an endpoint / without: %.2f", round, with / none))
        }
    }
    await database.close()
}

/// Waits until the receiver has had nothing new for 3 s; the count and the last arrival.
private func drain(_ receiver: WebhookReceiver) async -> (Int, Date) {
    var last = await receiver.received("bench")
    while true {
        try? await Task.sleep(for: .seconds(3))
        let now = await receiver.received("bench")
        if now.count == last.count { return (now.count, now.last?.at ?? Date()) }
        last = now
    }
}
