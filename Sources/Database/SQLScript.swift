/// A SQL file split into its statements, for servers that must receive one statement per query.
///
/// Citus propagates some DDL to the worker nodes by forwarding the text PostgreSQL gave it — for
/// a multi-statement query, the whole query — over the extended protocol, which refuses more than
/// one command ("cannot insert multiple commands into a prepared statement"). Against Citus,
/// migrations therefore run statement by statement (decision 0032).
///
/// The scanner knows what can hide a semicolon in PostgreSQL's lexical grammar: string constants
/// (`'…'` with `''`, escape strings `E'…'` with backslashes), quoted identifiers (`"…"`),
/// dollar-quoted strings (`$tag$…$tag$`), line comments (`--`) and nested block comments
/// (`/* … */`). Statements are returned without their terminating semicolon; those that are only
/// whitespace and comments are dropped. SQL-standard function bodies (`BEGIN ATOMIC … END`),
/// which contain semicolons of their own, are not supported: Parley's SQL files use dollar quotes.
public enum SQLScript {
    public static func statements(_ sql: String) -> [String] {
        let bytes = Array(sql.utf8)
        var statements: [String] = []
        var start = 0
        var index = 0
        var meaningful = false  // the current statement has more than whitespace and comments

        func isIdentifier(_ byte: UInt8) -> Bool {
            (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x30 && byte <= 0x39) || byte == 0x5F || byte >= 0x80
        }
        func flush(upTo end: Int) {
            if meaningful, let text = String(bytes: bytes[start..<end], encoding: .utf8) {
                let trimmed = text.trimmingWhitespace()
                if !trimmed.isEmpty { statements.append(trimmed) }
            }
            meaningful = false
        }

        while index < bytes.count {
            let byte = bytes[index]
            let next: UInt8? = index + 1 < bytes.count ? bytes[index + 1] : nil
            switch byte {
            case UInt8(ascii: "-") where next == UInt8(ascii: "-"):
                while index < bytes.count, bytes[index] != UInt8(ascii: "\n") { index += 1 }
                continue
            case UInt8(ascii: "/") where next == UInt8(ascii: "*"):
                var depth = 0
                while index < bytes.count {
                    if bytes[index] == UInt8(ascii: "/"), index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "*") {
                        depth += 1
                        index += 2
                    } else if bytes[index] == UInt8(ascii: "*"), index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "/") {
                        depth -= 1
                        index += 2
                        if depth == 0 { break }
                    } else {
                        index += 1
                    }
                }
                continue
            case UInt8(ascii: "'"):
                meaningful = true
                let escapes = index > 0 && (bytes[index - 1] == UInt8(ascii: "E") || bytes[index - 1] == UInt8(ascii: "e"))
                    && (index < 2 || !isIdentifier(bytes[index - 2]))
                index += 1
                while index < bytes.count {
                    if escapes, bytes[index] == UInt8(ascii: "\\") {
                        index += 2
                    } else if bytes[index] == UInt8(ascii: "'") {
                        if index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "'") { index += 2 } else { break }
                    } else {
                        index += 1
                    }
                }
                index += 1
                continue
            case UInt8(ascii: "\""):
                meaningful = true
                index += 1
                while index < bytes.count {
                    if bytes[index] == UInt8(ascii: "\"") {
                        if index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "\"") { index += 2 } else { break }
                    } else {
                        index += 1
                    }
                }
                index += 1
                continue
            case UInt8(ascii: "$") where index == 0 || !isIdentifier(bytes[index - 1]):
                // $tag$ or $$: a tag is an identifier not starting with a digit ($1 is a parameter).
                meaningful = true
                var end = index + 1
                while end < bytes.count, isIdentifier(bytes[end]), !(end == index + 1 && bytes[end] >= 0x30 && bytes[end] <= 0x39) { end += 1 }
                guard end < bytes.count, bytes[end] == UInt8(ascii: "$") else { break }
                let tag = Array(bytes[index...end])
                index = end + 1
                while index < bytes.count {
                    if bytes[index] == UInt8(ascii: "$"), index + tag.count <= bytes.count, Array(bytes[index..<(index + tag.count)]) == tag {
                        index += tag.count
                        break
                    }
                    index += 1
                }
                continue
            case UInt8(ascii: ";"):
                flush(upTo: index)
                index += 1
                start = index
                continue
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                break
            default:
                meaningful = true
            }
            index += 1
        }
        flush(upTo: bytes.count)
        return statements
    }
}

extension String {
    fileprivate func trimmingWhitespace() -> String {
        var view = Substring(self)
        while let first = view.first, first.isWhitespace { view = view.dropFirst() }
        while let last = view.last, last.isWhitespace { view = view.dropLast() }
        return String(view)
    }
}
