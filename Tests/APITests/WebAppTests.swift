import API
import Foundation
import HTTPTypes
import ParleyTesting
import Testing

/// The web inbox and widget as files (issue 20). What they do in a browser is checked in
/// headless Chromium by scripts/browser-check.sh, which .ci/run runs after these tests.
@Suite("API: the web app's files")
struct WebAppTests {
    @Test("/app/ is the inbox, with a Content-Security-Policy that allows no inline script")
    func inbox() async throws {
        try await TestApp.run { _, client in
            let redirect = try await client.send(.get, "/app")
            #expect(redirect.status == .movedPermanently)
            #expect(redirect.headers[.location] == "/app/")

            let page = try await client.send(.get, "/app/")
            #expect(page.status == .ok)
            #expect(page.headers[.contentType] == "text/html; charset=utf-8")
            #expect(page.text.contains("<script type=\"module\" src=\"inbox.js\"></script>"))
            let policy = try #require(page.headers[.contentSecurityPolicy])
            #expect(policy.contains("script-src 'self'"))
            #expect(policy.contains("frame-ancestors 'none'"))
            #expect(!policy.contains("unsafe-inline"))
            #expect(page.headers[.xContentTypeOptions] == "nosniff")
            // No inline script or handler in any page: the policy would block it anyway.
            for file in ["/app/", "/app/widget.html"] {
                let html = try await client.send(.get, file).text
                #expect(html.range(of: "<script>") == nil && html.range(of: " on[a-z]+=", options: .regularExpression) == nil, "\(file)")
            }
        }
    }

    @Test("scripts and styles have their media types; ETag revalidates; unknown files are 404")
    func files() async throws {
        try await TestApp.run { _, client in
            for (path, type) in [
                ("/app/inbox.js", "text/javascript; charset=utf-8"), ("/app/api.js", "text/javascript; charset=utf-8"),
                ("/app/conversation.js", "text/javascript; charset=utf-8"), ("/app/widget.js", "text/javascript; charset=utf-8"),
                ("/app/app.css", "text/css; charset=utf-8"), ("/app/widget.html", "text/html; charset=utf-8"),
                ("/app/paperclip.svg", "image/svg+xml"),
            ] {
                let response = try await client.send(.get, path)
                #expect(response.status == .ok, "\(path)")
                #expect(response.headers[.contentType] == type, "\(path)")
            }
            let script = try await client.send(.get, "/app/inbox.js")
            let etag = try #require(script.headers[.eTag])
            let again = try await client.send(.get, "/app/inbox.js", headers: [.ifNoneMatch: etag])
            #expect(again.status == .notModified)
            #expect(again.body.readableBytes == 0)


            for path in ["/app/nothing.js", "/app/..%2Fopenapi.yaml", "/app/%2E%2E%2FPackage.swift"] {
                let missing = try await client.send(.get, path)
                #expect(missing.status == .notFound, "\(path)")
                #expect(missing.code == "not_found", "\(path)")
            }
        }
    }

    @Test("the widget may be framed by its brokerage's allowedOrigins only")
    func widgetFraming() async throws {
        try await TestApp.run { app, client in
            let tenant = try await TestTenant.make(app.database)
            _ = try await client.json(.patch, "/v1/tenants/\(tenant.slug)/settings", token: app.operatorKey,
                                      body: ["allowedOrigins": ["https://vera-homes.example"]])
            let framed = try await client.send(.get, "/app/widget.html?brokerage=\(tenant.slug)&agent=agent-1")
            #expect(framed.status == .ok)
            #expect(framed.headers[.contentSecurityPolicy]?.hasSuffix("frame-ancestors 'self' https://vera-homes.example") == true)
            for query in ["", "?brokerage=no-such-brokerage", "?brokerage=%3Bscript-src%20*"] {
                let alone = try await client.send(.get, "/app/widget.html" + query)
                #expect(alone.headers[.contentSecurityPolicy]?.hasSuffix("frame-ancestors 'self'") == true, "\(query)")
            }
        }
    }

    @Test("the widget, served by Parley itself, may submit chat requests: same-origin passes the allowedOrigins check")
    func sameOriginWidget() async throws {
        try await TestApp.run { app, client in
            let (tenant, _) = try await ChatRequestTests.setup(app, client)
            let port = try #require(client.port)
            let body = String(decoding: try JSONSerialization.data(withJSONObject: ChatRequestTests.visitor), as: UTF8.self)
            func submit(host: String, origin: String) async throws -> String {
                let connection = try RawHTTP.HeldConnection(port: port, sending: """
                    POST /v1/public/\(tenant.slug)/chat-requests HTTP/1.1\r
                    Host: \(host)\r
                    Origin: \(origin)\r
                    Content-Type: application/json\r
                    Content-Length: \(body.utf8.count)\r
                    \r
                    \(body)
                    """)
                // A request, not a timing: the suite's start can hold it well past 10 s (CI).
                return await connection.received(within: TestAPIClient.timeout) ?? ""
            }
            let same = try await submit(host: "127.0.0.1:\(port)", origin: "http://127.0.0.1:\(port)")
            #expect(same.hasPrefix("HTTP/1.1 201"), "\(same)")
            let other = try await submit(host: "127.0.0.1:\(port)", origin: "http://127.0.0.1:\(port + 1)")
            #expect(other.hasPrefix("HTTP/1.1 403"), "\(other)")
            #expect(other.contains("origin_not_allowed"))
        }
    }

    @Test("with PARLEY_PUBLIC_ORIGIN set, only that origin is same-origin (not whatever Host a request names)")
    func configuredPublicOrigin() async throws {
        try await TestApp.run(publicOrigin: "https://chat.example") { app, client in
            let (tenant, _) = try await ChatRequestTests.setup(app, client)
            let ours = try await ChatRequestTests.submit(client, tenant, ChatRequestTests.visitor, origin: "https://chat.example")
            #expect(ours.status == .created)
            let port = try #require(client.port)
            let body = String(decoding: try JSONSerialization.data(withJSONObject: ChatRequestTests.visitor), as: UTF8.self)
            // A DNS-rebound page: its own name as Origin and Host.
            let connection = try RawHTTP.HeldConnection(port: port, sending: """
                POST /v1/public/\(tenant.slug)/chat-requests HTTP/1.1\r
                Host: evil.example\r
                Origin: http://evil.example\r
                Content-Type: application/json\r
                Content-Length: \(body.utf8.count)\r
                \r
                \(body)
                """)
            let rebound = await connection.received(within: TestAPIClient.timeout) ?? ""
            #expect(rebound.hasPrefix("HTTP/1.1 403"), "\(rebound)")
        }
    }

    @Test("/v1/me carries the brokerage's upload limits, which the app shows")
    func limits() async throws {
        try await TestApp.run { app, client in
            let tenant = try await TestTenant.make(app.database)
            let agent = try await tenant.token(sub: "agent-1", role: .agent, name: "Avery Agent")
            _ = try await client.json(.patch, "/v1/tenants/\(tenant.slug)/settings", token: app.operatorKey,
                                      body: ["maxAttachmentBytes": 2_000_000, "maxAttachmentsPerMessage": 3])
            let me = try await client.json(.get, "/v1/me", token: agent)
            let object = try #require(try JSONSerialization.jsonObject(with: Data(me.text.utf8)) as? [String: Any])
            let limits = try #require(object["limits"] as? [String: Any])
            #expect(limits["maxAttachmentBytes"] as? Int == 2_000_000)
            #expect(limits["maxAttachmentsPerMessage"] as? Int == 3)
        }
    }
}
