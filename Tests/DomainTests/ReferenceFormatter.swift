import Domain
import Foundation

// The formatter as it was before it was made linear (issue 14): straightforward and obviously
// right, quadratic on hostile input. Kept only as the oracle the linear one must agree with.

enum ReferenceFormatter {
    static func html(_ text: String) -> String {
        var out = ""
        var listOpen = false
        var pendingBreak = false
        let lines = text.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n").split(separator: "\n", omittingEmptySubsequences: false)
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
    static func inline(_ text: Substring) -> String {
        var out = ""
        var index = text.startIndex
        while index < text.endIndex {
            let rest = text[index...]
            if rest.hasPrefix("**"), let (inner, next) = delimited(rest, "**") {
                out += "<strong>" + inline(inner) + "</strong>"
                index = next
            } else if rest.hasPrefix("*"), let (inner, next) = delimited(rest, "*") {
                out += "<em>" + inline(inner) + "</em>"
                index = next
            } else if rest.hasPrefix("_"), isBoundary(before: index, in: text), let (inner, next) = delimited(rest, "_"),
                next == text.endIndex || !text[next].isRefLetterOrDigit
            {
                out += "<em>" + inline(inner) + "</em>"
                index = next
            } else if rest.hasPrefix("["), let (label, url, next) = markdownLink(rest), let safe = safeURL(url) {
                out += anchor(href: safe, label: inline(label))
                index = next
            } else if (rest.hasPrefix("https://") || rest.hasPrefix("http://")), isBoundary(before: index, in: text) {
                let (url, next) = bareURL(rest)
                if let safe = safeURL(url) {
                    out += anchor(href: safe, label: escape(url))
                } else {
                    out += escape(url)
                }
                index = next
            } else {
                out += escape(String(text[index]))
                index = text.index(after: index)
            }
        }
        return out
    }

    /// `marker inner marker` with a non-blank inner that does not start or end with a space.
    private static func delimited(_ text: Substring, _ marker: String) -> (Substring, Substring.Index)? {
        let start = text.index(text.startIndex, offsetBy: marker.count)
        guard start < text.endIndex, let close = text[start...].range(of: marker) else { return nil }
        let inner = text[start..<close.lowerBound]
        guard let first = inner.first, let last = inner.last, !first.isWhitespace, !last.isWhitespace else { return nil }
        if marker == "*", inner.hasPrefix("*") { return nil }
        return (inner, close.upperBound)
    }

    private static func markdownLink(_ text: Substring) -> (Substring, String, Substring.Index)? {
        guard let labelEnd = text.range(of: "](") else { return nil }
        let label = text[text.index(after: text.startIndex)..<labelEnd.lowerBound]
        guard !label.isEmpty, !label.contains("\n"), !label.contains("[") else { return nil }
        let urlStart = labelEnd.upperBound
        guard let close = text[urlStart...].firstIndex(of: ")") else { return nil }
        let url = String(text[urlStart..<close])
        guard !url.isEmpty, !url.contains(where: \.isWhitespace) else { return nil }
        return (label, url, text.index(after: close))
    }

    private static func bareURL(_ text: Substring) -> (String, Substring.Index) {
        var end = text.firstIndex { $0.isWhitespace || $0 == "<" || $0 == ">" || $0 == "\"" || $0 == "'" } ?? text.endIndex
        // Trailing punctuation belongs to the sentence, not the URL.
        while end > text.startIndex, let last = text[..<end].last, ".,;:!?)]}".contains(last) {
            end = text.index(before: end)
        }
        return (String(text[text.startIndex..<end]), end)
    }

    private static func isBoundary(before index: Substring.Index, in text: Substring) -> Bool {
        guard index > text.startIndex else { return true }
        return !text[text.index(before: index)].isRefLetterOrDigit
    }

    /// The URL if its scheme is http, https or mailto and it has no control characters.
    static func safeURL(_ url: String) -> String? {
        guard !url.unicodeScalars.contains(where: { $0.value < 0x21 || $0.value == 0x7F || "\"'<>`\\".unicodeScalars.contains($0) }),
            let colon = url.firstIndex(of: ":")
        else { return nil }
        let scheme = url[..<colon].lowercased()
        guard ["http", "https", "mailto"].contains(scheme) else { return nil }
        if scheme != "mailto" {
            guard url[colon...].hasPrefix("://"), url.count > scheme.count + 3 else { return nil }
        }
        return url
    }

    private static func anchor(href: String, label: String) -> String {
        "<a href=\"\(escape(href))\" rel=\"nofollow noopener noreferrer\">\(label)</a>"
    }

    /// Escaping did not change: the formatter's own.
    static func escape(_ text: String) -> String { MessageFormatter.escape(text) }
}


extension Character {
    var isRefLetterOrDigit: Bool { isLetter || isNumber }
}
