import TokentallySystem
import TokentallyReading
import TokentallyCounting
import TokentallyOutput
import TokentallyConfiguration
/// A log file the daemon has open and is reading: the open descriptor, its content stream,
/// the line reader holding any partial last line, and what is known of its identity.
///
/// A followed file is keyed by device and inode while it is open (a rename does not change
/// it), and by its content fingerprint in the committed state (a restart, or its gzip copy).
final class FollowedFile {
    let file: FileByteSource
    /// What the line reader reads: for gzip the decompressed stream; for a plain file the file
    /// through a `TruncationCheck`, so that bytes read after a copytruncate are never counted.
    private(set) var content: any ByteSource
    let isGzip: Bool
    let device: UInt64
    let inode: UInt64
    var input: InputConfiguration
    var path: String
    var fingerprint: ContentFingerprint
    /// The CRC-64 of the first content bytes, up to `FileIdentity.fullLength`: what tells this
    /// file from another that starts with the same KiB. Grows with the file (`extendIdentity`).
    var identity: ContentFingerprint
    var reader: LineReader
    var progress: LogIngestor.FileProgress
    /// Whether the path is the set's live file (`access.log`), which is never finished.
    var isLive: Bool
    /// Last size seen and when it last grew, to tell a rotated file that is still being
    /// written from one that is done.
    var lastSize: UInt64 = 0
    var lastGrowth: Int64
    /// Whether the last read reached the end of what the file had.
    var atEnd = false

    init(
        file: FileByteSource, content: any ByteSource, isGzip: Bool, device: UInt64, inode: UInt64,
        input: InputConfiguration, path: String, fingerprint: ContentFingerprint, identity: ContentFingerprint,
        maxLineBytes: Int, isLive: Bool, now: Int64
    ) {
        self.file = file
        self.content = content
        self.isGzip = isGzip
        self.device = device
        self.inode = inode
        self.input = input
        self.path = path
        self.fingerprint = fingerprint
        self.identity = identity
        self.reader = LineReader(maxLineBytes: maxLineBytes)
        self.progress = LogIngestor.FileProgress(
            displayPath: path, format: input.format, redaction: input.redactKeys, naiveTimezone: input.naiveTimezone)
        self.isLive = isLive
        self.lastGrowth = now
        if !isGzip { self.content = TruncationCheck(owner: self) }
    }

    /// Set when a read found the file's first bytes changed: it was truncated (copytruncate)
    /// and written again, and what was read after the truncation must not be counted.
    var truncationSeen = false

    /// The content offset counted so far (at a line boundary).
    var offset: UInt64 { reader.committedOffset }

    /// How many bytes before the offset the tail check covers.
    static let tailLength = 64

    /// The bytes just before `offset`, hashed: for plain files read from the file, for gzip the
    /// last bytes the reader consumed (`gzipTail`); nil at 0.
    func tail() -> ContentFingerprint? {
        guard offset > 0 else { return nil }
        if isGzip { return gzipTail?.offset == offset ? gzipTail?.tail : nil }
        let length = Int(min(offset, UInt64(Self.tailLength)))
        let bytes = file.bytes(at: offset - UInt64(length), count: length)
        guard bytes.count == length else { return nil }
        return bytes.withUnsafeBytes { ContentFingerprint(prefix: $0, limit: Self.tailLength) }
    }

    /// For a gzip file resumed at an offset: the tail there, taken while skipping to it.
    var gzipTail: (offset: UInt64, tail: ContentFingerprint)?

    func record(finished: Bool, now: Int64, damage: String? = nil) -> FileRecord {
        FileRecord(
            fingerprint: fingerprint, identity: identity.length > 0 ? identity : nil, offset: offset, tail: tail(),
            finished: finished, path: path, isGzip: isGzip, device: device, inode: inode, lastSeen: now,
            damage: damage)
    }
}

/// Reads a plain followed file and checks, after every read and before its bytes reach the line
/// reader, that the file's first bytes are still the ones fingerprinted. A copytruncate between
/// two reads, followed by the gateway writing past the old read position, would otherwise hand
/// the new content's bytes to the reader at the old offset, and they would be counted twice
/// (now, and again when the file is read from its new start). A check that fails after a
/// truncation that came *after* the read only discards bytes the copy still holds.
final class TruncationCheck: ByteSource {
    unowned let owner: FollowedFile

    init(owner: FollowedFile) {
        self.owner = owner
    }

    var damage: String? { nil }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws(FileReadError) -> Int {
        guard !owner.truncationSeen else { return 0 }
        let n = try owner.file.read(into: buffer)
        // Only the live file is truncated by copytruncate; rotated copies do not change.
        guard n > 0, owner.isLive, owner.fingerprint.length > 0 else { return n }
        let prefix = owner.file.bytes(at: 0, count: owner.fingerprint.length)
        if prefix.withUnsafeBytes({ owner.fingerprint.matches(prefix: $0) }) { return n }
        owner.truncationSeen = true
        return 0
    }
}
