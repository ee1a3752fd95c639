#if canImport(Glibc)
import Glibc
#endif

/// A file's identity across renames, compression and restarts: a hash of its first bytes of
/// *decompressed* content. `access.log.1` and the `access.log.1.gz` made from it have the same
/// fingerprint; two log files never share their first line (it holds a time and a request id).
public struct ContentFingerprint: Hashable, Sendable, CustomStringConvertible {
    /// How many leading bytes a full fingerprint covers.
    public static let fullLength = 1024

    /// How many leading content bytes were hashed (fewer than `fullLength` while a file is short).
    public var length: Int
    public var hash: UInt64

    public init(length: Int, hash: UInt64) {
        self.length = length
        self.hash = hash
    }

    /// The fingerprint of the given leading bytes (at most `fullLength` are used).
    public init(prefix: UnsafeRawBufferPointer) {
        let used = UnsafeRawBufferPointer(rebasing: prefix[..<min(prefix.count, Self.fullLength)])
        self.length = used.count
        self.hash = ByteStringInterner.hash(used)
    }

    /// Whether a file whose leading bytes are `prefix` is the file this fingerprint was taken
    /// of: its first `length` bytes hash the same.
    public func matches(prefix: UnsafeRawBufferPointer) -> Bool {
        guard length > 0, prefix.count >= length else { return false }
        return ByteStringInterner.hash(UnsafeRawBufferPointer(rebasing: prefix[..<length])) == hash
    }

    public var isFull: Bool { length >= Self.fullLength }

    public var description: String {
        String(hash, radix: 16).leftPadded(to: 16) + "/" + String(length)
    }

    /// Reads up to `fullLength` leading content bytes of `path` (decompressed if gzip).
    public static func leadingBytes(of path: String, opener: LogFileOpener) throws(FileReadError) -> (
        bytes: [UInt8], isGzip: Bool
    ) {
        let opened = try opener.open(path)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: fullLength, alignment: 8)
        defer { buffer.deallocate() }
        var filled = 0
        while filled < fullLength {
            let n = try opened.content.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[filled...]))
            if n == 0 { break }
            filled += n
        }
        return (Array(buffer[..<filled]), opened.isGzip)
    }
}

extension String {
    func leftPadded(to width: Int, with pad: Character = "0") -> String {
        count >= width ? self : String(repeating: pad, count: width - count) + self
    }
}
