#if canImport(Glibc)
import Glibc
#endif
import Logging

/// Finds the files of the configured inputs, follows them through logrotate, and feeds their
/// lines to the ingestor, so that every line is counted exactly once.
///
/// How files are told apart:
/// - While a file is open it is known by device and inode, so renames (`access.log` →
///   `access.log.1`) change nothing, and bytes the gateway writes after the rename are still
///   read from the open descriptor, even after the file is unlinked.
/// - In the committed state, and for files not open, a file is known by the fingerprint of its
///   first decompressed bytes, so `access.log.1.gz` is the same file as the `access.log.1` it
///   was made from, and an inode reused by a new file inherits nothing.
/// - A finished file leaves a tombstone (its fingerprint), so its other copies are skipped.
///
/// Rotation modes: with `create` the renamed file is read to its end through the open
/// descriptor; a gzip copy of a file not finished is resumed at the same decompressed offset;
/// with `copytruncate` a shrink (or a changed first block) means truncation, and the unread tail
/// is read from the copy, found by fingerprint. A gzip file is not read while its plain twin
/// exists (logrotate is still compressing it).
final class FileFollower {
    struct FileKey: Hashable {
        var device: UInt64
        var inode: UInt64
    }

    /// How long a rotated, unlinked file must stay unchanged before it is taken as finished
    /// (the gateway may write to it for a moment after the rename, until it reopens).
    static let unlinkedQuietSeconds: Int64 = 2
    /// The same for a rotated file still linked (delaycompress's `.1`, copytruncate's copies).
    /// Should the gateway write to it even later, the growth is noticed and read (see `scan`).
    static let rotatedQuietSeconds: Int64 = 10
    /// How long a gzip file that ends early is waited for before it is taken as damaged.
    static let incompleteGzipSeconds: Int64 = 60
    /// Tombstones and unread records not seen by a scan for this long are forgotten.
    static let forgetAfterSeconds: Int64 = 7 * 86_400

    private var inputs: [InputConfiguration]
    private let ingestor: LogIngestor
    private let opener: LogFileOpener
    private let logger: Logger
    private var maxLineBytes: Int
    private(set) var files: [FileKey: FollowedFile] = [:]
    /// Read order: oldest generation first, per input set.
    private var order: [FileKey] = []
    /// Records of files not open: tombstones of finished files, and unfinished ones whose file
    /// is not (or not yet) found, such as the copy of a truncated file.
    private(set) var ledger: [FileRecord] = []
    /// Files that could not be read, logged once each.
    private var reportedErrors: Set<String> = []

    init(inputs: [InputConfiguration], ingestor: LogIngestor, opener: LogFileOpener, logger: Logger, maxLineBytes: Int) {
        self.inputs = inputs
        self.ingestor = ingestor
        self.opener = opener
        self.logger = logger
        self.maxLineBytes = maxLineBytes
    }

    /// Applies reloaded inputs: open files of an input that is still configured (same glob)
    /// take its new format and redaction from their next line on; open files of an input that
    /// was removed are closed, their counted offsets kept in the ledger, so that adding the
    /// input back resumes them. New inputs are found by the next scan.
    func update(inputs newInputs: [InputConfiguration], maxLineBytes: Int, now: Int64) {
        self.maxLineBytes = maxLineBytes
        for (key, file) in files {
            if let input = newInputs.first(where: { $0.path == file.input.path }) {
                file.input = input
                file.progress.format = input.format
                file.progress.redaction = input.redactKeys
            } else {
                if file.offset > 0 { ledger.append(file.record(finished: false, now: now)) }
                logger.info("input removed; file closed", metadata: ["file": "\(file.path)", "offset": "\(file.offset)"])
                close(key)
            }
        }
        inputs = newInputs
    }

    /// Starts from committed records (all files closed).
    func restore(_ records: [FileRecord]) {
        ledger = records
    }

    /// The records to commit: open files at their counted offsets, plus the ledger.
    func records(now: Int64) -> [FileRecord] {
        var result = ledger
        for key in order {
            guard let file = files[key], file.offset > 0 else { continue }
            result.append(file.record(finished: false, now: now))
        }
        return result
    }

    // MARK: - Scanning

    /// Finds the inputs' files and opens those with lines to read. Cheap when nothing changed:
    /// a glob and a stat per file, and a read of the first block only of files not open.
    func scan(now: Int64) {
        checkOpenFilesForTruncation(now: now)
        var newOrder: [FileKey] = []
        var seenRecords = Set<Int>()
        var claimedRecords = Set<Int>()
        for input in inputs {
            for set in RotatedFileSet.group(FileGlob.expand(input.path)) {
                scan(
                    set: set, input: input, now: now, order: &newOrder, seenRecords: &seenRecords,
                    claimedRecords: &claimedRecords)
            }
        }
        // Open files no longer matched (deleted, or renamed out of the glob) are still read
        // through their descriptors until they are finished.
        for key in order where !newOrder.contains(key) && files[key] != nil { newOrder.append(key) }
        order = newOrder
        for index in seenRecords { ledger[index].lastSeen = now }
        // Records now owned by an open file leave the ledger.
        ledger = ledger.enumerated().filter { !claimedRecords.contains($0.offset) }.map(\.element)
        forgetOldRecords(now: now)
    }

    private struct Candidate {
        var path: String
        var name: RotatedFileName
        var prefix: [UInt8]
        var isGzip: Bool
        var key: FileKey
        var size: UInt64
        var modified: Int64
    }

    private func scan(
        set: RotatedFileSet, input: InputConfiguration, now: Int64, order newOrder: inout [FileKey],
        seenRecords: inout Set<Int>, claimedRecords: inout Set<Int>
    ) {
        var candidates: [Candidate] = []
        for path in set.paths {
            let name = RotatedFileName(String(path.split(separator: "/").last ?? Substring(path)))
            var info = stat()
            guard stat(path, &info) == 0 else { continue }
            let key = FileKey(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
            if let file = files[key] {
                if file.path != path {
                    file.path = path
                    file.progress.displayPath = path
                }
                file.isLive = name.generation == .live
                if !newOrder.contains(key) { newOrder.append(key) }
                continue
            }
            let leading: (bytes: [UInt8], isGzip: Bool)
            do {
                leading = try ContentFingerprint.leadingBytes(of: path, opener: opener)
            } catch {
                reportOnce(path, "cannot read \(path): \(error)")
                continue
            }
            candidates.append(
                Candidate(
                    path: path, name: name, prefix: leading.bytes, isGzip: leading.isGzip, key: key,
                    size: UInt64(info.st_size), modified: Int64(info.st_mtim.tv_sec)))
        }
        for candidate in candidates {
            if candidate.prefix.isEmpty {
                // An empty file has no identity yet; only the live one is worth holding open.
                if candidate.name.generation == .live, !candidate.isGzip {
                    open(candidate, input: input, resumeAt: nil, now: now, order: &newOrder)
                }
                continue
            }
            let matches: (ContentFingerprint) -> Bool = { fingerprint in
                candidate.prefix.withUnsafeBytes { fingerprint.matches(prefix: $0) }
            }
            // The same content already open under another inode: a copy (copytruncate's copy,
            // or a gzip being made of it). It is read through the open file.
            if files.values.contains(where: { matches($0.fingerprint) }) { continue }
            if let index = ledger.firstIndex(where: { matches($0.fingerprint) }) {
                seenRecords.insert(index)
                if claimedRecords.contains(index) { continue }
                var record = ledger[index]
                if record.finished {
                    // A finished plain file that grew afterwards (a gateway that kept writing to
                    // the rotated file) is resumed where it was finished; anything else is done.
                    guard !candidate.isGzip, candidate.size > record.offset else { continue }
                    record.finished = false
                }
                if candidate.isGzip,
                    candidates.contains(where: { !$0.isGzip && $0.prefix.withUnsafeBytes(record.fingerprint.matches) })
                {
                    continue  // logrotate is still compressing: read the plain twin instead
                }
                // A plain copy shorter than what was counted of it is still being written (the
                // copy of copytruncate): resume it once it has reached the counted offset.
                if !candidate.isGzip && candidate.size < record.offset { continue }
                if open(candidate, input: input, resumeAt: record, now: now, order: &newOrder) {
                    claimedRecords.insert(index)
                }
                continue
            }
            if candidate.isGzip,
                candidates.contains(where: { !$0.isGzip && $0.prefix == candidate.prefix })
            {
                continue
            }
            open(candidate, input: input, resumeAt: nil, now: now, order: &newOrder)
        }
    }

    /// Opens a candidate and positions it at the record's offset (or 0 for a new file).
    @discardableResult
    private func open(
        _ candidate: Candidate, input: InputConfiguration, resumeAt record: FileRecord?, now: Int64,
        order newOrder: inout [FileKey]
    ) -> Bool {
        do {
            let opened = try opener.open(candidate.path)
            guard let identity = opened.file.identity,
                FileKey(device: identity.device, inode: identity.inode) == candidate.key
            else { return false }  // replaced between the stat and the open: next scan
            let fingerprint = candidate.prefix.withUnsafeBytes { ContentFingerprint(prefix: $0) }
            let file = FollowedFile(
                file: opened.file, content: opened.content, isGzip: opened.isGzip, device: identity.device,
                inode: identity.inode, input: input, path: candidate.path, fingerprint: fingerprint,
                maxLineBytes: maxLineBytes, isLive: candidate.name.generation == .live, now: now)
            if let record, record.offset > 0 {
                try position(file, at: record)
            }
            file.lastSize = identity.size
            files[candidate.key] = file
            newOrder.append(candidate.key)
            logger.info(
                record == nil ? "following new file" : "resuming file",
                metadata: [
                    "file": "\(candidate.path)", "offset": "\(file.offset)", "gzip": "\(opened.isGzip)",
                    "fingerprint": "\(fingerprint)",
                ])
            return true
        } catch {
            reportOnce(candidate.path, "cannot open \(candidate.path): \(error)")
            return false
        }
    }

    /// Skips to a committed offset: a seek for a plain file, decompress-and-discard for gzip.
    private func position(_ file: FollowedFile, at record: FileRecord) throws {
        if file.isGzip {
            var remaining = record.offset
            let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 8)
            defer { scratch.deallocate() }
            while remaining > 0 {
                let want = Int(min(remaining, UInt64(scratch.count)))
                let n = try file.content.read(into: UnsafeMutableRawBufferPointer(rebasing: scratch[..<want]))
                if n == 0 { break }
                remaining -= UInt64(n)
            }
            file.reader.reset(toOffset: record.offset - remaining)
        } else {
            try file.file.seek(to: record.offset)
            file.reader.reset(toOffset: record.offset)
            if let expected = record.tail, file.tail() != expected {
                logger.warning(
                    "file content before the committed offset changed; resuming there anyway",
                    metadata: ["file": "\(file.path)", "offset": "\(record.offset)"])
            }
        }
    }

    /// copytruncate: a file that shrank below what was read, or whose first block changed, was
    /// truncated. What was not yet counted is in the copy, found later by fingerprint; the
    /// truncated file starts over as a new file.
    private func checkOpenFilesForTruncation(now: Int64) {
        // copytruncate truncates the live file only. A rotated copy that looks short is still
        // being copied by logrotate; it is never started over.
        for (key, file) in files where !file.isGzip && file.isLive {
            guard let status = file.file.status() else { continue }
            let readPosition = file.offset + UInt64(file.reader.pendingBytes)
            var truncated = file.truncationSeen || status.size < readPosition
            if !truncated, file.fingerprint.length > 0 {
                let prefix = file.file.bytes(at: 0, count: file.fingerprint.length)
                truncated = !prefix.withUnsafeBytes { file.fingerprint.matches(prefix: $0) }
            }
            if truncated { startOver(key, file, now: now) }
        }
    }

    /// The file was truncated: what was counted stays counted, the rest is read from the copy
    /// (found by the old fingerprint), and the file itself is read again from its new start.
    private func startOver(_ key: FileKey, _ file: FollowedFile, now: Int64) {
        if file.offset > 0 || file.reader.pendingBytes > 0 {
            ledger.append(file.record(finished: false, now: now))
        }
        logger.info(
            "file was truncated (copytruncate); its unread tail will be read from the copy",
            metadata: ["file": "\(file.path)", "offset": "\(file.offset)"])
        do {
            try file.file.seek(to: 0)
        } catch {
            reportOnce(file.path, "cannot rewind \(file.path): \(error)")
            close(key)
            return
        }
        file.reader.reset()
        file.fingerprint = ContentFingerprint(length: 0, hash: 0)
        file.truncationSeen = false
        file.lastSize = 0
    }

    // MARK: - Reading

    /// Reads what the open files have, oldest first, up to about `budget` bytes in all.
    /// Returns true when every file was read to its end.
    func read(budget: Int, now: Int64) throws -> Bool {
        var spent = 0
        var allAtEnd = true
        for key in order {
            guard let file = files[key] else { continue }
            if spent >= budget {
                allAtEnd = false
                break
            }
            let before = file.offset + UInt64(file.reader.pendingBytes)
            let atEnd = try ingestor.consume(
                file.content, reader: &file.reader, progress: &file.progress, budget: budget - spent)
            if file.truncationSeen {
                // Nothing read after the truncation was counted; the rest comes from the copy.
                startOver(key, file, now: now)
                allAtEnd = false
                continue
            }
            let after = file.offset + UInt64(file.reader.pendingBytes)
            spent += Int(after - before)
            file.atEnd = atEnd
            if !atEnd { allAtEnd = false }
            if after > before { file.lastGrowth = now }
            extendFingerprint(file)
            if atEnd { finishIfDone(key, file, now: now) }
        }
        return allAtEnd
    }

    /// A short file's fingerprint grows with it, up to its full length.
    private func extendFingerprint(_ file: FollowedFile) {
        guard !file.fingerprint.isFull, !file.isGzip else { return }
        let available = file.offset + UInt64(file.reader.pendingBytes)
        guard available > UInt64(file.fingerprint.length) else { return }
        let prefix = file.file.bytes(at: 0, count: Int(min(available, UInt64(ContentFingerprint.fullLength))))
        // The bytes already fingerprinted must still be there: if not, the file was truncated
        // since it was read, and the longer fingerprint would describe other content.
        guard file.fingerprint.length == 0 || prefix.withUnsafeBytes({ file.fingerprint.matches(prefix: $0) }) else {
            if file.isLive { file.truncationSeen = true }
            return
        }
        file.fingerprint = prefix.withUnsafeBytes { ContentFingerprint(prefix: $0) }
    }

    private func finishIfDone(_ key: FileKey, _ file: FollowedFile, now: Int64) {
        if file.isGzip {
            let damage = file.content.damage
            if let damage, damage.contains("cut short"),
                let status = file.file.status(), now - status.modified < Self.incompleteGzipSeconds
            {
                // Probably still being written: close it and resume from the counted offset later.
                ledger.append(file.record(finished: false, now: now))
                close(key)
                return
            }
            finish(key, file, now: now, damage: damage)
            return
        }
        guard !file.isLive, let status = file.file.status() else { return }
        if status.size != file.lastSize {
            file.lastSize = status.size
            file.lastGrowth = now
        }
        // Rotated, read to its end and quiet: done.
        let quiet = status.links == 0 ? Self.unlinkedQuietSeconds : Self.rotatedQuietSeconds
        if now - file.lastGrowth >= quiet {
            finish(key, file, now: now, damage: nil)
        }
    }

    private func finish(_ key: FileKey, _ file: FollowedFile, now: Int64, damage: String?) {
        ingestor.finish(reader: &file.reader, progress: &file.progress, damage: damage)
        extendFingerprint(file)
        ledger.append(file.record(finished: true, now: now, damage: damage))
        logger.info("finished file", metadata: ["file": "\(file.path)", "offset": "\(file.offset)"])
        close(key)
    }

    private func close(_ key: FileKey) {
        files[key] = nil
        order.removeAll { $0 == key }
    }

    private func forgetOldRecords(now: Int64) {
        ledger.removeAll { record in
            let forget = now - record.lastSeen > Self.forgetAfterSeconds
            if forget && !record.finished {
                logger.error(
                    "a file was deleted before it was read to its end; its unread lines are lost",
                    metadata: ["file": "\(record.path)", "offset": "\(record.offset)"])
            }
            return forget
        }
    }

    private func reportOnce(_ key: String, _ message: String) {
        guard reportedErrors.insert(key).inserted else { return }
        logger.error("\(message)")
    }

    // MARK: - Status

    /// One status row per open file and per remembered record.
    func statuses() -> [FileStatus] {
        var rows: [FileStatus] = []
        for key in order {
            guard let file = files[key] else { continue }
            let size = file.file.status()?.size ?? 0
            let lag: UInt64
            if file.isGzip {
                lag = size > file.file.bytesRead ? size - file.file.bytesRead : (file.atEnd ? 0 : 1)
            } else {
                lag = size > file.offset ? size - file.offset : 0
            }
            rows.append(
                FileStatus(
                    path: file.path, device: file.device, inode: file.inode, fingerprint: file.fingerprint.description,
                    compressed: file.isGzip, offset: file.offset, lagBytes: lag, finished: false,
                    damage: file.content.damage))
        }
        for record in ledger {
            rows.append(
                FileStatus(
                    path: record.path, device: record.device, inode: record.inode,
                    fingerprint: record.fingerprint.description, compressed: record.isGzip, offset: record.offset,
                    lagBytes: 0, finished: record.finished, damage: record.damage))
        }
        return rows
    }

    /// Bytes not yet read, over all open files.
    var lagBytes: UInt64 { statuses().reduce(0) { $0 + $1.lagBytes } }
}
