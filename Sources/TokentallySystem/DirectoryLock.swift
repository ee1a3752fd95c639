#if canImport(Glibc)
    import Glibc
#endif

/// An exclusive lock on a directory, held for the life of the process: a `flock` on a lock file
/// inside it that also names the holder's process id.
///
/// Two daemons on one state directory would race their commits and delete each other's
/// temporary files; one of them counting another gateway's logs into the same state would
/// merge two hosts' counts. The second one to start is refused with one line naming the first.
/// The kernel drops the lock when the process ends, however it ends (a `kill -9` included), so
/// a lock file left behind by a crash never blocks a restart.
public final class DirectoryLock {
    public let directory: String
    public let path: String
    private let descriptor: Int32

    /// Why a directory could not be locked.
    public struct Failure: Error, CustomStringConvertible, Sendable {
        /// The process holding it, when it could be read from the lock file.
        var holder: pid_t?
        public var description: String
    }

    /// Takes the lock on `directory` (which must exist) through `directory/name`.
    /// - Parameter setting: the configuration key that names the directory, for the message.
    public init(directory: String, name: String, setting: String) throws(Failure) {
        self.directory = directory
        path = directory + "/" + name
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o640)
        guard fd >= 0 else {
            let code = errno
            throw Failure(
                holder: nil,
                description:
                    "\(setting) \(directory) is not writable: cannot create \(path): \(String(cString: strerror(code))); make it writable by the user tokentally runs as, or configure another \(setting)"
            )
        }
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            if code == EINTR { continue }
            let holder = Self.readHolder(fd)
            close(fd)
            guard code == EWOULDBLOCK else {
                throw Failure(
                    holder: nil,
                    description: "\(setting) \(directory): cannot lock \(path): \(String(cString: strerror(code)))")
            }
            let who = holder.map { "process \($0)" } ?? "another process"
            throw Failure(
                holder: holder,
                description:
                    "\(setting) \(directory) is in use by another tokentally (\(who) holds \(path)); stop it, or give this one its own \(setting)"
            )
        }
        // The lock file may be left from before, so opening it proves little: a new file must be
        // creatable for commits and snapshots (a read-only mount, a directory of another owner).
        let probe = directory + "/.probe-\(getpid())"
        let probeFD = open(probe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard probeFD >= 0 else {
            let code = errno
            close(fd)
            throw Failure(
                holder: nil,
                description:
                    "\(setting) \(directory) is not writable: cannot create a file in it: \(String(cString: strerror(code))); make it writable by the user tokentally runs as, or configure another \(setting)"
            )
        }
        close(probeFD)
        unlink(probe)
        descriptor = fd
        let text = Array("\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = text.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
    }

    deinit { close(descriptor) }

    private static func readHolder(_ fd: Int32) -> pid_t? {
        var buffer = [UInt8](repeating: 0, count: 32)
        let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { return nil }
        let text = String(decoding: buffer[..<n], as: UTF8.self).trimmingWhitespace
        return pid_t(text)
    }

    /// Whether the lock file is still the one this lock holds (a directory removed and made again
    /// while the daemon ran has a new, unlocked one).
    public var isStillInPlace: Bool {
        var held = stat()
        var current = stat()
        guard fstat(descriptor, &held) == 0, stat(path, &current) == 0 else { return false }
        return held.st_dev == current.st_dev && held.st_ino == current.st_ino
    }
}
