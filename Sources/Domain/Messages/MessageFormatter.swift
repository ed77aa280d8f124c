import Foundation

/// Renders message text (plain text with a small formatting subset) to safe HTML.
///
/// The subset: `**bold**`, `*italic*` / `_italic_`, `[label](https://…)` links, bare
/// `http(s)://` URLs, `- ` / `* ` / `• ` bulleted lists, and line breaks. Everything else is
/// text: every `<`, `>`, `&`, `"` and `'` is escaped, so no markup in a message can come back
/// live. Links are only `http`, `https` and `mailto`, carry `rel="nofollow noopener noreferrer"`,
/// and their href is attribute-escaped. The output uses only the tags `strong`, `em`, `a`,
/// `ul`, `li` and `br`, and no attribute but `href` and `rel`.
public enum MessageFormatter {
    public static func html(_ text: String) -> String {
        var out = ""
        var listOpen = false
        var pendingBreak = false
        let lines = text.replacingCRLF().split(separator: "\n", omittingEmptySubsequences: false)
        for line in lines {
            if let item = listItem(line) {
                if !listOpen {
                    out += "<ul>"
                    listOpen = true
                }
                out += "<li>" + inline(item) + "</li>"
                pendingBreak = false
                continue
            }
            if listOpen {
                out += "</ul>"
                listOpen = false
                pendingBreak = false
            }
            if pendingBreak { out += "<br>" }
            out += inline(line)
            pendingBreak = true
        }
        if listOpen { out += "</ul>" }
        return out
    }

    private static func listItem(_ line: Substring) -> Substring? {
        for marker in ["- ", "* ", "• "] where line.hasPrefix(marker) {
            return line.dropFirst(marker.count)
        }
        return nil
    }

    /// Inline formatting of one line, escaping every character it does not turn into markup.
    ///
    /// Linear in the line's length for every input: each construct's closing marker is found
    /// in a table of next occurrences built in one pass, never by scanning the rest of the
    /// line again at each opening marker (which made `[a](` × 2,500 take seconds).
    static func inline(_ text: Substring) -> String {
        let line = InlineLine(text)
        var out = ""
        out.reserveCapacity(text.utf8.count)
        line.render(0, line.count, into: &out)
        return out
    }

    /// One line as characters, with, for every position, where each marker next occurs.
    private struct InlineLine {
        let chars: [Character]
        /// The character's byte when it is a single ASCII byte, else 0: markers are ASCII, and
        /// comparing bytes is much cheaper than comparing `Character`s.
        let codes: [UInt8]
        var count: Int { chars.count }
        /// For position p: the first position at or after p where the marker starts, or
        /// `count` when there is none.
        let star: [Int], doubleStar: [Int], underscore: [Int], open: [Int], linkMiddle: [Int], close: [Int]
        let space: [Int], unsafe: [Int], colon: [Int]

        init(_ text: Substring) {
            let chars = Array(text)
            let n = chars.count
            let codes = chars.map { $0.utf8.count == 1 ? $0.utf8.first ?? 0 : 0 }
            var star = [Int](repeating: n, count: n + 1), doubleStar = star, underscore = star, open = star
            var linkMiddle = star, close = star, space = star, unsafe = star, colon = star
            var p = n - 1
            while p >= 0 {
                let c = codes[p]
                let next = p + 1 < n ? codes[p + 1] : 0
                star[p] = c == 0x2A ? p : star[p + 1]
                doubleStar[p] = c == 0x2A && next == 0x2A ? p : doubleStar[p + 1]
                underscore[p] = c == 0x5F ? p : underscore[p + 1]
                open[p] = c == 0x5B ? p : open[p + 1]
                linkMiddle[p] = c == 0x5D && next == 0x28 ? p : linkMiddle[p + 1]
                close[p] = c == 0x29 ? p : close[p + 1]
                colon[p] = c == 0x3A ? p : colon[p + 1]
                let isSpace: Bool, isUnsafe: Bool
                if c != 0 {
                    isSpace = c == 0x20 || (c >= 0x09 && c <= 0x0D)
                    isUnsafe = MessageFormatter.unsafeInURL(c)
                } else {
                    isSpace = chars[p].isWhitespace
                    isUnsafe = chars[p].unicodeScalars.contains { $0.isASCII && MessageFormatter.unsafeInURL(UInt8($0.value)) }
                }
                space[p] = isSpace ? p : space[p + 1]
                unsafe[p] = isUnsafe ? p : unsafe[p + 1]
                p -= 1
            }
            self.chars = chars
            self.codes = codes
            (self.star, self.doubleStar, self.underscore, self.open, self.linkMiddle, self.close) = (star, doubleStar, underscore, open, linkMiddle, close)
            (self.space, self.unsafe, self.colon) = (space, unsafe, colon)
        }

        /// Renders `chars[lo..<hi]`.
        func render(_ lo: Int, _ hi: Int, into out: inout String) {
            var i = lo
            while i < hi {
                let c = codes[i]
                if c == 0x2A, i + 1 < hi, codes[i + 1] == 0x2A, let (a, b, next) = delimited(i, hi, width: 2, doubleStar) {
                    out += "<strong>"
                    render(a, b, into: &out)
                    out += "</strong>"
                    i = next
                } else if c == 0x2A, let (a, b, next) = delimited(i, hi, width: 1, star) {
                    out += "<em>"
                    render(a, b, into: &out)
                    out += "</em>"
                    i = next
                } else if c == 0x5F, i == lo || !chars[i - 1].isLetterOrDigit, let (a, b, next) = delimited(i, hi, width: 1, underscore),
                    next == hi || !chars[next].isLetterOrDigit
                {
                    out += "<em>"
                    render(a, b, into: &out)
                    out += "</em>"
                    i = next
                } else if c == 0x5B, let (label, url, next) = link(i, hi) {
                    out += "<a href=\"" + MessageFormatter.escape(url) + "\" rel=\"nofollow noopener noreferrer\">"
                    render(label.lowerBound, label.upperBound, into: &out)
                    out += "</a>"
                    i = next
                } else if c == 0x68, hasPrefix("https://", at: i, hi) || hasPrefix("http://", at: i, hi), i == lo || !chars[i - 1].isLetterOrDigit {
                    var end = i
                    while end < hi, !MessageFormatter.endsBareURL(chars[end]) { end += 1 }
                    // Trailing punctuation belongs to the sentence, not the URL.
                    while end > i, ".,;:!?)]}".contains(chars[end - 1]) { end -= 1 }
                    let url = String(chars[i..<end])
                    if let safe = MessageFormatter.safeURL(url) {
                        out += MessageFormatter.anchor(href: safe, label: MessageFormatter.escape(url))
                    } else {
                        out += MessageFormatter.escape(url)
                    }
                    i = end
                } else {
                    MessageFormatter.escape(chars[i], into: &out)
                    i += 1
                }
            }
        }

        /// `marker inner marker` from `i`, within `hi`, with a non-blank inner that does not
        /// start or end with a space: the inner range and where the text goes on.
        private func delimited(_ i: Int, _ hi: Int, width: Int, _ next: [Int]) -> (Int, Int, Int)? {
            let start = i + width
            guard start < hi else { return nil }
            let end = next[start]
            guard end + width <= hi, end > start, !chars[start].isWhitespace, !chars[end - 1].isWhitespace else { return nil }
            if width == 1, codes[i] == 0x2A, codes[start] == 0x2A { return nil }
            return (start, end, end + width)
        }

        /// `[label](url)` from `i`, within `hi`, with a label without `[` and a URL that
        /// `safeURL` would accept, decided from the tables without reading the URL.
        private func link(_ i: Int, _ hi: Int) -> (label: Range<Int>, url: String, next: Int)? {
            let middle = linkMiddle[i]
            guard middle + 2 <= hi, middle > i + 1, open[i + 1] >= middle else { return nil }
            let urlStart = middle + 2
            guard urlStart < hi else { return nil }
            let urlEnd = close[urlStart]
            guard urlEnd < hi, urlEnd > urlStart, space[urlStart] >= urlEnd, unsafe[urlStart] >= urlEnd else { return nil }
            let schemeEnd = colon[urlStart]
            // The longest scheme allowed is "mailto".
            guard schemeEnd < urlEnd, schemeEnd - urlStart <= 6 else { return nil }
            let scheme = String(chars[urlStart..<schemeEnd]).lowercased()
            switch scheme {
            case "mailto": break
            case "http", "https":
                guard schemeEnd + 2 < urlEnd, codes[schemeEnd + 1] == 0x2F, codes[schemeEnd + 2] == 0x2F,
                    urlEnd - urlStart > scheme.count + 3
                else { return nil }
            default: return nil
            }
            return (i + 1..<middle, String(chars[urlStart..<urlEnd]), urlEnd + 1)
        }

        private func hasPrefix(_ prefix: StaticString, at i: Int, _ hi: Int) -> Bool {
            guard i + prefix.utf8CodeUnitCount <= hi else { return false }
            return prefix.withUTF8Buffer { bytes in bytes.indices.allSatisfy { codes[i + $0] == bytes[$0] } }
        }
    }

    /// Where a bare URL ends.
    static func endsBareURL(_ c: Character) -> Bool {
        c.isWhitespace || c == "<" || c == ">" || c == "\"" || c == "'"
    }

    /// A character that may not appear in a link's URL (controls, space, quotes, angle
    /// brackets, backtick, backslash).
    static func unsafeInURL(_ c: Character) -> Bool {
        c.unicodeScalars.contains { $0.isASCII && unsafeInURL(UInt8($0.value)) }
    }

    static func unsafeInURL(_ byte: UInt8) -> Bool {
        switch byte {
        case 0..<0x21, 0x7F, 0x22, 0x27, 0x3C, 0x3E, 0x60, 0x5C: true
        default: false
        }
    }

    /// The URL if its scheme is http, https or mailto and it has no control characters.
    static func safeURL(_ url: String) -> String? {
        guard !url.contains(where: unsafeInURL), let colon = url.firstIndex(of: ":")
        else { return nil }
        let scheme = url[..<colon].lowercased()
        guard ["http", "https", "mailto"].contains(scheme) else { return nil }
        if scheme != "mailto" {
            guard url[colon...].hasPrefix("://"), url.count > scheme.count + 3 else { return nil }
        }
        return url
    }

    static func anchor(href: String, label: String) -> String {
        "<a href=\"\(escape(href))\" rel=\"nofollow noopener noreferrer\">\(label)</a>"
    }

    /// Escapes by UTF-8 byte, not by Character: a quote or `<` followed by a combining mark is
    /// one Character, and must still be escaped (inside `href="…"` a raw quote would end the
    /// attribute). Also several times faster than walking grapheme clusters.
    public static func escape(_ text: String) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count + 16)
        for byte in text.utf8 { escape(byte, into: &bytes) }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func escape(_ byte: UInt8, into out: inout [UInt8]) {
        switch byte {
        case UInt8(ascii: "&"): out.append(contentsOf: "&amp;".utf8)
        case UInt8(ascii: "<"): out.append(contentsOf: "&lt;".utf8)
        case UInt8(ascii: ">"): out.append(contentsOf: "&gt;".utf8)
        case UInt8(ascii: "\""): out.append(contentsOf: "&quot;".utf8)
        case UInt8(ascii: "'"): out.append(contentsOf: "&#39;".utf8)
        default: out.append(byte)
        }
    }

    static func escape(_ character: Character, into out: inout String) {
        if character.utf8.contains(where: { $0 == UInt8(ascii: "&") || $0 == UInt8(ascii: "<") || $0 == UInt8(ascii: ">") || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "'") }) {
            out += escape(String(character))
        } else {
            out.append(character)
        }
    }
}

extension Character {
    var isLetterOrDigit: Bool { isLetter || isNumber }
}

extension String {
    func replacingCRLF() -> String {
        replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n")
    }
}
