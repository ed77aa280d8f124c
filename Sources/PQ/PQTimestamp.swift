import Foundation

/// Conversions between `Date` and PostgreSQL's timestamp representations.
enum PQTimestamp {
    /// Seconds between 1970-01-01 and PostgreSQL's epoch 2000-01-01 (UTC).
    static let postgresEpochOffset: Double = 946_684_800

    /// Seconds since 1970 of 0001-01-01 and of 10000-01-01: the years `format` writes out.
    static let formattable: Range<Double> = -62_135_596_800 ..< 253_402_300_800

    static func format(_ date: Date) -> String {
        // A time before year 1 or after 9999 (or not finite) is `-infinity` / `infinity`, which
        // sort before and after every timestamp: never a trap converting it to Int64 below
        // (a forged cursor can name any time).
        let since1970 = date.timeIntervalSince1970
        guard formattable.contains(since1970) else { return since1970 < formattable.lowerBound ? "-infinity" : "infinity" }
        // Whole microseconds, formatted by hand: no formatter state, no locale, exact round trip.
        let micros = Int64((since1970 * 1_000_000).rounded())
        let seconds = Int64((Double(micros) / 1_000_000).rounded(.down))
        let fraction = micros - seconds * 1_000_000
        var parts = gmtime_r_parts(seconds)
        parts.fraction = Int(fraction)
        return String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ",
            parts.year, parts.month, parts.day, parts.hour, parts.minute, parts.second, parts.fraction)
    }

    /// Binary `timestamptz`/`timestamp`: microseconds since 2000-01-01 UTC.
    static func date(microsecondsSince2000 micros: Int64) -> Date {
        Date(timeIntervalSince1970: postgresEpochOffset + Double(micros) / 1_000_000)
    }

    /// Text `timestamptz` as the server prints it with DateStyle ISO and TimeZone UTC:
    /// `2026-11-25 12:39:45.123456+00`.
    static func date(text: String) -> Date? {
        let bytes = Array(text.utf8)
        func number(_ start: Int, _ count: Int) -> Int? {
            guard start + count <= bytes.count else { return nil }
            var value = 0
            for byte in bytes[start..<(start + count)] {
                guard byte >= 48, byte <= 57 else { return nil }
                value = value * 10 + Int(byte - 48)
            }
            return value
        }
        guard let year = number(0, 4), let month = number(5, 2), let day = number(8, 2),
            let hour = number(11, 2), let minute = number(14, 2), let second = number(17, 2)
        else { return nil }
        var index = 19
        var fraction = 0.0
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            var scale = 0.1
            while index < bytes.count, bytes[index] >= 48, bytes[index] <= 57 {
                fraction += Double(bytes[index] - 48) * scale
                scale /= 10
                index += 1
            }
        }
        var offsetSeconds = 0
        if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
            let sign = bytes[index] == UInt8(ascii: "-") ? -1 : 1
            let hours = number(index + 1, 2) ?? 0
            let minutes = (index + 3 < bytes.count && bytes[index + 3] == UInt8(ascii: ":")) ? (number(index + 4, 2) ?? 0) : 0
            offsetSeconds = sign * (hours * 3600 + minutes * 60)
        }
        var components = tm()
        components.tm_year = Int32(year - 1900)
        components.tm_mon = Int32(month - 1)
        components.tm_mday = Int32(day)
        components.tm_hour = Int32(hour)
        components.tm_min = Int32(minute)
        components.tm_sec = Int32(second)
        let epoch = timegm(&components)
        return Date(timeIntervalSince1970: Double(epoch - offsetSeconds) + fraction)
    }

    private struct Parts { var year, month, day, hour, minute, second, fraction: Int }

    private static func gmtime_r_parts(_ seconds: Int64) -> Parts {
        var time = time_t(seconds)
        var components = tm()
        gmtime_r(&time, &components)
        return Parts(
            year: Int(components.tm_year) + 1900, month: Int(components.tm_mon) + 1, day: Int(components.tm_mday),
            hour: Int(components.tm_hour), minute: Int(components.tm_min), second: Int(components.tm_sec), fraction: 0)
    }
}
