#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
import TokentallySystem

/// A stream of a log file's content bytes: a plain file, or the decompressed content of a
/// gzip file. Read from one task at a time.
public protocol ByteSource: AnyObject {
    /// Fills the front of `buffer` with the next bytes and returns how many; 0 means the end.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws(FileReadError) -> Int
    /// Damage found while reading (a gzip file cut short, corrupt data), or nil. Damage ends the
    /// stream early but is not an error: every complete line before it is still counted.
    var damage: Damage? { get }
}

/// What ended a stream before its file's end, as a value: a decision (is this gzip file still
/// being written?) looks at the case, never at the text.
public enum Damage: Sendable, Equatable, CustomStringConvertible {
    /// The data stops in the middle of a gzip member: a file cut short, or one still being
    /// written (logrotate compressing it).
    case cutShort(decompressedBytes: UInt64?)
    /// Data that cannot be read, and is skipped to the end of the file.
    case corrupt(detail: String)
    /// Bytes after the last gzip member that are not gzip data, ignored.
    case trailingData

    public var description: String {
        switch self {
        case .cutShort(let bytes?): "gzip data cut short after \(bytes) decompressed bytes"
        case .cutShort(nil): "gzip data cut short"
        case .corrupt(let detail): "corrupt gzip data (\(detail)); the rest of the file was skipped"
        case .trailingData: "trailing data after the last gzip member was ignored"
        }
    }
}

/// Makes a source of decompressed bytes from a source of gzip bytes. The core has no C imports;
/// the zlib-backed implementation lives in `TokentallyNative` and is passed in.
public typealias GunzipFactory = @Sendable (_ compressed: FileByteSource) throws(FileReadError) -> any ByteSource

/// Why a file could not be read.
public struct FileReadError: Error, CustomStringConvertible, Sendable {
    public enum Code: String, Sendable {
        case notFound = "not_found"
        case permissionDenied = "permission_denied"
        case isDirectory = "is_directory"
        case readFailed = "read_failed"
        case decompressorFailed = "decompressor_failed"
        /// The file was truncated (copytruncate) between two reads: the bytes of the read that
        /// found it were not handed out, and the file is to be read again from its new start.
        case truncated
    }

    public var code: Code
    public var path: String
    public var message: String
    /// The `errno` behind it, when there was one.
    public var errno: Int32?

    public init(code: Code, path: String, message: String, errno: Int32? = nil) {
        self.code = code
        self.path = path
        self.message = message
        self.errno = errno
    }

    public var description: String { "\(path): \(message)" }

    package static func fromErrno(_ err: Int32, path: String, doing action: String) -> FileReadError {
        let reason = String(cString: strerror(err))
        switch err {
        case ENOENT:
            return FileReadError(
                code: .notFound, path: path, message: "no such file; check the path (or the input glob) and try again",
                errno: err)
        case EACCES, EPERM:
            return FileReadError(
                code: .permissionDenied, path: path,
                message:
                    "permission denied while \(action); give the tokentally user read access (for example through the log files' group)",
                errno: err)
        case EISDIR:
            return FileReadError(code: .isDirectory, path: path, message: "is a directory", errno: err)
        default:
            return FileReadError(code: .readFailed, path: path, message: "\(action) failed: \(reason)", errno: err)
        }
    }
}

/// Plain bytes from a file descriptor, with bytes already peeked served first.
public final class FileByteSource: ByteSource {
    /// The path as given (`-` for standard input).
    public let path: String
    let descriptor: Int32
    private let ownsDescriptor: Bool
    @exclusivity(unchecked) private var peeked: [UInt8] = []
    @exclusivity(unchecked) private var peekedOffset = 0
    /// Bytes handed out so far (raw file bytes, before any decompression).
    @exclusivity(unchecked) public private(set) var bytesRead: UInt64 = 0

    public var damage: Damage? { nil }

    /// Opens `path` for reading; `-` means standard input.
    public init(path: String) throws(FileReadError) {
        self.path = path
        if path == "-" {
            self.descriptor = STDIN_FILENO
            self.ownsDescriptor = false
            return
        }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileReadError.fromErrno(errno, path: path, doing: "opening it") }
        var info = stat()
        if fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR {
            close(fd)
            throw FileReadError(code: .isDirectory, path: path, message: "is a directory")
        }
        self.descriptor = fd
        self.ownsDescriptor = true
    }

    deinit {
        if ownsDescriptor { close(descriptor) }
    }

    /// Device and inode of the open file (nil for a pipe).
    public var identity: (device: UInt64, inode: UInt64, size: UInt64)? {
        var info = stat()
        guard fstat(descriptor, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        return (UInt64(info.st_dev), UInt64(info.st_ino), UInt64(info.st_size))
    }

    /// File status of the open descriptor: size, link count and modification time (seconds).
    public func status() -> (size: UInt64, links: UInt64, modified: Int64)? {
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { return nil }
        return (UInt64(info.st_size), UInt64(info.st_nlink), Int64(info.st_mtim.tv_sec))
    }

    /// Moves the read position (plain files only); drops any peeked bytes.
    public func seek(to offset: UInt64) throws(FileReadError) {
        peeked = []
        peekedOffset = 0
        guard lseek(descriptor, off_t(offset), SEEK_SET) >= 0 else {
            throw FileReadError.fromErrno(errno, path: path, doing: "seeking in it")
        }
    }

    /// Reads up to `count` bytes at `offset` without moving the read position.
    public func bytes(at offset: UInt64, count: Int) -> [UInt8] {
        var result = [UInt8](repeating: 0, count: count)
        let n = result.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, count, off_t(offset)) }
        return n > 0 ? Array(result[..<n]) : []
    }

    /// Reads up to `count` bytes without consuming them: they are returned again by `read`.
    func peek(_ count: Int) throws(FileReadError) -> [UInt8] {
        let raw = UnsafeMutableRawBufferPointer.allocate(byteCount: count, alignment: 1)
        defer { raw.deallocate() }
        var filled = 0
        while filled < count {
            let n = try rawRead(into: UnsafeMutableRawBufferPointer(rebasing: raw[filled...]))
            if n == 0 { break }
            filled += n
        }
        let scratch = Array(raw[..<filled])
        peeked = Array(peeked[peekedOffset...]) + scratch
        peekedOffset = 0
        return scratch
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(FileReadError) -> Int {
        if peekedOffset < peeked.count {
            let n = min(buffer.count, peeked.count - peekedOffset)
            peeked.withUnsafeBytes { raw in
                buffer.baseAddress!.copyMemory(from: raw.baseAddress! + peekedOffset, byteCount: n)
            }
            peekedOffset += n
            if peekedOffset == peeked.count {
                peeked = []
                peekedOffset = 0
            }
            bytesRead += UInt64(n)
            return n
        }
        let n = try rawRead(into: buffer)
        bytesRead += UInt64(n)
        return n
    }

    private func rawRead(into buffer: UnsafeMutableRawBufferPointer) throws(FileReadError) -> Int {
        switch Syscall.read(descriptor, into: buffer) {
        case .success(let n): return n
        case .failure(let error): throw FileReadError.fromErrno(error.code, path: path, doing: "reading it")
        }
    }
}

/// Opens log files, telling gzip from plain by the first two bytes, never by the name.
public struct LogFileOpener: Sendable {
    private let gunzip: GunzipFactory

    public init(gunzip: @escaping GunzipFactory) {
        self.gunzip = gunzip
    }

    /// An opened file: its content stream and the raw file underneath.
    public struct OpenedFile {
        public var content: any ByteSource
        public var file: FileByteSource
        public var isGzip: Bool
    }

    /// Opens `path` (`-` for standard input) and returns its decompressed content.
    public func open(_ path: String) throws(FileReadError) -> OpenedFile {
        let file = try FileByteSource(path: path)
        let magic = try file.peek(2)
        if magic == [0x1F, 0x8B] {
            return OpenedFile(content: try gunzip(file), file: file, isGzip: true)
        }
        return OpenedFile(content: file, file: file, isGzip: false)
    }
}
