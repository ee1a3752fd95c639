#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
import TokentallySystem
import TokentallyReading

// MARK: - Sinks

/// Where the generator writes one file's bytes. A sink is owned by one holder and used from one
/// task; the generator opens one per file, writes the file's lines in order and closes it.
public protocol LogFileSink {
    /// Appends bytes to the file. The bytes are only borrowed for the call.
    mutating func write(_ bytes: UnsafeRawBufferPointer) throws
    /// Ends the current gzip member and starts another in the same file, so that the file holds
    /// concatenated members as `cat a.gz b.gz` makes. Plain sinks ignore it (the default).
    mutating func startNewMember() throws
    /// Writes out everything buffered and closes the file. Nothing may be written afterwards.
    mutating func close() throws
}

extension LogFileSink {
    /// Does nothing: a plain file has no members.
    public mutating func startNewMember() throws {}
}

/// A plain file written through a 1 MiB buffer with `open`/`write`, created or truncated on open.
///
/// Bytes reach the file when the buffer fills and on ``close()``; a sink dropped without `close`
/// loses what is buffered and leaks its descriptor. Not for copying: copies share the descriptor.
public struct PlainFileSink: LogFileSink {
    /// The file's path, for error messages.
    public let path: String
    private var descriptor: Int32
    private var buffer: [UInt8]
    private static let bufferCapacity = 1 << 20

    /// Creates (or truncates) the file at `path` with permission bits `mode`.
    public init(path: String, mode: UInt32 = 0o644) throws {
        self.path = path
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode_t(mode))
        guard fd >= 0 else {
            throw SampleLogError.system(.openFailed, path: path, doing: "creating the file", errno: errno)
        }
        descriptor = fd
        buffer = []
        buffer.reserveCapacity(Self.bufferCapacity)
    }

    /// Buffers `bytes`, writing the buffer out whenever it fills.
    public mutating func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard descriptor >= 0 else {
            throw SampleLogError(code: .writeFailed, path: path, message: "write after close")
        }
        if buffer.count + bytes.count > Self.bufferCapacity {
            try flush()
        }
        if bytes.count >= Self.bufferCapacity {
            // Larger than the whole buffer: copying it first would only cost time.
            try Self.writeAll(bytes, to: descriptor, path: path)
        } else if let base = bytes.baseAddress {
            buffer.append(
                contentsOf: UnsafeBufferPointer(start: base.assumingMemoryBound(to: UInt8.self), count: bytes.count))
        }
    }

    /// Writes out the buffer and closes the file; closing twice does nothing.
    public mutating func close() throws {
        guard descriptor >= 0 else { return }
        defer { descriptor = -1 }
        do {
            try flush()
        } catch {
            _ = closeDescriptor(descriptor)
            throw error
        }
        if closeDescriptor(descriptor) != 0 {
            throw SampleLogError.system(.closeFailed, path: path, doing: "closing the file", errno: errno)
        }
    }

    private mutating func flush() throws {
        guard !buffer.isEmpty else { return }
        try buffer.withUnsafeBytes { try Self.writeAll($0, to: descriptor, path: path) }
        buffer.removeAll(keepingCapacity: true)
    }

    private static func writeAll(_ bytes: UnsafeRawBufferPointer, to fd: Int32, path: String) throws {
        if let error = Syscall.writeAll(fd, bytes) {
            throw SampleLogError.system(.writeFailed, path: path, doing: "writing", errno: error.code)
        }
    }
}

// The sink's own `close()` and `write(_:)` hide the C functions inside its methods.
func closeDescriptor(_ fd: Int32) -> Int32 { close(fd) }
