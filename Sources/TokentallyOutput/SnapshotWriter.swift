#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
import TokentallySystem
import TokentallyReading
import TokentallyCounting

/// A snapshot file operation that failed: which one, on which path, and the system's reason.
///
/// Its ``description`` is one line for a person, saying what failed and what to do, e.g.
/// `could not create snapshot directory /var/lib/tokentally/snapshots: Permission denied (errno 13);
/// make it writable by the user tokentally runs as, or configure another snapshot.directory`.
struct SnapshotError: Error, CustomStringConvertible, Sendable, Hashable {
    /// Which step failed.
    public enum Code: String, Sendable, Hashable, CaseIterable {
        /// The snapshot directory or a period folder in it could not be made.
        case createDirectory
        /// A path that should be a directory is something else.
        case notADirectory
        /// The temporary file next to the target could not be created.
        case createTemporaryFile
        /// Writing the temporary file failed (a full disk, a quota, an I/O error).
        case writeFile
        /// Setting the file mode on the temporary file failed.
        case setFileMode
        /// Flushing a file or a directory to the disk failed.
        case syncFile
        /// Renaming the temporary file over the target failed.
        case replaceFile
        /// A period folder could not be listed.
        case listDirectory
        /// A bucket file that fell out of retention could not be deleted.
        case removeFile
        /// A bucket label that is not a day, week or month label of its period, which would make an
        /// unsafe or unlisted file name.
        case invalidBucketLabel
    }

    /// Which step failed.
    public var code: Code
    /// The file or directory the step was working on.
    public var path: String
    /// What was being done, for a person (`could not write ...`), without the system's reason.
    public var message: String
    /// The `errno` value that the system call set, if one failed.
    var errnoCode: Int32?

    /// Makes an error; ``description`` composes the one line from these parts.
    public init(code: Code, path: String, message: String, errnoCode: Int32? = nil) {
        self.code = code
        self.path = path
        self.message = message
        self.errnoCode = errnoCode
    }

    /// One line: what failed, the system's reason, and what to do.
    public var description: String {
        var line = message
        if let errnoCode {
            line += ": \(String(cString: strerror(errnoCode))) (errno \(errnoCode))"
        }
        return line + "; " + advice
    }

    private var advice: String {
        switch (code, errnoCode) {
        case (.invalidBucketLabel, _):
            return "this is a bug in tokentally; please report it"
        case (.notADirectory, _):
            return "move the file away or configure another snapshot.directory"
        case (_, EACCES?), (_, EPERM?):
            return "make it writable by the user tokentally runs as, or configure another snapshot.directory"
        case (_, ENOSPC?), (_, EDQUOT?):
            return "free space on that file system; the daemon writes the snapshot again at the next interval"
        case (_, EROFS?):
            return "the file system is read-only; configure a snapshot.directory on a writable one"
        case (.createDirectory, _):
            return "check that the path's parent exists and is writable, or configure another snapshot.directory"
        default:
            return "check the file system that holds the snapshot directory (see the kernel log)"
        }
    }
}

/// Writes snapshot files into a snapshot directory, each one replaced atomically and durably.
///
/// The layout is `index.json` plus `day/`, `week/` and `month/` holding one `<label>.json` per
/// bucket. A file is written to `.<name>.tmp-<pid>` in its own directory, flushed with `fsync`,
/// given the configured mode, renamed over the target, and then the directory is flushed: a reader
/// sees the old file or the new one, never a partial one, and after a crash the disk holds one of
/// the two. Foundation's file writes are not used because they do not `fsync`.
///
/// Two writers must not write the same file at the same time (they would share the temporary
/// name); the daemon writes snapshots from one task.
public struct SnapshotWriter: Sendable {
    /// The snapshot directory.
    public let directory: String
    /// The permission bits given to every file written (0640 by default).
    public let fileMode: UInt16
    /// The bucket file layout written.
    public let schema: SnapshotEncoder.SchemaVersion

    /// Makes a writer for `directory`, creating it (with its parents) and its `day/`, `week/` and
    /// `month/` folders if they are missing. Directories it creates get the file mode plus the
    /// search bit wherever the mode can read (0640 gives 0750).
    ///
    /// - Throws: ``SnapshotError`` when a directory cannot be created or a path is not a directory.
    public init(directory: String, fileMode: UInt16 = 0o640, schema: SnapshotEncoder.SchemaVersion = .v2) throws {
        self.directory = directory.count > 1 && directory.hasSuffix("/") ? String(directory.dropLast()) : directory
        self.fileMode = fileMode & 0o7777
        self.schema = schema
        try createDirectories()
    }

    /// The lock file a writing process holds in the snapshot directory (`DirectoryLock`); a
    /// dotfile, which readers skip.
    public static let lockFileName = ".lock"

    /// Whether the bucket file of `label` exists now.
    func bucketExists(period: Period, label: String) -> Bool {
        isRegularFile(join(Self.relativePath(period: period, label: label)))
    }

    /// The file a bucket is written to, relative to ``directory``: `day/2026-11-28.json`.
    static func relativePath(period: Period, label: String) -> String {
        "\(period.rawValue)/\(label).json"
    }

    /// Writes a bucket's file, `<period>/<label>.json`, replacing the old one atomically.
    ///
    /// - Throws: ``SnapshotError``. A failure before the rename leaves the old file, if any, as it
    ///   was and removes the temporary file; only flushing the folder can fail after it.
    public func write(_ report: BucketReport) throws {
        guard Self.isBucketLabel(report.label, of: report.period) else {
            throw SnapshotError(
                code: .invalidBucketLabel, path: join(report.period.rawValue),
                message: "refusing to write a \(report.period.rawValue) bucket labelled \"\(report.label)\"")
        }
        // Streamed in pieces of about 1 MiB: a bucket of many series never sits whole in memory.
        try writeFile(folder: join(report.period.rawValue), name: report.label + ".json") { descriptor, path in
            var json = JSONWriter(capacity: Self.drainThreshold + 64 * 1024)
            try SnapshotEncoder.encode(report, into: &json, schema: schema, drainingAt: Self.drainThreshold) { json in
                try json.drain { try writeAll($0, to: descriptor, path: path) }
            }
            try json.drain { try writeAll($0, to: descriptor, path: path) }
        }
    }

    /// How many encoded bytes are buffered before they are written out.
    static let drainThreshold = 1 << 20

    /// Writes `index.json`, replacing the old one atomically. Write it after the bucket files it
    /// lists, so that every bucket it names exists.
    ///
    /// - Throws: ``SnapshotError``. A failure before the rename leaves the old file, if any, as it
    ///   was and removes the temporary file; only flushing the folder can fail after it.
    public func write(_ index: IndexReport) throws {
        let bytes = SnapshotEncoder.encode(index)
        try writeFile(folder: directory, name: "index.json") { descriptor, path in
            try bytes.withUnsafeBytes { try writeAll($0, to: descriptor, path: path) }
        }
    }

    /// Deletes the bucket files whose labels are not in `retained` for their period (a period
    /// missing from `retained` keeps none), and returns their paths relative to ``directory``
    /// (`day/2026-09-01.json`), sorted. Files whose names are not `<label>.json` with a label of the
    /// folder's period, and anything that is not a regular file, are left alone.
    ///
    /// - Throws: ``SnapshotError`` when a folder cannot be listed or a file cannot be deleted; files
    ///   deleted before that stay deleted.
    func removeBuckets(except retained: [Period: Set<String>]) throws -> [String] {
        var removed: [String] = []
        for period in Period.allCases {
            let folder = join(period.rawValue)
            let keep = retained[period] ?? []
            var removedHere = false
            for name in try listFolder(folder) {
                guard name.hasSuffix(".json") else { continue }
                let label = String(name.dropLast(5))
                guard Self.isBucketLabel(label, of: period), !keep.contains(label) else { continue }
                let path = folder + "/" + name
                guard isRegularFile(path) else { continue }
                if unlink(path) != 0 {
                    let code = errno
                    if code == ENOENT { continue }
                    throw SnapshotError(
                        code: .removeFile, path: path, message: "could not delete expired bucket file \(path)",
                        errnoCode: code)
                }
                removed.append(Self.relativePath(period: period, label: label))
                removedHere = true
            }
            if removedHere { try syncDirectory(folder) }
        }
        return removed.sorted()
    }

    /// Deletes temporary files (`.<name>.tmp-<pid>`) that a crashed writer of another process left
    /// behind, and returns their paths relative to ``directory``. Call it at start-up, before any
    /// other writer could be writing into the directory.
    ///
    /// - Throws: ``SnapshotError`` when a folder cannot be listed or a file cannot be deleted.
    public func removeStaleTemporaryFiles() throws -> [String] {
        let ownPID = String(getpid())
        var removed: [String] = []
        let folders = [(directory, "")] + Period.allCases.map { (join($0.rawValue), $0.rawValue + "/") }
        for (folder, prefix) in folders {
            for name in try listFolder(folder) {
                guard let pid = Self.temporaryFilePID(name), pid != ownPID[...] else { continue }
                let path = folder + "/" + name
                guard isRegularFile(path) else { continue }
                if unlink(path) != 0 {
                    let code = errno
                    if code == ENOENT { continue }
                    throw SnapshotError(
                        code: .removeFile, path: path, message: "could not delete stale temporary file \(path)",
                        errnoCode: code)
                }
                removed.append(prefix + name)
            }
        }
        return removed.sorted()
    }

    /// The process id in a temporary file's name `.<name>.tmp-<pid>`, or nil for another name.
    static func temporaryFilePID(_ name: String) -> Substring? {
        guard name.hasPrefix("."), let dash = name.lastIndex(of: "-") else { return nil }
        let head = name[..<dash]  // `.<name>.tmp`, with a name of at least one character
        let pid = name[name.index(after: dash)...]
        guard head.count > 5, head.hasSuffix(".tmp"), !pid.isEmpty, pid.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 })
        else { return nil }
        return pid
    }

    /// Whether `label` is a bucket label of `period`: `2026-11-28`, `2026-W48` or `2026-11`.
    /// Checks the shape and ranges (month 01–12, day 01–31, week 01–53), not the calendar.
    static func isBucketLabel(_ label: String, of period: Period) -> Bool {
        let bytes = Array(label.utf8)
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for index in range {
                guard bytes[index] >= 0x30 && bytes[index] <= 0x39 else { return nil }
                value = value * 10 + Int(bytes[index] - 0x30)
            }
            return value
        }
        switch period {
        case .day:
            guard bytes.count == 10, bytes[4] == 0x2D, bytes[7] == 0x2D, number(0..<4) != nil,
                let month = number(5..<7), let day = number(8..<10)
            else { return false }
            return (1...12).contains(month) && (1...31).contains(day)
        case .week:
            guard bytes.count == 8, bytes[4] == 0x2D, bytes[5] == 0x57, number(0..<4) != nil,
                let week = number(6..<8)
            else { return false }
            return (1...53).contains(week)
        case .month:
            guard bytes.count == 7, bytes[4] == 0x2D, number(0..<4) != nil, let month = number(5..<7) else {
                return false
            }
            return (1...12).contains(month)
        }
    }

    // MARK: Files

    private func join(_ name: String) -> String {
        directory == "/" ? "/" + name : directory + "/" + name
    }

    private var directoryMode: mode_t {
        // Wherever the file mode lets someone read, let them search the directory too.
        let mode = mode_t(fileMode) & 0o777
        return mode | 0o700 | ((mode & 0o040) >> 2) | ((mode & 0o004) >> 2)
    }

    private func createDirectories() throws {
        try createDirectory(directory, withParents: true)
        for period in Period.allCases {
            try createDirectory(join(period.rawValue), withParents: false)
        }
    }

    private func createDirectory(_ path: String, withParents: Bool) throws {
        var status = stat()
        if stat(path, &status) == 0 {
            guard status.st_mode & S_IFMT == S_IFDIR else {
                throw SnapshotError(
                    code: .notADirectory, path: path,
                    message: "snapshot directory \(path) exists but is not a directory")
            }
            return
        }
        if withParents, let slash = path.lastIndex(of: "/"), slash != path.startIndex {
            try createDirectory(String(path[..<slash]), withParents: true)
        }
        if mkdir(path, directoryMode) != 0 {
            let code = errno
            if code == EEXIST { return try createDirectory(path, withParents: false) }
            throw SnapshotError(
                code: .createDirectory, path: path, message: "could not create snapshot directory \(path)",
                errnoCode: code)
        }
        // mkdir applies the umask; the mode should be what was configured.
        _ = chmod(path, directoryMode)
    }

    /// Writes `folder/name` through a temporary file (`AtomicFile`, as the type's documentation
    /// says); `writeContent` writes the bytes to the temporary file's descriptor (its path is for
    /// errors).
    private func writeFile(
        folder: String, name: String, _ writeContent: (_ descriptor: Int32, _ path: String) throws -> Void
    ) throws {
        do {
            try AtomicFile.write(
                directory: folder, name: name, mode: mode_t(fileMode),
                // Someone removed a folder while the daemon ran; make it again.
                remakeDirectory: { try createDirectories() }, content: writeContent)
        } catch {
            if let cause = error.cause as? SnapshotError { throw cause }
            let code: SnapshotError.Code =
                switch error.step {
                case .createTemporary: .createTemporaryFile
                case .write: .writeFile
                case .setMode: .setFileMode
                case .sync, .syncDirectory: .syncFile
                case .rename: .replaceFile
                }
            let message =
                switch error.step {
                case .createTemporary: "could not create temporary snapshot file \(error.path)"
                case .write: "could not write \(error.path)"
                case .setMode: "could not set mode \(String(fileMode, radix: 8)) on \(error.path)"
                case .sync: "could not flush \(error.path) to disk"
                case .syncDirectory: "could not flush directory \(error.path)"
                case .rename: "could not rename \(error.path) to \(folder + "/" + name)"
                }
            throw SnapshotError(code: code, path: error.path, message: message, errnoCode: error.errno.code)
        }
    }

    private func writeAll(_ buffer: UnsafeRawBufferPointer, to descriptor: Int32, path: String) throws {
        if let error = Syscall.writeAll(descriptor, buffer) {
            throw SnapshotError(code: .writeFile, path: path, message: "could not write \(path)", errnoCode: error.code)
        }
    }

    /// Flushes a directory, so that a rename or an unlink in it survives a crash.
    private func syncDirectory(_ path: String) throws {
        if let error = Syscall.fsyncDirectory(path) {
            throw SnapshotError(
                code: .syncFile, path: path, message: "could not flush directory \(path)", errnoCode: error.code)
        }
    }

    /// The names in a folder, without `.` and `..`.
    private func listFolder(_ path: String) throws -> [String] {
        guard let stream = opendir(path) else {
            let code = errno
            if code == ENOENT { return [] }
            throw SnapshotError(
                code: .listDirectory, path: path, message: "could not list snapshot folder \(path)", errnoCode: code)
        }
        defer { closedir(stream) }
        var names: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.baseAddress!.assumingMemoryBound(to: CChar.self))
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    private func isRegularFile(_ path: String) -> Bool {
        var status = stat()
        return lstat(path, &status) == 0 && status.st_mode & S_IFMT == S_IFREG
    }
}
