import Foundation

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
    /// For a `.txt` name: text in UTF-16 or Windows-1252 instead.
    private var legacyText = LegacyTextValidator()

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
        if checkText {
            utf8.validate(slice)
            if expectedKind == .txt { legacyText.validate(slice) }
        }
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
        // A .txt that is not UTF-8 may be text as Windows saves it (UTF-16, Windows-1252); it is
        // served with that charset.
        var mediaType: String?
        if !isText, checkText, expected == .txt, let charset = legacyText.charset {
            found = .txt
            mediaType = "text/plain; charset=\(charset)"
        }

        guard let found else { throw .unsupportedContent }
        guard found == expected else { throw .mismatch(expected: expected, found: found) }
        let size = Self.dimensions(of: found, head: head)
        return SniffResult(kind: found, mediaType: mediaType, width: size?.width, height: size?.height)
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
}
