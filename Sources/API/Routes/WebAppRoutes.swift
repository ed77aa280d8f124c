import Crypto
import Domain
import Foundation
import HTTPTypes
import Hummingbird

/// The web inbox and the website chat widget (`web/`, compiled in by EmbedPlugin), served at
/// `/app/`. Static files only: everything they show comes from the public API, with the
/// caller's token (decision 0035).
struct WebAppRoutes {
    let verifier: TokenVerifier

    struct File: Sendable {
        let body: ByteBuffer
        let contentType: String
        let etag: String
        let policy: String
    }

    /// Scripts only from this origin and never inline; styles from files; images from this
    /// origin or made in the page (attachment previews are fetched with the token, then shown as
    /// `blob:` URLs); connections only back to this origin (REST and the stream's WebSocket).
    static func policy(frameAncestors: String) -> String {
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
            + "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors \(frameAncestors)"
    }

    /// path under web/ → file. The inbox is not to be framed by anyone; the widget's framing is
    /// decided per request (`widgetPolicy`).
    static let files: [String: File] = {
        var files: [String: File] = [:]
        for (path, contents) in EmbeddedDocuments.files where path.hasPrefix("web/") {
            let name = String(path.dropFirst("web/".count))
            let digest = SHA256.hash(data: Data(contents.utf8)).prefix(12).map { String(format: "%02x", $0) }.joined()
            files[name] = File(
                body: ByteBuffer(string: contents), contentType: contentType(name), etag: "\"\(digest)\"",
                policy: policy(frameAncestors: "'none'"))
        }
        return files
    }()

    static func contentType(_ name: String) -> String {
        switch name.split(separator: ".").last ?? "" {
        case "html": "text/html; charset=utf-8"
        case "css": "text/css; charset=utf-8"
        case "js": "text/javascript; charset=utf-8"
        case "svg": "image/svg+xml"
        case "json": "application/json"
        default: "application/octet-stream"
        }
    }

    func register(on router: Router<ParleyRequestContext>) {
        // The router treats `/app` and `/app/` alike; the page's relative links need the slash.
        router.get("app") { request, _ in
            guard request.uri.path.hasSuffix("/") else {
                return Response(status: .movedPermanently, headers: [.location: "/app/"])
            }
            return try Self.serve("index.html", request)
        }
        router.get("app/:file") { [verifier] request, context in
            let name = try context.parameters.require("file")
            guard name == "widget.html" else { return try Self.serve(name, request) }
            return try Self.serve(name, request, policy: await Self.widgetPolicy(request, verifier))
        }
    }

    /// The widget may be framed by the sites of its brokerage's `allowedOrigins` (the same list
    /// that lets a site use the public API), and by Parley's own pages.
    static func widgetPolicy(_ request: Request, _ verifier: TokenVerifier) async -> String {
        var ancestors = ["'self'"]
        if let slug = request.uri.queryParameters["brokerage"].flatMap({ TenantSlug(String($0)) }),
            let tenant = try? await verifier.tenant(slug) {
            // Validated origins (scheme://host[:port], lower case); filtered again for the header.
            ancestors += tenant.settings.allowedOrigins.filter { $0.unicodeScalars.allSatisfy(originScalars.contains) }
        }
        return policy(frameAncestors: ancestors.joined(separator: " "))
    }

    /// What an origin in a CSP source list may contain.
    static let originScalars = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyz0123456789.-:/[]")

    static func serve(_ name: String, _ request: Request, policy: String? = nil) throws -> Response {
        guard let file = files[name] else {
            throw Problem(.notFound, code: "not_found", detail: "no such file in the web app")
        }
        var headers: HTTPFields = [
            .contentType: file.contentType,
            .eTag: file.etag,
            // Revalidate every time (cheap: 304), so a new server version is picked up at once.
            .cacheControl: "no-cache",
            .contentSecurityPolicy: policy ?? file.policy,
            .xContentTypeOptions: "nosniff",
        ]
        // The token travels in the URL fragment on the demo link: never in a Referer.
        if let referrerPolicy = HTTPField.Name("Referrer-Policy") { headers[referrerPolicy] = "no-referrer" }
        if request.headers[.ifNoneMatch]?.split(separator: ",").contains(where: { $0.trimmingCharacters(in: .whitespaces) == file.etag }) == true {
            headers[.contentType] = nil
            return Response(status: .notModified, headers: headers)
        }
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: file.body))
    }
}
