import TokentallyConfiguration
import TokentallyCounting
import TokentallyReading
import TokentallySystem

/// A log file the daemon has open and is reading: the open descriptor, its stream of content
/// lines (the line reader holds any partial last line), and what is known of its identity.
///
/// A followed file is keyed by device and inode while it is open (a rename does not change
/// it), and by its content fingerprint in the committed state (a restart, or its gzip copy).
final class FollowedFile {
    let file: FileByteSource
    /// What the ingest pipeline reads: for gzip the decompressed stream; for a plain file the
    /// file through `guardedContent`, so that bytes read after a copytruncate are never counted.
    let stream: LineStream
    /// The plain file's truncation check (nil for gzip).
    let guardedContent: ContentGuard?
    let isGzip: Bool
    let device: UInt64
    let inode: UInt64
    var input: InputConfiguration
    var path: String
    /// The head fingerprint: a hash of the first KiB (fewer bytes while the file is shorter).
    var fingerprint: ContentFingerprint {
        didSet { guardedContent?.head = fingerprint }
    }
    /// The CRC-64 of the first content bytes, up to `FileIdentity.fullLength`: what tells this
    /// file from another that starts with the same KiB. Grows with the file.
    var identity: ContentFingerprint
    var progress: LogIngestor.FileProgress
    /// Whether the path is the set's live file (`access.log`), which is never finished.
    var isLive: Bool {
        didSet { guardedContent?.isLive = isLive }
    }
    /// Last size seen and when it last grew, to tell a rotated file that is still being
    /// written from one that is done.
    var lastSize: UInt64 = 0
    var lastGrowth: Int64
    /// Whether the last read reached the end of what the file had.
    var atEnd = false
    /// For a gzip file resumed at an offset: the tail there, taken while skipping to it.
    var gzipTail: (offset: UInt64, tail: ContentFingerprint)?

    init(
        opened: LogFileOpener.OpenedFile, device: UInt64, inode: UInt64, input: InputConfiguration, path: String,
        fingerprint: ContentFingerprint, identity: ContentFingerprint, maxLineBytes: Int, isLive: Bool, now: Int64
    ) {
        self.file = opened.file
        self.isGzip = opened.isGzip
        let guardedContent = opened.isGzip ? nil : ContentGuard(file: opened.file, head: fingerprint, isLive: isLive)
        self.guardedContent = guardedContent
        self.stream = LineStream(source: guardedContent ?? opened.content, maxLineBytes: maxLineBytes)
        self.device = device
        self.inode = inode
        self.input = input
        self.path = path
        self.fingerprint = fingerprint
        self.identity = identity
        self.progress = LogIngestor.FileProgress(
            displayPath: path, format: input.format, redaction: input.redactKeys, naiveTimezone: input.naiveTimezone)
        self.isLive = isLive
        self.lastGrowth = now
    }

    /// The content offset counted so far (at a line boundary).
    var offset: UInt64 { stream.reader.committedOffset }

    /// Content bytes read so far: the offset plus a partial last line held back.
    var readPosition: UInt64 { offset + UInt64(stream.reader.pendingBytes) }

    /// How many bytes before the offset the tail check covers.
    static let tailLength = 64

    /// The bytes just before `offset`, hashed: for plain files read from the file, for gzip the
    /// last bytes the reader consumed (`gzipTail`); nil at 0, and nil when they cannot be told.
    ///
    /// A live file may have been truncated since it was read (copytruncate), and the gateway
    /// may have written past the offset again: the bytes there now are new content, and a tail
    /// taken from them would make the copy, whose bytes are the ones counted, fail the check
    /// when it is resumed, and be read again from its start. So the head is checked after the
    /// tail is read: if it still matches, the file was not truncated before the read.
    func tail() -> ContentFingerprint? {
        guard offset > 0 else { return nil }
        if isGzip { return gzipTail?.offset == offset ? gzipTail?.tail : nil }
        let length = Int(min(offset, UInt64(Self.tailLength)))
        let bytes = file.bytes(at: offset - UInt64(length), count: length)
        guard bytes.count == length else { return nil }
        if isLive && !headStillMatches() { return nil }
        return bytes.withUnsafeBytes { ContentFingerprint(prefix: $0, limit: Self.tailLength) }
    }

    /// Whether the file's first bytes are still the ones fingerprinted (vacuously, before any).
    func headStillMatches() -> Bool {
        guard fingerprint.length > 0 else { return true }
        let prefix = file.bytes(at: 0, count: fingerprint.length)
        return prefix.withUnsafeBytes { fingerprint.matches(prefix: $0) }
    }

    func record(finished: Bool, now: Int64, damage: Damage? = nil) -> FileRecord {
        FileRecord(
            fingerprint: fingerprint, identity: identity.length > 0 ? identity : nil, offset: offset, tail: tail(),
            finished: finished, path: path, isGzip: isGzip, device: device, inode: inode, lastSeen: now,
            damage: damage?.description)
    }
}

/// Reads a plain followed file and checks, after every read and before its bytes go on to the
/// line reader, that the file's first bytes are still the ones fingerprinted. A copytruncate
/// between two reads, followed by the gateway writing past the old read position, would
/// otherwise hand the new content's bytes to the reader at the old offset, and they would be
/// counted twice (now, and again when the file is read from its new start). When they changed,
/// the read throws `FileReadError` `.truncated` and hands out nothing; the follower then reads the
/// file again from its new start. A check that fails after a truncation that came *after* the
/// read only discards bytes the copy still holds.
///
/// It may be read on a parsing thread; the follower changes `head` and `isLive` only between
/// reads, on its own thread (the pipeline's lock orders the two).
final class ContentGuard: ByteSource {
    let file: FileByteSource
    var head: ContentFingerprint
    var isLive: Bool

    init(file: FileByteSource, head: ContentFingerprint, isLive: Bool) {
        self.file = file
        self.head = head
        self.isLive = isLive
    }

    var damage: Damage? { nil }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws(FileReadError) -> Int {
        let n = try file.read(into: buffer)
        // Only the live file is truncated by copytruncate; rotated copies do not change.
        guard n > 0, isLive, head.length > 0 else { return n }
        let prefix = file.bytes(at: 0, count: head.length)
        if prefix.withUnsafeBytes({ head.matches(prefix: $0) }) { return n }
        throw FileReadError(
            code: .truncated, path: file.path, message: "the file was truncated (its first bytes changed)")
    }
}
