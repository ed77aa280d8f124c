import Domain
import Foundation
import HTTPTypes
import Hummingbird

extension ParleyRequestContext {
    public var requestDecoder: JSONDecoder { ParleyJSON.decoder() }
    public var responseEncoder: JSONEncoder { ParleyJSON.encoder() }
}

/// A page of a list: `items` plus the cursor for the next page (`null` at the end).
struct Page<Item: Encodable & Sendable>: ResponseEncodable, Sendable {
    let items: [Item]
    let nextCursor: String?

    enum CodingKeys: String, CodingKey { case items, nextCursor }

    /// `nextCursor` is always present (`null` on the last page), so clients can test for it.
    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(items, forKey: .items)
        try container.encode(nextCursor, forKey: .nextCursor)
    }
}

extension UUID {
    /// Ids go out in lowercase, as PostgreSQL prints them.
    var lowercased: String { uuidString.lowercased() }
}

/// Reads `limit` (1…100, default 50) from the query string, or a validation problem.
func pageLimit(_ request: Request, default defaultLimit: Int = 50) throws -> Int {
    guard let text = request.uri.queryParameters["limit"] else { return defaultLimit }
    guard let limit = Int(String(text)), (1...100).contains(limit) else {
        throw Problem.validation([.init("limit", "out_of_range", "limit must be an integer from 1 to 100")])
    }
    return limit
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

extension Request {
    /// A query parameter that must be one of an enum's raw values, or a validation problem.
    func queryEnum<T: RawRepresentable & CaseIterable>(_ name: String, as type: T.Type) throws -> T? where T.RawValue == String {
        guard let text = uri.queryParameters[Substring(name)].map(String.init) else { return nil }
        guard let value = T(rawValue: text) else {
            let allowed = T.allCases.map(\.rawValue).joined(separator: ", ")
            throw Problem.validation([.init(name, "invalid_value", "\(name) must be one of: \(allowed)")])
        }
        return value
    }

    /// An integer query parameter, or a validation problem.
    func queryInt(_ name: String, range: ClosedRange<Int64>) throws -> Int64? {
        guard let text = uri.queryParameters[Substring(name)].map(String.init) else { return nil }
        guard let value = Int64(text), range.contains(value) else {
            throw Problem.validation([.init(name, "out_of_range", "\(name) must be an integer from \(range.lowerBound) to \(range.upperBound)")])
        }
        return value
    }

    func queryString(_ name: String) -> String? {
        uri.queryParameters[Substring(name)].map(String.init)
    }
}
