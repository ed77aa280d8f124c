import Crypto
import Foundation

/// One file being received: counted against the limit, type-sniffed, hashed and stored in
/// pieces as it arrives. Holds at most one piece (plus the incoming buffer) in memory.
public struct AttachmentUpload: Sendable {
    let store: AttachmentStore
    let caller: Caller
    public let id: UUID
    public let fileName: String
    let limit: Int
    private var sniffer: FileSniffer
    private var hasher = SHA256()
    private var size: Int64 = 0
    private var pending: [UInt8] = []
    private var nextIndex = 0

    init(store: AttachmentStore, caller: Caller, id: UUID, fileName: String, limit: Int) {
        self.store = store
        self.caller = caller
        self.id = id
        self.fileName = fileName
        self.limit = limit
        self.sniffer = FileSniffer(fileName: fileName)
        pending.reserveCapacity(store.blobs.chunkSize)
    }

    /// The next bytes of the file. Throws 413 `attachment_too_large` as soon as the file
    /// passes the tenant's limit, before storing anything more.
    public mutating func append(_ bytes: [UInt8]) async throws {
        size += Int64(bytes.count)
        guard size <= Int64(limit) else {
            throw DomainError.tooLarge(code: "attachment_too_large", message: "a file may be at most \(limit) bytes")
        }
        sniffer.feed(bytes)
        hasher.update(data: bytes)
        pending.append(contentsOf: bytes)
        let chunk = store.blobs.chunkSize
        while pending.count >= chunk {
            try await store.reserve(self, bytes: chunk)
            try await store.blobs.put(caller.tenant.scope, id: id, index: nextIndex, bytes: Array(pending[..<chunk]))
            pending.removeFirst(chunk)
            nextIndex += 1
        }
    }

    /// The last bytes are stored and the content checked against the name: 415
    /// `unsupported_media_type` unless it is one of the accepted types and matches the extension.
    public mutating func finish() async throws -> Attachment {
        let type = try Self.check(sniffer, fileName)
        if !pending.isEmpty {
            try await store.reserve(self, bytes: pending.count)
            try await store.blobs.put(caller.tenant.scope, id: id, index: nextIndex, bytes: pending)
            pending = []
            nextIndex += 1
        }
        let digest = hasher.finalize().map { String(format: "%02x", $0) }.joined()
        return try await store.ready(self, type, size: size, sha256: digest)
    }

    /// The sniffed type, or 415 with the reason.
    static func check(_ sniffer: FileSniffer, _ name: String) throws -> SniffResult {
        let outcome = Result { () throws(SniffError) -> SniffResult in try sniffer.finish() }
        switch outcome {
        case .success(let type): return type
        case .failure(let error): throw DomainError.unsupportedMediaType(code: "unsupported_media_type", message: explain(error, name))
        }
    }

    static func explain(_ error: SniffError, _ name: String) -> String {
        let accepted = "JPG, PNG, GIF, WebP, PDF, DOC, DOCX, TXT or RTF"
        switch error {
        case .unknownExtension: return "'\(name)' does not have an accepted extension (\(accepted))"
        case .empty: return "'\(name)' is empty"
        case .unsupportedContent: return "the content of '\(name)' is not \(accepted)"
        case .mismatch(let expected, let found):
            return "the content of '\(name)' is \(found.map { $0.rawValue.uppercased() } ?? "not an accepted type"), not \(expected.rawValue.uppercased())"
        }
    }
}
