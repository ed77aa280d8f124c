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
