import TokentallySystem
import TokentallyReading
/// Maps byte strings to dense ids (0, 1, 2, ...) in the order first seen.
///
/// Looking up a string that is already known hashes its bytes and compares them with one stored
/// copy: no allocation, so the per-line path can turn `model`, `provider` and `api_key` bytes
/// into small integers cheaply. Only a new string is copied in.
struct ByteStringInterner: Sendable {
    private var bytes: [UInt8] = []
    private var starts: [Int] = [0]
    private var hashes: [UInt64] = []
    /// Open-addressing table of id + 1 (0 = empty); its size is a power of two.
    private var table: [Int32] = Array(repeating: 0, count: 64)

    public init() {}

    /// How many distinct strings are known.
    public var count: Int { hashes.count }

    /// The id of `key`, or nil when it has not been seen.
    @inline(__always)
    func id(of key: UnsafeRawBufferPointer) -> Int32? {
        let hash = Self.hash(key)
        let mask = table.count - 1
        var slot = Int(truncatingIfNeeded: hash) & mask
        return table.withUnsafeBufferPointer { table in
            while true {
                let entry = table[slot]
                if entry == 0 { return nil }
                let id = Int(entry - 1)
                if hashes[id] == hash && equals(id, key) { return Int32(id) }
                slot = (slot + 1) & mask
            }
        }
    }

    /// The id of `key`, adding it if it is new.
    mutating func intern(_ key: UnsafeRawBufferPointer) -> Int32 {
        if let id = id(of: key) { return id }
        let id = hashes.count
        bytes.append(contentsOf: key)
        starts.append(bytes.count)
        hashes.append(Self.hash(key))
        if hashes.count * 4 > table.count * 3 {
            rebuild(size: table.count * 2)
        } else {
            place(id)
        }
        return Int32(id)
    }

    /// The bytes of string `id`, as a String (UTF-8; callers intern only valid UTF-8).
    func string(_ id: Int32) -> String {
        let range = starts[Int(id)]..<starts[Int(id) + 1]
        return String(decoding: bytes[range], as: UTF8.self)
    }

    private func equals(_ id: Int, _ key: UnsafeRawBufferPointer) -> Bool {
        let start = starts[id]
        let length = starts[id + 1] - start
        guard length == key.count else { return false }
        return bytes.withUnsafeBytes { stored in
            memcmpEqual(stored.baseAddress! + start, key.baseAddress, length)
        }
    }

    private mutating func place(_ id: Int) {
        let mask = table.count - 1
        var slot = Int(truncatingIfNeeded: hashes[id]) & mask
        while table[slot] != 0 { slot = (slot + 1) & mask }
        table[slot] = Int32(id + 1)
    }

    private mutating func rebuild(size: Int) {
        table = Array(repeating: 0, count: size)
        for id in 0..<hashes.count { place(id) }
    }

    /// A fast 64-bit hash of bytes, eight at a time (not for adversarial keys' sake but for
    /// speed; probing stays short because the table is kept under three quarters full).
    @inline(__always)
    static func hash(_ key: UnsafeRawBufferPointer) -> UInt64 {
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

@inline(__always)
private func memcmpEqual(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer?, _ length: Int) -> Bool {
    guard length > 0, let b else { return true }
    var i = 0
    while i + 8 <= length {
        if a.loadUnaligned(fromByteOffset: i, as: UInt64.self) != b.loadUnaligned(fromByteOffset: i, as: UInt64.self) {
            return false
        }
        i += 8
    }
    while i < length {
        if a.load(fromByteOffset: i, as: UInt8.self) != b.load(fromByteOffset: i, as: UInt8.self) { return false }
        i += 1
    }
    return true
}
