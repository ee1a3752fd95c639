/// CRC-64/ECMA-182 (polynomial 0x42F0E1EBA9EA3693, initial value 0, no reflection, no final
/// XOR; check value 0x6C40DF5F0B497347 for "123456789"), the hash of what is persisted: file
/// identities in the committed state. It is frozen: changing it would make every followed file
/// look new after an upgrade and count it twice. (The in-memory hashes, such as
/// `ByteStringInterner.hash`, may change for speed; this one may not.) Vector's file source
/// fingerprints files with the same function.
///
/// Its value is its whole state, so a CRC can be continued with more bytes: `update(crc, b)`
/// after `update(0, a)` equals `update(0, a + b)`.
public enum CRC64 {
    static let polynomial: UInt64 = 0x42F0_E1EB_A9EA_3693

    /// Eight tables for slicing-by-8: `tables[k][b]` is the CRC of byte `b` followed by `k` zero
    /// bytes.
    private static let tables: [[UInt64]] = {
        var first = [UInt64](repeating: 0, count: 256)
        for byte in 0..<256 {
            var crc = UInt64(byte) << 56
            for _ in 0..<8 { crc = crc & (1 << 63) != 0 ? (crc << 1) ^ polynomial : crc << 1 }
            first[byte] = crc
        }
        var tables = [first]
        for k in 1..<8 {
            tables.append(
                (0..<256).map { byte in
                    let previous = tables[k - 1][byte]
                    return first[Int(previous >> 56)] ^ (previous << 8)
                })
        }
        return tables
    }()

    /// The CRC of `bytes` continued from `crc` (0 to start).
    public static func update(_ crc: UInt64, _ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var crc = crc
        let count = bytes.count
        var p = 0
        tables.withUnsafeBufferPointer { t in
            let t0 = t[0], t1 = t[1], t2 = t[2], t3 = t[3], t4 = t[4], t5 = t[5], t6 = t[6], t7 = t[7]
            while p + 8 <= count {
                // The next eight bytes, most significant first (the CRC is not reflected).
                let word = UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: p, as: UInt64.self)) ^ crc
                crc =
                    t7[Int(word >> 56)] ^ t6[Int((word >> 48) & 0xFF)] ^ t5[Int((word >> 40) & 0xFF)]
                    ^ t4[Int((word >> 32) & 0xFF)] ^ t3[Int((word >> 24) & 0xFF)] ^ t2[Int((word >> 16) & 0xFF)]
                    ^ t1[Int((word >> 8) & 0xFF)] ^ t0[Int(word & 0xFF)]
                p += 8
            }
            while p < count {
                crc = t0[Int((crc >> 56) ^ UInt64(bytes[p]))] ^ (crc << 8)
                p += 1
            }
        }
        return crc
    }

    public static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt64 { update(0, bytes) }

    public static func checksum(_ bytes: [UInt8]) -> UInt64 { bytes.withUnsafeBytes { update(0, $0) } }
}
