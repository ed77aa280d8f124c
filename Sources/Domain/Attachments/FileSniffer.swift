import Foundation

// MARK: - Kinds

/// The attachment types Parley accepts, decided by content (magic bytes), never by name alone.
public enum AttachmentKind: String, Sendable, CaseIterable {
    case jpeg, png, gif, webp, pdf, doc, docx, rtf, txt

    /// The media type the attachment is stored and served with.
    public var mediaType: String {
        switch self {
        case .jpeg: "image/jpeg"
        case .png: "image/png"
        case .gif: "image/gif"
        case .webp: "image/webp"
        case .pdf: "application/pdf"
        case .doc: "application/msword"
        case .docx: "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        case .rtf: "application/rtf"
        case .txt: "text/plain; charset=utf-8"
        }
    }

    /// The file name extensions (lower case, no dot) that announce this kind.
    public var fileExtensions: [String] {
        switch self {
        case .jpeg: ["jpg", "jpeg"]
        default: [rawValue]
        }
    }

    /// The kind a file name extension announces (case-insensitive, an optional leading dot is
    /// ignored), or nil for an extension that is not allowed.
    public static func forExtension(_ ext: String) -> AttachmentKind? {
        var e = ext.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
        if e.hasPrefix(".") { e.removeFirst() }
        switch e {
        case "jpg", "jpeg": return .jpeg
        case "png": return .png
        case "gif": return .gif
        case "webp": return .webp
        case "pdf": return .pdf
        case "doc": return .doc
        case "docx": return .docx
        case "rtf": return .rtf
        case "txt": return .txt
        default: return nil
        }
    }
}

/// What the content of an accepted file is.
public struct SniffResult: Sendable, Equatable {
    public let kind: AttachmentKind
    public let mediaType: String
    /// Pixel size, for images whose header gives it.
    public let width: Int?
    public let height: Int?

    public init(kind: AttachmentKind, width: Int? = nil, height: Int? = nil) {
        self.kind = kind
        self.mediaType = kind.mediaType
        self.width = width
        self.height = height
    }
}

/// Why a file is refused.
public enum SniffError: Error, Equatable {
    /// The (sanitized) file name has no extension or one that is not allowed; the payload is the
    /// lower-cased extension ("" when there is none).
    case unknownExtension(String)
    /// The content is none of the allowed types.
    case unsupportedContent
    /// The content is an allowed type, but not the one the file name's extension announces.
    case mismatch(expected: AttachmentKind, found: AttachmentKind?)
    /// No bytes at all.
    case empty
}

// MARK: - Sniffer

/// Decides an upload's type from its content while it streams past, in bounded memory.
///
/// Feed every chunk in order (any chunk boundaries, even one byte each), then call `finish()`.
/// The sniffer keeps the first `headCapacity` bytes (magic bytes, image headers, JPEG segments),
/// for ZIP content a rolling tail of the last `tailCapacity`…`3 × tailCapacity` bytes (the ZIP
/// central directory), and a few bytes of UTF-8 validator state — never the whole file.
///
/// ```swift
/// var sniffer = FileSniffer(fileName: upload.fileName)
/// for try await chunk in upload.body { sniffer.feed(chunk) }
/// let result = try sniffer.finish()
/// ```
public struct FileSniffer: Sendable {
    public static let defaultHeadCapacity = 256 * 1024
    public static let defaultTailCapacity = 256 * 1024

    /// The file name as given by the uploader.
    public let fileName: String
    /// `SafeFileName.sanitize(fileName)`; its extension is the one checked.
    public let safeFileName: String
    /// The lower-cased extension of `safeFileName` ("" when there is none).
    public let fileExtension: String
    /// The kind the extension announces, or nil when it is not allowed.
    public let expectedKind: AttachmentKind?
    /// The number of bytes fed so far.
    public private(set) var byteCount: Int = 0

    let headCapacity: Int
    let tailCapacity: Int
    /// Chunks are processed in slices of at most this many bytes, bounding the tail buffer.
    let sliceSize: Int

    /// The first `headCapacity` bytes.
    private(set) var head: [UInt8] = []
    /// For ZIP content: the most recent bytes, at most `2 × tailCapacity + sliceSize` of them.
    private(set) var tail: [UInt8] = []
    /// True until the first four bytes show the content is not a ZIP.
    private var maybeZip = true
    private var zipDecided = false
    /// Index into `tail` from where the local-header scan continues.
    private var localScanPosition = 0
    /// A ZIP local file header named `word/document.xml` went past.
    private(set) var sawLocalWordDocument = false
    /// Whether the content still needs UTF-8 validation.
    private var checkText = true
    private var magicDecided = false
    private var utf8 = UTF8Validator()

    public init(fileName: String) {
        self.init(fileName: fileName, headCapacity: Self.defaultHeadCapacity, tailCapacity: Self.defaultTailCapacity)
    }

    /// Smaller buffers for tests. `tailCapacity` is at least 64 bytes.
    init(fileName: String, headCapacity: Int, tailCapacity: Int) {
        self.fileName = fileName
        self.safeFileName = SafeFileName.sanitize(fileName)
        self.fileExtension = SafeFileName.fileExtension(of: safeFileName)
        self.expectedKind = AttachmentKind.forExtension(fileExtension)
        self.headCapacity = max(32, headCapacity)
        self.tailCapacity = max(64, tailCapacity)
        self.sliceSize = min(64 * 1024, self.tailCapacity)
    }

    /// Bytes currently held in buffers (for tests and metrics).
    var bufferedByteCount: Int { head.count + tail.count }

    /// Feeds the next chunk of the upload.
    public mutating func feed(_ bytes: some Collection<UInt8>) {
        guard expectedKind != nil, !bytes.isEmpty else { return }
        let done: Void? = bytes.withContiguousStorageIfAvailable { process($0) }
        if done == nil {
            let copy = Array(bytes)
            copy.withUnsafeBufferPointer { process($0) }
        }
    }

    private mutating func process(_ buffer: UnsafeBufferPointer<UInt8>) {
        var start = 0
        while start < buffer.count {
            let end = min(buffer.count, start + sliceSize)
            processSlice(UnsafeBufferPointer(rebasing: buffer[start..<end]))
            start = end
        }
    }

    private mutating func processSlice(_ slice: UnsafeBufferPointer<UInt8>) {
        byteCount += slice.count

        if head.count < headCapacity {
            let take = min(slice.count, headCapacity - head.count)
            head.append(contentsOf: UnsafeBufferPointer(rebasing: slice[0..<take]))
            if !zipDecided { decideZip() }
            if !magicDecided, head.count >= Self.magicLength { decideMagic() }
        }

        if maybeZip { appendTail(slice) }
        if checkText { utf8.validate(slice) }
    }

    private mutating func decideZip() {
        let n = min(head.count, Self.zipLocalSignature.count)
        maybeZip = head[0..<n].elementsEqual(Self.zipLocalSignature[0..<n])
        if !maybeZip {
            tail = []
            zipDecided = true
        } else if n == Self.zipLocalSignature.count {
            zipDecided = true
        }
    }

    /// Once the leading magic proves a binary type, UTF-8 only matters for a `.txt` name.
    private mutating func decideMagic() {
        magicDecided = true
        if let kind = Self.magicKind(head), kind != .docx, expectedKind != .txt {
            checkText = false
        }
    }

    private mutating func appendTail(_ slice: UnsafeBufferPointer<UInt8>) {
        tail.append(contentsOf: slice)
        if !sawLocalWordDocument { scanLocalHeaders() }
        if tail.count > 2 * tailCapacity {
            let drop = tail.count - tailCapacity
            tail.removeFirst(drop)
            localScanPosition = max(0, localScanPosition - drop)
        }
    }

    /// Looks for a local file header (`PK\3\4` … name) naming `word/document.xml` in the part of
    /// the tail not scanned yet. Positions whose header would run past the end wait for more bytes.
    private mutating func scanLocalHeaders() {
        let window = 30 + Self.wordDocument.count
        let (position, found) = tail.withUnsafeBufferPointer { p -> (Int, Bool) in
            guard let base = p.baseAddress else { return (localScanPosition, false) }
            let raw = UnsafeRawPointer(base)
            let signature = UInt32(littleEndian: 0x0403_4B50) // "PK\3\4" as loaded from memory
            let last = p.count - window
            var i = localScanPosition
            while i <= last {
                if raw.loadUnaligned(fromByteOffset: i, as: UInt32.self) == signature,
                   Int(p[i + 26]) | Int(p[i + 27]) << 8 == Self.wordDocument.count,
                   memcmp(base + i + 30, Self.wordDocument, Self.wordDocument.count) == 0 {
                    return (i, true)
                }
                i &+= 1
            }
            return (max(i, localScanPosition), false)
        }
        localScanPosition = position
        if found { sawLocalWordDocument = true }
    }

    /// Decides the type of everything fed so far.
    public func finish() throws(SniffError) -> SniffResult {
        guard let expected = expectedKind else { throw .unknownExtension(fileExtension) }
        guard byteCount > 0 else { throw .empty }

        var found = Self.magicKind(head)
        if found == .docx, !zipHasWordDocument() { found = nil }
        let isText = checkText && utf8.isCompleteAndValid
        if isText, expected == .txt || found == nil { found = .txt }

        guard let found else { throw .unsupportedContent }
        guard found == expected else { throw .mismatch(expected: expected, found: found) }
        let size = Self.dimensions(of: found, head: head)
        return SniffResult(kind: found, width: size?.width, height: size?.height)
    }

    /// Convenience: sniffs a whole in-memory file.
    public static func sniff(fileName: String, contents: some Collection<UInt8>) throws(SniffError) -> SniffResult {
        var sniffer = FileSniffer(fileName: fileName)
        sniffer.feed(contents)
        return try sniffer.finish()
    }

    // MARK: Magic

    static let magicLength = 12
    static let zipLocalSignature: [UInt8] = [0x50, 0x4B, 0x03, 0x04]
    static let wordDocument: [UInt8] = Array("word/document.xml".utf8)

    /// The kind the leading bytes announce; `.docx` means "a ZIP" (the entry check comes later).
    static func magicKind(_ h: [UInt8]) -> AttachmentKind? {
        func starts(_ sig: [UInt8], at offset: Int = 0) -> Bool {
            h.count >= offset + sig.count && h[offset..<offset + sig.count].elementsEqual(sig)
        }
        if starts([0xFF, 0xD8, 0xFF]) { return .jpeg }
        if starts([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .png }
        if starts(Array("GIF87a".utf8)) || starts(Array("GIF89a".utf8)) { return .gif }
        if starts(Array("RIFF".utf8)), starts(Array("WEBP".utf8), at: 8) { return .webp }
        if starts(Array("%PDF-".utf8)) { return .pdf }
        if starts([0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) { return .doc }
        if starts(zipLocalSignature) { return .docx }
        if starts(Array("{\\rtf".utf8)) { return .rtf }
        return nil
    }

    // MARK: ZIP

    private enum CentralDirectory {
        case contains, lacks, outsideTail
    }

    /// Whether the ZIP has an entry named `word/document.xml`: from the central directory when it
    /// lies wholly inside the tail, otherwise from the local headers seen while streaming.
    func zipHasWordDocument() -> Bool {
        guard let eocd = Self.findEndOfCentralDirectory(tail) else { return false }
        switch centralDirectory(eocd: eocd) {
        case .contains: return true
        case .lacks: return false
        case .outsideTail: return sawLocalWordDocument
        }
    }

    /// Index in `t` of the End Of Central Directory record whose comment runs to the very end.
    static func findEndOfCentralDirectory(_ t: [UInt8]) -> Int? {
        guard t.count >= 22 else { return nil }
        let lowest = max(0, t.count - 22 - 0xFFFF)
        var i = t.count - 22
        while i >= lowest {
            if t[i] == 0x50, t[i + 1] == 0x4B, t[i + 2] == 0x05, t[i + 3] == 0x06,
               i + 22 + le16(t, i + 20) == t.count {
                return i
            }
            i -= 1
        }
        return nil
    }

    private func centralDirectory(eocd: Int) -> CentralDirectory {
        let t = tail
        let tailStart = byteCount - t.count
        let entries = le16(t, eocd + 10)
        var size = le32(t, eocd + 12)
        var offset = le32(t, eocd + 16)
        var limit = tailStart + eocd // the central directory ends before this file offset

        if entries == 0xFFFF || size == 0xFFFF_FFFF || offset == 0xFFFF_FFFF {
            // ZIP64: locator right before the EOCD, pointing at the ZIP64 EOCD record.
            let locator = eocd - 20
            guard locator >= 0, t[locator] == 0x50, t[locator + 1] == 0x4B,
                  t[locator + 2] == 0x06, t[locator + 3] == 0x07 else { return .lacks }
            let recordOffset = le64(t, locator + 8)
            guard recordOffset < tailStart + locator else { return .lacks }
            let record = recordOffset - tailStart
            guard record >= 0 else { return .outsideTail }
            guard record + 56 <= locator, t[record] == 0x50, t[record + 1] == 0x4B,
                  t[record + 2] == 0x06, t[record + 3] == 0x06 else { return .lacks }
            size = le64(t, record + 40)
            offset = le64(t, record + 48)
            limit = recordOffset
        }

        guard size >= 0, offset >= 0, size <= limit, offset <= limit - size else { return .lacks }
        guard offset >= tailStart else { return .outsideTail }

        var p = offset - tailStart
        let end = p + size
        while p + 46 <= end {
            guard t[p] == 0x50, t[p + 1] == 0x4B, t[p + 2] == 0x01, t[p + 3] == 0x02 else { return .lacks }
            let nameLength = le16(t, p + 28)
            let next = p + 46 + nameLength + le16(t, p + 30) + le16(t, p + 32)
            guard next <= end else { return .lacks }
            if nameLength == Self.wordDocument.count,
               t[(p + 46)..<(p + 46 + nameLength)].elementsEqual(Self.wordDocument) {
                return .contains
            }
            p = next
        }
        return .lacks
    }

    // MARK: Image size

    static func dimensions(of kind: AttachmentKind, head h: [UInt8]) -> (width: Int, height: Int)? {
        let size: (width: Int, height: Int)?
        switch kind {
        case .png:
            // 8-byte signature, then the IHDR chunk: length, "IHDR", width, height (big-endian).
            guard h.count >= 24, h[12..<16].elementsEqual(Array("IHDR".utf8)) else { return nil }
            size = (be32(h, 16), be32(h, 20))
        case .gif:
            // Logical screen descriptor right after "GIF89a": width, height (little-endian).
            guard h.count >= 10 else { return nil }
            size = (le16(h, 6), le16(h, 8))
        case .jpeg:
            size = jpegSize(h)
        case .webp:
            size = webpSize(h)
        default:
            return nil
        }
        guard let size, size.width > 0, size.height > 0 else { return nil }
        return size
    }

    /// Walks the marker segments from SOI to the first SOFn (not DHT, JPG or DAC).
    static func jpegSize(_ h: [UInt8]) -> (width: Int, height: Int)? {
        let n = h.count
        var i = 2
        while i < n {
            guard h[i] == 0xFF else { return nil }
            while i < n, h[i] == 0xFF { i += 1 } // fill bytes
            guard i < n else { return nil }
            let marker = h[i]
            i += 1
            switch marker {
            case 0xD8, 0x01, 0xD0...0xD7: continue // standalone markers
            case 0x00, 0xD9, 0xDA: return nil // no SOF before the scan / end of image
            default: break
            }
            guard i + 2 <= n else { return nil }
            let length = be16(h, i)
            guard length >= 2 else { return nil }
            if (0xC0...0xCF).contains(marker), marker != 0xC4, marker != 0xC8, marker != 0xCC {
                // length(2) precision(1) height(2) width(2)
                guard length >= 7, i + 7 <= n else { return nil }
                return (be16(h, i + 5), be16(h, i + 3))
            }
            i += length
        }
        return nil
    }

    /// "RIFF" size "WEBP", then the first chunk: fourcc at 12, size at 16, data at 20.
    static func webpSize(_ h: [UInt8]) -> (width: Int, height: Int)? {
        guard h.count >= 30 else { return nil }
        let fourcc = h[12..<16]
        if fourcc.elementsEqual(Array("VP8 ".utf8)) {
            // 3-byte frame tag, start code 9D 01 2A, then 14-bit width and height (2 scale bits).
            guard h[23] == 0x9D, h[24] == 0x01, h[25] == 0x2A else { return nil }
            return (le16(h, 26) & 0x3FFF, le16(h, 28) & 0x3FFF)
        }
        if fourcc.elementsEqual(Array("VP8L".utf8)) {
            // Signature 0x2F, then 14 bits width-1, 14 bits height-1 (little-endian bit order).
            guard h[20] == 0x2F else { return nil }
            let bits = le32(h, 21)
            return ((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1)
        }
        if fourcc.elementsEqual(Array("VP8X".utf8)) {
            // Flags(1) reserved(3), then 24-bit canvas width-1 and height-1.
            return (le24(h, 24) + 1, le24(h, 27) + 1)
        }
        return nil
    }
}

// MARK: - Byte helpers

private func le16(_ b: [UInt8], _ i: Int) -> Int { Int(b[i]) | Int(b[i + 1]) << 8 }
private func le24(_ b: [UInt8], _ i: Int) -> Int { le16(b, i) | Int(b[i + 2]) << 16 }
private func le32(_ b: [UInt8], _ i: Int) -> Int { le16(b, i) | le16(b, i + 2) << 16 }
/// Values above `Int.max` come back as `Int.max` (they can never be a valid offset here).
private func le64(_ b: [UInt8], _ i: Int) -> Int {
    let high = le32(b, i + 4)
    return high >= 0x8000_0000 ? Int.max : le32(b, i) | high << 32
}
private func be16(_ b: [UInt8], _ i: Int) -> Int { Int(b[i]) << 8 | Int(b[i + 1]) }
private func be32(_ b: [UInt8], _ i: Int) -> Int { be16(b, i) << 16 | be16(b, i + 2) }

// MARK: - UTF-8

/// Incremental UTF-8 validation (RFC 3629: no overlongs, surrogates or values past U+10FFFF)
/// that also refuses NUL. A sequence may be split across chunks.
struct UTF8Validator: Sendable {
    private var need: UInt8 = 0 // continuation bytes still expected
    private var low: UInt8 = 0x80 // bounds of the next continuation byte
    private var high: UInt8 = 0xBF
    private(set) var valid = true

    /// Valid so far and not stopped inside a multi-byte sequence.
    var isCompleteAndValid: Bool { valid && need == 0 }

    mutating func validate(_ buffer: UnsafeBufferPointer<UInt8>) {
        guard valid, let base = buffer.baseAddress else { return }
        let n = buffer.count
        var need = self.need, low = self.low, high = self.high
        var i = 0
        while i < n {
            if need == 0 {
                // ASCII fast path, 8 bytes at a time: no high bit set and no zero byte.
                while i &+ 8 <= n {
                    let v = UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self)
                    if v & 0x8080_8080_8080_8080 != 0 { break }
                    if (v &- 0x0101_0101_0101_0101) & ~v & 0x8080_8080_8080_8080 != 0 {
                        valid = false
                        return
                    }
                    i &+= 8
                }
                guard i < n else { break }
                let b = base[i]
                i &+= 1
                if b < 0x80 {
                    if b == 0 { valid = false; return }
                    continue
                }
                switch b {
                case 0xC2...0xDF: need = 1; low = 0x80; high = 0xBF
                case 0xE0: need = 2; low = 0xA0; high = 0xBF
                case 0xE1...0xEC, 0xEE, 0xEF: need = 2; low = 0x80; high = 0xBF
                case 0xED: need = 2; low = 0x80; high = 0x9F
                case 0xF0: need = 3; low = 0x90; high = 0xBF
                case 0xF1...0xF3: need = 3; low = 0x80; high = 0xBF
                case 0xF4: need = 3; low = 0x80; high = 0x8F
                default: valid = false; return
                }
            } else {
                let b = base[i]
                i &+= 1
                guard b >= low, b <= high else { valid = false; return }
                need &-= 1
                low = 0x80
                high = 0xBF
            }
        }
        self.need = need
        self.low = low
        self.high = high
    }
}

// MARK: - File names

/// Makes an uploader's file name safe to store and show.
public enum SafeFileName {
    public static let maxLength = 200

    /// Keeps only the last path component (split on `/` and `\`); removes control characters
    /// (C0, DEL, C1), bidirectional-override and line/paragraph-separator characters, quotes,
    /// backslashes, semicolons and leading dots; trims whitespace; caps the length at 200
    /// characters keeping the extension. Returns "file" when nothing is left.
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

        if result.count > maxLength { result = truncate(result) }
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

    private static func truncate(_ name: String) -> String {
        let characters = Array(name)
        if let dot = characters.lastIndex(of: "."), dot > 0 {
            let ext = characters[dot...]
            if ext.count <= 21 { // a plausible extension (dot + up to 20)
                var stem = String(characters[..<dot].prefix(maxLength - ext.count))
                while let last = stem.unicodeScalars.last, last.properties.isWhitespace {
                    stem.unicodeScalars.removeLast()
                }
                return stem + String(ext)
            }
        }
        return String(characters.prefix(maxLength))
    }
}
