import Domain
import HTTPTypes
import Hummingbird
import NIOCore

/// A page of a list: `items` plus the cursor for the next page (`null` at the end).
struct Page<Item: Encodable & Sendable>: ResponseGenerator, Encodable, Sendable {
    let items: [Item]
    let nextCursor: String?

    enum CodingKeys: String, CodingKey { case items, nextCursor }

    /// `nextCursor` is always present (`null` on the last page), so clients can test for it.
    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(items, forKey: .items)
        try container.encode(nextCursor, forKey: .nextCursor)
    }

    /// Items that write their own JSON (sessions, search results) are written so; others go
    /// through the context's encoder. The bytes are the same either way (WireFormatTests).
    func response(from request: Request, context: some RequestContext) throws -> Response {
        guard let writable = items as? [any JSONWritable] else {
            return try context.responseEncoder.encode(self, from: request, context: context)
        }
        var json = JSONWriter(capacity: 256 + 1024 * writable.count)
        write(writable, to: &json)
        return Response.json(json.bytes)
    }

    func write(_ items: [any JSONWritable], to json: inout JSONWriter) {
        json.object { json in
            json.key("items")
            json.array(items) { json, item in item.write(to: &json) }
            if let nextCursor { json.field("nextCursor", nextCursor) } else { json.null("nextCursor") }
        }
    }
}

/// Reads `limit` (1…100, default 50) from the query string, or a validation problem.
func pageLimit(_ request: Request, default defaultLimit: Int = 50) throws -> Int {
    guard let text = request.uri.queryParameters["limit"] else { return defaultLimit }
    guard let limit = Int(String(text)), (1...100).contains(limit) else {
        throw Problem.validation([.init("limit", "out_of_range", "limit must be an integer from 1 to 100")])
    }
    return limit
}
