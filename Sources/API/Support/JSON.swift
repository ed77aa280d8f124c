import Domain
import Foundation
import HTTPTypes
import Hummingbird

extension ParleyRequestContext {
    public var requestDecoder: JSONDecoder { ParleyJSON.decoder() }
    public var responseEncoder: JSONEncoder { ParleyJSON.encoder() }
}

extension Request {
    /// Decodes the JSON body. Unlike `decode(as:context:)`, a `DecodingError` is passed on
    /// untouched so `ProblemMiddleware` can name the offending field (422) or say the body is
    /// not JSON (400). Bodies above the context's `maxUploadSize` are 413.
    func decodeJSON<T: Decodable>(as type: T.Type, context: ParleyRequestContext) async throws -> T {
        try await context.requestDecoder.decode(type, from: self, context: context)
    }
}

/// Any encodable domain value as a JSON response body (encoded as the value itself).
struct JSONBody<Value: Encodable & Sendable>: ResponseEncodable, Sendable {
    let value: Value

    init(_ value: Value) { self.value = value }

    func encode(to encoder: any Encoder) throws {
        try value.encode(to: encoder)
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
