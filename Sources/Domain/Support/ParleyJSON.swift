import Foundation

/// Parley's JSON conventions, shared by the REST API and the event stream: keys as declared
/// (camelCase, RESO names), sorted for stable output; dates ISO 8601 with milliseconds.
public enum ParleyJSON {
    public static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes, .sortedKeys]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(format(date))
        }
        return encoder
    }

    /// One encoder for `JSONWriter.encoded` (JSONEncoder is Sendable; `encode` only reads the
    /// configuration set here).
    public static let sharedEncoder = encoder()

    /// One decoder for the hot paths (a send decodes the stored message): JSONDecoder is
    /// Sendable and its `decode` only reads the configuration set here.
    public static let sharedDecoder = decoder()

    /// Reads what `encoder()` and SQL's `to_char(… 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')` write
    /// (fractional seconds optional).
    public static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            guard let date = parse(text) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "expected an ISO 8601 UTC date-time")
            }
            return date
        }
        return decoder
    }

    /// `2026-11-25T13:05:56Z` or `2026-11-25T13:05:56.034Z` (UTC only), as written by Parley.
    /// `format(parse(text))` gives `text` back (with milliseconds).
    public static func parse(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        guard bytes.count >= 20, bytes.last == UInt8(ascii: "Z"), bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"),
            bytes[10] == UInt8(ascii: "T"), bytes[13] == UInt8(ascii: ":"), bytes[16] == UInt8(ascii: ":")
        else { return nil }
        func number(_ range: Range<Int>) -> Int32? {
            var value: Int32 = 0
            for index in range {
                let digit = Int32(bytes[index]) - 48
                guard (0...9).contains(digit) else { return nil }
                value = value * 10 + digit
            }
            return value
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
            let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19),
            (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61
        else { return nil }
        var fraction = 0.0
        if bytes.count > 20 {
            guard bytes[19] == UInt8(ascii: "."), bytes.count > 21 else { return nil }
            var scale = 0.1
            for byte in bytes[20..<(bytes.count - 1)] {
                let digit = Int(byte) - 48
                guard (0...9).contains(digit) else { return nil }
                fraction += Double(digit) * scale
                scale /= 10
            }
            // The middle of the interval the digits denote: `format` floors to milliseconds,
            // so the text survives a round trip through Double.
            fraction += scale * 5
        } else if bytes.count != 20 {
            return nil
        }
        var parts = tm()
        parts.tm_year = year - 1900
        parts.tm_mon = month - 1
        parts.tm_mday = day
        parts.tm_hour = hour
        parts.tm_min = minute
        parts.tm_sec = second
        let seconds = timegm(&parts)
        return Date(timeIntervalSince1970: Double(seconds) + fraction)
    }

    /// `2026-11-25T13:05:56.034Z`: formatted by hand (gmtime_r, digits written into the
    /// string's own bytes), several times faster than Foundation's ISO8601 FormatStyle on Linux,
    /// which showed up on the send path; each session in a list has two or three.
    public static func format(_ date: Date) -> String {
        let millis = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
        var seconds = time_t(millis >= 0 ? millis / 1000 : (millis - 999) / 1000)
        let fraction = Int32(millis - Int64(seconds) * 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let year = parts.tm_year + 1900
        guard (0...9999).contains(year) else {
            // Years of other widths: padded to four digits at least, as ISO 8601 writes them.
            let text = String(year)
            let padded = text.count >= 4 ? text : String(repeating: "0", count: 4 - text.count) + text
            return padded + String(format(fixedYear: 2000, parts, fraction).dropFirst(4))
        }
        return format(fixedYear: year, parts, fraction)
    }

    private static func format(fixedYear year: Int32, _ parts: tm, _ fraction: Int32) -> String {
        String(unsafeUninitializedCapacity: 24) { buffer in
            func put(_ value: Int32, _ width: Int, at offset: Int) {
                var value = value
                for index in stride(from: offset + width - 1, through: offset, by: -1) {
                    buffer[index] = UInt8(truncatingIfNeeded: 48 + value % 10)
                    value /= 10
                }
            }
            put(year, 4, at: 0)
            buffer[4] = UInt8(ascii: "-")
            put(parts.tm_mon + 1, 2, at: 5)
            buffer[7] = UInt8(ascii: "-")
            put(parts.tm_mday, 2, at: 8)
            buffer[10] = UInt8(ascii: "T")
            put(parts.tm_hour, 2, at: 11)
            buffer[13] = UInt8(ascii: ":")
            put(parts.tm_min, 2, at: 14)
            buffer[16] = UInt8(ascii: ":")
            put(parts.tm_sec, 2, at: 17)
            buffer[19] = UInt8(ascii: ".")
            put(fraction, 3, at: 20)
            buffer[23] = UInt8(ascii: "Z")
            return 24
        }
    }
}
