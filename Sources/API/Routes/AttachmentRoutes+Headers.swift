import Domain
import Foundation

extension AttachmentRoutes {
    /// The boundary of a `multipart/form-data` Content-Type, if it is one.
    static func multipartBoundary(_ contentType: String) -> String? {
        let parts = contentType.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.first?.lowercased() == "multipart/form-data" else { return nil }
        for part in parts.dropFirst() {
            let pair = part.split(separator: "=", maxSplits: 1).map(String.init)
            if pair.count == 2, pair[0].lowercased() == "boundary" {
                let value = pair[1].trimmingCharacters(in: CharacterSet(charactersIn: "\""))
                return (1...70).contains(value.utf8.count) ? value : nil
            }
        }
        return nil
    }

    /// `filename*` (RFC 5987, UTF-8) if present, else `filename`, from a Content-Disposition.
    static func fileName(_ disposition: String) -> String? {
        var plain: String?
        var extended: String?
        for parameter in splitParameters(disposition).dropFirst() {
            let pair = parameter.split(separator: "=", maxSplits: 1).map(String.init)
            guard pair.count == 2 else { continue }
            let key = pair[0].trimmingCharacters(in: .whitespaces).lowercased()
            var value = pair[1].trimmingCharacters(in: .whitespaces)
            if key == "filename" {
                if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 {
                    value = String(value.dropFirst().dropLast()).replacingOccurrences(of: "\\\"", with: "\"")
                }
                plain = value
            } else if key == "filename*" {
                let pieces = value.split(separator: "'", maxSplits: 2, omittingEmptySubsequences: false)
                if pieces.count == 3, pieces[0].lowercased() == "utf-8" {
                    extended = String(pieces[2]).removingPercentEncoding
                }
            }
        }
        return extended ?? plain
    }

    /// Splits on `;` outside double quotes.
    static func splitParameters(_ text: String) -> [String] {
        var parts: [String] = []
        var current = ""
        var quoted = false
        var escaped = false
        for character in text {
            if escaped {
                escaped = false
            } else if character == "\\" && quoted {
                escaped = true
            } else if character == "\"" {
                quoted.toggle()
            } else if character == ";" && !quoted {
                parts.append(current)
                current = ""
                continue
            }
            current.append(character)
        }
        parts.append(current)
        return parts
    }

    /// `attachment; filename="ascii"; filename*=UTF-8''percent-encoded` (RFC 6266).
    static func contentDisposition(_ name: String) -> String {
        let safe = SafeFileName.sanitize(name)
        let ascii = String(String.UnicodeScalarView(safe.unicodeScalars.map {
            $0.isASCII && $0.value >= 0x20 && $0 != "\"" && $0 != "\\" && $0 != "%" ? $0 : "_"
        }))
        let attrChars = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$&+-.^_`|~")
        let encoded = safe.addingPercentEncoding(withAllowedCharacters: attrChars) ?? ascii
        return "attachment; filename=\"\(ascii)\"; filename*=UTF-8''\(encoded)"
    }

    enum ByteRange: Equatable {
        case whole
        case unsatisfiable
        case part(Range<Int64>)
    }

    /// One `bytes=` range (`a-b`, `a-`, `-n`). Several ranges or an unknown unit are served
    /// whole, as RFC 9110 allows; a range starting past the end is unsatisfiable.
    static func byteRange(_ header: String, size: Int64) -> ByteRange {
        let text = header.trimmingCharacters(in: .whitespaces)
        guard text.lowercased().hasPrefix("bytes="), !text.contains(",") else { return .whole }
        let spec = text.dropFirst(6).trimmingCharacters(in: .whitespaces)
        let bounds = spec.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        guard bounds.count == 2 else { return .whole }
        switch (Int64(bounds[0]), Int64(bounds[1])) {
        case (let start?, let end?) where start >= 0 && end >= start:
            guard start < size else { return .unsatisfiable }
            return .part(start..<(min(end, size - 1) + 1))  // clamp first: end may be Int64.max
        case (let start?, nil) where bounds[1].isEmpty && start >= 0:
            guard start < size else { return .unsatisfiable }
            return .part(start..<size)
        case (nil, let suffix?) where bounds[0].isEmpty && suffix >= 0:
            guard suffix > 0, size > 0 else { return .unsatisfiable }
            return .part(max(0, size - suffix)..<size)
        default:
            return .whole
        }
    }
}
