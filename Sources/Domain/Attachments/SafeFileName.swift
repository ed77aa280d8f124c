/// Makes an uploader's file name safe to store and show.
public enum SafeFileName {
    public static let maxLength = 200

    /// Keeps only the last path component (split on `/` and `\`); removes control characters
    /// (C0, DEL, C1), bidirectional-override and line/paragraph-separator characters, quotes,
    /// backslashes, semicolons and leading dots; trims whitespace; caps the length at 200
    /// code points keeping the extension. Returns "file" when nothing is left.
    public static func sanitize(_ name: String) -> String {
        // Split on scalars, not Characters: "/" followed by a combining mark is one Character.
        let scalars = name.unicodeScalars
        let lastSeparator = scalars.lastIndex { $0 == "/" || $0 == "\\" }
        let component = lastSeparator.map { scalars[scalars.index(after: $0)...] } ?? scalars[...]

        var kept = String.UnicodeScalarView()
        for scalar in component where !isRemoved(scalar) { kept.append(scalar) }

        // Leading dots and whitespace, trailing whitespace.
        var start = kept.startIndex
        while start < kept.endIndex, kept[start] == "." || kept[start].properties.isWhitespace {
            start = kept.index(after: start)
        }
        var end = kept.endIndex
        while end > start, kept[kept.index(before: end)].properties.isWhitespace {
            end = kept.index(before: end)
        }
        var result = String(String.UnicodeScalarView(kept[start..<end]))

        if result.unicodeScalars.count > maxLength { result = truncate(result) }
        return result.isEmpty ? "file" : result
    }

    /// The lower-cased extension of a (sanitized) file name, "" when it has none.
    public static func fileExtension(of name: String) -> String {
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return "" }
        return String(name[name.index(after: dot)...]).lowercased()
    }

    private static func isRemoved(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 0x00...0x1F, 0x7F...0x9F: true // C0, DEL, C1
        case 0x22, 0x27, 0x5C, 0x3B: true // " ' \ ;
        case 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069: true // bidi marks and overrides
        case 0x2028, 0x2029: true // line and paragraph separators
        default: false
        }
    }

    /// At most `maxLength` code points (the contract's and the table's count), whole
    /// Characters only (a letter keeps its accent), the extension kept.
    private static func truncate(_ name: String) -> String {
        let characters = Array(name)
        if let dot = characters.lastIndex(of: "."), dot > 0 {
            let ext = String(characters[dot...])
            if ext.unicodeScalars.count <= 21 { // a plausible extension (dot + up to 20)
                var stem = prefix(characters[..<dot], codePoints: maxLength - ext.unicodeScalars.count)
                while let last = stem.unicodeScalars.last, last.properties.isWhitespace {
                    stem.unicodeScalars.removeLast()
                }
                return stem + ext
            }
        }
        return prefix(characters[...], codePoints: maxLength)
    }

    private static func prefix(_ characters: ArraySlice<Character>, codePoints limit: Int) -> String {
        var kept = ""
        var used = 0
        for character in characters {
            used += character.unicodeScalars.count
            guard used <= limit else { break }
            kept.append(character)
        }
        return kept
    }
}
