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
