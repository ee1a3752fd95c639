/// A little-endian binary writer for the daemon's state file.
///
/// The state is private to one host and one version of tokentally, so a compact, explicit
/// encoding (no field names, no Codable) keeps commits of large counter sets fast.
public struct StateWriter {
    public private(set) var bytes: [UInt8] = []

    public init(capacity: Int = 1 << 16) { bytes.reserveCapacity(capacity) }

    public mutating func write(_ value: UInt8) { bytes.append(value) }

    public mutating func write(_ value: Bool) { bytes.append(value ? 1 : 0) }

    public mutating func write<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    public mutating func write(_ value: Double) { write(value.bitPattern) }

    public mutating func write(_ value: String) {
        let utf8 = Array(value.utf8)
        write(UInt32(utf8.count))
        bytes.append(contentsOf: utf8)
    }

    public mutating func write(_ values: [UInt32]) {
        write(UInt32(values.count))
        for value in values { write(value) }
    }
}

/// Why a state file could not be read back.
public struct StateDecodingError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Reads what `StateWriter` wrote; every read checks bounds, so a damaged payload gives an
/// error, never a crash.
public struct StateReader {
    private let bytes: [UInt8]
    public private(set) var position = 0

    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    public var isAtEnd: Bool { position == bytes.count }

    private mutating func take(_ count: Int) throws(StateDecodingError) -> ArraySlice<UInt8> {
        guard count >= 0, position + count <= bytes.count else {
            throw StateDecodingError("state ends early at byte \(position) (wanted \(count) more)")
        }
        defer { position += count }
        return bytes[position..<(position + count)]
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
        guard count <= (bytes.count - position) / 4 else { throw StateDecodingError("array too long at byte \(position)") }
        var values: [UInt32] = []
        values.reserveCapacity(count)
        for _ in 0..<count { values.append(try read(UInt32.self)) }
        return values
    }

    /// A count of items that each take at least `minimumItemSize` bytes, checked against what
    /// is left, so a corrupt count cannot make the reader allocate wildly.
    public mutating func readCount(minimumItemSize: Int = 1) throws(StateDecodingError) -> Int {
        let count = Int(try read(UInt32.self))
        guard count <= (bytes.count - position) / max(minimumItemSize, 1) else {
            throw StateDecodingError("count \(count) at byte \(position - 4) exceeds what is left")
        }
        return count
    }
}

/// A fast 64-bit checksum of the state payload (corruption detection, not security).
public enum StateChecksum {
    public static func of(_ bytes: [UInt8]) -> UInt64 {
        bytes.withUnsafeBytes { ByteStringInterner.hash($0) }
    }
}
