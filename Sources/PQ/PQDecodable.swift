import Foundation

/// Type OIDs of the built-in types the wrapper decodes (from `pg_type.dat`).
public enum PQType {
    public static let bool: UInt32 = 16
    public static let bytea: UInt32 = 17
    public static let char: UInt32 = 18
    public static let name: UInt32 = 19
    public static let int8: UInt32 = 20
    public static let int2: UInt32 = 21
    public static let int4: UInt32 = 23
    public static let text: UInt32 = 25
    public static let oid: UInt32 = 26
    public static let json: UInt32 = 114
    public static let float4: UInt32 = 700
    public static let float8: UInt32 = 701
    public static let unknown: UInt32 = 705
    public static let bpchar: UInt32 = 1042
    public static let varchar: UInt32 = 1043
    public static let timestamp: UInt32 = 1114
    public static let timestamptz: UInt32 = 1184
    public static let numeric: UInt32 = 1700
    public static let uuid: UInt32 = 2950
    public static let jsonb: UInt32 = 3802
    public static let xid8: UInt32 = 5069
}

/// A Swift type that can be decoded from one result cell, in text or binary format.
public protocol PQDecodable: Sendable {
    /// `bytes` is nil for SQL NULL.
    static func decode(_ bytes: [UInt8]?, column: PQColumn) throws -> Self
}

extension PQDecodable {
    static func mismatch(_ column: PQColumn, _ why: String = "") -> PQError {
        PQError(.decoding, message: "cannot decode column \(column.name) (type \(column.typeOID), \(column.format)) as \(Self.self)\(why.isEmpty ? "" : ": " + why)")
    }

    static func nonNull(_ bytes: [UInt8]?, _ column: PQColumn) throws -> [UInt8] {
        guard let bytes else { throw PQError(.decoding, message: "column \(column.name) is NULL; decode it as an Optional") }
        return bytes
    }
}

extension Optional: PQDecodable where Wrapped: PQDecodable {
    public static func decode(_ bytes: [UInt8]?, column: PQColumn) throws -> Self {
        guard let bytes else { return nil }
        return try Wrapped.decode(bytes, column: column)
    }
}

/// Big-endian integer from binary format.
private func readBigEndian<T: FixedWidthInteger>(_ bytes: [UInt8], as: T.Type) -> T? {
    guard bytes.count == MemoryLayout<T>.size else { return nil }
    var value: T = 0
    for byte in bytes { value = (value << 8) | T(byte) }
    return value
}

extension Int64: PQDecodable {
    public static func decode(_ bytes: [UInt8]?, column: PQColumn) throws -> Int64 {
        let bytes = try nonNull(bytes, column)
        if column.format == .text {
            guard let value = Int64(String(decoding: bytes, as: UTF8.self)) else { throw mismatch(column) }
            return value
        }
        switch column.typeOID {
        case PQType.int8, PQType.xid8: if let v = readBigEndian(bytes, as: Int64.self) { return v }
        case PQType.int4: if let v = readBigEndian(bytes, as: Int32.self) { return Int64(v) }
        case PQType.int2: if let v = readBigEndian(bytes, as: Int16.self) { return Int64(v) }
        case PQType.oid: if let v = readBigEndian(bytes, as: UInt32.self) { return Int64(v) }
        default: break
        }
        throw mismatch(column)
    }
}

extension Int: PQDecodable {
    public static func decode(_ bytes: [UInt8]?, column: PQColumn) throws -> Int {
        Int(try Int64.decode(bytes, column: column))
    }
}

extension Int32: PQDecodable {
    public static func decode(_ bytes: [UInt8]?, column: PQColumn) throws -> Int32 {
        let wide = try Int64.decode(bytes, column: column)
        guard let value = Int32(exactly: wide) else { throw mismatch(column, "out of range") }
        return value
    }
}

extension Double: PQDecodable {
    public static func decode(_ bytes: [UInt8]?, column: PQColumn) throws -> Double {
        let bytes = try nonNull(bytes, column)
        if column.format == .text {
            guard let value = Double(String(decoding: bytes, as: UTF8.self)) else { throw mismatch(column) }
            return value
        }
        switch column.typeOID {
        case PQType.float8: if let bits = readBigEndian(bytes, as: UInt64.self) { return Double(bitPattern: bits) }
        case PQType.float4: if let bits = readBigEndian(bytes, as: UInt32.self) { return Double(Float(bitPattern: bits)) }
        case PQType.int8, PQType.int4, PQType.int2: return Double(try Int64.decode(bytes, column: column))
        default: break
        }
        throw mismatch(column, "cast numeric to float8 or text in SQL")
    }
}

extension Bool: PQDecodable {
    public static func decode(_ bytes: [UInt8]?, column: PQColumn) throws -> Bool {
        let bytes = try nonNull(bytes, column)
        if column.format == .text {
            switch bytes {
            case [UInt8(ascii: "t")]: return true
            case [UInt8(ascii: "f")]: return false
            default: throw mismatch(column)
            }
        }
        guard column.typeOID == PQType.bool, bytes.count == 1 else { throw mismatch(column) }
        return bytes[0] != 0
    }
}

extension String: PQDecodable {
    public static func decode(_ bytes: [UInt8]?, column: PQColumn) throws -> String {
        let bytes = try nonNull(bytes, column)
        if column.format == .text { return String(decoding: bytes, as: UTF8.self) }
        switch column.typeOID {
        case PQType.int8, PQType.int4, PQType.int2, PQType.oid, PQType.xid8:
            return String(try Int64.decode(bytes, column: column))
        case PQType.uuid:
            return try UUID.decode(bytes, column: column).uuidString.lowercased()
        case PQType.jsonb:
            // Binary jsonb is a version byte (1) followed by the JSON text.
            guard bytes.first == 1 else { throw mismatch(column, "unknown jsonb version") }
            return String(decoding: bytes.dropFirst(), as: UTF8.self)
        case PQType.bool, PQType.bytea, PQType.timestamptz, PQType.timestamp, PQType.float4, PQType.float8, PQType.numeric:
            throw mismatch(column)
        default:
            // text, varchar, bpchar, name, json, unknown and text-like extension types
            // (citext) send their UTF-8 text as the binary form.
            return String(decoding: bytes, as: UTF8.self)
        }
    }
}

extension UUID: PQDecodable {
    public static func decode(_ bytes: [UInt8]?, column: PQColumn) throws -> UUID {
        let bytes = try nonNull(bytes, column)
        if column.format == .text || column.typeOID != PQType.uuid {
            guard let value = UUID(uuidString: String(decoding: bytes, as: UTF8.self)) else { throw mismatch(column) }
            return value
        }
        guard bytes.count == 16 else { throw mismatch(column) }
        return UUID(uuid: (
            bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
            bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]))
    }
}

extension Date: PQDecodable {
    public static func decode(_ bytes: [UInt8]?, column: PQColumn) throws -> Date {
        let bytes = try nonNull(bytes, column)
        if column.format == .text {
            guard let date = PQTimestamp.date(text: String(decoding: bytes, as: UTF8.self)) else { throw mismatch(column) }
            return date
        }
        guard column.typeOID == PQType.timestamptz || column.typeOID == PQType.timestamp,
            let micros = readBigEndian(bytes, as: Int64.self)
        else { throw mismatch(column) }
        // ±infinity are Int64.max/min; map them to the far future/past.
        if micros == Int64.max { return .distantFuture }
        if micros == Int64.min { return .distantPast }
        return PQTimestamp.date(microsecondsSince2000: micros)
    }
}

extension Array: PQDecodable where Element == UInt8 {
    public static func decode(_ bytes: [UInt8]?, column: PQColumn) throws -> [UInt8] {
        let bytes = try nonNull(bytes, column)
        if column.format == .binary { return bytes }
        // Text bytea is hex: \x0a1b…
        guard bytes.count >= 2, bytes[0] == UInt8(ascii: "\\"), bytes[1] == UInt8(ascii: "x"), bytes.count % 2 == 0 else {
            throw mismatch(column, "expected hex bytea output")
        }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case 48...57: c - 48
            case 97...102: c - 87
            case 65...70: c - 55
            default: nil
            }
        }
        var out = [UInt8]()
        out.reserveCapacity((bytes.count - 2) / 2)
        var index = 2
        while index < bytes.count {
            guard let high = nibble(bytes[index]), let low = nibble(bytes[index + 1]) else { throw mismatch(column) }
            out.append(high << 4 | low)
            index += 2
        }
        return out
    }
}

extension PQRow {
    /// Decodes a json/jsonb column into a `Decodable` type.
    public func decodeJSON<T: Decodable>(_ type: T.Type, _ name: String, decoder: JSONDecoder = JSONDecoder()) throws -> T {
        let text = try decode(String.self, name)
        do {
            return try decoder.decode(T.self, from: Data(text.utf8))
        } catch {
            throw PQError(.decoding, message: "column \(name): invalid JSON for \(T.self): \(error)")
        }
    }
}
