extension FileSniffer {
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
}
