/// What the daemon remembers of one log file between commits: which file (by content, not by
/// path or inode), how far its lines have been counted, and whether it is done.
public struct FileRecord: Sendable, Equatable {
    /// The file's identity: a hash of its first decompressed bytes.
    public var fingerprint: ContentFingerprint
    /// Content bytes counted, always at a line boundary (decompressed bytes for gzip).
    public var offset: UInt64
    /// A hash of the bytes just before `offset` (plain files), checked when resuming, so that a
    /// file rewritten under the same name is noticed.
    public var tail: ContentFingerprint?
    /// Read to its end and no longer written: a tombstone that keeps its other copies (the
    /// `.gz` made of it) from being read again.
    public var finished: Bool
    /// Where it was last seen, for status and logs only.
    public var path: String
    public var isGzip: Bool
    public var device: UInt64
    public var inode: UInt64
    /// When a scan last found it (Unix seconds); old tombstones are forgotten.
    public var lastSeen: Int64
    /// Damage found in it (a cut-short gzip), if any.
    public var damage: String?

    public init(
        fingerprint: ContentFingerprint, offset: UInt64, tail: ContentFingerprint? = nil, finished: Bool = false,
        path: String, isGzip: Bool, device: UInt64, inode: UInt64, lastSeen: Int64, damage: String? = nil
    ) {
        self.fingerprint = fingerprint
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
        writer.write(UInt32(fingerprint.length))
        writer.write(fingerprint.hash)
        writer.write(offset)
        writer.write(tail != nil)
        if let tail {
            writer.write(UInt32(tail.length))
            writer.write(tail.hash)
        }
        writer.write(finished)
        writer.write(path)
        writer.write(isGzip)
        writer.write(device)
        writer.write(inode)
        writer.write(lastSeen)
        writer.write(damage != nil)
        if let damage { writer.write(damage) }
    }

    static func decode(from reader: inout StateReader) throws(StateDecodingError) -> FileRecord {
        let fingerprint = ContentFingerprint(length: Int(try reader.read(UInt32.self)), hash: try reader.read(UInt64.self))
        let offset = try reader.read(UInt64.self)
        var tail: ContentFingerprint? = nil
        if try reader.readBool() {
            tail = ContentFingerprint(length: Int(try reader.read(UInt32.self)), hash: try reader.read(UInt64.self))
        }
        let finished = try reader.readBool()
        let path = try reader.readString()
        let isGzip = try reader.readBool()
        let device = try reader.read(UInt64.self)
        let inode = try reader.read(UInt64.self)
        let lastSeen = try reader.read(Int64.self)
        let damage: String? = try reader.readBool() ? try reader.readString() : nil
        return FileRecord(
            fingerprint: fingerprint, offset: offset, tail: tail, finished: finished, path: path, isGzip: isGzip,
            device: device, inode: inode, lastSeen: lastSeen, damage: damage)
    }
}
