/// Hashes of what is persisted, frozen: changing one would make committed state unreadable or
/// every followed file look new. (In-memory hashes, such as the interner's, may change for
/// speed; these may not.) New formats use `CRC64`; `legacy` stays to read what states of
/// formats 1 and 2 hold.
public enum FrozenHash {
    /// The 64-bit multiply-xor hash of formats 1 and 2 (file fingerprints, and format 1's
    /// checksum), exactly as it was then.
    public static func legacy(_ key: UnsafeRawBufferPointer) -> UInt64 {
        var h: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ UInt64(key.count)
        var p = 0
        let count = key.count
        while p + 8 <= count {
            let word = key.loadUnaligned(fromByteOffset: p, as: UInt64.self)
            h = (h ^ word) &* 0xFF51_AFD7_ED55_8CCD
            h ^= h >> 32
            p += 8
        }
        var tail: UInt64 = 0
        var shift: UInt64 = 0
        while p < count {
            tail |= UInt64(key[p]) << shift
            shift += 8
            p += 1
        }
        h = (h ^ tail) &* 0xC4CE_B9FE_1A85_EC53
        h ^= h >> 29
        return h
    }
}

extension String {
    /// The string padded on the left with `pad` to `width` characters.
    public func leftPadded(to width: Int, with pad: Character = "0") -> String {
        count >= width ? self : String(repeating: pad, count: width - count) + self
    }

    /// The string without leading and trailing whitespace.
    var trimmingWhitespace: String {
        var scalars = Substring(self)
        while let first = scalars.first, first.isWhitespace { scalars.removeFirst() }
        while let last = scalars.last, last.isWhitespace { scalars.removeLast() }
        return String(scalars)
    }
}
