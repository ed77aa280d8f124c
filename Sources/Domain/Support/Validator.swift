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

    public func check() throws {
        if !errors.isEmpty { throw DomainError.validation(errors) }
    }
}
