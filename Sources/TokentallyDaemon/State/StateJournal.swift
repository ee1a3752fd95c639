#if canImport(Glibc)
    import Glibc
#endif
import TokentallySystem

/// `state.journal`: the commits made since the last full state file (`state.bin`), each a record
/// of what changed (`Checkpoint.encodeChanges`). A commit at high cardinality so writes what a
/// few seconds of lines changed, not the whole state; every so often a full state file is
/// written again and the journal starts over (compaction, `StateCommitter`).
///
/// Layout: 8-byte magic `TTJOURN\0`, a UInt32 format version, and the `StateChecksum` of the
/// `state.bin` payload the records follow (UInt64). Then records: payload length (UInt64, never
/// 0), CRC-64/ECMA-182 of the payload (UInt64), payload. A record is appended (its payload, then
/// its frame) and fdatasync'd before the commit counts as made, so the commit point is the
/// record on disk whole:
///
/// - a crash in the middle of an append leaves a record cut short or failing its checksum; it
///   and anything after it are ignored at the next start, which then resumes from the record
///   before (counters and positions of one moment, as with `state.bin`);
/// - a crash after a new `state.bin` and before the journal started over leaves records that
///   follow the old state: their base checksum is not the new file's, and they are ignored.
///
/// Used by the follow loop's thread only.
final class StateJournal {
    static let magic: [UInt8] = Array("TTJOURN\0".utf8)
    static let version: UInt32 = 2
    static let headerSize = magic.count + 4 + 8
    static let name = "state.journal"

    let directory: String
    var path: String { directory + "/" + Self.name }
    private var fd: Int32 = -1
    /// The journal's length: where the next record goes.
    private(set) var size: UInt64 = 0
    /// Whether records can be appended: the journal follows the committed `state.bin`, and no
    /// append failed since (a failed append may leave bytes behind; the next commit must then
    /// write a full state file, which starts the journal over).
    private(set) var isUsable = false
    /// Records appended or loaded since the journal started over.
    private(set) var records = 0

    init(directory: String) {
        self.directory = directory
    }

    deinit {
        if fd >= 0 { close(fd) }
    }

    /// Starts an empty journal that follows the state file whose payload checksum is `base`:
    /// written next to it and renamed into place, so a crash leaves the old journal or this one.
    func startOver(base: UInt64) throws {
        closeFile()
        isUsable = false
        var header = StateWriter(capacity: Self.headerSize)
        for byte in Self.magic { header.write(byte) }
        header.write(Self.version)
        header.write(base)
        try AtomicFile.write(directory: directory, name: Self.name, mode: 0o640, remakeDirectory: {}) { fd, _ in
            if let error = header.bytes.withUnsafeBytes({ Syscall.writeAll(fd, $0) }) { throw error }
        }
        try openForAppending(at: UInt64(Self.headerSize))
        records = 0
    }

    /// Appends one record and flushes it to disk. On failure the journal is no longer usable.
    func append(_ payload: [UInt8]) throws(Errno) {
        try append { writer in for byte in payload { writer.write(byte) } }
    }

    /// Appends one record whose payload `encode` writes, streamed into the file in pieces of
    /// about 1 MiB (a record of half the state, catching up at high cardinality, is tens of MB
    /// that need not be in memory at once), and flushes it to disk. The payload goes first,
    /// after room for its frame; the frame (length and checksum, known only at the end) last,
    /// then one fdatasync. A crash before the frame is on disk leaves zeros there, which `load`
    /// reads as the end: no record is empty. Returns the bytes appended. On failure the journal
    /// is no longer usable.
    @discardableResult
    func append(_ encode: (inout StateWriter) -> Void) throws(Errno) -> UInt64 {
        guard isUsable else { throw Errno(EBADF) }
        isUsable = false
        let sink = RecordSink(fd: fd, offset: size + 16)
        var writer = StateWriter(streamingTo: sink)
        encode(&writer)
        writer.finish()
        if let error = sink.failure { throw error }
        guard sink.length > 0 else { throw Errno(EINVAL) }
        var frame = StateWriter(capacity: 16)
        frame.write(sink.length)
        frame.write(sink.checksum)
        if let error = frame.bytes.withUnsafeBytes({ Syscall.pwriteAll(fd, $0, at: size) }) { throw error }
        guard fdatasync(fd) == 0 else { throw Errno(errno) }
        size += 16 + sink.length
        records += 1
        isUsable = true
        return 16 + sink.length
    }

    /// Where a record's payload is written, checksummed on the way.
    private final class RecordSink: StateSink {
        let fd: Int32
        var offset: UInt64
        var length: UInt64 = 0
        var checksum: UInt64 = 0
        /// The first write that failed; nothing more is written after it.
        var failure: Errno?

        init(fd: Int32, offset: UInt64) {
            self.fd = fd
            self.offset = offset
        }

        func accept(_ bytes: UnsafeRawBufferPointer) {
            checksum = CRC64.update(checksum, bytes)
            length += UInt64(bytes.count)
            guard failure == nil else { return }
            failure = Syscall.pwriteAll(fd, bytes, at: offset)
            offset += UInt64(bytes.count)
        }
    }

    /// Hands each record that follows the state file with checksum `base` to `apply`, oldest
    /// first, and leaves the journal ready to append after the last whole one. A journal that is
    /// missing, or follows another state file, gives no records (and is not usable: the next
    /// commit writes a full state file). A record cut short or failing its checksum ends the
    /// journal there: it is what a crash in the middle of a commit leaves, and it is cut off.
    func load(base: UInt64, apply: ([UInt8]) throws -> Void) throws -> Int {
        closeFile()
        isUsable = false
        records = 0
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { return 0 }
            throw Errno(errno)
        }
        defer { close(fd) }
        var header = [UInt8](repeating: 0, count: Self.headerSize)
        guard try readFully(fd, &header, at: 0), Array(header[..<Self.magic.count]) == Self.magic else { return 0 }
        var reader = StateReader(Array(header[Self.magic.count...]))
        guard try reader.read(UInt32.self) == Self.version, try reader.read(UInt64.self) == base else { return 0 }
        var offset = UInt64(Self.headerSize)
        var frame = [UInt8](repeating: 0, count: 16)
        while try readFully(fd, &frame, at: offset) {
            var framing = StateReader(frame)
            let length = try framing.read(UInt64.self)
            let checksum = try framing.read(UInt64.self)
            // Zeros where a frame should be: a crash before the last append wrote its frame.
            guard length > 0, length < 1 << 40 else { break }
            var payload = [UInt8](repeating: 0, count: Int(length))
            guard try readFully(fd, &payload, at: offset + 16), CRC64.checksum(payload) == checksum else { break }
            try apply(payload)
            records += 1
            offset += 16 + length
        }
        try openForAppending(at: offset)
        return records
    }

    private func openForAppending(at end: UInt64) throws(Errno) {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Errno(errno) }
        // Whatever lies after the last whole record (a commit cut short) goes.
        guard ftruncate(fd, off_t(end)) == 0, fdatasync(fd) == 0 else {
            let error = Errno(errno)
            close(fd)
            throw error
        }
        self.fd = fd
        size = end
        isUsable = true
    }

    private func closeFile() {
        if fd >= 0 { close(fd) }
        fd = -1
    }

    /// Reads exactly `buffer.count` bytes at `offset`; false at the end of the file.
    private func readFully(_ fd: Int32, _ buffer: inout [UInt8], at offset: UInt64) throws(Errno) -> Bool {
        try buffer.withUnsafeMutableBytes { Syscall.preadFully(fd, into: $0, at: offset) }.get()
    }
}
