import Domain
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// Uploads (`POST /v1/sessions/{id}/attachments`, multipart/form-data, streamed) and downloads
/// (`GET /v1/attachments/{id}`, streamed, with Range and ETag).
struct AttachmentRoutes {
    let attachments: AttachmentStore

    func register(on group: RouterGroup<ParleyRequestContext>) {
        group.post("sessions/:id/attachments", use: upload)
        group.get("attachments/:id", use: download)
        group.delete("attachments/:id", use: remove)
    }

    /// `DELETE /v1/attachments/{id}`: the caller's own unsent upload, removed (204).
    @Sendable func remove(_ request: Request, context: ParleyRequestContext) async throws -> Response {
        try await attachments.remove(try context.requireCaller(), id: try context.parameters.require("id"))
        return Response(status: .noContent)
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

        let reader = MultipartUploadReader(
            boundary: boundary, maxBodyBytes: maxBody, maxHeaderBytes: Self.partOverhead, tooLarge: tooLarge)
        var started: [UUID] = []
        var stored: [Attachment] = []
        do {
            try await reader.read(request.body) { headers in
                let upload = try await open(caller, sessionID, headers, count: started.count, maxFiles: maxFiles)
                started.append(upload.id)
                return upload
            } write: { upload, bytes in
                try await upload.append(bytes)
            } close: { upload in
                stored.append(try await upload.finish())
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
}
