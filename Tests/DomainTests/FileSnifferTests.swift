@testable import Domain
import DatabaseTesting
import Foundation
import Testing

// MARK: - Sample files, generated in code

/// Little builders for the byte layouts the samples need.
private extension Array where Element == UInt8 {
    mutating func le16(_ v: Int) { append(UInt8(v & 0xFF)); append(UInt8(v >> 8 & 0xFF)) }
    mutating func le32(_ v: Int) { le16(v & 0xFFFF); le16(v >> 16 & 0xFFFF) }
    mutating func le64(_ v: Int) { le32(v & 0xFFFF_FFFF); le32(v >> 32 & 0xFFFF_FFFF) }
    mutating func be16(_ v: Int) { append(UInt8(v >> 8 & 0xFF)); append(UInt8(v & 0xFF)) }
    mutating func be32(_ v: Int) { be16(v >> 16 & 0xFFFF); be16(v & 0xFFFF) }
    mutating func ascii(_ s: String) { append(contentsOf: Array(s.utf8)) }
}

private func crc32(_ bytes: [UInt8]) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for b in bytes {
        crc ^= UInt32(b)
        for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
    }
    return ~crc
}

private func adler32(_ bytes: [UInt8]) -> UInt32 {
    var a: UInt32 = 1, b: UInt32 = 0
    for x in bytes { a = (a + UInt32(x)) % 65521; b = (b + a) % 65521 }
    return b << 16 | a
}

private enum Samples {
    /// A real PNG: signature, IHDR, one IDAT (zlib with a stored deflate block), IEND.
    static func png(width: Int, height: Int) -> [UInt8] {
        func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
            var c: [UInt8] = []
            c.be32(data.count)
            let body = Array(type.utf8) + data
            c += body
            c.be32(Int(crc32(body)))
            return c
        }
        var ihdr: [UInt8] = []
        ihdr.be32(width)
        ihdr.be32(height)
        ihdr += [8, 2, 0, 0, 0] // 8-bit RGB, deflate, adaptive filtering, no interlace
        var raw: [UInt8] = []
        for y in 0..<height {
            raw.append(0) // filter: none
            for x in 0..<width { raw += [UInt8(x * 40 & 0xFF), UInt8(y * 60 & 0xFF), 0x80] }
        }
        var zlib: [UInt8] = [0x78, 0x01, 0x01]
        zlib.le16(raw.count)
        zlib.le16(~raw.count & 0xFFFF)
        zlib += raw
        zlib.be32(Int(adler32(raw)))
        return [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
            + chunk("IHDR", ihdr) + chunk("IDAT", zlib) + chunk("IEND", [])
    }

    static func gif(width: Int, height: Int) -> [UInt8] {
        var g: [UInt8] = []
        g.ascii("GIF89a")
        g.le16(width)
        g.le16(height)
        g += [0x80, 0x00, 0x00] // global colour table of 2 entries
        g += [0, 0, 0, 0xFF, 0xFF, 0xFF]
        g += [0x2C, 0, 0, 0, 0] // image descriptor at 0,0
        g.le16(width)
        g.le16(height)
        g += [0x00, 0x02, 0x02, 0x44, 0x01, 0x00] // LZW min code size, one data sub-block
        g.append(0x3B) // trailer
        return g
    }

    /// SOI, APP0 (JFIF), optional padding APPn segments and a DQT, then SOF with the size.
    static func jpeg(width: Int, height: Int, sof: UInt8 = 0xC0, fillBytes: Bool = false, padding: Int = 0) -> [UInt8] {
        var j: [UInt8] = [0xFF, 0xD8]
        j += [0xFF, 0xE0]
        j.be16(16)
        j.ascii("JFIF")
        j += [0x00, 0x01, 0x01, 0x00]
        j.be16(1)
        j.be16(1)
        j += [0x00, 0x00]
        var remaining = padding
        while remaining > 0 {
            let n = min(remaining, 65000)
            j += [0xFF, 0xE1]
            j.be16(n + 2)
            j += [UInt8](repeating: 0x41, count: n)
            remaining -= n
        }
        j += [0xFF, 0xDB] // DQT
        j.be16(67)
        j.append(0)
        j += [UInt8](repeating: 1, count: 64)
        if fillBytes { j += [0xFF, 0xFF, 0xFF] }
        j += [0xFF, sof]
        j.be16(17)
        j.append(8)
        j.be16(height)
        j.be16(width)
        j.append(3)
        j += [1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]
        j += [0xFF, 0xDA] // SOS
        j.be16(12)
        j += [3, 1, 0, 2, 0x11, 3, 0x11, 0, 0x3F, 0]
        j += [0x12, 0x34, 0xFF, 0x00, 0x56] // entropy-coded data with a stuffed byte
        j += [0xFF, 0xD9]
        return j
    }

    private static func riff(_ fourcc: String, _ data: [UInt8]) -> [UInt8] {
        var chunk: [UInt8] = []
        chunk.ascii(fourcc)
        chunk.le32(data.count)
        chunk += data
        if data.count % 2 == 1 { chunk.append(0) }
        var w: [UInt8] = []
        w.ascii("RIFF")
        w.le32(4 + chunk.count)
        w.ascii("WEBP")
        return w + chunk
    }

    static func webpVP8X(width: Int, height: Int) -> [UInt8] {
        var d: [UInt8] = [0x10, 0, 0, 0] // alpha flag, reserved
        d += [UInt8((width - 1) & 0xFF), UInt8((width - 1) >> 8 & 0xFF), UInt8((width - 1) >> 16 & 0xFF)]
        d += [UInt8((height - 1) & 0xFF), UInt8((height - 1) >> 8 & 0xFF), UInt8((height - 1) >> 16 & 0xFF)]
        return riff("VP8X", d)
    }

    static func webpVP8L(width: Int, height: Int) -> [UInt8] {
        var d: [UInt8] = [0x2F]
        let bits = (width - 1) | (height - 1) << 14 | 1 << 28 // alpha_is_used, version 0
        d.le32(bits)
        d += [0x00, 0x00, 0x00, 0x00]
        return riff("VP8L", d)
    }

    static func webpVP8(width: Int, height: Int) -> [UInt8] {
        var d: [UInt8] = [0x50, 0x02, 0x00] // key frame tag
        d += [0x9D, 0x01, 0x2A]
        d.le16(width | 1 << 14) // a horizontal scale of 1 must be masked off
        d.le16(height | 2 << 14)
        d += [0x00, 0x00, 0x00, 0x00]
        return riff("VP8 ", d)
    }

    static let pdf: [UInt8] = Array("%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n".utf8)

    static let ole: [UInt8] = [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1] + [UInt8](repeating: 0, count: 504)

    static let rtf: [UInt8] = Array("{\\rtf1\\ansi\\deff0 {\\fonttbl {\\f0 Times;}} Hello \\b world\\b0.}".utf8)

    static let docx = zip([
        ("[Content_Types].xml", Array("<?xml version=\"1.0\"?><Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\"/>".utf8)),
        ("word/document.xml", Array("<?xml version=\"1.0\"?><w:document><w:body><w:p/></w:body></w:document>".utf8)),
    ])

    static let plainZip = zip([
        ("readme.txt", Array("hello".utf8)),
        ("word/other.xml", Array("<x/>".utf8)),
    ])

    static let text: [UInt8] = Array("Grüße aus Köln — 東京 🏠🔑 café\nline two\ttabbed €\n".utf8)
}

/// A tiny ZIP writer: stored entries, local headers, central directory, EOCD (optionally ZIP64).
/// `centralNames` lets a test make the central directory disagree with the local headers.
private func zip(_ entries: [(String, [UInt8])], centralNames: [String]? = nil, zip64: Bool = false, comment: String = "") -> [UInt8] {
    var out: [UInt8] = []
    var central: [UInt8] = []
    for (index, (name, data)) in entries.enumerated() {
        let offset = out.count
        let nameBytes = Array(name.utf8)
        let crc = Int(crc32(data))
        out.le32(0x0403_4B50)
        out.le16(20) // version needed
        out.le16(0) // flags
        out.le16(0) // stored
        out.le16(0) // time
        out.le16(0x21) // date
        out.le32(crc)
        out.le32(data.count)
        out.le32(data.count)
        out.le16(nameBytes.count)
        out.le16(0)
        out += nameBytes
        out += data

        let centralName = Array((centralNames?[index] ?? name).utf8)
        central.le32(0x0201_4B50)
        central.le16(20) // made by
        central.le16(20) // needed
        central.le16(0)
        central.le16(0)
        central.le16(0)
        central.le16(0x21)
        central.le32(crc)
        central.le32(data.count)
        central.le32(data.count)
        central.le16(centralName.count)
        central.le16(0) // extra
        central.le16(0) // comment
        central.le16(0) // disk
        central.le16(0) // internal attributes
        central.le32(0) // external attributes
        central.le32(offset)
        central += centralName
    }
    let centralOffset = out.count
    out += central
    if zip64 {
        let recordOffset = out.count
        out.le32(0x0606_4B50)
        out.le64(44) // size of the rest of the record
        out.le16(45)
        out.le16(45)
        out.le32(0)
        out.le32(0)
        out.le64(entries.count)
        out.le64(entries.count)
        out.le64(central.count)
        out.le64(centralOffset)
        out.le32(0x0706_4B50) // locator
        out.le32(0)
        out.le64(recordOffset)
        out.le32(1)
    }
    let commentBytes = Array(comment.utf8)
    out.le32(0x0605_4B50)
    out.le16(0)
    out.le16(0)
    out.le16(zip64 ? 0xFFFF : entries.count)
    out.le16(zip64 ? 0xFFFF : entries.count)
    out.le32(zip64 ? 0xFFFF_FFFF : central.count)
    out.le32(zip64 ? 0xFFFF_FFFF : centralOffset)
    out.le16(commentBytes.count)
    out += commentBytes
    return out
}


private typealias Outcome = Result<SniffResult, SniffError>

private func finish(_ sniffer: FileSniffer) -> Outcome {
    do { return .success(try sniffer.finish()) } catch { return .failure(error) }
}

/// Sniffs `bytes` fed in chunks of the given sizes (the last chunk takes the rest); one chunk when nil.
private func sniff(_ fileName: String, _ bytes: [UInt8], chunks: [Int]? = nil,
                   headCapacity: Int = FileSniffer.defaultHeadCapacity,
                   tailCapacity: Int = FileSniffer.defaultTailCapacity) -> Outcome {
    var sniffer = FileSniffer(fileName: fileName, headCapacity: headCapacity, tailCapacity: tailCapacity)
    var start = 0
    for size in chunks ?? [] where start < bytes.count {
        let end = min(bytes.count, start + size)
        sniffer.feed(bytes[start..<end])
        start = end
    }
    if start < bytes.count { sniffer.feed(bytes[start...]) }
    return finish(sniffer)
}

private func randomChunks(total: Int, maxChunk: Int, using rng: inout SplitMix64) -> [Int] {
    var sizes: [Int] = []
    var sum = 0
    while sum < total {
        let n = Int.random(in: 1...maxChunk, using: &rng)
        sizes.append(n)
        sum += n
    }
    return sizes
}

private func ok(_ kind: AttachmentKind, _ width: Int? = nil, _ height: Int? = nil) -> Outcome {
    .success(SniffResult(kind: kind, width: width, height: height))
}

/// A text file in another encoding than UTF-8.
private func text(charset: String) -> Outcome {
    .success(SniffResult(kind: .txt, mediaType: "text/plain; charset=\(charset)"))
}

struct SnifferSample: Sendable, CustomTestStringConvertible {
    let fileName: String
    let bytes: [UInt8]
    fileprivate let expected: Outcome
    var testDescription: String { fileName }
}

private let allSamples: [SnifferSample] = [
    SnifferSample(fileName: "pixel.png", bytes: Samples.png(width: 3, height: 2), expected: ok(.png, 3, 2)),
    SnifferSample(fileName: "PHOTO.PNG", bytes: Samples.png(width: 3, height: 2), expected: ok(.png, 3, 2)),
    SnifferSample(fileName: "anim.gif", bytes: Samples.gif(width: 5, height: 4), expected: ok(.gif, 5, 4)),
    SnifferSample(fileName: "photo.jpg", bytes: Samples.jpeg(width: 7, height: 9), expected: ok(.jpeg, 7, 9)),
    SnifferSample(fileName: "photo.jpeg", bytes: Samples.jpeg(width: 640, height: 480, sof: 0xC2, fillBytes: true), expected: ok(.jpeg, 640, 480)),
    SnifferSample(fileName: "x.webp", bytes: Samples.webpVP8X(width: 1000, height: 70000), expected: ok(.webp, 1000, 70000)),
    SnifferSample(fileName: "l.webp", bytes: Samples.webpVP8L(width: 16383, height: 2), expected: ok(.webp, 16383, 2)),
    SnifferSample(fileName: "v.webp", bytes: Samples.webpVP8(width: 320, height: 240), expected: ok(.webp, 320, 240)),
    SnifferSample(fileName: "doc.pdf", bytes: Samples.pdf, expected: ok(.pdf)),
    SnifferSample(fileName: "old.doc", bytes: Samples.ole, expected: ok(.doc)),
    SnifferSample(fileName: "report.docx", bytes: Samples.docx, expected: ok(.docx)),
    SnifferSample(fileName: "plain.docx", bytes: Samples.plainZip, expected: .failure(.unsupportedContent)),
    SnifferSample(fileName: "letter.rtf", bytes: Samples.rtf, expected: ok(.rtf)),
    SnifferSample(fileName: "notes.txt", bytes: Samples.text, expected: ok(.txt)),
    SnifferSample(fileName: "nul.txt", bytes: Array("hello\u{0}world".utf8), expected: .failure(.unsupportedContent)),
    // Not UTF-8, but every byte is Windows-1252 text ("price: 5 â‚"): read as such.
    SnifferSample(fileName: "cut.txt", bytes: Array("price: 5 ".utf8) + [0xE2, 0x82], expected: text(charset: "windows-1252")),
    SnifferSample(fileName: "pixel.jpg", bytes: Samples.png(width: 3, height: 2), expected: .failure(.mismatch(expected: .jpeg, found: .png))),
    SnifferSample(fileName: "empty.pdf", bytes: [], expected: .failure(.empty)),
]

// MARK: - Tests

@Suite("File type sniffing by content")
struct FileSnifferTests {
    @Test("each sample gives the expected result, whole and in random chunks", arguments: allSamples)
    func sampleInChunks(sample: SnifferSample) {
        #expect(sniff(sample.fileName, sample.bytes) == sample.expected)
        #expect(sniff(sample.fileName, sample.bytes, chunks: Array(repeating: 1, count: sample.bytes.count)) == sample.expected)
        var rng = SplitMix64(seed: UInt64(truncatingIfNeeded: sample.bytes.count) &* 31 &+ 7)
        for round in 0..<25 {
            let sizes = randomChunks(total: sample.bytes.count, maxChunk: round % 2 == 0 ? 7 : 300, using: &rng)
            #expect(sniff(sample.fileName, sample.bytes, chunks: sizes) == sample.expected, "chunks \(sizes)")
        }
    }

    @Test func pngFromIHDR() {
        #expect(sniff("pixel.png", Samples.png(width: 3, height: 2)) == ok(.png, 3, 2))
        #expect(sniff("PHOTO.PNG", Samples.png(width: 3, height: 2)) == ok(.png, 3, 2))
    }

    @Test func gifLogicalScreen() {
        let result = sniff("a.gif", Samples.gif(width: 5, height: 4))
        #expect(result == ok(.gif, 5, 4))
        if case .success(let r) = result { #expect(r.mediaType == "image/gif") }
        var gif87 = Samples.gif(width: 300, height: 2)
        gif87.replaceSubrange(0..<6, with: Array("GIF87a".utf8))
        #expect(sniff("a.gif", gif87) == ok(.gif, 300, 2))
    }

    @Test func jpegSizeFromFirstSOF() {
        #expect(sniff("p.jpg", Samples.jpeg(width: 7, height: 9)) == ok(.jpeg, 7, 9))
        #expect(sniff("p.JPEG", Samples.jpeg(width: 4000, height: 3000, sof: 0xC1, fillBytes: true)) == ok(.jpeg, 4000, 3000))
    }

    @Test func jpegSOFBeyondHeadStillJPEG() {
        let big = Samples.jpeg(width: 7, height: 9, padding: 2000)
        #expect(sniff("p.jpg", big, headCapacity: 256) == ok(.jpeg))
        #expect(sniff("p.jpg", big, chunks: Array(repeating: 13, count: 200), headCapacity: 256) == ok(.jpeg))
        #expect(sniff("p.jpg", big) == ok(.jpeg, 7, 9))
    }

    @Test func jpegWithDHTBeforeSOF() {
        // DHT (C4) shares the SOFn range but is not a frame header: it must be skipped.
        var j: [UInt8] = [0xFF, 0xD8, 0xFF, 0xC4, 0x00, 0x07, 0x00, 0x01, 0x02, 0x03, 0x04]
        j += [0xFF, 0xCC, 0x00, 0x04, 0x00, 0x00] // DAC
        j += [0xFF, 0xC0, 0x00, 0x11, 0x08, 0x00, 0x02, 0x00, 0x03, 0x03]
        j += [UInt8](repeating: 0x11, count: 9)
        j += [0xFF, 0xD9]
        #expect(sniff("h.jpg", j) == ok(.jpeg, 3, 2))
    }

    @Test func webpVariants() {
        #expect(sniff("a.webp", Samples.webpVP8X(width: 1, height: 1)) == ok(.webp, 1, 1))
        #expect(sniff("a.webp", Samples.webpVP8X(width: 16_777_216, height: 3)) == ok(.webp, 16_777_216, 3))
        #expect(sniff("a.webp", Samples.webpVP8L(width: 123, height: 4567)) == ok(.webp, 123, 4567))
        #expect(sniff("a.webp", Samples.webpVP8(width: 16383, height: 1)) == ok(.webp, 16383, 1))
        var wav: [UInt8] = []
        wav.ascii("RIFF")
        wav.le32(100)
        wav.ascii("WAVEfmt ")
        wav += [UInt8](repeating: 0, count: 40)
        #expect(sniff("a.webp", wav) == .failure(.unsupportedContent))
    }

    @Test func documents() {
        #expect(sniff("a.pdf", Samples.pdf) == ok(.pdf))
        #expect(sniff("a.doc", Samples.ole) == ok(.doc))
        #expect(sniff("a.rtf", Samples.rtf) == ok(.rtf))
        #expect(sniff("a.docx", Samples.docx) == ok(.docx))
        #expect(sniff("a.pdf", Samples.rtf) == .failure(.mismatch(expected: .pdf, found: .rtf)))
        #expect(sniff("a.doc", Samples.docx) == .failure(.mismatch(expected: .doc, found: .docx)))
        #expect(sniff("a.docx", Samples.ole) == .failure(.mismatch(expected: .docx, found: .doc)))
    }

    @Test func docxNeedsWordDocumentEntry() {
        #expect(sniff("a.docx", Samples.plainZip) == .failure(.unsupportedContent))
        // The entry must be named exactly word/document.xml.
        let near = zip([("word/document.xm", [1]), ("Word/document.xml", [2]), ("xword/document.xml", [3])])
        #expect(sniff("a.docx", near) == .failure(.unsupportedContent))
        // A comment after the EOCD, and an EOCD-looking string inside the comment.
        let commented = zip([("word/document.xml", [1])], comment: "PK\u{5}\u{6} not a real record")
        #expect(sniff("a.docx", commented) == ok(.docx))
        // A ZIP cut short (no EOCD) is not a document.
        #expect(sniff("a.docx", Array(Samples.docx.dropLast(30))) == .failure(.unsupportedContent))
    }

    @Test func docxZip64() {
        let z = zip([("[Content_Types].xml", [1, 2]), ("word/document.xml", [3])], zip64: true)
        #expect(sniff("a.docx", z) == ok(.docx))
        let plain = zip([("a.xml", [1])], zip64: true)
        #expect(sniff("a.docx", plain) == .failure(.unsupportedContent))
    }

    @Test("central directory outside the tail falls back to the local headers")
    func docxFallbackToLocalHeaders() {
        let filler = (0..<40).map { ("word/media/image\($0).png", [UInt8](repeating: UInt8($0), count: 50)) }
        let real = zip([("[Content_Types].xml", [1])] + filler + [("word/document.xml", [2])])
        let notWord = zip([("[Content_Types].xml", [1])] + filler)
        // Local headers say word/document.xml, the central directory does not.
        let entries = [("[Content_Types].xml", [UInt8]([1])), ("word/document.xml", [2])] + filler
        let names = entries.map(\.0).map { $0 == "word/document.xml" ? "word/other.xml" : $0 }
        let disagreeing = zip(entries, centralNames: names)

        var rng = SplitMix64(seed: 42)
        for chunks: [Int]? in [nil, Array(repeating: 1, count: real.count), randomChunks(total: real.count + 200, maxChunk: 90, using: &rng)] {
            #expect(sniff("a.docx", real, chunks: chunks, tailCapacity: 64) == ok(.docx))
            #expect(sniff("a.docx", notWord, chunks: chunks, tailCapacity: 64) == .failure(.unsupportedContent))
            // With the default tail the central directory decides; with a tiny one the local headers do.
            #expect(sniff("a.docx", disagreeing, chunks: chunks) == .failure(.unsupportedContent))
            #expect(sniff("a.docx", disagreeing, chunks: chunks, tailCapacity: 64) == ok(.docx))
        }
    }

    @Test func textIsValidatedAcrossChunkBoundaries() {
        let text = Samples.text
        #expect(sniff("n.txt", text, chunks: Array(repeating: 1, count: text.count)) == ok(.txt))
        for split in 1..<text.count {
            #expect(sniff("n.TXT", text, chunks: [split]) == ok(.txt))
        }
        if case .success(let r) = sniff("n.txt", text) { #expect(r.mediaType == "text/plain; charset=utf-8") }
        // Long ASCII runs go through the 8-byte fast path; a NUL anywhere in them is refused.
        let long = Array(String(repeating: "abcdefgh", count: 1000).utf8)
        #expect(sniff("n.txt", long) == ok(.txt))
        for position in [0, 3, 8, 4095, long.count - 1] {
            var withNul = long
            withNul[position] = 0
            #expect(sniff("n.txt", withNul) == .failure(.unsupportedContent))
            #expect(sniff("n.txt", withNul, chunks: [position, 5]) == .failure(.unsupportedContent))
        }
    }

    @Test("invalid UTF-8 is never taken for UTF-8: it is Windows-1252 text when every byte is one, else refused", arguments: [
        [0xC0, 0x80], // overlong NUL
        [0xE0, 0x80, 0xAF], // overlong
        [0xED, 0xA0, 0x80], // surrogate
        [0xF4, 0x90, 0x80, 0x80], // past U+10FFFF
        [0xF5, 0x80, 0x80, 0x80],
        [0x80], // lone continuation
        [0xFF],
        [0xC3, 0x41], // missing continuation
        [0xE2, 0x82], // truncated at the end
        [0xF0, 0x9F, 0x8F], // truncated 4-byte
    ] as [[UInt8]])
    func invalidUTF8(tail: [UInt8]) {
        let bytes = Array("ok so far ".utf8) + tail
        // 0x90 and 0x8F are among the five bytes Windows-1252 leaves undefined.
        let expected = tail.contains { [0x81, 0x8D, 0x8F, 0x90, 0x9D].contains($0) } ? .failure(.unsupportedContent) : text(charset: "windows-1252")
        #expect(sniff("t.txt", bytes) == expected)
        #expect(sniff("t.txt", bytes, chunks: Array(repeating: 1, count: bytes.count)) == expected)
        // Only a .txt name is read so: a file named otherwise is not text at all.
        #expect(sniff("t.pdf", bytes) == .failure(.unsupportedContent))
    }

    /// What Windows' Notepad and older Office save as plain text: "ANSI" (Windows-1252) and
    /// "Unicode" (UTF-16 with its byte order mark). Both were refused as not UTF-8.
    @Test func windowsTextEncodings() {
        // "Café crème – 5 € / m²\r\n" in Windows-1252.
        let ansi: [UInt8] = Array("Caf".utf8) + [0xE9] + Array(" cr".utf8) + [0xE8] + Array("me ".utf8) + [0x96]
            + Array(" 5 ".utf8) + [0x80] + Array(" / m".utf8) + [0xB2, 0x0D, 0x0A]
        #expect(sniff("offer.txt", ansi) == text(charset: "windows-1252"))
        #expect(sniff("offer.txt", ansi, chunks: Array(repeating: 1, count: ansi.count)) == text(charset: "windows-1252"))
        // A byte Windows-1252 leaves undefined, or a control character no text has: not text.
        for bad: UInt8 in [0x81, 0x8D, 0x8F, 0x90, 0x9D, 0x00, 0x01, 0x08, 0x1B, 0x7F] {
            #expect(sniff("offer.txt", ansi + [bad]) == .failure(.unsupportedContent), "byte \(bad)")
        }
        // UTF-16, little and big endian, with the byte order mark, an emoji as a surrogate pair.
        let words = Array("Grüße 🏠\r\n".utf16)
        let little: [UInt8] = [0xFF, 0xFE] + words.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }
        let big: [UInt8] = [0xFE, 0xFF] + words.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
        for bytes in [little, big] {
            #expect(sniff("notes.txt", bytes) == text(charset: "utf-16"))
            for split in 1..<bytes.count { #expect(sniff("notes.txt", bytes, chunks: [split]) == text(charset: "utf-16")) }
        }
        // Not text in UTF-16: a NUL, a lone surrogate, a control character, an odd length.
        #expect(sniff("notes.txt", little + [0x00, 0x00]) == .failure(.unsupportedContent))
        #expect(sniff("notes.txt", little + [0x3D, 0xD8, 0x41, 0x00]) == .failure(.unsupportedContent))
        #expect(sniff("notes.txt", little + [0x3D, 0xD8]) == .failure(.unsupportedContent))
        #expect(sniff("notes.txt", little + [0x00, 0xDC]) == .failure(.unsupportedContent))
        #expect(sniff("notes.txt", little + [0x01, 0x00]) == .failure(.unsupportedContent))
        #expect(sniff("notes.txt", little + [0x41]) == .failure(.unsupportedContent))
        #expect(sniff("notes.txt", little + [0x85, 0x00]) == .failure(.unsupportedContent), "a C1 control character")
        // A byte order mark, then what is no UTF-16 text: refused, not taken for Windows-1252.
        let garbled: [UInt8] = [0xFF, 0xFE] + Array("\u{4E2D}\u{6587}".utf16).flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] } + [0x41]
        #expect(sniff("notes.txt", garbled) == .failure(.unsupportedContent))
        // DOS's end-of-file mark ends many old text files.
        #expect(sniff("offer.txt", ansi + [0x1A]) == text(charset: "windows-1252"))
    }

    @Test func textTakesPrecedenceForTxtNames() {
        // Plain text that happens to start like a PDF or RTF is still text when named .txt.
        #expect(sniff("a.txt", Samples.pdf) == ok(.txt))
        #expect(sniff("a.txt", Samples.rtf) == ok(.txt))
        #expect(sniff("a.txt", Samples.png(width: 1, height: 1)) == .failure(.mismatch(expected: .txt, found: .png)))
        #expect(sniff("a.txt", Samples.ole) == .failure(.mismatch(expected: .txt, found: .doc)))
    }

    @Test func disguisedFilesAreRefused() {
        let svg = Array("<?xml version=\"1.0\"?><svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"alert(1)\"/>".utf8)
        let html = Array("<!DOCTYPE html><html><script>alert(1)</script></html>".utf8)
        var elf: [UInt8] = [0x7F, 0x45, 0x4C, 0x46, 0x02, 0x01, 0x01, 0x00]
        elf += [UInt8](repeating: 0, count: 8) + [0x02, 0x00, 0x3E, 0x00] + [UInt8](repeating: 0, count: 44)
        #expect(sniff("cat.png", svg) == .failure(.mismatch(expected: .png, found: .txt)))
        #expect(sniff("cat.png", html) == .failure(.mismatch(expected: .png, found: .txt)))
        #expect(sniff("cat.png", elf) == .failure(.unsupportedContent))
        #expect(sniff("cat.pdf", elf) == .failure(.unsupportedContent))
        #expect(sniff("cat.jpg", Samples.png(width: 3, height: 2)) == .failure(.mismatch(expected: .jpeg, found: .png)))
        #expect(sniff("cat.png", Samples.gif(width: 1, height: 1)) == .failure(.mismatch(expected: .png, found: .gif)))
    }

    @Test func extensions() {
        #expect(sniff("virus.exe", [0x4D, 0x5A]) == .failure(.unknownExtension("exe")))
        #expect(sniff("noext", Samples.text) == .failure(.unknownExtension("")))
        #expect(sniff("archive.tar.gz", [1]) == .failure(.unknownExtension("gz")))
        #expect(sniff("report.docx.zip", Samples.docx) == .failure(.unknownExtension("zip")))
        #expect(sniff(".png", Samples.png(width: 1, height: 1)) == .failure(.unknownExtension("")))
        #expect(sniff("C:\\Users\\me\\Pic.Png", Samples.png(width: 2, height: 2)) == ok(.png, 2, 2))
        #expect(sniff("empty.txt", []) == .failure(.empty))
        #expect(sniff("empty.exe", []) == .failure(.unknownExtension("exe")))

        #expect(AttachmentKind.forExtension("JPG") == .jpeg)
        #expect(AttachmentKind.forExtension("jpeg") == .jpeg)
        #expect(AttachmentKind.forExtension(".Docx") == .docx)
        #expect(AttachmentKind.forExtension("svg") == nil)
        #expect(AttachmentKind.forExtension("") == nil)
        for kind in AttachmentKind.allCases {
            for ext in kind.fileExtensions { #expect(AttachmentKind.forExtension(ext) == kind) }
        }
        #expect(AttachmentKind.docx.mediaType == "application/vnd.openxmlformats-officedocument.wordprocessingml.document")
        #expect(AttachmentKind.doc.mediaType == "application/msword")
        #expect(AttachmentKind.rtf.mediaType == "application/rtf")
    }

    @Test func anyCollectionOfBytes() throws {
        let png = Samples.png(width: 3, height: 2)
        #expect(try FileSniffer.sniff(fileName: "a.png", contents: Data(png)) == SniffResult(kind: .png, width: 3, height: 2))
        #expect(try FileSniffer.sniff(fileName: "a.png", contents: png[...]) == SniffResult(kind: .png, width: 3, height: 2))
        // Not contiguous: copied internally.
        var sniffer = FileSniffer(fileName: "a.png")
        sniffer.feed(png.lazy.map { $0 })
        #expect(try sniffer.finish() == SniffResult(kind: .png, width: 3, height: 2))
        #expect(sniffer.byteCount == png.count)
        // Empty chunks are harmless.
        var text = FileSniffer(fileName: "a.txt")
        text.feed([UInt8]())
        text.feed(Array("hi".utf8))
        text.feed(Data())
        #expect(try text.finish() == SniffResult(kind: .txt))
    }

    @Test("memory stays bounded for large uploads")
    func boundedMemory() {
        var rng = SplitMix64(seed: 7)
        let chunk = (0..<65536).map { _ in UInt8.random(in: 0...255, using: &rng) }
        var zipLike = FileSniffer(fileName: "big.docx")
        zipLike.feed(Samples.zipLocalHeaderPrefix)
        for _ in 0..<48 { zipLike.feed(chunk) } // 3 MiB
        #expect(zipLike.byteCount == 48 * 65536 + Samples.zipLocalHeaderPrefix.count)
        #expect(zipLike.bufferedByteCount <= FileSniffer.defaultHeadCapacity + 3 * FileSniffer.defaultTailCapacity)
        #expect(finish(zipLike) == .failure(.unsupportedContent))

        let ascii = [UInt8](repeating: 0x61, count: 65536)
        var text = FileSniffer(fileName: "big.txt")
        for _ in 0..<48 { text.feed(ascii) }
        #expect(text.bufferedByteCount == FileSniffer.defaultHeadCapacity)
        #expect(finish(text) == ok(.txt))

        // One huge chunk is processed in slices, so the tail never holds all of it.
        var huge = FileSniffer(fileName: "big.docx")
        huge.feed(Samples.zipLocalHeaderPrefix + [UInt8](repeating: 0, count: 2 << 20))
        #expect(huge.bufferedByteCount <= FileSniffer.defaultHeadCapacity + 3 * FileSniffer.defaultTailCapacity)
    }
}

private extension Samples {
    static let zipLocalHeaderPrefix: [UInt8] = [0x50, 0x4B, 0x03, 0x04, 0x14, 0x00]
}

@Suite("Safe file names")
struct SafeFileNameTests {
    @Test("sanitize", arguments: [
        ("../../etc/passwd", "passwd"),
        ("a\\b\\c.txt", "c.txt"),
        ("bad\"name\r\n.pdf", "badname.pdf"),
        ("..hidden", "hidden"),
        ("Résumé – 2026.pdf", "Résumé – 2026.pdf"),
        ("it's;fine.txt", "itsfine.txt"),
        ("  spaced out.png  ", "spaced out.png"),
        ("tab\there\u{7F}\u{85}.doc", "tabhere.doc"),
        ("evil\u{202E}gpj.exe", "evilgpj.exe"),
        ("dir/", "file"),
        ("", "file"),
        ("...", "file"),
        ("/", "file"),
        ("..", "file"),
        ("\u{0}\u{1}", "file"),
        ("東京の写真.jpg", "東京の写真.jpg"),
        ("x/\u{301}y.png", "\u{301}y.png"),
    ])
    func sanitize(input: String, expected: String) {
        #expect(SafeFileName.sanitize(input) == expected)
    }

    @Test func capsLengthKeepingExtension() {
        let long = String(repeating: "a", count: 500) + ".pdf"
        let safe = SafeFileName.sanitize(long)
        #expect(safe.count == 200)
        #expect(safe.hasSuffix(".pdf"))
        #expect(safe == String(repeating: "a", count: 196) + ".pdf")

        let noExtension = String(repeating: "é", count: 300)
        #expect(SafeFileName.sanitize(noExtension) == String(repeating: "é", count: 200))

        let exact = String(repeating: "b", count: 196) + ".txt"
        #expect(SafeFileName.sanitize(exact) == exact)

        // Counted in code points, as the contract's maxLength and the table's char_length count
        // them: 130 letters with a combining accent are 134 Characters but 264 code points
        // (macOS sends accented names so), and were stored over 200 or refused by the table.
        let decomposed = String(repeating: "e\u{301}", count: 130) + ".txt"
        let capped = SafeFileName.sanitize(decomposed)
        #expect(capped.unicodeScalars.count <= 200)
        #expect(capped == String(repeating: "e\u{301}", count: 98) + ".txt", "whole letters kept, the extension too")
        #expect(SafeFileName.sanitize(String(repeating: "e\u{301}", count: 150)) == String(repeating: "e\u{301}", count: 100))
    }

    @Test func sanitizedNameDecidesTheExtension() {
        // The extension checked is the one of the name that gets stored.
        #expect(FileSniffer(fileName: "../x.png;").fileExtension == "png")
        #expect(FileSniffer(fileName: "x.p\"ng").expectedKind == .png)
        #expect(FileSniffer(fileName: "a.PdF").safeFileName == "a.PdF")
        #expect(FileSniffer(fileName: "a.PdF").expectedKind == .pdf)
    }
}
