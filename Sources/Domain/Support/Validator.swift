import Foundation

extension StringProtocol {
    /// Its length as the contract's `maxLength` (JSON Schema) and PostgreSQL's `char_length`
    /// count it: Unicode code points. Swift's `count` counts grapheme clusters, fewer where
    /// marks combine, so a value within it could still fail a table's check: a 422 that names
    /// no field (`invalid_value`) instead of the field's `too_long`.
    public var codePoints: Int { unicodeScalars.count }
}

/// Collects every bad field before failing, so a client learns all of them at once.
public struct Validator: Sendable {
    public private(set) var errors: [FieldError] = []

    public init() {}

    public mutating func add(_ field: String, _ code: String, _ message: String) {
        errors.append(FieldError(field, code, message))
    }

    public mutating func add(_ found: [FieldError]) {
        errors += found
    }

    /// Checks a required string: present, not blank, at most `maxLength` code points.
    @discardableResult
    public mutating func requireText(_ value: String?, _ field: String, maxLength: Int) -> String? {
        guard let value, !value.allSatisfy(\.isWhitespace) else {
            add(field, "required", "\(field) is required")
            return nil
        }
        guard value.codePoints <= maxLength else {
            add(field, "too_long", "\(field) must be at most \(maxLength) characters")
            return nil
        }
        guard !value.unicodeScalars.contains(where: { $0.value == 0 }) else {
            add(field, "invalid_characters", "\(field) must not contain NUL characters")
            return nil
        }
        return value
    }

    /// Checks optional text (a message, a note): at most `maxLength` code points, no NUL
    /// character (PostgreSQL's text cannot hold one). Blank is fine here.
    public mutating func checkText(_ value: String, _ field: String, maxLength: Int) {
        if value.codePoints > maxLength {
            add(field, "too_long", "\(field) must be at most \(Self.grouped(maxLength)) characters")
        } else if value.unicodeScalars.contains(where: { $0.value == 0 }) {
            add(field, "invalid_characters", "\(field) must not contain NUL characters")
        }
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

    /// 10000 as "10,000", whatever the process's locale.
    static func grouped(_ number: Int) -> String {
        var digits = String(number)
        var index = digits.endIndex
        while digits.distance(from: digits.startIndex, to: index) > 3 {
            index = digits.index(index, offsetBy: -3)
            digits.insert(",", at: index)
        }
        return digits
    }

    public func check() throws {
        if !errors.isEmpty { throw DomainError.validation(errors) }
    }
}
