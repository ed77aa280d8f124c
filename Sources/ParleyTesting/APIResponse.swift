import Domain
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore

/// An answer of the API: status, headers and the body's bytes, decoded on demand into the
/// Domain's Codable types with the server's own JSON conventions (`ParleyJSON`).
///
/// `decode` throws when the body is not the type asked for, so a test that expects a `Session`
/// fails if the server answers anything else.
public struct APIResponse: Sendable {
    public let status: HTTPResponse.Status
    public let headers: HTTPFields
    public let body: ByteBuffer

    public init(status: HTTPResponse.Status, headers: HTTPFields, body: ByteBuffer) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// The body as UTF-8 text.
    public var text: String { String(buffer: body) }

    /// The body as `type`.
    public func decode<T: Decodable>(_ type: T.Type = T.self) throws -> T {
        try ParleyJSON.decoder().decode(type, from: Data(body.readableBytesView))
    }

    /// The body as a page of a list (`items` and `nextCursor`).
    public func page<Item: Decodable>(of type: Item.Type) throws -> Page<Item> {
        try decode(Page<Item>.self)
    }

    /// The `items` of a list body.
    public func items<Item: Decodable>(_ type: Item.Type) throws -> [Item] {
        try page(of: type).items
    }

    /// The body as an RFC 9457 problem, or nil if it is not one.
    public var problem: Problem? {
        try? decode(Problem.self)
    }

    /// The problem's stable `code`, or nil if the body is not a problem.
    public var code: String? { problem?.code }

    /// A page of a list, as every list endpoint answers it.
    public struct Page<Item: Decodable>: Decodable {
        public let items: [Item]
        /// Absent or null on the last page.
        public let nextCursor: String?
    }

    /// An `application/problem+json` body (Sources/API/Support/Problem.swift).
    public struct Problem: Decodable, Sendable, Equatable {
        public let type: String
        public let title: String
        public let status: Int
        public let code: String
        public let detail: String?
        public let instance: String?
        public let requestId: String?
        public let errors: [FieldError]?
        /// Readiness checks (`/ready`).
        public let checks: [String: String]?

        /// The fields named in `errors`.
        public var fields: [String] { errors?.map(\.field) ?? [] }
    }
}
