/// A little-endian binary writer for the daemon's state file.
///
/// The state is private to one host and one version of tokentally, so a compact, explicit
/// encoding (no field names, no Codable) keeps commits of large counter sets fast. A writer
/// made with a `StateSink` hands its bytes on whenever about `flushThreshold` have gathered,
/// so that a state of hundreds of megabytes never sits whole in memory.
public struct StateWriter {
    public private(set) var bytes: [UInt8] = []
    private let sink: StateSink?
    private let flushThreshold: Int

    public init(capacity: Int = 1 << 16) {
        bytes.reserveCapacity(capacity)
        sink = nil
        flushThreshold = .max
    }

    /// A writer that streams its bytes into `sink` in pieces of about `flushThreshold` bytes;
    /// call `finish` after the last write.
    public init(streamingTo sink: StateSink, flushThreshold: Int = 1 << 20) {
        bytes.reserveCapacity(flushThreshold + 64)
        self.sink = sink
        self.flushThreshold = flushThreshold
    }

    public mutating func write(_ value: UInt8) {
        bytes.append(value)
        flushIfFull()
    }

    public mutating func write(_ value: Bool) { write(UInt8(value ? 1 : 0)) }

    public mutating func write<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
        flushIfFull()
    }

    public mutating func write(_ value: Double) { write(value.bitPattern) }

    public mutating func write(_ value: String) {
        let utf8 = Array(value.utf8)
        write(UInt32(utf8.count))
        bytes.append(contentsOf: utf8)
        flushIfFull()
    }

    public mutating func write(_ values: [UInt32]) {
        write(UInt32(values.count))
        for value in values { write(value) }
    }

    @inline(__always)
    private mutating func flushIfFull() {
        guard bytes.count >= flushThreshold, let sink else { return }
        // Whole 8-byte words only, so that the sink's running checksum sees the same words a
        // checksum of the whole payload would.
        let whole = bytes.count & ~7
        bytes.withUnsafeBytes { sink.accept(UnsafeRawBufferPointer(rebasing: $0[..<whole])) }
        bytes.removeSubrange(..<whole)
    }

    /// Hands the last bytes to the sink; the writer is done.
    public mutating func finish() {
        guard let sink else { return }
        bytes.withUnsafeBytes { sink.accept($0) }
        bytes.removeAll()
    }
}

/// Where a streaming `StateWriter` puts its bytes.
public protocol StateSink: AnyObject {
    /// Takes the next bytes of the payload; every piece but the last is a whole number of 8-byte
    /// words.
    func accept(_ bytes: UnsafeRawBufferPointer)
}

/// Why a state file could not be read back.
public struct StateDecodingError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Reads what `StateWriter` wrote; every read checks bounds, so a damaged payload gives an
/// error, never a crash.
///
/// It reads from bytes in memory, or from a `StateSource` in pieces of about 1 MiB, so that
/// a state of hundreds of megabytes is never whole in memory while the counters it holds are
/// rebuilt. A source checks its checksum when it reaches its end: call `finish` after the last
/// read.
public struct StateReader {
    private var bytes: [UInt8]
    private var start = 0
    /// Payload bytes before `bytes[0]`.
    private var consumed = 0
    private let total: Int
    private let source: StateSource?
    /// The format version of the file being read, set by whoever read its header: decoders read
    /// the layout of that version. Bytes in memory are taken to be of the newest layout.
    public var formatVersion: UInt32 = .max

    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
        total = bytes.count
        source = nil
    }

    /// A reader of a payload of `length` bytes that `source` hands out.
    public init(streamingFrom source: StateSource, length: Int) {
        bytes = []
        total = length
        self.source = source
    }

    /// Payload bytes read so far.
    var position: Int { consumed + start }

    var isAtEnd: Bool { position == total }

    private var remaining: Int { total - position }

    private mutating func take(_ count: Int) throws(StateDecodingError) -> ArraySlice<UInt8> {
        guard count >= 0, count <= remaining else {
            throw StateDecodingError("state ends early at byte \(position) (wanted \(count) more)")
        }
        if start + count > bytes.count { try refill(toHold: count) }
        defer { start += count }
        return bytes[start..<(start + count)]
    }

    /// Drops what was read and reads on until `count` unread bytes are in memory.
    private mutating func refill(toHold count: Int) throws(StateDecodingError) {
        guard let source else { throw StateDecodingError("state ends early at byte \(position)") }
        consumed += start
        bytes.removeSubrange(..<start)
        start = 0
        while bytes.count < count {
            let wanted = max(count - bytes.count, 1 << 20)
            guard try source.read(wanted, into: &bytes) > 0 else {
                throw StateDecodingError("state ends early at byte \(position) (wanted \(count) more)")
            }
        }
    }

    /// Confirms the whole payload was read and, for a source, that its checksum holds.
    public mutating func finish() throws(StateDecodingError) {
        guard isAtEnd else { throw StateDecodingError("unexpected bytes after the end of the state") }
        try source?.finish()
    }

    public mutating func readUInt8() throws(StateDecodingError) -> UInt8 { try take(1).first! }

    public mutating func readBool() throws(StateDecodingError) -> Bool {
        switch try readUInt8() {
        case 0: return false
        case 1: return true
        case let other: throw StateDecodingError("bad boolean \(other) at byte \(position - 1)")
        }
    }

    public mutating func read<T: FixedWidthInteger>(_: T.Type) throws(StateDecodingError) -> T {
        let slice = try take(MemoryLayout<T>.size)
        var value = T.zero
        withUnsafeMutableBytes(of: &value) { raw in
            for (index, byte) in slice.enumerated() { raw[index] = byte }
        }
        return T(littleEndian: value)
    }

    public mutating func readDouble() throws(StateDecodingError) -> Double {
        Double(bitPattern: try read(UInt64.self))
    }

    public mutating func readString() throws(StateDecodingError) -> String {
        let count = Int(try read(UInt32.self))
        let slice = try take(count)
        guard let string = String(validating: slice, as: UTF8.self) else {
            throw StateDecodingError("invalid UTF-8 in a string at byte \(position - count)")
        }
        return string
    }

    public mutating func readUInt32Array() throws(StateDecodingError) -> [UInt32] {
        let count = Int(try read(UInt32.self))
        guard count <= remaining / 4 else { throw StateDecodingError("array too long at byte \(position)") }
        var values: [UInt32] = []
        values.reserveCapacity(count)
        for _ in 0..<count { values.append(try read(UInt32.self)) }
        return values
    }

    /// A count of items that each take at least `minimumItemSize` bytes, checked against what
    /// is left, so a corrupt count cannot make the reader allocate wildly.
    public mutating func readCount(minimumItemSize: Int = 1) throws(StateDecodingError) -> Int {
        let count = Int(try read(UInt32.self))
        guard count <= remaining / max(minimumItemSize, 1) else {
            throw StateDecodingError("count \(count) at byte \(position - 4) exceeds what is left")
        }
        return count
    }
}

/// Where a streaming `StateReader` gets its bytes.
public protocol StateSource: AnyObject {
    /// Appends up to `count` next bytes of the payload to `buffer`; returns how many (0 at the end).
    func read(_ count: Int, into buffer: inout [UInt8]) throws(StateDecodingError) -> Int
    /// Called after the last byte was read: fails if the payload's length or checksum is wrong.
    func finish() throws(StateDecodingError)
}

/// A fast 64-bit checksum of the state payload (corruption detection, not security).
public enum StateChecksum {
    /// Format 1's checksum: the payload's length goes in first.
    static func of(_ bytes: [UInt8]) -> UInt64 {
        bytes.withUnsafeBytes { FrozenHash.legacy($0) }
    }

    /// The checksum of a whole payload in `formatVersion`'s way: the same as `Running` over it
    /// in any pieces.
    static func of(_ bytes: UnsafeRawBufferPointer, formatVersion: UInt32) -> UInt64 {
        var running = Running(formatVersion: formatVersion, length: UInt64(bytes.count))
        running.add(bytes)
        return running.value
    }

    /// A checksum taken piece by piece as a payload is written or read: 8-byte words are mixed
    /// in as they come, so it never needs the whole payload at once. Format 1 mixes the length
    /// in first (so a reader, which knows it from the header, can run it; `ByteStringInterner`'s
    /// then the in-memory hash, now `FrozenHash.legacy`); format 2 and later mix it in last, so a writer that learns it only at the end can too.
    /// Every piece but the last must be a whole number of words.
    public struct Running {
        private let lengthLast: Bool
        private var h: UInt64
        private var tail: UInt64 = 0
        private var tailBytes: UInt64 = 0
        public private(set) var length: UInt64 = 0

        /// - Parameter length: the payload's length, for format 1 (ignored by format 2).
        public init(formatVersion: UInt32 = .max, length: UInt64 = 0) {
            lengthLast = formatVersion >= 2
            h = 0x9E37_79B9_7F4A_7C15 ^ (lengthLast ? 0 : length)
        }

        public mutating func add(_ bytes: UnsafeRawBufferPointer) {
            precondition(tailBytes == 0, "only the last piece may end inside a word")
            var p = 0
            while p + 8 <= bytes.count {
                h = (h ^ bytes.loadUnaligned(fromByteOffset: p, as: UInt64.self)) &* 0xFF51_AFD7_ED55_8CCD
                h ^= h >> 32
                p += 8
            }
            while p < bytes.count {
                tail |= UInt64(bytes[p]) << (tailBytes * 8)
                tailBytes += 1
                p += 1
            }
            length += UInt64(bytes.count)
        }

        public var value: UInt64 {
            var result = (h ^ tail) &* 0xC4CE_B9FE_1A85_EC53
            result ^= result >> 29
            guard lengthLast else { return result }
            result = (result ^ length) &* 0xFF51_AFD7_ED55_8CCD
            result ^= result >> 32
            return result
        }
    }
}
