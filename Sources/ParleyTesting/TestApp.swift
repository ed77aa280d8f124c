import API
import Database
import DatabaseTesting
import Domain
import Foundation
import Hummingbird
import HummingbirdTesting

/// The real server on a loopback port, on the test database, for end-to-end tests.
public struct TestApp: Sendable {
    public let database: Database
    public let listener: NotificationListener
    public let dependencies: AppDependencies
    public let operatorKey: String

    /// Builds the app exactly as `parley serve` does, runs it live, and calls `body` with a client.
    /// `listenerConninfo` rewrites where the LISTEN connection goes (to a `StallingProxy`).
    ///
    /// Each app gets NOTIFY channels of its own unless `channelPrefix` names shared ones (two
    /// apps of one test playing two server processes): every test shares one database, and on
    /// shared channels each of the dozens of apps running at once would hear every other
    /// test's wake-ups, which under the full suite delayed some by seconds.
    ///
    /// `conninfo` puts the app on another database (`TestDatabase.makeScratchDatabase()`): for
    /// a test whose answer depends on every brokerage of its database, as /ready's does, which
    /// other tests' brokerages in the middle of being broken or imported would change.
    public static func run<T: Sendable>(
        conninfo: String? = nil, maxConnections: Int = 4, acquireTimeout: Duration = .seconds(10), operatorKey: String = "test-operator-key",
        outboxCapacity: Int = 1000, streamCredentialCheck: Duration = .seconds(30),
        listenerConninfo: (@Sendable (String) -> String)? = nil, channelPrefix: String = TestApp.newChannelPrefix(),
        webhookDelivery: WebhookDeliverer.Settings = WebhookDeliverer.Settings(enabled: false),
        publicOrigin: String? = nil,
        _ body: @Sendable (TestApp, TestAPIClient) async throws -> T
    ) async throws -> T {
        // Before the first pool: metrics made earlier would stay no-ops, and the metrics tests
        // read the pool gauges from /metrics.
        ParleyMetrics.bootstrap()
        let conninfo = if let conninfo { conninfo } else { try await TestDatabase.shared.conninfo() }
        let database = try await TestDatabase.shared.makeDatabase(conninfo: conninfo, maxConnections: maxConnections, acquireTimeout: acquireTimeout)
        let dependencies = AppDependencies(
            database: database, conninfo: listenerConninfo?(conninfo) ?? conninfo, logger: testLogger, outboxCapacity: outboxCapacity,
            channels: LiveChannels(events: channelPrefix, typing: channelPrefix + "_typing"),
            // Local receivers in tests: the operator allows 127.0.0.1, as a deployment would.
            webhookPolicy: WebhookURLPolicy(allowedHosts: ["127.0.0.1"]),
            // Off unless a test asks: every test shares one database, and a deliverer of another
            // test's app would deliver (on its own schedule) to the endpoints of a webhook test.
            webhookDelivery: webhookDelivery)
        let listener = dependencies.listener
        let app = buildApplication(
            configuration: AppConfiguration(
                host: "127.0.0.1", port: 0, operatorKey: operatorKey, streamCredentialCheck: streamCredentialCheck,
                // The test client connects when the app starts and may first spend a while on
                // fixtures (the whole suite shares two cores): no timeout may close it meanwhile.
                // The timeouts themselves are tested on server processes (ConnectionLimitTests).
                connections: ConnectionLimits(headerTimeout: .seconds(3600), idleTimeout: .seconds(3600)),
                publicOrigin: publicOrigin),
            dependencies: dependencies, logger: testLogger)
        let context = TestApp(database: database, listener: listener, dependencies: dependencies, operatorKey: operatorKey)
        return try await app.test(.live) { live in
            guard let port = live.port else { throw ServerProcess.Failure("the live test server has no port") }
            let client = TestClient(host: "127.0.0.1", port: port, configuration: .init(timeout: TestAPIClient.timeout))
            client.connect()
            let value: T
            do {
                value = try await body(context, TestAPIClient(port: port, client: client))
            } catch {
                try? await client.shutdown()
                throw error
            }
            try await client.shutdown()
            return value
        }
    }

    /// Fresh NOTIFY channel names for one test's apps.
    public static func newChannelPrefix() -> String {
        "parley_t" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(12)
    }

    /// Waits until the LISTEN connection is up (so NOTIFYs from other processes are heard).
    public func waitUntilListening() async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while !listener.isListening, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
    }
}
