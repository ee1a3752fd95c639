#if canImport(Glibc)
    import Glibc
#endif

/// A failed system call's `errno`, with its text.
public struct Errno: Error, Sendable, Equatable, CustomStringConvertible {
    public var code: Int32

    public init(_ code: Int32) { self.code = code }

    /// The calling thread's `errno` now.
    public static var current: Errno { Errno(errno) }

    public var description: String { String(cString: strerror(code)) }
}

/// The system calls tokentally makes on files, each in one place: retried when a signal
/// interrupts them (`EINTR`), short transfers completed, and failures returned as `Errno` values
/// rather than left in a global.
public enum Syscall {
    /// `read(2)` into `buffer`: the bytes read, 0 at the end.
    @inline(__always)
    public static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) -> Result<Int, Errno> {
        while true {
            let n = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if n >= 0 { return .success(n) }
            if errno != EINTR { return .failure(.current) }
        }
    }

    /// `pread(2)` at `offset`: the bytes read, 0 at the end.
    static func pread(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) -> Result<
        Int, Errno
    > {
        while true {
            let n = Glibc.pread(fd, buffer.baseAddress, buffer.count, off_t(offset))
            if n >= 0 { return .success(n) }
            if errno != EINTR { return .failure(.current) }
        }
    }

    /// Writes all of `bytes` (`write(2)` until done); nil on success.
    public static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Errno? {
        var written = 0
        while written < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + written, bytes.count - written)
            if n < 0 {
                if errno == EINTR { continue }
                return .current
            }
            written += n
        }
        return nil
    }

    /// Reads exactly `buffer.count` bytes at `offset` (`pread(2)` until done): true when it
    /// could, false at the end of the file first, or the error.
    public static func preadFully(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64)
        -> Result<Bool, Errno>
    {
        var done = 0
        while done < buffer.count {
            let n = Glibc.pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
            if n < 0 {
                if errno == EINTR { continue }
                return .failure(.current)
            }
            if n == 0 { return .success(false) }
            done += n
        }
        return .success(true)
    }

    /// Writes all of `bytes` at `offset` (`pwrite(2)` until done); nil on success.
    public static func pwriteAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: UInt64) -> Errno? {
        var written = 0
        while written < bytes.count {
            let n = Glibc.pwrite(
                fd, bytes.baseAddress! + written, bytes.count - written, off_t(offset) + off_t(written))
            if n < 0 {
                if errno == EINTR { continue }
                return .current
            }
            written += n
        }
        return nil
    }

    /// `fsync(2)`; nil on success.
    static func fsync(_ fd: Int32) -> Errno? {
        while Glibc.fsync(fd) != 0 {
            if errno != EINTR { return .current }
        }
        return nil
    }

    /// Flushes a directory, so that a rename or an unlink in it survives a crash; nil on success.
    public static func fsyncDirectory(_ path: String) -> Errno? {
        let fd = Glibc.open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return .current }
        defer { Glibc.close(fd) }
        return fsync(fd)
    }

    /// `open(2)`: the descriptor, or why not.
    public static func open(_ path: String, _ flags: Int32, mode: mode_t = 0) -> Result<Int32, Errno> {
        while true {
            let fd = Glibc.open(path, flags, mode)
            if fd >= 0 { return .success(fd) }
            if errno != EINTR { return .failure(.current) }
        }
    }
}

/// One file written so that readers and a crash see either the old content or the new, never a
/// part: the content goes to `.<name>.tmp-<pid>` next to the target, which is flushed, given its
/// mode, renamed over the target, and the directory flushed. A failure removes the temporary
/// file (on a full disk it would hold the space until the next try) and leaves the target as
/// it was. The one such path, for the daemon's state and for the snapshot files.
public enum AtomicFile {
    /// The step that failed.
    public enum Step: String, Sendable {
        case createTemporary = "create"
        case write
        case setMode = "set the mode of"
        case sync = "flush"
        case rename
        case syncDirectory = "flush the directory of"
    }

    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var step: Step
        /// The file the step worked on (the temporary file, or the directory).
        public var path: String
        public var errno: Errno
        /// An error thrown by the content writer instead, if that is what failed.
        public var cause: (any Error)?

        public var description: String {
            if let cause { return "\(cause)" }
            return "cannot \(step.rawValue) \(path): \(errno)"
        }
    }

    /// The temporary name of `name` written by this process.
    static func temporaryName(for name: String) -> String { "." + name + ".tmp-\(getpid())" }

    /// Writes `directory/name`. `content` writes the bytes to the temporary file's descriptor
    /// (with `Syscall.writeAll` or `pwriteAll`); an error it throws aborts the write. When the
    /// directory is missing (removed while the daemon ran), `remakeDirectory` is called once and
    /// the write tried again.
    public static func write(
        directory: String, name: String, mode: mode_t, remakeDirectory: () throws -> Void = {},
        content: (_ descriptor: Int32, _ temporaryPath: String) throws -> Void
    ) throws(Failure) {
        let target = directory + "/" + name
        let temporary = directory + "/" + temporaryName(for: name)
        let flags = O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW
        var opened = Syscall.open(temporary, flags, mode: 0o600)
        if case .failure(let error) = opened, error.code == ENOENT {
            do { try remakeDirectory() } catch {
                throw Failure(step: .createTemporary, path: temporary, errno: Errno(ENOENT), cause: error)
            }
            opened = Syscall.open(temporary, flags, mode: 0o600)
        }
        let fd: Int32
        switch opened {
        case .success(let descriptor): fd = descriptor
        case .failure(let error): throw Failure(step: .createTemporary, path: temporary, errno: error)
        }
        var closed = false
        func fail(_ step: Step, _ error: Errno, cause: (any Error)? = nil) -> Failure {
            if !closed { Glibc.close(fd) }
            closed = true
            unlink(temporary)
            return Failure(step: step, path: temporary, errno: error, cause: cause)
        }
        do {
            try content(fd, temporary)
        } catch {
            throw fail(.write, Errno(EIO), cause: error)
        }
        // The mode is set before the flush, so that it is as durable as the content.
        if fchmod(fd, mode) != 0 { throw fail(.setMode, .current) }
        if let error = Syscall.fsync(fd) { throw fail(.sync, error) }
        closed = true
        if Glibc.close(fd) != 0 { throw fail(.write, .current) }
        if rename(temporary, target) != 0 { throw fail(.rename, .current) }
        // Until the directory is flushed the rename may not survive a power cut: a failure here
        // is a failure of the write (the next one tries again).
        if let error = Syscall.fsyncDirectory(directory) {
            throw Failure(step: .syncDirectory, path: directory, errno: error)
        }
    }
}
