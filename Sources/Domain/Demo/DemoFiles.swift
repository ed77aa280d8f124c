/// The files the demo conversation shares, made in code: a small but real PNG (valid chunks,
/// CRCs and zlib stream, so browsers draw it and the upload's type check passes) and a text file.
enum DemoFiles {
    /// A 64×40 picture of a house on a lawn under a blue sky.
    static let housePNG: [UInt8] = png(width: 64, height: 40) { x, y in
        let sky: (UInt8, UInt8, UInt8) = (135, 196, 235)
        let lawn: (UInt8, UInt8, UInt8) = (92, 160, 72)
        let wall: (UInt8, UInt8, UInt8) = (236, 222, 196)
        let roof: (UInt8, UInt8, UInt8) = (178, 58, 52)
        let door: (UInt8, UInt8, UInt8) = (96, 64, 40)
        let window: (UInt8, UInt8, UInt8) = (70, 110, 160)
        // Roof: a triangle from (16, 20) to (48, 20) with its top at (32, 6).
        if y >= 6, y < 20, abs(x - 32) <= (y - 6) * 16 / 14 { return roof }
        if y >= 20, y < 32, x >= 20, x < 44 {
            if x >= 29, x < 35, y >= 25 { return door }
            if y >= 23, y < 27, (x >= 22 && x < 27) || (x >= 37 && x < 42) { return window }
            return wall
        }
        return y >= 32 ? lawn : sky
    }

    static let notesText: [UInt8] = Array("""
        Walkthrough notes — 12 Harbor Way

        - Roof replaced in 2019; permits on file
        - Kitchen renovated 2023 (quartz, gas range)
        - Back deck needs new boards: ask for a seller credit
        - No HOA; street parking permit zone Q
        - Offers reviewed Tuesday; seller prefers a 30-day close

        """.utf8)

    /// An 8-bit RGB PNG, no interlace; its pixel data in stored (uncompressed) deflate blocks.
    static func png(width: Int, height: Int, pixel: (Int, Int) -> (UInt8, UInt8, UInt8)) -> [UInt8] {
        var raw: [UInt8] = []
        raw.reserveCapacity(height * (1 + width * 3))
        for y in 0..<height {
            raw.append(0) // filter: none
            for x in 0..<width {
                let (r, g, b) = pixel(x, y)
                raw += [r, g, b]
            }
        }
        var header: [UInt8] = []
        header += be32(UInt32(width)) + be32(UInt32(height))
        header += [8, 2, 0, 0, 0] // bit depth 8, colour type RGB, deflate, no filter method, no interlace
        var out: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        out += chunk("IHDR", header)
        out += chunk("IDAT", zlibStored(raw))
        out += chunk("IEND", [])
        return out
    }

    static func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let body = Array(type.utf8) + data
        return be32(UInt32(data.count)) + body + be32(crc32(body))
    }

    /// A zlib stream of stored deflate blocks (at most 65,535 bytes each) and its Adler-32.
    static func zlibStored(_ data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [0x78, 0x01]
        var offset = 0
        repeat {
            let length = min(65_535, data.count - offset)
            let last = offset + length == data.count
            out.append(last ? 1 : 0)
            let len = UInt16(length)
            out += [UInt8(len & 0xFF), UInt8(len >> 8), UInt8(~len & 0xFF), UInt8(~len >> 8)]
            out += data[offset..<(offset + length)]
            offset += length
        } while offset < data.count
        var a: UInt32 = 1
        var b: UInt32 = 0
        for byte in data {
            a = (a + UInt32(byte)) % 65_521
            b = (b + a) % 65_521
        }
        return out + be32(b << 16 | a)
    }

    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = (crc >> 1) ^ (0xEDB8_8320 & (0 &- (crc & 1))) }
        }
        return ~crc
    }

    static func be32(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24 & 0xFF), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
    }
}
