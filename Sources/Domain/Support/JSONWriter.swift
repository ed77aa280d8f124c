import Foundation

/// A value that writes its own JSON, byte for byte what `ParleyJSON.encoder()` writes for it
/// (keys sorted, slashes unescaped, dates by `ParleyJSON.format`, nil members left out).
///
/// For the answers that carry many sessions — the session list and search — where Foundation's
/// JSONEncoder took 35 % of the server's CPU on a page of 50 sessions (perf, 1,000,000 messages).
/// WireFormatTests checks every writer against the encoder.
public protocol JSONWritable {
    func write(to json: inout JSONWriter)
}

/// JSON written straight into bytes. Objects take their keys in the order given: callers give
/// them sorted, as `.sortedKeys` would.
public struct JSONWriter: Sendable {
    public private(set) var bytes: [UInt8] = []
    /// Per open object or array: nothing written in it yet.
    private var empty: [Bool] = []

    public init(capacity: Int = 4096) {
        bytes.reserveCapacity(capacity)
    }

    // MARK: - Structure

    public mutating func object(_ body: (inout JSONWriter) -> Void) {
        bytes.append(UInt8(ascii: "{"))
        empty.append(true)
        body(&self)
        empty.removeLast()
        bytes.append(UInt8(ascii: "}"))
    }

    public mutating func array<S: Sequence>(_ elements: S, _ body: (inout JSONWriter, S.Element) -> Void) {
        bytes.append(UInt8(ascii: "["))
        empty.append(true)
        for element in elements {
            separate()
            body(&self, element)
        }
        empty.removeLast()
        bytes.append(UInt8(ascii: "]"))
    }

    /// A member's key; its value follows.
    public mutating func key(_ key: StaticString) {
        separate()
        bytes.append(UInt8(ascii: "\""))
        key.withUTF8Buffer { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: [UInt8(ascii: "\""), UInt8(ascii: ":")])
    }

    private mutating func separate() {
        guard let last = empty.last else { return }
        if last { empty[empty.count - 1] = false } else { bytes.append(UInt8(ascii: ",")) }
    }

    // MARK: - Members

    public mutating func field(_ key: StaticString, _ value: String) {
        self.key(key)
        string(value)
    }

    /// Left out when nil, as the encoder leaves out a nil optional.
    public mutating func field(_ key: StaticString, _ value: String?) {
        guard let value else { return }
        field(key, value)
    }

    public mutating func field(_ key: StaticString, _ value: Int64) {
        self.key(key)
        bytes.append(contentsOf: String(value).utf8)
    }

    /// Left out when nil.
    public mutating func field(_ key: StaticString, _ value: Int?) {
        guard let value else { return }
        field(key, Int64(value))
    }

    /// A value the JSON encoder writes (`ParleyJSON.encoder()`), copied in: for the rare members
    /// whose numbers only the encoder formats exactly (a listing's price). Left out when nil;
    /// `null` if the encoder fails (it fails only on a number JSON cannot hold, NaN or infinity,
    /// which nothing read from jsonb is).
    public mutating func encoded(_ key: StaticString, _ value: (some Encodable)?) {
        guard let value else { return }
        self.key(key)
        if let data = try? ParleyJSON.sharedEncoder.encode(value) {
            bytes.append(contentsOf: data)
        } else {
            bytes.append(contentsOf: "null".utf8)
        }
    }

    public mutating func field(_ key: StaticString, _ value: Bool) {
        self.key(key)
        bytes.append(contentsOf: (value ? "true" : "false").utf8)
    }

    public mutating func field(_ key: StaticString, _ value: Date) {
        field(key, ParleyJSON.format(value))
    }

    public mutating func field(_ key: StaticString, _ value: (some JSONWritable)?) {
        guard let value else { return }
        self.key(key)
        value.write(to: &self)
    }

    public mutating func field(_ key: StaticString, _ values: [some JSONWritable]) {
        self.key(key)
        array(values) { json, value in value.write(to: &json) }
    }

    public mutating func field(_ key: StaticString, _ values: [String]) {
        self.key(key)
        array(values) { json, value in json.string(value) }
    }

    public mutating func null(_ key: StaticString) {
        self.key(key)
        bytes.append(contentsOf: "null".utf8)
    }

    // MARK: - Strings

    /// A JSON string: quote, backslash and control characters escaped (the short forms where
    /// JSON has them, else \u00XX), everything else as its UTF-8, copied in runs.
    public mutating func string(_ value: String) {
        bytes.append(UInt8(ascii: "\""))
        var value = value
        value.withUTF8 { utf8 in
            var start = 0
            for index in utf8.indices {
                let byte = utf8[index]
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start..<index]))
                escape(byte)
                start = index + 1
            }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start...]))
        }
        bytes.append(UInt8(ascii: "\""))
    }

    private mutating func escape(_ byte: UInt8) {
        bytes.append(UInt8(ascii: "\\"))
        switch byte {
        case 0x08: bytes.append(UInt8(ascii: "b"))
        case 0x0C: bytes.append(UInt8(ascii: "f"))
        case 0x0A: bytes.append(UInt8(ascii: "n"))
        case 0x0D: bytes.append(UInt8(ascii: "r"))
        case 0x09: bytes.append(UInt8(ascii: "t"))
        case 0..<0x20:
            let hex = Array("0123456789abcdef".utf8)
            bytes.append(contentsOf: [UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
        default: bytes.append(byte)  // the quote and the backslash themselves
        }
    }
}
