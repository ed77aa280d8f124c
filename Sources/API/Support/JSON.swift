import Domain
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

extension ParleyRequestContext {
    public var requestDecoder: JSONDecoder { ParleyJSON.decoder() }
    public var responseEncoder: JSONEncoder { ParleyJSON.encoder() }
}

extension Request {
    /// Decodes the JSON body. Unlike `decode(as:context:)`, a `DecodingError` is passed on
    /// untouched so `ProblemMiddleware` can name the offending field (422) or say the body is
    /// not JSON (400). Bodies above the context's `maxUploadSize` are 413.
    ///
    /// A body declared as another media type is 415 `unsupported_media_type` (a form post or a
    /// text body read as JSON would fail later with a less helpful answer, or not at all); one
    /// without a `Content-Type` is read as JSON.
    func decodeJSON<T: Decodable>(as type: T.Type, context: ParleyRequestContext) async throws -> T {
        if let declared = headers[.contentType], !Self.isJSON(declared) {
            throw DomainError.unsupportedMediaType(code: "unsupported_media_type", message: "send the body as application/json")
        }
        return try await context.requestDecoder.decode(type, from: self, context: context)
    }

    /// `application/json` or a `+json` type (`application/merge-patch+json`), any parameters.
    static func isJSON(_ contentType: String) -> Bool {
        let media = contentType.split(separator: ";", maxSplits: 1).first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        return media == "application/json" || (media.hasPrefix("application/") && media.hasSuffix("+json"))
    }
}

/// Any encodable domain value as a JSON response body (encoded as the value itself). A value
/// that writes its own JSON (a message, a session) is written so; the bytes are the same
/// (WireFormatTests).
struct JSONBody<Value: Encodable & Sendable>: ResponseEncodable, Sendable {
    let value: Value

    init(_ value: Value) { self.value = value }

    func encode(to encoder: any Encoder) throws {
        try value.encode(to: encoder)
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        guard let writable = value as? any JSONWritable else {
            return try context.responseEncoder.encode(self, from: request, context: context)
        }
        var json = JSONWriter(capacity: 1024)
        writable.write(to: &json)
        return Response.json(json.bytes)
    }
}

extension Response {
    /// 200 with JSON written by `JSONWriter` (the headers the encoder's responses have).
    static func json(_ bytes: [UInt8]) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json; charset=utf-8"
        headers[.contentLength] = String(bytes.count)
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}

/// 201 for something made now, 200 for what an idempotent retry or a dedupe found.
func createdOrFound<Value: Encodable & Sendable>(_ value: Value, created: Bool, location: String? = nil) -> EditedResponse<JSONBody<Value>> {
    var headers = HTTPFields()
    if created, let location { headers[.location] = location }
    return EditedResponse(status: created ? .created : .ok, headers: headers, response: JSONBody(value))
}

extension KeyedDecodingContainer {
    /// A JSON merge-patch member: absent is `.unchanged`, `null` clears, a value sets.
    func patchField<T: Decodable & Sendable>(_ key: Key, _ type: T.Type) throws -> PatchField<T> {
        guard contains(key) else { return .unchanged }
        return .set(try decodeNil(forKey: key) ? nil : try decode(T.self, forKey: key))
    }
}
