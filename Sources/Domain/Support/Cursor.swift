import Foundation

/// Opaque keyset cursors for list endpoints: base64url of `part|part|…`.
/// Clients pass them back verbatim; a tampered or foreign cursor is a validation error.
public enum Cursor {
    public static func encode(_ parts: [String]) -> String {
        Base64URL.encode(Array(parts.joined(separator: "|").utf8))
    }

    /// The parts, or a `validation_failed` error naming `field`.
    public static func decode(_ text: String, parts count: Int, field: String = "after") throws -> [String] {
        guard text.count <= 512, let bytes = Base64URL.decode(text),
            let decoded = String(validating: bytes, as: UTF8.self)
        else { throw invalid(field) }
        let parts = decoded.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == count else { throw invalid(field) }
        return parts
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

    /// The sort key as a number (for keys written from one).
    func integerKey(field: String = "after") throws -> Int64 {
        guard let value = Int64(key) else { throw Cursor.invalid(field) }
        return value
    }

    /// The opaque text clients pass back as `after`.
    var cursor: String { Cursor.encode([key, id.uuidString.lowercased()]) }
}
