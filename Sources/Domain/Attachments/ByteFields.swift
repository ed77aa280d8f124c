// Integer fields of binary file headers (ZIP records, image headers), read from byte arrays.

func le16(_ b: [UInt8], _ i: Int) -> Int { Int(b[i]) | Int(b[i + 1]) << 8 }
func le24(_ b: [UInt8], _ i: Int) -> Int { le16(b, i) | Int(b[i + 2]) << 16 }
func le32(_ b: [UInt8], _ i: Int) -> Int { le16(b, i) | le16(b, i + 2) << 16 }
/// Values above `Int.max` come back as `Int.max` (they can never be a valid offset here).
func le64(_ b: [UInt8], _ i: Int) -> Int {
    let high = le32(b, i + 4)
    return high >= 0x8000_0000 ? Int.max : le32(b, i) | high << 32
}
func be16(_ b: [UInt8], _ i: Int) -> Int { Int(b[i]) << 8 | Int(b[i + 1]) }
func be32(_ b: [UInt8], _ i: Int) -> Int { be16(b, i) << 16 | be16(b, i + 2) }
