/// What a person typed in the search bar, reduced to terms PostgreSQL can take safely.
///
/// Nothing of the input is ever parsed as tsquery syntax: words are runs of letters and digits
/// (so `&|!():*'"\` and emoji are separators, never operators), and each becomes its own
/// `plainto_tsquery`; `"quoted text"` becomes a `phraseto_tsquery`; the last word, while the
/// person is still typing it, becomes a prefix term. Names are matched on the same words.
public struct SearchQuery: Sendable, Hashable {
    public var words: [String] = []
    public var phrases: [String] = []
    /// The last word as a prefix ("apart" finds "apartment"), unless the input ended with a
    /// space or punctuation (the word is complete) or it is inside a phrase.
    public var prefix: String?
    /// Lowercased words joined by spaces, for name matching.
    public var nameText: String = ""

    public static let maxLength = 2000
    static let maxTerms = 16
    static let maxWordLength = 64

    public var isEmpty: Bool { words.isEmpty && phrases.isEmpty && prefix == nil }

    public init(_ input: String) {
        var outside = ""
        var inQuote = false
        var phrase = ""
        for character in input {
            if character == "\"" {
                if inQuote {
                    let words = Self.words(phrase)
                    if !words.isEmpty, phrases.count < Self.maxTerms { phrases.append(words.joined(separator: " ")) }
                    phrase = ""
                }
                inQuote.toggle()
            } else if inQuote {
                phrase.append(character)
            } else {
                outside.append(character)
            }
        }
        // An unclosed quote: its text counts as plain words.
        if inQuote { outside += " " + phrase }
        var plain = Self.words(outside)
        if plain.count > Self.maxTerms { plain = Array(plain.prefix(Self.maxTerms)) }
        let stillTyping = !inQuote && (input.last.map { $0.isLetter || $0.isNumber } ?? false)
        if stillTyping, let last = plain.popLast() { prefix = last }
        words = plain
        nameText = Self.words(input).prefix(Self.maxTerms).joined(separator: " ").lowercased()
    }

    /// Runs of letters and digits, each at most 64 characters.
    static func words(_ text: String) -> [String] {
        var result: [String] = []
        var current = ""
        func flush() {
            if !current.isEmpty { result.append(String(current.prefix(maxWordLength))) }
            current = ""
        }
        for character in text {
            if character.isLetter || character.isNumber { current.append(character) } else { flush() }
        }
        flush()
        return result
    }
}
