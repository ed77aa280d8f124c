import Crypto
import DatabaseTesting
import Domain
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import ParleyTesting
import Testing

/// Small valid files of every accepted type, generated here (no fixtures).
enum Samples {
    static func be32(_ v: Int) -> [UInt8] { [UInt8(v >> 24 & 0xff), UInt8(v >> 16 & 0xff), UInt8(v >> 8 & 0xff), UInt8(v & 0xff)] }
    static func le16(_ v: Int) -> [UInt8] { [UInt8(v & 0xff), UInt8(v >> 8 & 0xff)] }
    static func le32(_ v: Int) -> [UInt8] { le16(v & 0xffff) + le16(v >> 16) }

    static func png(width: Int, height: Int) -> [UInt8] {
        let ihdr = be32(width) + be32(height) + [8, 2, 0, 0, 0]
        return [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + be32(13) + Array("IHDR".utf8) + ihdr + [0, 0, 0, 0]
            + be32(0) + Array("IEND".utf8) + [0xAE, 0x42, 0x60, 0x82]
    }

    static func gif(width: Int, height: Int) -> [UInt8] {
        Array("GIF89a".utf8) + le16(width) + le16(height) + [0, 0, 0] + [0x2C] + le16(0) + le16(0) + le16(width) + le16(height) + [0, 2, 2, 0x44, 0x01, 0, 0x3B]
    }

    static func jpeg(width: Int, height: Int) -> [UInt8] {
        let app0: [UInt8] = [0xFF, 0xE0, 0x00, 0x10] + Array("JFIF".utf8) + [0, 1, 1, 0, 0, 1, 0, 1, 0, 0]
        let sof0: [UInt8] = [0xFF, 0xC0, 0x00, 0x11, 0x08, UInt8(height >> 8), UInt8(height & 0xff), UInt8(width >> 8), UInt8(width & 0xff), 3,
                             1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]
        return [0xFF, 0xD8] + app0 + sof0 + [0xFF, 0xD9]
    }

    static func webp(width: Int, height: Int) -> [UInt8] {
        let vp8x: [UInt8] = Array("VP8X".utf8) + le32(10) + [0, 0, 0, 0]
            + [UInt8((width - 1) & 0xff), UInt8((width - 1) >> 8 & 0xff), UInt8((width - 1) >> 16 & 0xff)]
            + [UInt8((height - 1) & 0xff), UInt8((height - 1) >> 8 & 0xff), UInt8((height - 1) >> 16 & 0xff)]
        return Array("RIFF".utf8) + le32(4 + vp8x.count) + Array("WEBP".utf8) + vp8x
    }

    static let pdf = Array("%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n".utf8)
    static let doc: [UInt8] = [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1] + [UInt8](repeating: 0, count: 504)
    static let rtf = Array("{\\rtf1\\ansi Open house on {\\b Sunday}.}".utf8)
    static let txt = Array("Viewing at 10:00 — café on the corner ✓\n".utf8)

    /// A real ZIP (stored entries) with the given entry names.
    static func zip(_ entries: [String]) -> [UInt8] {
        var out: [UInt8] = []
        var central: [UInt8] = []
        for name in entries {
            let data = Array("<x/>".utf8)
            let offset = out.count
            let nameBytes = Array(name.utf8)
            let common: [UInt8] = le16(20) + le16(0) + le16(0) + le16(0) + le16(0) + le32(0) + le32(data.count) + le32(data.count) + le16(nameBytes.count) + le16(0)
            out += [0x50, 0x4B, 0x03, 0x04] + common + nameBytes + data
            central += [0x50, 0x4B, 0x01, 0x02] + le16(20) + common + le16(0) + le16(0) + le16(0) + le32(0) + le32(offset) + nameBytes
        }
        let start = out.count
        out += central
        out += [0x50, 0x4B, 0x05, 0x06] + le16(0) + le16(0) + le16(entries.count) + le16(entries.count) + le32(central.count) + le32(start) + le16(0)
        return out
    }

    static let docx = zip(["[Content_Types].xml", "word/document.xml"])
}

@Suite("API: attachments")
struct AttachmentTests {
    static let boundary = "parley-test-boundary-7f3a"

    static func multipart(_ files: [(String, [UInt8])]) -> [UInt8] {
        var body: [UInt8] = []
        for (name, bytes) in files {
            body += Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\(name)\"\r\nContent-Type: application/octet-stream\r\n\r\n".utf8)
            body += bytes + Array("\r\n".utf8)
        }
        return body + Array("--\(boundary)--\r\n".utf8)
    }

    /// Uploads `files`; `ownConnection` for uploads a test sends at the same time.
    static func upload(
        _ client: TestAPIClient, _ token: String, session: String, _ files: [(String, [UInt8])], ownConnection: Bool = false
    ) async throws -> APIResponse {
        var headers = HTTPFields()
        headers[.authorization] = "Bearer \(token)"
        headers[.contentType] = "multipart/form-data; boundary=\(boundary)"
        let uri = "/v1/sessions/\(session)/attachments"
        let body = ByteBuffer(bytes: multipart(files))
        if ownConnection {
            return try await client.withOwnConnection { [headers] in try await $0.request(.post, uri, headers: headers, body: body) }
        }
        return try await client.execute(uri: uri, method: .post, headers: headers, body: body)
    }

    /// Uploads one file that must be accepted; its id.
    static func uploaded(_ client: TestAPIClient, _ token: String, session: String, _ file: (String, [UInt8])) async throws -> String {
        let response = try await upload(client, token, session: session, [file])
        #expect(response.status == .created)
        return try #require(try response.items(Attachment.self).first).id
    }

    static func download(_ client: TestAPIClient, _ token: String, _ id: String, headers extra: HTTPFields = [:]) async throws -> APIResponse {
        var headers = extra
        headers[.authorization] = "Bearer \(token)"
        return try await client.execute(uri: "/v1/attachments/\(id)", method: .get, headers: headers, body: nil)
    }

    /// A tenant, an agent, a client, and their session.
    static func pair(_ app: TestApp, _ client: TestAPIClient) async throws -> (TestTenant, agent: String, client: String, session: String) {
        let tenant = try await TestTenant.make(app.database)
        let agent = try await tenant.token(sub: "agent-1", role: .agent, name: "Avery Agent")
        let session = try await client.json(.post, "/v1/sessions", token: agent, body: ["client": ["userId": "client-1", "name": "Casey Client"]])
        return (tenant, agent, try await tenant.token(sub: "client-1", role: .client), try session.decode(Session.self).id)
    }

    static func sha256(_ bytes: [UInt8]) -> String { SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined() }

    @Test("every accepted type is stored from a real sample; a message carries up to 5, shown in history")
    func acceptedTypes() async throws {
        try await TestApp.run { app, client in
            let (_, agent, member, session) = try await Self.pair(app, client)
            let images = try await Self.upload(client, agent, session: session, [
                ("photo.jpg", Samples.jpeg(width: 7, height: 9)), ("plan.PNG", Samples.png(width: 3, height: 2)),
                ("anim.gif", Samples.gif(width: 5, height: 4)), ("pic.webp", Samples.webp(width: 640, height: 480)),
                ("offer.pdf", Samples.pdf),
            ])
            #expect(images.status == .created)
            let stored = try images.items(Attachment.self)
            #expect(stored.map(\.mediaType) == ["image/jpeg", "image/png", "image/gif", "image/webp", "application/pdf"])
            #expect(stored.map(\.width) == [7, 3, 5, 640, nil])
            #expect(stored.map(\.height) == [9, 2, 4, 480, nil])
            let png = try #require(stored.dropFirst().first)
            #expect(png.sha256 == Self.sha256(Samples.png(width: 3, height: 2)))
            #expect(png.size == Int64(Samples.png(width: 3, height: 2).count))
            let documents = try await Self.upload(client, agent, session: session, [
                ("old.doc", Samples.doc), ("contract.docx", Samples.docx), ("notes.rtf", Samples.rtf), ("notes.txt", Samples.txt),
            ])
            #expect(documents.status == .created)
            #expect(try documents.items(Attachment.self).map(\.mediaType) == [
                "application/msword", "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                "application/rtf", "text/plain; charset=utf-8",
            ])

            let ids = stored.map(\.id)
            let six = ids + (try documents.items(Attachment.self)).prefix(1).map(\.id)
            let tooMany = try await client.json(.post, "/v1/sessions/\(session)/messages", token: agent,
                                                body: ["clientMessageId": "m0", "text": "six", "attachmentIds": six])
            #expect(tooMany.status == .unprocessableContent)
            #expect(tooMany.problem?.errors?.first?.code == "too_many")

            // Before it is sent, only the uploader can fetch an upload.
            #expect(try await Self.download(client, member, ids[0]).status == .notFound)
            let stream = try await TestStream.connect(port: try #require(client.port), token: member)
            _ = await stream.next()
            let sent = try await client.json(.post, "/v1/sessions/\(session)/messages", token: agent,
                                             body: ["clientMessageId": "m1", "text": "", "attachmentIds": ids])
            #expect(sent.status == .created)
            #expect(try sent.decode(Message.self).attachments.map(\.id) == ids)
            // The other member's live event carries the same metadata.
            let event = try #require(await stream.nextEvent(["message.created"]))
            let live = try event.data(Message.self).attachments
            #expect(live == stored)
            #expect(live.first?.mediaType == "image/jpeg")
            #expect(live.first?.width == 7)
            await stream.close()
            let retry = try await client.json(.post, "/v1/sessions/\(session)/messages", token: agent,
                                              body: ["clientMessageId": "m1", "text": "", "attachmentIds": ids])
            #expect(retry.status == .ok)
            let history = try await client.json(.get, "/v1/sessions/\(session)/messages", token: member).items(Message.self)
            let shown = history.first?.attachments
            #expect(shown?.map(\.fileName) == ["photo.jpg", "plan.PNG", "anim.gif", "pic.webp", "offer.pdf"])
            #expect(shown?.first?.url == "/v1/attachments/\(ids[0])")
            #expect(shown == stored)
            let fetched = try await Self.download(client, member, ids[1])
            #expect(fetched.status == .ok)
            #expect(Array(buffer: fetched.body) == Samples.png(width: 3, height: 2))
            #expect(fetched.headers[.contentType] == "image/png")

            // Used once only.
            let again = try await client.json(.post, "/v1/sessions/\(session)/messages", token: agent,
                                              body: ["clientMessageId": "m2", "text": "again", "attachmentIds": [ids[0]]])
            #expect(again.status == .conflict)
            #expect(again.code == "attachment_unavailable")
        }
    }

    @Test("content decides the type: disguised HTML, SVG, ELF and mismatches are 415 and leave nothing behind")
    func disguised() async throws {
        try await TestApp.run { app, client in
            let (tenant, agent, _, session) = try await Self.pair(app, client)
            let cases: [(String, [UInt8])] = [
                ("cute.png", Array("<html><script>alert(1)</script></html>".utf8)),
                ("logo.png", Array("<?xml version=\"1.0\"?><svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"alert(1)\"/>".utf8)),
                ("tool.png", [0x7F, 0x45, 0x4C, 0x46, 2, 1, 1, 0] + [UInt8](repeating: 0, count: 56)),
                ("photo.jpg", Samples.png(width: 1, height: 1)),
                ("contract.docx", Samples.zip(["readme.txt"])),
                ("binary.txt", [0x48, 0x00, 0x49]),
                ("script.exe", Samples.pdf),
                ("empty.pdf", []),
            ]
            for (name, bytes) in cases {
                let response = try await Self.upload(client, agent, session: session, [(name, bytes)])
                #expect(response.status == .unsupportedMediaType, "\(name)")
                #expect(response.code == "unsupported_media_type", "\(name)")
            }
            // One bad file refuses the whole request; no rows or bytes remain.
            let mixed = try await Self.upload(client, agent, session: session, [("ok.pdf", Samples.pdf), ("bad.png", Array("<svg/>".utf8))])
            #expect(mixed.status == .unsupportedMediaType)
            let counts = try await app.database.withTenant(tenant.scope) { tx in
                try await tx.query("SELECT (SELECT count(*) FROM attachments) AS a, (SELECT count(*) FROM blob_chunks) AS b").rows[0]
            }
            #expect(try counts.decode(Int64.self, "a") == 0)
            #expect(try counts.decode(Int64.self, "b") == 0)
            // A body that stops before its closing boundary is refused, not half-stored.
            var truncated = Self.multipart([("ok.pdf", Samples.pdf)])
            truncated.removeLast(Array("--\(Self.boundary)--\r\n".utf8).count)
            var multipartHeaders = HTTPFields()
            multipartHeaders[.authorization] = "Bearer \(agent)"
            multipartHeaders[.contentType] = "multipart/form-data; boundary=\(Self.boundary)"
            let cut = try await client.execute(
                uri: "/v1/sessions/\(session)/attachments", method: .post, headers: multipartHeaders, body: ByteBuffer(bytes: truncated))
            #expect(cut.status == .badRequest)
            #expect(cut.code == "malformed_multipart")
            var json = HTTPFields()
            json[.authorization] = "Bearer \(agent)"
            json[.contentType] = "application/json"
            let notMultipart = try await client.execute(
                uri: "/v1/sessions/\(session)/attachments", method: .post, headers: json, body: ByteBuffer(string: "{}"))
            #expect(notMultipart.status == .unsupportedMediaType)
            #expect(notMultipart.code == "multipart_required")
        }
    }

    /// schemathesis found these: a byte outside ASCII where a part's header name goes made the
    /// multipart parser index past its table of allowed characters, and the whole server
    /// crashed (multipart-kit 4.7.1; decision 0055).
    @Test("part headers with bytes outside ASCII in their names are 400 malformed_multipart, and the server keeps serving")
    func nonASCIIHeaderNames() async throws {
        try await TestApp.run { app, client in
            let (_, agent, _, session) = try await Self.pair(app, client)
            var headers = HTTPFields()
            headers[.authorization] = "Bearer \(agent)"
            headers[.contentType] = "multipart/form-data; boundary=\(Self.boundary)"
            let delimiter = Array("--\(Self.boundary)\r\n".utf8)
            let closing = Array("\r\n--\(Self.boundary)--\r\n".utf8)
            let bodies: [[UInt8]] = [
                delimiter + [0xF4, 0x81, 0xA7, 0xA9] + closing,  // the fuzzer's own
                delimiter + Array("Cöntent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\r\nhello".utf8) + closing,
                delimiter + Array("Content-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n".utf8) + [0xFF]
                    + Array(": x\r\n\r\nhello".utf8) + closing,
            ]
            for body in bodies {
                let response = try await client.execute(
                    uri: "/v1/sessions/\(session)/attachments", method: .post, headers: headers, body: ByteBuffer(bytes: body))
                #expect(response.status == .badRequest)
                #expect(response.code == "malformed_multipart")
            }
            // Outside ASCII in a header's value is a file name in UTF-8, as browsers send it.
            let named = try await Self.upload(client, agent, session: session, [("Grundriss – Küche.txt", Samples.txt)])
            #expect(named.status == .created)
            #expect(try named.items(Attachment.self).first?.fileName == "Grundriss – Küche.txt")
        }
    }

    @Test("a TXT saved by Windows (ANSI, or Unicode with its byte order mark) is accepted and served with its charset")
    func windowsText() async throws {
        try await TestApp.run { app, client in
            let (_, agent, member, session) = try await Self.pair(app, client)
            let ansi: [UInt8] = Array("Offer: 5".utf8) + [0x80] + Array(" m".utf8) + [0xB2, 0x0D, 0x0A]  // "Offer: 5€ m²" in Windows-1252
            let unicode: [UInt8] = [0xFF, 0xFE] + Array("Grüße\r\n".utf16).flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }
            for (name, bytes, charset) in [("offer.txt", ansi, "windows-1252"), ("notes.txt", unicode, "utf-16")] {
                let id = try await Self.uploaded(client, agent, session: session, (name, bytes))
                #expect(try await client.json(.post, "/v1/sessions/\(session)/messages", token: agent,
                                              body: ["clientMessageId": name, "text": "", "attachmentIds": [id]]).status == .created)
                let fetched = try await Self.download(client, member, id)
                #expect(fetched.status == .ok)
                #expect(fetched.headers[.contentType] == "text/plain; charset=\(charset)")
                #expect(Array(buffer: fetched.body) == bytes)
            }
        }
    }

    @Test("hostile file names are made safe; downloads are attachment, nosniff, with RFC 6266 filename*")
    func fileNames() async throws {
        try await TestApp.run { app, client in
            let (_, agent, _, session) = try await Self.pair(app, client)
            let names = ["../../etc/passwd.txt", "C:\\\\Users\\\\x\\\\notes.txt", "Résumé – 2026.pdf", "..hidden.txt", "a;b=c.txt"]
            for name in names {
                let response = try await Self.upload(client, agent, session: session, [(name, name.hasSuffix(".pdf") ? Samples.pdf : Samples.txt)])
                #expect(response.status == .created, "\(name)")
                let stored = try #require(try response.items(Attachment.self).first)
                let fileName = stored.fileName
                #expect(!fileName.contains("/") && !fileName.contains("\\") && !fileName.contains("\"") && !fileName.hasPrefix("."), "\(fileName)")
                let download = try await Self.download(client, agent, stored.id)
                let disposition = try #require(download.headers[.contentDisposition])
                #expect(disposition.hasPrefix("attachment; filename=\""))
                #expect(disposition.contains("filename*=UTF-8''"))
                #expect(!disposition.contains("\r") && !disposition.contains("\n"))
                #expect(download.headers[.xContentTypeOptions] == "nosniff")
            }
            let unicode = try await Self.uploaded(client, agent, session: session, ("Résumé – 2026.pdf", Samples.pdf))
            let download = try await Self.download(client, agent, unicode)
            #expect(download.headers[.contentDisposition] == "attachment; filename=\"R_sum_ _ 2026.pdf\"; filename*=UTF-8''R%C3%A9sum%C3%A9%20%E2%80%93%202026.pdf")
        }
    }

    @Test("a 10 MiB file round-trips byte for byte, with Range, ETag and 416; non-members get 404")
    func roundTrip() async throws {
        try await TestApp.run { app, client in
            let (tenant, agent, member, session) = try await Self.pair(app, client)
            var bytes = Samples.pdf
            bytes += randomBytes(10 * 1024 * 1024 - bytes.count)
            // Its own client with a generous timeout: a debug build stores 10 MiB in seconds
            // alone, and the whole suite shares two cores.
            let body = Self.multipart([("big.pdf", bytes)])
            let id = try await TestClient.withClient(
                host: "127.0.0.1", port: try #require(client.port), configuration: .init(timeout: .seconds(180))
            ) { big in
                var headers = HTTPFields()
                headers[.authorization] = "Bearer \(agent)"
                headers[.contentType] = "multipart/form-data; boundary=\(Self.boundary)"
                let answer = try await big.execute(.init(
                    "/v1/sessions/\(session)/attachments", method: .post, headers: headers,
                    body: ByteBuffer(bytes: body)))
                let response = APIResponse(status: answer.head.status, headers: answer.head.headerFields, body: answer.body ?? ByteBuffer())
                #expect(response.status == .created)
                return try #require(try response.items(Attachment.self).first).id
            }
            #expect(try await client.json(.post, "/v1/sessions/\(session)/messages", token: agent,
                                          body: ["clientMessageId": "m1", "text": "the file", "attachmentIds": [id]]).status == .created)
            let whole = try await Self.download(client, member, id)
            #expect(whole.status == .ok)
            #expect(whole.headers[.contentLength] == String(bytes.count))
            #expect(Array(buffer: whole.body) == bytes)
            let etag = try #require(whole.headers[.eTag])
            #expect(etag == "\"\(Self.sha256(bytes))\"")

            let middle = try await Self.download(client, member, id, headers: [.range: "bytes=262140-262149"])
            #expect(middle.status == .partialContent)
            #expect(Array(buffer: middle.body) == Array(bytes[262140...262149]))
            #expect(middle.headers[.contentRange] == "bytes 262140-262149/\(bytes.count)")
            let tail = try await Self.download(client, member, id, headers: [.range: "bytes=-5"])
            #expect(Array(buffer: tail.body) == Array(bytes.suffix(5)))
            let open = try await Self.download(client, member, id, headers: [.range: "bytes=\(bytes.count - 3)-"])
            #expect(Array(buffer: open.body) == Array(bytes.suffix(3)))
            let huge = try await Self.download(client, member, id, headers: [.range: "bytes=0-9223372036854775807"])
            #expect(huge.status == .partialContent)
            #expect(huge.headers[.contentLength] == String(bytes.count))
            let beyond = try await Self.download(client, member, id, headers: [.range: "bytes=\(bytes.count)-"])
            #expect(beyond.status == .rangeNotSatisfiable)
            #expect(beyond.headers[.contentRange] == "bytes */\(bytes.count)")
            #expect(try await Self.download(client, member, id, headers: [.ifNoneMatch: etag]).status == .notModified)

            let stranger = try await tenant.token(sub: "client-2", role: .client)
            #expect(try await Self.download(client, stranger, id).status == .notFound)
            let other = try await TestTenant.make(app.database)
            #expect(try await Self.download(client, try await other.token(sub: "agent-1"), id).status == .notFound)
        }
    }

    @Test("11 MB is refused with 413 before the client has sent it all; limits are per tenant")
    func tooLarge() async throws {
        try await TestApp.run { app, client in
            let (tenant, agent, _, session) = try await Self.pair(app, client)
            let port = try #require(client.port)
            let file = Samples.pdf + randomBytes(11 * 1024 * 1024)
            let prefix = Array("--\(Self.boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.pdf\"\r\n\r\n".utf8)
            let body = prefix + file + Array("\r\n--\(Self.boundary)--\r\n".utf8)
            // Declares a body under the request limit (5 files), but the one file is over 10 MiB.
            let head = "POST /v1/sessions/\(session)/attachments HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(agent)\r\n"
                + "Content-Type: multipart/form-data; boundary=\(Self.boundary)\r\nContent-Length: \(body.count)\r\n"
            // Only 10.5 MiB of it is ever sent: the answer must come without the rest.
            let answer = try await RawHTTP.partialUpload(port: port, head: head, body: body, send: prefix.count + 10 * 1024 * 1024 + 512 * 1024)
            #expect(answer.status == 413)
            #expect(answer.response.contains("attachment_too_large"))
            #expect(answer.sent < body.count)
            // A declared length over the request limit is refused before any byte of the body.
            let huge = "POST /v1/sessions/\(session)/attachments HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(agent)\r\n"
                + "Content-Type: multipart/form-data; boundary=\(Self.boundary)\r\nContent-Length: 1000000000\r\n"
            let early = try await RawHTTP.partialUpload(port: port, head: huge, body: [], send: 0)
            #expect(early.status == 413)

            let patched = try await client.json(.patch, "/v1/tenants/\(tenant.slug)/settings", token: app.operatorKey,
                                                body: ["maxAttachmentBytes": 1000, "maxAttachmentsPerMessage": 2])
            #expect(patched.status == .ok)
            #expect(try patched.decode(TenantBody.self).settings.maxAttachmentBytes == 1000)
            let over = try await Self.upload(client, agent, session: session, [("a.pdf", Samples.pdf + randomBytes(1000))])
            #expect(over.status == .contentTooLarge)
            let three = try await Self.upload(client, agent, session: session, [("a.pdf", Samples.pdf), ("b.pdf", Samples.pdf), ("c.pdf", Samples.pdf)])
            #expect(three.status == .unprocessableContent)
            let bad = try await client.json(.patch, "/v1/tenants/\(tenant.slug)/settings", token: app.operatorKey, body: ["maxAttachmentBytes": 0, "bogus": 1])
            #expect(bad.status == .unprocessableContent)
        }
    }

    @Test("an upload belongs to its session and tenant; unused uploads are removed after 24 hours")
    func ownershipAndCleanup() async throws {
        try await TestApp.run { app, client in
            let (tenant, agent, member, session) = try await Self.pair(app, client)
            let (_, otherAgent, _, otherSession) = try await Self.pair(app, client)
            let mine = try await Self.uploaded(client, agent, session: session, ("a.pdf", Samples.pdf))
            // Another tenant cannot use it, nor can another session or member.
            let foreign = try await client.json(.post, "/v1/sessions/\(otherSession)/messages", token: otherAgent,
                                                body: ["clientMessageId": "x", "text": "steal", "attachmentIds": [mine]])
            #expect(foreign.code == "attachment_unavailable")
            let byClient = try await client.json(.post, "/v1/sessions/\(session)/messages", token: member,
                                                 body: ["clientMessageId": "x", "text": "mine now", "attachmentIds": [mine]])
            #expect(byClient.code == "attachment_unavailable")
            let second = try await Self.uploaded(client, agent, session: session, ("b.pdf", Samples.pdf))
            #expect(try await client.json(.post, "/v1/sessions/\(session)/messages", token: agent,
                                          body: ["clientMessageId": "m", "text": "kept", "attachmentIds": [second]]).status == .created)
            // A sweep that died after marking its rows: a fresh upload left 'deleting' cannot be
            // sent, and the next sweep finishes it (row and bytes).
            let interrupted = try await Self.uploaded(client, agent, session: session, ("c.pdf", Samples.pdf))
            try await app.database.withTenant(tenant.scope) { tx in
                try await tx.query("UPDATE attachments SET state = 'deleting' WHERE id = $1::uuid", [interrupted])
            }
            #expect(try await client.json(.post, "/v1/sessions/\(session)/messages", token: agent,
                                          body: ["clientMessageId": "late", "text": "too late", "attachmentIds": [interrupted]]).code == "attachment_unavailable")
            try await app.database.withTenant(tenant.scope) { tx in
                try await tx.query("UPDATE attachments SET created_at = now() - interval '25 hours' WHERE id <> $1::uuid", [interrupted])
            }
            await app.dependencies.maintenance.runOnce()
            let left = try await app.database.withTenant(tenant.scope) { tx in
                try await tx.query("SELECT id::text AS id FROM attachments").rows.map { try $0.decode(String.self, "id") }
            }
            #expect(left == [second])
            let chunks = try await app.database.withTenant(tenant.scope) { tx in
                try await tx.query("SELECT count(*) AS n FROM blob_chunks WHERE blob_id IN ($1::uuid, $2::uuid)", [mine, interrupted]).rows[0].decode(Int64.self, "n")
            }
            #expect(chunks == 0)
            #expect(try await Self.download(client, member, second).status == .ok)
        }
    }
}
