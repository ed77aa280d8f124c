import Foundation

/// Normalization of the ways to reach a person, so duplicates are recognised.
public enum ContactPoint {
    /// A syntactically valid email (one `@`, a dotted domain, no spaces or control characters),
    /// trimmed; nil if not.
    public static func email(_ text: String) -> String? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard trimmed.codePoints <= 254, !trimmed.contains(where: { $0.isWhitespace || $0 == "<" || $0 == ">" || $0 == "\"" }),
            !trimmed.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F })
        else { return nil }
        let parts = trimmed.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[0].codePoints <= 64 else { return nil }
        let domain = parts[1]
        let labels = domain.split(separator: ".", omittingEmptySubsequences: false)
        guard labels.count >= 2, labels.allSatisfy({ !$0.isEmpty && !$0.hasPrefix("-") && !$0.hasSuffix("-") }),
            let tld = labels.last, tld.count >= 2, tld.allSatisfy(\.isLetter)
        else { return nil }
        return trimmed
    }

    /// E.164 (`+15551234567`) from what people type: `(555) 123-4567`, `555.123.4567`,
    /// `+44 20 7946 0958`, `001 …`. Ten digits without a country code are taken as North American
    /// (+1), the platform's home market. Nil if it cannot be a phone number.
    public static func phone(_ text: String) -> String? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty, trimmed.codePoints <= 32 else { return nil }
        let allowed = Set("0123456789+-(). ")
        guard trimmed.allSatisfy({ allowed.contains($0) }) else { return nil }
        var digits = trimmed.filter(\.isNumber)
        let international = trimmed.hasPrefix("+") || digits.hasPrefix("00")
        if digits.hasPrefix("00") { digits.removeFirst(2) }
        if !international {
            if digits.count == 10 { digits = "1" + digits }
            guard digits.count == 11, digits.hasPrefix("1") else { return nil }
        }
        guard (7...15).contains(digits.count), digits.first != "0" else { return nil }
        return "+" + digits
    }
}
