#if canImport(Glibc)
    import Glibc
#endif
import TokentallySystem

/// A hash of a file's first bytes of *decompressed* content: its identity across renames,
/// compression and restarts. `access.log.1` and the `access.log.1.gz` made from it have the same
/// fingerprints; two log files rarely share their first line (it holds a time and a request id),
/// and a gateway that starts every file with the same banner is told apart by the longer
/// identity (`FileIdentity`).
///
/// Fingerprints are persisted in the committed state, so their hash is the frozen CRC-64
/// (`CRC64`). States from before format 3 hold `legacy` fingerprints, made with a hash that is
/// kept here, frozen as it was, only to recognise their files; a scan that finds such a file
/// replaces its fingerprints with CRC-64 ones.
public struct ContentFingerprint: Hashable, Sendable, CustomStringConvertible {
    /// How many leading bytes a full head fingerprint covers.
    public static let fullLength = 1024

    public enum Algorithm: UInt8, Sendable {
        /// The 64-bit multiply-xor hash that states of formats 1 and 2 used (then the in-memory
        /// interner's hash), frozen here.
        case legacy = 0
        case crc64 = 1
    }

    /// How many leading content bytes were hashed.
    public var length: Int
    public var hash: UInt64
    public var algorithm: Algorithm

    public init(length: Int, hash: UInt64, algorithm: Algorithm = .crc64) {
        self.length = length
        self.hash = hash
        self.algorithm = algorithm
    }

    /// The head fingerprint of the given leading bytes (at most `fullLength` are used).
    public init(prefix: UnsafeRawBufferPointer) {
        self.init(prefix: prefix, limit: Self.fullLength)
    }

    /// The fingerprint of at most `limit` leading bytes.
    public init(prefix: UnsafeRawBufferPointer, limit: Int) {
        let used = UnsafeRawBufferPointer(rebasing: prefix[..<min(prefix.count, limit)])
        self.length = used.count
        self.hash = CRC64.checksum(used)
        self.algorithm = .crc64
    }

    /// Whether a file whose leading bytes are `prefix` is the file this fingerprint was taken
    /// of: its first `length` bytes hash the same.
    public func matches(prefix: UnsafeRawBufferPointer) -> Bool {
        guard length > 0, prefix.count >= length else { return false }
        return Self.hash(UnsafeRawBufferPointer(rebasing: prefix[..<length]), algorithm) == hash
    }

    /// This fingerprint continued over `more` bytes that follow what it covers (CRC-64 only).
    public func extended(by more: UnsafeRawBufferPointer) -> ContentFingerprint {
        precondition(algorithm == .crc64, "only a CRC-64 fingerprint can be continued")
        return ContentFingerprint(length: length + more.count, hash: CRC64.update(hash, more), algorithm: .crc64)
    }

    public var isFull: Bool { length >= Self.fullLength }

    public var description: String {
        (algorithm == .legacy ? "legacy:" : "") + String(hash, radix: 16).leftPadded(to: 16) + "/" + String(length)
    }

    static func hash(_ bytes: UnsafeRawBufferPointer, _ algorithm: Algorithm) -> UInt64 {
        switch algorithm {
        case .crc64: CRC64.checksum(bytes)
        case .legacy: FrozenHash.legacy(bytes)
        }
    }

    /// Reads up to `count` leading content bytes of `path` (decompressed if gzip).
    public static func leadingBytes(
        of path: String, opener: LogFileOpener, count: Int = fullLength
    ) throws(FileReadError) -> (bytes: [UInt8], isGzip: Bool) {
        let opened = try opener.open(path)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: count, alignment: 8)
        defer { buffer.deallocate() }
        var filled = 0
        while filled < count {
            let n = try opened.content.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[filled...]))
            if n == 0 { break }
            filled += n
        }
        return (Array(buffer[..<filled]), opened.isGzip)
    }
}

/// What tells one followed file from another with the same first KiB: the CRC-64 of its first
/// `length` content bytes, up to `FileIdentity.fullLength` (64 KiB). It grows with a short file
/// as the file grows.
public enum FileIdentity {
    /// A gateway's banner or config dump at the top of every file is told apart when it is
    /// shorter than this; past it, the content check at the resume offset decides.
    public static let fullLength = 64 << 10
}
