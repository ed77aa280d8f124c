import Domain
import Hummingbird
import NIOCore

/// Reads a streamed `multipart/form-data` body part by part, handing each part's content on as
/// it arrives, in bounded memory.
///
/// The body is refused with `tooLarge` as soon as it passes `maxBodyBytes`, without reading (or
/// holding) the rest. The preamble and part headers, which the parser holds until complete, may
/// take at most `maxHeaderBytes` between pieces of part data. A body that cannot be parsed, has
/// over-long part headers or ends before its closing boundary is 400 `malformed_multipart`.
struct MultipartUploadReader {
    let boundary: String
    let maxBodyBytes: Int
    let maxHeaderBytes: Int
    let tooLarge: DomainError

    /// Reads `body` to its end. A part is opened with its headers (names lower-cased) when its
    /// first bytes, or its end, arrive; written to with each piece of its content; then closed.
    func read<Part>(
        _ body: RequestBody,
        open: ([String: String]) async throws -> Part,
        write: (inout Part, [UInt8]) async throws -> Void,
        close: (inout Part) async throws -> Void
    ) async throws {
        guard let parser = MultipartParser(boundary: boundary) else {
            throw Problem.badRequest(code: "malformed_multipart", detail: "the multipart boundary is empty")
        }
        let events = PartEvents()
        parser.onHeader = { name, value in events.items.append(.header(name, value)) }
        parser.onBody = { buffer in events.items.append(.body(Array(buffer.readableBytesView))) }
        parser.onPartComplete = { events.items.append(.complete) }

        var headers: [String: String] = [:]
        var current: Part?
        var received = 0
        // Bytes since the parser last produced part data: part headers (and the preamble) are
        // held by the parser until complete, so they are capped separately.
        var withoutProgress = 0
        // The last bytes of the body, to check it ends with the closing delimiter.
        var tail: [UInt8] = []
        let closing = Array("--\(boundary)--".utf8)
        for try await buffer in body {
            // Counted as it arrives: the body is refused as soon as it passes the limit,
            // without reading (or holding) the rest.
            received += buffer.readableBytes
            if received > maxBodyBytes { throw tooLarge }
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
            } else if withoutProgress > maxHeaderBytes {
                throw Problem.badRequest(code: "malformed_multipart", detail: "a part's headers are too long")
            }
            for item in items {
                switch item {
                case .header(let name, let value):
                    headers[name.lowercased()] = value
                case .body(let bytes):
                    var part = try await Self.take(&current, orOpen: open, headers)
                    try await write(&part, bytes)
                    current = part
                case .complete:
                    var part = try await Self.take(&current, orOpen: open, headers)
                    try await close(&part)
                    headers = [:]
                }
            }
        }
        if current != nil || tail.count < closing.count
            || !(0...(tail.count - closing.count)).contains(where: { tail[$0..<($0 + closing.count)].elementsEqual(closing) })
        {
            throw Problem.badRequest(code: "malformed_multipart", detail: "the multipart body ended before its closing boundary")
        }
    }

    /// The part being read (taken out, so it is mutated in place), or a new one.
    private static func take<Part>(
        _ current: inout Part?, orOpen open: ([String: String]) async throws -> Part, _ headers: [String: String]
    ) async throws -> Part {
        if let part = current.take() { return part }
        return try await open(headers)
    }
}

/// What the multipart parser reported during one `execute` (its callbacks are synchronous;
/// the reader then hands the bytes on asynchronously). Used by one request's task only.
private final class PartEvents {
    enum Item {
        case header(String, String)
        case body([UInt8])
        case complete
    }

    var items: [Item] = []
}
