/// Whether a `.txt` upload that is not UTF-8 is text in one of the encodings Windows saves plain
/// text in: Notepad's "Unicode" (UTF-16 with its byte order mark) and "ANSI" (Windows-1252, the
/// Latin-1 superset). Fed the same slices as `UTF8Validator`, in bounded memory.
///
/// Text here means what a person writes: no NUL, and of the control characters only tab, line
/// feed, form feed and carriage return. So a binary file named `.txt` is still refused, and so is
/// a byte Windows-1252 leaves undefined (0x81, 0x8D, 0x8F, 0x90, 0x9D).
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

    /// The charset the content is text in, if it is in one of these (UTF-16 first: its byte order
    /// mark says so, and its NULs make it no Windows-1252 text).
    var charset: String? {
        if utf16 == true, pendingByte == nil, !highSurrogate { return "utf-16" }
        return windows1252 ? "windows-1252" : nil
    }

    mutating func validate(_ buffer: UnsafeBufferPointer<UInt8>) {
        for byte in buffer {
            if windows1252 { windows1252 = Self.isWindows1252Text(byte) }
            if utf16 == nil {
                firstBytes.append(byte)
                if firstBytes.count == 2 {
                    utf16 = firstBytes == [0xFF, 0xFE] || firstBytes == [0xFE, 0xFF]
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
            default:
                if highSurrogate || !Self.isTextCodePoint(unit) { utf16 = false }
            }
        }
    }

    /// A character a person writes: not NUL, not a control character other than tab, line feed,
    /// form feed or carriage return, not DEL.
    private static func isTextCodePoint(_ value: UInt16) -> Bool {
        if value < 0x20 { return value == 0x09 || value == 0x0A || value == 0x0C || value == 0x0D }
        return value != 0x7F
    }

    private static func isWindows1252Text(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x81, 0x8D, 0x8F, 0x90, 0x9D: false
        default: isTextCodePoint(UInt16(byte))
        }
    }
}
