extension FileSniffer {
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
