import Domain
import Hummingbird

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

/// Reads `limit` (1…100, default 50) from the query string, or a validation problem.
func pageLimit(_ request: Request, default defaultLimit: Int = 50) throws -> Int {
    guard let text = request.uri.queryParameters["limit"] else { return defaultLimit }
    guard let limit = Int(String(text)), (1...100).contains(limit) else {
        throw Problem.validation([.init("limit", "out_of_range", "limit must be an integer from 1 to 100")])
    }
    return limit
}
