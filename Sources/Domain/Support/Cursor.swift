import Foundation

/// Opaque keyset cursors for list endpoints: base64url of `part|part|…`.
/// Clients pass them back verbatim; a tampered or foreign cursor is a validation error.
///
/// Only the first part may contain `|`: it is a sort key, which can be a name ("Jane Doe |
/// RE/MAX"), while every part after it is a number or an id. So a cursor is split at its last
/// `count - 1` bars, never at a bar inside the name.
public enum Cursor {
    /// The longest cursor accepted: a name of 200 code points of 4 UTF-8 bytes each and an id,
    /// in base64url, fit with room to spare (openapi.yaml's `After`).
    public static let maxLength = 2048

    public static func encode(_ parts: [String]) -> String {
        Base64URL.encode(Array(parts.joined(separator: "|").utf8))
    }

    /// The parts, or a `validation_failed` error naming `field`.
    public static func decode(_ text: String, parts count: Int, field: String = "after") throws -> [String] {
        guard text.utf8.count <= maxLength, let bytes = Base64URL.decode(text),
            let decoded = String(validating: bytes, as: UTF8.self)
        else { throw invalid(field) }
        var parts: [String] = []
        var rest = Substring(decoded)
        for _ in 1..<max(count, 1) {
            guard let bar = rest.lastIndex(of: "|") else { throw invalid(field) }
            parts.append(String(rest[rest.index(after: bar)...]))
            rest = rest[..<bar]
        }
        parts.append(String(rest))
        return parts.reversed()
    }

    static func invalid(_ field: String) -> DomainError {
        .validation([FieldError(field, "invalid_value", "\(field) is not a cursor this server issued")])
    }
}

/// A keyset position, the cursor of every list ordered by (sort key, id): the last row's sort
/// key, as text, and its id as the tie-breaker.
struct Keyset: Sendable, Hashable {
    let key: String
    let id: UUID

    init(key: String, id: UUID) {
        self.key = key
        self.id = id
    }

    /// The position an `after` cursor names; nil for the first page. A cursor this server did
    /// not issue is a validation error naming `field`.
    static func decode(_ text: String?, field: String = "after") throws -> Keyset? {
        guard let text else { return nil }
        let parts = try Cursor.decode(text, parts: 2, field: field)
        guard let id = UUID(uuidString: parts[1]) else { throw Cursor.invalid(field) }
        return Keyset(key: parts[0], id: id)
    }

    /// The sort key as a number (for keys written from one), within `range`.
    func integerKey(field: String = "after", in range: ClosedRange<Int64> = .min ... .max) throws -> Int64 {
        guard let value = Int64(key), range.contains(value) else { throw Cursor.invalid(field) }
        return value
    }

    /// Microseconds since 1970 of the years 0001–9999: every time a cursor of this server names.
    static let microsecondsOfYears1To9999: ClosedRange<Int64> = -62_135_596_800_000_000 ... 253_402_300_799_999_999

    /// The opaque text clients pass back as `after`.
    var cursor: String { Cursor.encode([key, id.uuidString.lowercased()]) }
}
