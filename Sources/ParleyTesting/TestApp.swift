import API
import Database
import DatabaseTesting
import Domain
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore

/// The real server on a loopback port, on the test database, for end-to-end tests.
public struct TestApp: Sendable {
    public let database: Database
    public let listener: NotificationListener
    public let dependencies: AppDependencies
    public let operatorKey: String

    /// Builds the app exactly as `parley serve` does, runs it live, and calls `body` with a client.
    public static func run<T: Sendable>(
        maxConnections: Int = 4, acquireTimeout: Duration = .seconds(10), operatorKey: String = "test-operator-key",
        outboxCapacity: Int = 1000,
        _ body: @Sendable (TestApp, any TestClientProtocol) async throws -> T
    ) async throws -> T {
        // Before the first pool: metrics made earlier would stay no-ops, and the metrics tests
        // read the pool gauges from /metrics.
        ParleyMetrics.bootstrap()
        let database = try await TestDatabase.shared.makeDatabase(maxConnections: maxConnections, acquireTimeout: acquireTimeout)
        let listener = NotificationListener(conninfo: try await TestDatabase.shared.conninfo(), channels: AppDependencies.channels, logger: testLogger)
        let dependencies = AppDependencies(database: database, listener: listener, logger: testLogger, outboxCapacity: outboxCapacity)
        let app = buildApplication(
            configuration: AppConfiguration(host: "127.0.0.1", port: 0, operatorKey: operatorKey),
            dependencies: dependencies, logger: testLogger)
        let context = TestApp(database: database, listener: listener, dependencies: dependencies, operatorKey: operatorKey)
        return try await app.test(.live) { client in try await body(context, client) }
    }

    /// Waits until the LISTEN connection is up (so NOTIFYs from other processes are heard).
    public func waitUntilListening() async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while !listener.isListening, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
    }
}

extension TestClientProtocol {
    /// A request with an optional bearer token and JSON body.
    public func send(
        _ method: HTTPRequest.Method, _ uri: String, token: String? = nil, json: String? = nil,
        headers extra: HTTPFields = [:]
    ) async throws -> TestResponse {
        var headers = extra
        if let token { headers[.authorization] = "Bearer \(token)" }
        if json != nil { headers[.contentType] = "application/json" }
        return try await execute(uri: uri, method: method, headers: headers, body: json.map { ByteBuffer(string: $0) })
    }
}

extension TestResponse {
    public var text: String { String(buffer: body) }

    /// The body as a JSON object (empty if it is not one).
    public var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
    }
}

/// A JSON response, decoded.
public struct JSONResponse: @unchecked Sendable {
    // @unchecked: `body` holds only JSONSerialization output (dictionaries, arrays, strings,
    // numbers, NSNull), built once and never mutated after init.
    public let status: HTTPResponse.Status
    public let body: [String: Any]
    public let headers: HTTPFields

    public init(status: HTTPResponse.Status, body: [String: Any], headers: HTTPFields) {
        self.status = status
        self.body = body
        self.headers = headers
    }

    public subscript(key: String) -> Any? { body[key] }
    public var code: String? { body["code"] as? String }
    public var items: [[String: Any]] { body["items"] as? [[String: Any]] ?? [] }
}

extension TestClientProtocol {
    /// Sends `body` (any JSONSerialization value) as JSON and decodes the JSON answer.
    public func json(_ method: HTTPRequest.Method, _ uri: String, token: String? = nil, body: Any? = nil) async throws -> JSONResponse {
        let text = try body.map { String(decoding: try JSONSerialization.data(withJSONObject: $0), as: UTF8.self) }
        let response = try await send(method, uri, token: token, json: text)
        return JSONResponse(status: response.status, body: response.json, headers: response.headers)
    }
}
