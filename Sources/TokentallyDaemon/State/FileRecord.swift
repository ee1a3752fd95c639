import TokentallySystem
import TokentallyReading
import TokentallyCounting
import TokentallyOutput
import TokentallyConfiguration
/// What the daemon remembers of one log file between commits: which file (by content, not by
/// path or inode), how far its lines have been counted, and whether it is done.
struct FileRecord: Sendable, Equatable {
    /// The file's head fingerprint: a hash of its first decompressed KiB.
    var fingerprint: ContentFingerprint
    /// The longer identity (CRC-64 of up to 64 KiB) that tells apart files whose first KiB is
    /// the same (a banner); nil in records from states before format 3.
    public var identity: ContentFingerprint?
    /// Content bytes counted, always at a line boundary (decompressed bytes for gzip).
    var offset: UInt64
    /// A hash of the bytes just before `offset`, checked when resuming: a file whose bytes
    /// there differ is another file, read from its start.
    var tail: ContentFingerprint?
    /// Read to its end and no longer written: a tombstone that keeps its other copies (the
    /// `.gz` made of it) from being read again.
    var finished: Bool
    /// Where it was last seen, for status and logs only.
    public var path: String
    public var isGzip: Bool
    var device: UInt64
    var inode: UInt64
    /// When a scan last found it (Unix seconds); old tombstones are forgotten.
    var lastSeen: Int64
    /// Damage found in it (a cut-short gzip), if any.
    public var damage: String?

    public init(
        fingerprint: ContentFingerprint, identity: ContentFingerprint? = nil, offset: UInt64,
        tail: ContentFingerprint? = nil, finished: Bool = false, path: String, isGzip: Bool, device: UInt64,
        inode: UInt64, lastSeen: Int64, damage: String? = nil
    ) {
        self.fingerprint = fingerprint
        self.identity = identity
        self.offset = offset
        self.tail = tail
        self.finished = finished
        self.path = path
        self.isGzip = isGzip
        self.device = device
        self.inode = inode
        self.lastSeen = lastSeen
        self.damage = damage
    }

    func encode(into writer: inout StateWriter) {
        Self.write(fingerprint, into: &writer)
        writer.write(identity != nil)
        if let identity { Self.write(identity, into: &writer) }
        writer.write(offset)
        writer.write(tail != nil)
        if let tail { Self.write(tail, into: &writer) }
        writer.write(finished)
        writer.write(path)
        writer.write(isGzip)
        writer.write(device)
        writer.write(inode)
        writer.write(lastSeen)
        writer.write(damage != nil)
        if let damage { writer.write(damage) }
    }

    private static func write(_ fingerprint: ContentFingerprint, into writer: inout StateWriter) {
        writer.write(UInt32(fingerprint.length))
        writer.write(fingerprint.hash)
        writer.write(fingerprint.algorithm.rawValue)
    }

    /// Reads a fingerprint; before format 3 they had no algorithm byte and were all legacy.
    private static func readFingerprint(
        from reader: inout StateReader, formatVersion: UInt32
    ) throws(StateDecodingError) -> ContentFingerprint {
        let length = Int(try reader.read(UInt32.self))
        let hash = try reader.read(UInt64.self)
        guard formatVersion >= 3 else { return ContentFingerprint(length: length, hash: hash, algorithm: .legacy) }
        let code = try reader.readUInt8()
        guard let algorithm = ContentFingerprint.Algorithm(rawValue: code) else {
            throw StateDecodingError("unknown fingerprint algorithm \(code)")
        }
        return ContentFingerprint(length: length, hash: hash, algorithm: algorithm)
    }

    static func decode(from reader: inout StateReader, formatVersion: UInt32) throws(StateDecodingError) -> FileRecord {
        let fingerprint = try readFingerprint(from: &reader, formatVersion: formatVersion)
        var identity: ContentFingerprint? = nil
        if formatVersion >= 3, try reader.readBool() {
            identity = try readFingerprint(from: &reader, formatVersion: formatVersion)
        }
        let offset = try reader.read(UInt64.self)
        var tail: ContentFingerprint? = nil
        if try reader.readBool() { tail = try readFingerprint(from: &reader, formatVersion: formatVersion) }
        let finished = try reader.readBool()
        let path = try reader.readString()
        let isGzip = try reader.readBool()
        let device = try reader.read(UInt64.self)
        let inode = try reader.read(UInt64.self)
        let lastSeen = try reader.read(Int64.self)
        let damage: String? = try reader.readBool() ? try reader.readString() : nil
        return FileRecord(
            fingerprint: fingerprint, identity: identity, offset: offset, tail: tail, finished: finished, path: path,
            isGzip: isGzip, device: device, inode: inode, lastSeen: lastSeen, damage: damage)
    }
}
