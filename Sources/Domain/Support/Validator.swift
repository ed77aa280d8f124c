import Foundation

/// Collects every bad field before failing, so a client learns all of them at once.
public struct Validator: Sendable {
    public private(set) var errors: [FieldError] = []

    public init() {}

    public mutating func add(_ field: String, _ code: String, _ message: String) {
        errors.append(FieldError(field, code, message))
    }

    /// Checks a required string: present, not blank, at most `maxLength` characters.
    @discardableResult
    public mutating func requireText(_ value: String?, _ field: String, maxLength: Int) -> String? {
        guard let value, !value.allSatisfy(\.isWhitespace) else {
            add(field, "required", "\(field) is required")
            return nil
        }
        guard value.count <= maxLength else {
            add(field, "too_long", "\(field) must be at most \(maxLength) characters")
            return nil
        }
        guard !value.unicodeScalars.contains(where: { $0.value == 0 }) else {
            add(field, "invalid_characters", "\(field) must not contain NUL characters")
            return nil
        }
        return value
    }

    /// `requireText`, and one line: no control characters. For names, which become display
    /// names (a client's, a visitor's) and their tokens' `name`.
    @discardableResult
    public mutating func requireLine(_ value: String?, _ field: String, maxLength: Int) -> String? {
        guard let text = requireText(value, field, maxLength: maxLength) else { return nil }
        guard !text.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
            add(field, "invalid_characters", "\(field) must not contain control characters")
            return nil
        }
        return text
    }

    public func check() throws {
        if !errors.isEmpty { throw DomainError.validation(errors) }
    }
}
