#if canImport(Glibc)
    import Glibc
#endif
import TokentallySystem
import TokentallyReading
import TokentallyCounting
import TokentallyOutput
import TokentallyConfiguration

/// Sleeps until something happens in the watched directories, a wake-up is requested, or a
/// timeout passes. Uses inotify, so an idle daemon sleeps in `poll(2)` and uses no CPU.
///
/// inotify queues can overflow and some filesystems do not report every change, so callers
/// also rescan on a timer; events only make them react sooner.
///
/// `@unchecked Sendable`: `watch` and `wait` (the watches and the event buffer) belong to the
/// follow loop's thread; other threads only call `wake`, which writes a byte to a pipe.
final class DirectoryWatcher: @unchecked Sendable {
    /// Why `wait` returned.
    struct Wake: Sendable {
        /// Files were created, deleted or renamed (or the queue overflowed): rescan.
        var namesChanged = false
        /// Files were written to.
        var contentChanged = false
        /// `wake()` was called (shutdown or reload).
        var requested = false
    }

    private let inotify: Int32
    /// A self-pipe: `wake()` writes a byte to [1], `wait` polls [0].
    private let wakeDescriptor: Int32
    private let wakeWriter: Int32
    private var watches: [Int32: String] = [:]
    private var buffer = [UInt8](repeating: 0, count: 64 * 1024)

    public init() throws(FileReadError) {
        inotify = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard inotify >= 0 else { throw FileReadError.fromErrno(errno, path: "inotify", doing: "starting inotify") }
        var pipeEnds: [Int32] = [-1, -1]
        guard pipe(&pipeEnds) == 0 else {
            close(inotify)
            throw FileReadError.fromErrno(errno, path: "pipe", doing: "creating a wake-up pipe")
        }
        for end in pipeEnds {
            _ = fcntl(end, F_SETFL, fcntl(end, F_GETFL) | O_NONBLOCK)
            _ = fcntl(end, F_SETFD, FD_CLOEXEC)
        }
        wakeDescriptor = pipeEnds[0]
        wakeWriter = pipeEnds[1]
    }

    deinit {
        close(inotify)
        close(wakeDescriptor)
        close(wakeWriter)
    }

    /// Watches a directory for creates, deletes, renames and writes of the files in it.
    func watch(directory: String) throws(FileReadError) {
        guard !watches.values.contains(directory) else { return }
        let mask =
            UInt32(IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_MODIFY | IN_CLOSE_WRITE | IN_ATTRIB)
            | UInt32(IN_DELETE_SELF | IN_MOVE_SELF)
        let descriptor = inotify_add_watch(inotify, directory, mask)
        guard descriptor >= 0 else { throw FileReadError.fromErrno(errno, path: directory, doing: "watching it") }
        watches[descriptor] = directory
    }

    /// Makes a `wait` in progress (or the next one) return at once. Safe from any thread.
    func wake() {
        var one: UInt8 = 1
        _ = write(wakeWriter, &one, 1)
    }

    /// Sleeps up to `timeout` seconds (nil: no limit) for events; drains what arrived.
    func wait(timeout: Double?) -> Wake {
        var descriptors = [
            pollfd(fd: inotify, events: Int16(POLLIN), revents: 0),
            pollfd(fd: wakeDescriptor, events: Int16(POLLIN), revents: 0),
        ]
        let milliseconds = timeout.map { Int32(max(0, min($0 * 1000, 86_400_000)).rounded(.up)) } ?? -1
        var wakeUp = Wake()
        let ready = poll(&descriptors, 2, milliseconds)
        guard ready > 0 else { return wakeUp }
        if descriptors[1].revents != 0 {
            var drained = [UInt8](repeating: 0, count: 64)
            while read(wakeDescriptor, &drained, drained.count) > 0 {}
            wakeUp.requested = true
        }
        if descriptors[0].revents != 0 { drain(into: &wakeUp) }
        return wakeUp
    }

    private func drain(into wakeUp: inout Wake) {
        while true {
            let n = buffer.withUnsafeMutableBytes { read(inotify, $0.baseAddress, $0.count) }
            guard n > 0 else { return }
            var offset = 0
            buffer.withUnsafeBytes { raw in
                while offset + MemoryLayout<inotify_event>.size <= n {
                    let mask = raw.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self)
                    let nameLength = Int(raw.loadUnaligned(fromByteOffset: offset + 12, as: UInt32.self))
                    if mask & UInt32(IN_MODIFY | IN_CLOSE_WRITE) != 0 { wakeUp.contentChanged = true }
                    if mask & ~UInt32(IN_MODIFY | IN_CLOSE_WRITE) != 0 { wakeUp.namesChanged = true }
                    offset += MemoryLayout<inotify_event>.size + nameLength
                }
            }
        }
    }
}
