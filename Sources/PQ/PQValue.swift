import Foundation

/// One bound parameter as it goes to libpq.
///
/// Text parameters are sent with type OID 0 so the server infers the type from the statement;
/// bytes are sent in binary format as `bytea`, so no escaping and no size doubling.
public enum PQValue: Sendable, Hashable {
    case null
    case text(String)
    case bytes([UInt8])
}

/// A Swift value that can be bound as a statement parameter.
public protocol PQEncodable: Sendable {
    var pqValue: PQValue { get }
}

extension PQValue: PQEncodable {
    public var pqValue: PQValue { self }
}

extension String: PQEncodable {
    public var pqValue: PQValue { .text(self) }
}

extension Substring: PQEncodable {
    public var pqValue: PQValue { .text(String(self)) }
}

extension Int: PQEncodable {
    public var pqValue: PQValue { .text(String(self)) }
}

extension Int64: PQEncodable {
    public var pqValue: PQValue { .text(String(self)) }
}

extension Int32: PQEncodable {
    public var pqValue: PQValue { .text(String(self)) }
}

extension Double: PQEncodable {
    public var pqValue: PQValue { .text(String(self)) }
}

extension Bool: PQEncodable {
    public var pqValue: PQValue { .text(self ? "true" : "false") }
}

extension UUID: PQEncodable {
    public var pqValue: PQValue { .text(uuidString.lowercased()) }
}

extension Date: PQEncodable {
    /// ISO 8601 with microseconds in UTC, which `timestamptz` parses exactly.
    public var pqValue: PQValue { .text(PQTimestamp.format(self)) }
}

extension Array: PQEncodable where Element == UInt8 {
    public var pqValue: PQValue { .bytes(self) }
}

extension Data: PQEncodable {
    public var pqValue: PQValue { .bytes([UInt8](self)) }
}

extension Optional: PQEncodable where Wrapped: PQEncodable {
    public var pqValue: PQValue {
        switch self {
        case .none: .null
        case .some(let value): value.pqValue
        }
    }
}

/// A JSON document bound as text; use `$1::jsonb` in the statement.
public struct PQJSON: PQEncodable {
    public let text: String
    public init(text: String) { self.text = text }
    public init(encoding value: some Encodable, encoder: JSONEncoder = JSONEncoder()) throws {
        self.text = String(decoding: try encoder.encode(value), as: UTF8.self)
    }
    public var pqValue: PQValue { .text(text) }
}
