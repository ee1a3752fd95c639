import TokentallySystem
import TokentallyReading
import TokentallySamples
import CZlib

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A gzip file written with zlib's deflate (level 6 by default), created or truncated on open.
///
/// ``startNewMember()`` ends the current gzip member and starts another in the same file, so the
/// file holds concatenated members exactly as `cat a.gz b.gz` makes; `gzip -dc` and tokentally's
/// reader return the members' contents one after the other. Headers carry no name and no time, so
/// the same bytes in give the same file out.
///
/// The file is complete only after ``close()``; a sink dropped without `close` leaves a file cut
/// short. Copies share one stream: use a sink from one holder and one task.
public struct GzipFileSink: LogFileSink {
    private let stream: DeflateStream

    /// The file's path, for error messages.
    public var path: String { stream.path }

    /// Creates (or truncates) the gzip file at `path` with permission bits `mode`, compressing at
    /// `level` (1 fastest to 9 smallest).
    public init(path: String, level: Int32 = 6, mode: UInt32 = 0o644) throws {
        stream = try DeflateStream(path: path, level: level, mode: mode)
    }

    /// Compresses `bytes` into the current member.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        try stream.deflate(bytes)
    }

    /// Finishes the current member (its trailer holds the CRC and the length of what it holds)
    /// and starts a new one in the same file.
    public func startNewMember() throws {
        try stream.finishMember()
        try stream.reset()
    }

    /// Finishes the current member, writes out everything and closes the file; closing twice does
    /// nothing.
    public func close() throws {
        try stream.close()
    }

    /// Opens a `GzipFileSink` when `gzip` is true and a `PlainFileSink` otherwise: the `openSink`
    /// that `SampleLogGenerator.write(into:openSink:)` needs to write real files.
    public static func open(path: String, gzip: Bool) throws -> any LogFileSink {
        if gzip { return try GzipFileSink(path: path) }
        return try PlainFileSink(path: path)
    }
}

// The stream's own `close()` hides the C function inside its methods.
private func openDescriptor(_ path: String, _ flags: Int32, _ mode: mode_t) -> Int32 { open(path, flags, mode) }
private func closeDescriptor(_ fd: Int32) -> Int32 { close(fd) }

/// zlib's deflate state and the file it writes to. A class because zlib keeps a pointer back to
/// the `z_stream`, which therefore lives at one heap address for its whole life.
private final class DeflateStream {
    let path: String
    private let stream: UnsafeMutablePointer<z_stream>
    private var descriptor: Int32
    private let output: UnsafeMutableRawBufferPointer
    /// Compressed bytes waiting in `output`.
    private var pending = 0
    private var isOpen = true

    init(path: String, level: Int32, mode: UInt32) throws {
        self.path = path
        let fd = openDescriptor(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode_t(mode))
        guard fd >= 0 else {
            throw SampleLogError.system(.openFailed, path: path, doing: "creating the file", errno: errno)
        }
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        // 15 + 16: a 32 KiB window, and a gzip header and trailer instead of zlib's.
        let status = CZlib_deflateInit2(stream, level, 15 + 16)
        guard status == Z_OK else {
            stream.deallocate()
            _ = closeDescriptor(fd)
            throw SampleLogError(
                code: .openFailed, path: path, message: "zlib could not start compressing (code \(status))")
        }
        descriptor = fd
        output = .allocate(byteCount: 256 * 1024, alignment: 16)
    }

    deinit {
        deflateEnd(stream)
        stream.deallocate()
        output.deallocate()
        if descriptor >= 0 { _ = closeDescriptor(descriptor) }
    }

    func deflate(_ bytes: UnsafeRawBufferPointer) throws {
        guard isOpen else { throw SampleLogError(code: .writeFailed, path: path, message: "write after close") }
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        var offset = 0
        while offset < bytes.count {
            // avail_in is 32 bits wide: hand over very large buffers in pieces.
            let piece = min(bytes.count - offset, Int(UInt32.max))
            stream.pointee.next_in = UnsafeMutablePointer(
                mutating: (base + offset).assumingMemoryBound(to: Bytef.self))
            stream.pointee.avail_in = UInt32(piece)
            while stream.pointee.avail_in > 0 {
                try run(Z_NO_FLUSH)
            }
            offset += piece
        }
    }

    func finishMember() throws {
        guard isOpen else { throw SampleLogError(code: .writeFailed, path: path, message: "write after close") }
        stream.pointee.next_in = nil
        stream.pointee.avail_in = 0
        while try run(Z_FINISH) != Z_STREAM_END {}
    }

    func reset() throws {
        // The reset keeps level and window and writes a fresh gzip header with the next bytes.
        let status = deflateReset(stream)
        guard status == Z_OK else {
            throw SampleLogError(
                code: .writeFailed, path: path, message: "zlib could not start a new member (code \(status))")
        }
    }

    func close() throws {
        guard isOpen else { return }
        isOpen = false
        let fd = descriptor
        defer { descriptor = -1 }
        do {
            while try run(Z_FINISH) != Z_STREAM_END {}
            try writeOut(to: fd)
        } catch {
            _ = closeDescriptor(fd)
            throw error
        }
        if closeDescriptor(fd) != 0 {
            throw SampleLogError.system(.closeFailed, path: path, doing: "closing the file", errno: errno)
        }
    }

    /// One `deflate` call into the free part of the output buffer; writes the buffer out when full.
    @discardableResult
    private func run(_ flush: Int32) throws -> Int32 {
        if pending == output.count { try writeOut(to: descriptor) }
        stream.pointee.next_out = (output.baseAddress! + pending).assumingMemoryBound(to: Bytef.self)
        stream.pointee.avail_out = UInt32(output.count - pending)
        let status = CZlib.deflate(stream, flush)
        pending = output.count - Int(stream.pointee.avail_out)
        // Z_BUF_ERROR only means no progress was possible this call: the loop goes on after the
        // buffer is written out.
        guard status == Z_OK || status == Z_STREAM_END || status == Z_BUF_ERROR else {
            throw SampleLogError(code: .writeFailed, path: path, message: "zlib failed to compress (code \(status))")
        }
        return status
    }

    private func writeOut(to fd: Int32) throws {
        if let error = Syscall.writeAll(fd, UnsafeRawBufferPointer(start: output.baseAddress, count: pending)) {
            throw SampleLogError.system(.writeFailed, path: path, doing: "writing", errno: error.code)
        }
        pending = 0
    }
}
