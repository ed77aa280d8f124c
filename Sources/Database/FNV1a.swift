/// 64-bit FNV-1a: a fast, stable (not cryptographic) name for a piece of text — prepared
/// statement names, migration checksums, fallback folder names.
enum FNV1a {
    static func hex(_ text: String) -> String {
        String(hash(text), radix: 16)
    }

    static func hash(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return hash
    }
}
