/// Whether a `.txt` upload that is not UTF-8 is text in one of the encodings Windows saves plain
/// text in: Notepad's "Unicode" (UTF-16 with its byte order mark) and "ANSI" (Windows-1252, the
/// Latin-1 superset). Fed the same slices as `UTF8Validator`, in bounded memory.
///
/// Text here means what a person writes: no NUL, and of the control characters only tab, line
/// feed, form feed, carriage return and DOS's end-of-file mark (Ctrl-Z). So a binary file named
/// `.txt` is still refused, and so is a byte Windows-1252 leaves undefined (0x81, 0x8D, 0x8F,
/// 0x90, 0x9D). A file that begins with a UTF-16 byte order mark is UTF-16 or nothing.
///
/// Windows-1252 is a guess: "ANSI" is the system's code page, Windows-1252 in the Americas and
/// Western Europe. A Cyrillic or Central European file (Windows-1251, -1250) is accepted with the
/// wrong label and shows garbled; such files were refused before, and no byte tells them apart.
struct LegacyTextValidator: Sendable {
    /// Every byte so far is Windows-1252 text.
    private(set) var windows1252 = true
    /// The first two bytes were a UTF-16 byte order mark (FF FE little endian, FE FF big endian)
    /// and every code unit since is text, surrogates paired. Nil until two bytes were seen.
    private var utf16: Bool?
    private var bigEndian = false
    /// The first byte of a code unit whose second has not come yet.
    private var pendingByte: UInt8?
    /// A high surrogate waiting for its low one.
    private var highSurrogate = false
    private var firstBytes: [UInt8] = []

    /// The first two bytes were a UTF-16 byte order mark.
    private var byteOrderMark = false

    /// The charset the content is text in, if it is in one of these. A byte order mark decides:
    /// UTF-16, or not text at all (never Windows-1252 then: its bytes would be garbled).
    var charset: String? {
        if byteOrderMark { return utf16 == true && pendingByte == nil && !highSurrogate ? "utf-16" : nil }
        return windows1252 ? "windows-1252" : nil
    }

    mutating func validate(_ buffer: UnsafeBufferPointer<UInt8>) {
        for byte in buffer {
            if windows1252 { windows1252 = Self.isWindows1252Text(byte) }
            if utf16 == nil {
                firstBytes.append(byte)
                if firstBytes.count == 2 {
                    utf16 = firstBytes == [0xFF, 0xFE] || firstBytes == [0xFE, 0xFF]
                    byteOrderMark = utf16 == true
                    bigEndian = firstBytes == [0xFE, 0xFF]
                    firstBytes = []
                }
                continue
            }
            guard utf16 == true else {
                if !windows1252 { return }
                continue
            }
            guard let first = pendingByte else {
                pendingByte = byte
                continue
            }
            pendingByte = nil
            let unit = bigEndian ? UInt16(first) << 8 | UInt16(byte) : UInt16(byte) << 8 | UInt16(first)
            switch unit {
            case 0xD800...0xDBFF:
                if highSurrogate { utf16 = false }
                highSurrogate = true
            case 0xDC00...0xDFFF:
                if !highSurrogate { utf16 = false }
                highSurrogate = false
            case 0x80...0x9F, 0xFDD0...0xFDEF, 0xFFFE, 0xFFFF:
                // C1 control characters and noncharacters: not text.
                utf16 = false
            default:
                if highSurrogate || !Self.isTextCodePoint(unit) { utf16 = false }
            }
        }
    }

    /// A character a person writes: not NUL, not a control character other than tab, line feed,
    /// form feed, carriage return or Ctrl-Z, not DEL.
    private static func isTextCodePoint(_ value: UInt16) -> Bool {
        if value < 0x20 { return [0x09, 0x0A, 0x0C, 0x0D, 0x1A].contains(value) }
        return value != 0x7F
    }

    private static func isWindows1252Text(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x81, 0x8D, 0x8F, 0x90, 0x9D: false
        default: isTextCodePoint(UInt16(byte))
        }
    }
}
