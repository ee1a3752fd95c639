#if canImport(Glibc)
    import Glibc
#endif
import TokentallySystem
import TokentallyReading
import TokentallyCounting
import TokentallyOutput
import TokentallyConfiguration

/// Why the daemon's state could not be loaded or committed.
struct StateError: Error, CustomStringConvertible, Sendable {
    public enum Code: String, Sendable {
        case corrupt, unknownVersion, incompatible, ioFailed
    }

    public var code: Code
    public var path: String
    public var message: String

    public init(code: Code, path: String, message: String) {
        self.code = code
        self.path = path
        self.message = message
    }

    public var description: String { "\(path): \(message)" }

    /// What an operator does about a state that cannot be read (docs/operations.md).
    static let rebuildHint =
        "to rebuild the counters from the logs still on disk, stop tokentally, move the state directory aside and start it again (see docs/operations.md, \"Rebuilding state\")"
}

/// The daemon's state file: counters and file positions of one moment, committed together.
///
/// Layout: 8-byte magic `TTSTATE\0`, a UInt32 format version, the payload length (UInt64) and
/// a checksum of the payload (UInt64), then the payload. A commit writes a temporary file,
/// fsyncs it, renames it over `state.bin` and fsyncs the directory, so after a crash the file
/// is either the previous commit or the new one, never a mix.
///
/// Format 2 (written since the state was streamed) checksums the payload as it is written
/// (`StateChecksum.Running`), so a commit never holds the whole payload in memory: the length
/// and checksum are filled into the header at the end. Format 1 files, whose checksum needs the
/// length first, are still read.
struct StateStore: Sendable {
    static let magic: [UInt8] = Array("TTSTATE\0".utf8)
    /// Bumped whenever the payload layout or the checksum changes; other versions are refused,
    /// not guessed at. Format 3 added the inputs the state belongs to, the retention anchors,
    /// and CRC-64 file fingerprints with a longer identity.
    static let version: UInt32 = 4
    /// Versions `load` reads: 1 and 2 differ only in the checksum; 3 in the payload, which its
    /// decoders read by `StateReader.formatVersion`.
    static let readableVersions: ClosedRange<UInt32> = 1...4
    static let headerSize = magic.count + 4 + 8 + 8

    public let directory: String
    public var path: String { directory + "/state.bin" }

    public init(directory: String) throws(StateError) {
        self.directory = directory
        var info = stat()
        if stat(directory, &info) != 0 {
            guard mkdir(directory, 0o750) == 0 || errno == EEXIST else {
                throw StateError(
                    code: .ioFailed, path: directory,
                    message:
                        "cannot create the state directory: \(String(cString: strerror(errno))); create it or fix state.directory"
                )
            }
        }
    }

    /// A reader of the committed payload, or nil when there is no state yet (a first start).
    /// The header is checked here; the payload is read as the reader goes, in pieces of about
    /// 1 MiB, and its checksum is checked by the reader's `finish`.
    public func load() throws(StateError) -> StateReader? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw StateError(code: .ioFailed, path: path, message: "cannot open: \(String(cString: strerror(errno)))")
        }
        var header = [UInt8](repeating: 0, count: Self.headerSize)
        var info = stat()
        let headerRead = header.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard fstat(fd, &info) == 0, headerRead == Self.headerSize, Array(header[..<Self.magic.count]) == Self.magic
        else {
            close(fd)
            throw StateError(
                code: .corrupt, path: path,
                message: "not a tokentally state file (bad header); \(StateError.rebuildHint)")
        }
        var reader = StateReader(Array(header[Self.magic.count...]))
        let version = try? reader.read(UInt32.self)
        let length = (try? reader.read(UInt64.self)) ?? 0
        let checksum = (try? reader.read(UInt64.self)) ?? 0
        guard let version, Self.readableVersions.contains(version) else {
            close(fd)
            throw StateError(
                code: .unknownVersion, path: path,
                message:
                    "state format version \(version ?? 0) is not one this tokentally reads (\(Self.readableVersions.lowerBound) to \(Self.version)); \(StateError.rebuildHint)"
            )
        }
        guard UInt64(info.st_size) == UInt64(Self.headerSize) + length else {
            close(fd)
            throw StateError(
                code: .corrupt, path: path,
                message: "state file is corrupt (its length does not match its header); \(StateError.rebuildHint)")
        }
        let source = FileSource(
            fd: fd, checksum: StateChecksum.Running(formatVersion: version, length: length), expected: checksum,
            length: length)
        var payload = StateReader(streamingFrom: source, length: Int(length))
        payload.formatVersion = version
        return payload
    }

    /// The committed file's payload, read as a `StateReader` asks for it and checksummed on the
    /// way; closes the file when the reader is done with it.
    private final class FileSource: StateSource {
        private let fd: Int32
        private var checksum: StateChecksum.Running
        private let expected: UInt64
        private let length: UInt64
        /// Bytes read but not yet checksummed: the end of a read that is not a whole word.
        private var carry: [UInt8] = []
        private var chunk = [UInt8](repeating: 0, count: 1 << 20)

        init(fd: Int32, checksum: StateChecksum.Running, expected: UInt64, length: UInt64) {
            self.fd = fd
            self.checksum = checksum
            self.expected = expected
            self.length = length
        }

        deinit { close(fd) }

        func read(_ count: Int, into buffer: inout [UInt8]) throws(StateDecodingError) -> Int {
            let wanted = min(count, chunk.count)
            let result = chunk.withUnsafeMutableBytes {
                Syscall.read(fd, into: UnsafeMutableRawBufferPointer(rebasing: $0[..<wanted]))
            }
            let n: Int
            switch result {
            case .success(let count): n = count
            case .failure(let error): throw StateDecodingError("cannot read the state: \(error)")
            }
            chunk.withUnsafeBytes { addToChecksum(UnsafeRawBufferPointer(rebasing: $0[..<n])) }
            buffer.append(contentsOf: chunk[..<n])
            return n
        }

        private func addToChecksum(_ bytes: UnsafeRawBufferPointer) {
            var rest = bytes[...]
            if !carry.isEmpty {
                let needed = min(8 - carry.count, rest.count)
                carry.append(contentsOf: rest.prefix(needed))
                rest = rest.dropFirst(needed)
                guard carry.count == 8 else { return }
                carry.withUnsafeBytes { checksum.add($0) }
                carry.removeAll()
            }
            let whole = rest.count & ~7
            checksum.add(UnsafeRawBufferPointer(rebasing: rest.prefix(whole)))
            carry.append(contentsOf: rest.dropFirst(whole))
        }

        func finish() throws(StateDecodingError) {
            carry.withUnsafeBytes { checksum.add($0) }
            carry.removeAll()
            guard checksum.length == length, checksum.value == expected else {
                throw StateDecodingError("state file is corrupt (checksum mismatch)")
            }
        }
    }

    /// Deletes temporary files that commits of earlier processes left behind (a crash or a full
    /// disk mid-commit); call it while holding the directory's lock. Returns their names.
    @discardableResult
    func removeStaleTemporaryFiles() -> [String] {
        guard let stream = opendir(directory) else { return [] }
        defer { closedir(stream) }
        var removed: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.baseAddress!.assumingMemoryBound(to: CChar.self))
            }
            guard name.hasPrefix(".state.bin.tmp") || name.hasPrefix("." + StateJournal.name + ".tmp") else { continue }
            if unlink(directory + "/" + name) == 0 { removed.append(name) }
        }
        return removed
    }

    /// Replaces the committed state with what `encode` writes, atomically and durably
    /// (`AtomicFile`). The payload is written to the file as it is encoded, in pieces of about
    /// 1 MiB; the header's length and checksum, known only at the end, are written last. On
    /// failure the temporary file is removed (it would hold the free space of a full disk until
    /// the next try) and the old state stays as it was. A state directory removed while the
    /// daemon runs is made again.
    /// Returns the payload's checksum and length, which the state journal records as the state
    /// it follows.
    @discardableResult
    func commit(_ encode: (inout StateWriter) -> Void) throws(StateError) -> (checksum: UInt64, length: UInt64) {
        var written: (checksum: UInt64, length: UInt64) = (0, 0)
        do {
            try AtomicFile.write(
                directory: directory, name: "state.bin", mode: 0o640,
                remakeDirectory: { _ = mkdir(directory, 0o750) }
            ) { fd, temporary in
                let sink = FileSink(fd: fd)
                // Room for the header now; its length and checksum are filled in at the end.
                sink.failure = (Self.magic + [UInt8](repeating: 0, count: Self.headerSize - Self.magic.count))
                    .withUnsafeBytes { Syscall.writeAll(fd, $0) }
                var writer = StateWriter(streamingTo: sink)
                encode(&writer)
                writer.finish()
                if let error = sink.failure { throw error }
                var header = StateWriter(capacity: 20)
                header.write(Self.version)
                header.write(sink.checksum.length)
                header.write(sink.checksum.value)
                written = (sink.checksum.value, sink.checksum.length)
                if let error = header.bytes.withUnsafeBytes({ Syscall.pwriteAll(fd, $0, at: UInt64(Self.magic.count)) })
                {
                    throw error
                }
            }
        } catch {
            let code = (error.cause as? Errno)?.code ?? error.errno.code
            throw failure("cannot \(error.step.rawValue) \(error.path)", errno: code)
        }
        return written
    }

    /// The payload checksum and length in the committed file's header, or nil when there is no
    /// readable header (`load` says why).
    func committedHeader() -> (checksum: UInt64, length: UInt64)? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var header = [UInt8](repeating: 0, count: Self.headerSize)
        guard case .success(true) = header.withUnsafeMutableBytes({ Syscall.preadFully(fd, into: $0, at: 0) }),
            Array(header[..<Self.magic.count]) == Self.magic
        else { return nil }
        var reader = StateReader(Array(header[(Self.magic.count + 4)...]))
        guard let length = try? reader.read(UInt64.self), let checksum = try? reader.read(UInt64.self) else {
            return nil
        }
        return (checksum, length)
    }

    /// The temporary file a commit streams its payload into, checksumming it on the way.
    private final class FileSink: StateSink {
        let fd: Int32
        /// The first write that failed; nothing more is written after it.
        var failure: Errno?
        var checksum = StateChecksum.Running()

        init(fd: Int32) { self.fd = fd }

        func accept(_ bytes: UnsafeRawBufferPointer) {
            checksum.add(bytes)
            if failure == nil { failure = Syscall.writeAll(fd, bytes) }
        }
    }

    private func failure(_ what: String, errno code: Int32 = errno) -> StateError {
        StateError(
            code: .ioFailed, path: path,
            message: "\(what): \(String(cString: strerror(code))); \(Self.advice(forErrno: code))")
    }

    /// What to do about a failed commit, by its cause.
    static func advice(forErrno code: Int32) -> String {
        switch code {
        case ENOSPC, EDQUOT:
            return
                "free space on the file system that holds state.directory; tokentally keeps counting and commits again at the next interval (after a crash, lines since the last commit are read again, never lost or doubled)"
        case EACCES, EPERM:
            return "make state.directory writable by the user tokentally runs as"
        case EROFS:
            return "the file system is read-only; configure a state.directory on a writable one"
        default:
            return "check the file system that holds state.directory; commits are retried at the next interval"
        }
    }
}
