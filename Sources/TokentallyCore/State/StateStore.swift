#if canImport(Glibc)
import Glibc
#endif

/// Why the daemon's state could not be loaded or committed.
public struct StateError: Error, CustomStringConvertible, Sendable {
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
public struct StateStore: Sendable {
    public static let magic: [UInt8] = Array("TTSTATE\0".utf8)
    /// Bumped whenever the payload layout changes; other versions are refused, not guessed at.
    public static let version: UInt32 = 1

    public let directory: String
    public var path: String { directory + "/state.bin" }

    public init(directory: String) throws(StateError) {
        self.directory = directory
        var info = stat()
        if stat(directory, &info) != 0 {
            guard mkdir(directory, 0o750) == 0 || errno == EEXIST else {
                throw StateError(
                    code: .ioFailed, path: directory,
                    message: "cannot create the state directory: \(String(cString: strerror(errno))); create it or fix state.directory")
            }
        }
    }

    /// The committed payload, or nil when there is no state yet (a first start).
    public func load() throws(StateError) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw StateError(code: .ioFailed, path: path, message: "cannot open: \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw StateError(code: .ioFailed, path: path, message: "cannot read: \(String(cString: strerror(errno)))")
            }
            if n == 0 { break }
            bytes.append(contentsOf: chunk[..<n])
        }
        let header = Self.magic.count + 4 + 8 + 8
        guard bytes.count >= header, Array(bytes[..<Self.magic.count]) == Self.magic else {
            throw StateError(
                code: .corrupt, path: path, message: "not a tokentally state file (bad header); \(StateError.rebuildHint)")
        }
        var reader = StateReader(Array(bytes[Self.magic.count..<header]))
        let version = try? reader.read(UInt32.self)
        let length = (try? reader.read(UInt64.self)) ?? 0
        let checksum = (try? reader.read(UInt64.self)) ?? 0
        guard version == Self.version else {
            throw StateError(
                code: .unknownVersion, path: path,
                message: "state format version \(version ?? 0) is not the one this tokentally reads (\(Self.version)); \(StateError.rebuildHint)")
        }
        let payload = Array(bytes[header...])
        guard UInt64(payload.count) == length, StateChecksum.of(payload) == checksum else {
            throw StateError(
                code: .corrupt, path: path,
                message: "state file is corrupt (length or checksum mismatch); \(StateError.rebuildHint)")
        }
        return payload
    }

    /// Replaces the committed state with `payload`, atomically and durably.
    public func commit(_ payload: [UInt8]) throws(StateError) {
        var header = StateWriter(capacity: 28)
        header.write(Self.version)
        header.write(UInt64(payload.count))
        header.write(StateChecksum.of(payload))
        let temporary = directory + "/.state.bin.tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw failure("cannot create \(temporary)") }
        var ok = writeAll(fd, Self.magic) && writeAll(fd, header.bytes) && writeAll(fd, payload)
        ok = ok && fsync(fd) == 0
        close(fd)
        guard ok else { throw failure("cannot write \(temporary)") }
        guard rename(temporary, path) == 0 else { throw failure("cannot rename \(temporary) to \(path)") }
        let directoryFD = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryFD >= 0 {
            _ = fsync(directoryFD)
            close(directoryFD)
        }
    }

    private func failure(_ what: String) -> StateError {
        StateError(code: .ioFailed, path: path, message: "\(what): \(String(cString: strerror(errno)))")
    }

    private func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { raw in
            var written = 0
            while written < raw.count {
                let n = write(fd, raw.baseAddress! + written, raw.count - written)
                if n < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                written += n
            }
            return true
        }
    }
}
