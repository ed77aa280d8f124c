import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore

/// The client a `TestApp` test gets: one HTTP/1.1 keep-alive connection to the live server,
/// with a 60 s read timeout.
///
/// HummingbirdTesting's `.live` client has a fixed 20 s timeout. When the whole suite starts,
/// about two hundred tests provision brokerages at once on two cores, and a `POST /v1/tenants`
/// answered in 60 ms on a calm machine outlasted it (CI, 2026-12-02). The tests assert what the
/// server answers, not how fast; speed is measured by the benchmarks.
public struct TestAPIClient: Sendable {
    let client: TestClient
    /// The live server's port (for WebSocket and raw-socket clients of the same server).
    public let port: Int?

    /// Also the budget of a test's raw-socket request to the same server (RawHTTP): the same
    /// suite-start load applies to it.
    public static let timeout: Duration = .seconds(60)

    init(port: Int, client: TestClient) {
        self.port = port
        self.client = client
    }

    /// One request as given: method, URI, headers and body bytes.
    public func execute(uri: String, method: HTTPRequest.Method, headers: HTTPFields = [:], body: ByteBuffer? = nil) async throws -> APIResponse {
        var headers = headers
        headers[.connection] = "keep-alive"
        return try await client.request(method, uri, headers: headers, body: body)
    }

    /// A request with an optional bearer token and a JSON body given as text.
    public func send(
        _ method: HTTPRequest.Method, _ uri: String, token: String? = nil, json: String? = nil,
        headers extra: HTTPFields = [:]
    ) async throws -> APIResponse {
        var headers = extra
        if let token { headers[.authorization] = "Bearer \(token)" }
        if json != nil { headers[.contentType] = "application/json" }
        return try await execute(uri: uri, method: method, headers: headers, body: json.map { ByteBuffer(string: $0) })
    }

    /// Sends `body` (any JSONSerialization value: requests are often deliberately malformed, so
    /// they are not built from the Domain's types) as JSON.
    public func json(_ method: HTTPRequest.Method, _ uri: String, token: String? = nil, body: Any? = nil) async throws -> APIResponse {
        let text = try body.map { String(decoding: try JSONSerialization.data(withJSONObject: $0), as: UTF8.self) }
        return try await send(method, uri, token: token, json: text)
    }

    /// Runs `body` on a connection of its own to this live server. Requests a test means to
    /// send at the same time each need one: this client sends its requests one after another,
    /// so "30 concurrent sends" on it would reach the server one at a time.
    public func withOwnConnection<T: Sendable>(_ body: @escaping @Sendable (TestClient) async throws -> T) async throws -> T {
        guard let port else { throw ServerProcess.Failure("not a live test client") }
        return try await TestClient.withClient(host: "127.0.0.1", port: port, configuration: .init(timeout: Self.timeout), operation: body)
    }
}
