import Foundation
import Hummingbird

/// Parley's JSON conventions: camelCase keys as declared, ISO 8601 dates with milliseconds.
enum ParleyJSON {
    static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(date.formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted)))
        }
        return encoder
    }

    static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}

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
