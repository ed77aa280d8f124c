import Domain
import Foundation
import HTTPTypes
import Hummingbird
import MultipartKit
import NIOCore

/// Uploads (`POST /v1/sessions/{id}/attachments`, multipart/form-data, streamed) and downloads
/// (`GET /v1/attachments/{id}`, streamed, with Range and ETag).
struct AttachmentRoutes {
    let attachments: AttachmentStore

    func register(on group: RouterGroup<ParleyRequestContext>) {
        group.post("sessions/:id/attachments", use: upload)
        group.get("attachments/:id", use: download)
    }

    struct Uploaded: ResponseEncodable {
        let items: [Attachment]
    }

    /// Multipart bytes beyond the files themselves (boundaries, part headers) allowed per file.
    static let partOverhead = 16 * 1024

    @Sendable func upload(_ request: Request, context: ParleyRequestContext) async throws -> EditedResponse<Uploaded> {
        let caller = try context.requireCaller()
        let sessionID = try context.parameters.require("id")
        guard let boundary = request.headers[.contentType].flatMap(Self.multipartBoundary) else {
            throw DomainError.unsupportedMediaType(
                code: "multipart_required", message: "send multipart/form-data with one file per part")
        }
        let settings = caller.tenant.settings
        let maxFiles = settings.maxAttachmentsPerMessage
        let maxBody = maxFiles * (settings.maxAttachmentBytes + Self.partOverhead)
        let tooLarge = DomainError.tooLarge(
            code: "attachment_too_large",
            message: "at most \(maxFiles) files of at most \(settings.maxAttachmentBytes) bytes each")
        if let length = request.headers[.contentLength].flatMap(Int.init), length > maxBody { throw tooLarge }

        let parser = MultipartParser(boundary: boundary)
        let events = PartEvents()
        parser.onHeader = { name, value in events.items.append(.header(name, value)) }
        parser.onBody = { buffer in events.items.append(.body(Array(buffer.readableBytesView))) }
        parser.onPartComplete = { events.items.append(.complete) }

        var headers: [String: String] = [:]
        var current: AttachmentUpload?
        var started: [UUID] = []
        var stored: [Attachment] = []
        var received = 0
        // Bytes since the parser last produced part data: part headers (and the preamble) are
        // held by the parser until complete, so they are capped separately.
        var withoutProgress = 0
        // The last bytes of the body, to check it ends with the closing delimiter.
        var tail: [UInt8] = []
        let closing = Array("--\(boundary)--".utf8)
        do {
            for try await buffer in request.body {
                // Counted as it arrives: the body is refused as soon as it passes the limit,
                // without reading (or holding) the rest.
                received += buffer.readableBytes
                if received > maxBody { throw tooLarge }
                withoutProgress += buffer.readableBytes
                tail.append(contentsOf: buffer.readableBytesView.suffix(512))
                if tail.count > 512 { tail.removeFirst(tail.count - 512) }
                do {
                    try parser.execute(buffer)
                } catch {
                    throw Problem.badRequest(code: "malformed_multipart", detail: "the multipart body could not be parsed")
                }
                let items = events.items
                events.items.removeAll(keepingCapacity: true)
                if items.contains(where: { if case .header = $0 { return false } else { return true } }) {
                    withoutProgress = 0
                } else if withoutProgress > Self.partOverhead {
                    throw Problem.badRequest(code: "malformed_multipart", detail: "a part's headers are too long")
                }
                for item in items {
                    switch item {
                    case .header(let name, let value):
                        headers[name.lowercased()] = value
                    case .body(let bytes):
                        if current == nil {
                            current = try await open(caller, sessionID, headers, count: started.count, maxFiles: maxFiles)
                            started.append(current!.id)
                        }
                        try await current!.append(bytes)
                    case .complete:
                        if current == nil {
                            current = try await open(caller, sessionID, headers, count: started.count, maxFiles: maxFiles)
                            started.append(current!.id)
                        }
                        stored.append(try await current!.finish())
                        current = nil
                        headers = [:]
                    }
                }
            }
            if current != nil || tail.count < closing.count
                || !(0...(tail.count - closing.count)).contains(where: { tail[$0..<($0 + closing.count)].elementsEqual(closing) })
            {
                throw Problem.badRequest(code: "malformed_multipart", detail: "the multipart body ended before its closing boundary")
            }
            if stored.isEmpty {
                throw DomainError.validation([FieldError("file", "required", "send at least one file part")])
            }
        } catch {
            await attachments.discard(caller, ids: started)
            throw error
        }
        return EditedResponse(status: .created, response: Uploaded(items: stored))
    }

    /// Starts storing a part: it must be a file (`filename` in its Content-Disposition), and
    /// the request may carry at most the per-message number of files.
    private func open(
        _ caller: Caller, _ sessionID: String, _ headers: [String: String], count: Int, maxFiles: Int
    ) async throws -> AttachmentUpload {
        guard let fileName = headers["content-disposition"].flatMap(Self.fileName), !fileName.isEmpty else {
            throw DomainError.validation([FieldError("file", "required", "every part must be a file with a filename")])
        }
        guard count < maxFiles else {
            throw DomainError.validation([FieldError("file", "too_many", "at most \(maxFiles) files per upload")])
        }
        return try await attachments.begin(caller, sessionID: sessionID, fileName: fileName)
    }

    @Sendable func download(_ request: Request, context: ParleyRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        let stored = try await attachments.find(caller, id: try context.parameters.require("id"))
        let etag = "\"\(stored.sha256)\""
        var headers = HTTPFields()
        headers[.contentType] = stored.mediaType
        headers[.xContentTypeOptions] = "nosniff"
        headers[.contentDisposition] = Self.contentDisposition(stored.fileName)
        headers[.eTag] = etag
        headers[.acceptRanges] = "bytes"
        headers[.cacheControl] = "private, no-cache"
        headers[.contentSecurityPolicy] = "default-src 'none'; sandbox"
        if let match = request.headers[.ifNoneMatch], match == "*" || match.split(separator: ",").contains(where: {
            $0.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "W/", with: "") == etag
        }) {
            return Response(status: .notModified, headers: headers)
        }
        var range: Range<Int64> = 0..<stored.size
        var status = HTTPResponse.Status.ok
        let ifRangeHolds = request.headers[.ifRange].map { $0 == etag } ?? true
        if let header = request.headers[.range], ifRangeHolds {
            switch Self.byteRange(header, size: stored.size) {
            case .whole:
                break
            case .unsatisfiable:
                var problemHeaders = HTTPFields()
                problemHeaders[.contentRange] = "bytes */\(stored.size)"
                throw Problem(.rangeNotSatisfiable, code: "range_not_satisfiable",
                              detail: "the file has \(stored.size) bytes", headers: problemHeaders)
            case .part(let part):
                range = part
                status = .partialContent
                headers[.contentRange] = "bytes \(part.lowerBound)-\(part.upperBound - 1)/\(stored.size)"
            }
        }
        let store = attachments
        let bytes = range
        let length = range.upperBound - range.lowerBound
        headers[.contentLength] = String(length)
        let body = ResponseBody(contentLength: Int(length)) { writer in
            try await store.read(caller, stored, range: bytes) { piece in
                try await writer.write(ByteBuffer(bytes: piece))
            }
            try await writer.finish(nil)
        }
        return Response(status: status, headers: headers, body: body)
    }

    // MARK: - Header parsing

    /// The boundary of a `multipart/form-data` Content-Type, if it is one.
    static func multipartBoundary(_ contentType: String) -> String? {
        let parts = contentType.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.first?.lowercased() == "multipart/form-data" else { return nil }
        for part in parts.dropFirst() {
            let pair = part.split(separator: "=", maxSplits: 1).map(String.init)
            if pair.count == 2, pair[0].lowercased() == "boundary" {
                let value = pair[1].trimmingCharacters(in: CharacterSet(charactersIn: "\""))
                return (1...70).contains(value.utf8.count) ? value : nil
            }
        }
        return nil
    }

    /// `filename*` (RFC 5987, UTF-8) if present, else `filename`, from a Content-Disposition.
    static func fileName(_ disposition: String) -> String? {
        var plain: String?
        var extended: String?
        for parameter in splitParameters(disposition).dropFirst() {
            let pair = parameter.split(separator: "=", maxSplits: 1).map(String.init)
            guard pair.count == 2 else { continue }
            let key = pair[0].trimmingCharacters(in: .whitespaces).lowercased()
            var value = pair[1].trimmingCharacters(in: .whitespaces)
            if key == "filename" {
                if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 {
                    value = String(value.dropFirst().dropLast()).replacingOccurrences(of: "\\\"", with: "\"")
                }
                plain = value
            } else if key == "filename*" {
                let pieces = value.split(separator: "'", maxSplits: 2, omittingEmptySubsequences: false)
                if pieces.count == 3, pieces[0].lowercased() == "utf-8" {
                    extended = String(pieces[2]).removingPercentEncoding
                }
            }
        }
        return extended ?? plain
    }

    /// Splits on `;` outside double quotes.
    static func splitParameters(_ text: String) -> [String] {
        var parts: [String] = []
        var current = ""
        var quoted = false
        var escaped = false
        for character in text {
            if escaped {
                escaped = false
            } else if character == "\\" && quoted {
                escaped = true
            } else if character == "\"" {
                quoted.toggle()
            } else if character == ";" && !quoted {
                parts.append(current)
                current = ""
                continue
            }
            current.append(character)
        }
        parts.append(current)
        return parts
    }

    /// `attachment; filename="ascii"; filename*=UTF-8''percent-encoded` (RFC 6266).
    static func contentDisposition(_ name: String) -> String {
        let safe = SafeFileName.sanitize(name)
        let ascii = String(String.UnicodeScalarView(safe.unicodeScalars.map {
            $0.isASCII && $0.value >= 0x20 && $0 != "\"" && $0 != "\\" && $0 != "%" ? $0 : "_"
        }))
        let attrChars = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$&+-.^_`|~")
        let encoded = safe.addingPercentEncoding(withAllowedCharacters: attrChars) ?? ascii
        return "attachment; filename=\"\(ascii)\"; filename*=UTF-8''\(encoded)"
    }

    enum ByteRange: Equatable {
        case whole
        case unsatisfiable
        case part(Range<Int64>)
    }

    /// One `bytes=` range (`a-b`, `a-`, `-n`). Several ranges or an unknown unit are served
    /// whole, as RFC 9110 allows; a range starting past the end is unsatisfiable.
    static func byteRange(_ header: String, size: Int64) -> ByteRange {
        let text = header.trimmingCharacters(in: .whitespaces)
        guard text.lowercased().hasPrefix("bytes="), !text.contains(",") else { return .whole }
        let spec = text.dropFirst(6).trimmingCharacters(in: .whitespaces)
        let bounds = spec.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        guard bounds.count == 2 else { return .whole }
        switch (Int64(bounds[0]), Int64(bounds[1])) {
        case (let start?, let end?) where start >= 0 && end >= start:
            guard start < size else { return .unsatisfiable }
            return .part(start..<(min(end, size - 1) + 1))  // clamp first: end may be Int64.max
        case (let start?, nil) where bounds[1].isEmpty && start >= 0:
            guard start < size else { return .unsatisfiable }
            return .part(start..<size)
        case (nil, let suffix?) where bounds[0].isEmpty && suffix >= 0:
            guard suffix > 0, size > 0 else { return .unsatisfiable }
            return .part(max(0, size - suffix)..<size)
        default:
            return .whole
        }
    }
}

/// What the multipart parser reported during one `execute` (its callbacks are synchronous;
/// the handler then stores the bytes asynchronously). Used by one request's task only.
private final class PartEvents {
    enum Item {
        case header(String, String)
        case body([UInt8])
        case complete
    }

    var items: [Item] = []
}
