#if canImport(Glibc)
import Glibc
#endif
import TokentallySystem
import TokentallyReading
import TokentallyCounting
import TokentallyOutput
import TokentallyConfiguration
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
                file.progress.naiveTimezone = input.naiveTimezone
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
        var unreadable: [String: String] = [:]
        for input in inputs {
            for set in RotatedFileSet.group(FileGlob.expand(input.path)) {
                scan(
                    set: set, input: input, now: now, order: &newOrder, seenRecords: &seenRecords,
                    claimedRecords: &claimedRecords, unreadable: &unreadable)
            }
        }
        // Open files no longer matched (deleted, renamed out of the glob, or replaced at their
        // path by another file) are still read through their descriptors until they are
        // finished; none of them is live any more, whether or not a scan saw it renamed (with
        // `compress` and no `delaycompress`, logrotate renames, gzips and unlinks `.1` between
        // two scans). Otherwise it would never be finished and its descriptor, and its disk
        // space, would be held for the daemon's lifetime.
        for key in order where !newOrder.contains(key) {
            guard let file = files[key] else { continue }
            file.isLive = false
            newOrder.append(key)
        }
        order = newOrder
        for index in seenRecords { ledger[index].lastSeen = now }
        // Records now owned by an open file leave the ledger.
        ledger = ledger.enumerated().filter { !claimedRecords.contains($0.offset) }.map(\.element)
        self.unreadable = unreadable
        lastScan = now
        needsScan = false
        forgetOldRecords(now: now)
        let signature = statusSignature()
        if signature != lastStatusSignature {
            lastStatusSignature = signature
            statusChanges &+= 1
        }
    }

    /// Set when a file was finished or started over: the next turn scans at once, so that the
    /// status shows its copies under their paths of now.
    private(set) var needsScan = false
    /// Grows whenever what the status shows of the files changes (a file opened, finished,
    /// renamed, deleted, unreadable), so that a snapshot is written for it even when no line
    /// was read.
    private(set) var statusChanges: UInt64 = 0
    private var lastStatusSignature: [String] = []

    private func statusSignature() -> [String] {
        statuses().map { "\($0.path)|\($0.finished)|\($0.error ?? "")|\($0.damage ?? "")" }
    }

    /// Files a scan matched but could not read, with why: shown in the status, so that lag
    /// monitoring sees them.
    private(set) var unreadable: [String: String] = [:]
    /// When the last scan ran.
    private(set) var lastScan: Int64 = 0

    private final class Candidate {
        let path: String
        let name: RotatedFileName
        /// The first content bytes, up to `ContentFingerprint.fullLength`.
        let prefix: [UInt8]
        let isGzip: Bool
        let key: FileKey
        let size: UInt64
        let modified: Int64
        private let opener: LogFileOpener
        private var longer: [UInt8]?

        init(
            path: String, name: RotatedFileName, prefix: [UInt8], isGzip: Bool, key: FileKey, size: UInt64,
            modified: Int64, opener: LogFileOpener
        ) {
            self.path = path
            self.name = name
            self.prefix = prefix
            self.isGzip = isGzip
            self.key = key
            self.size = size
            self.modified = modified
            self.opener = opener
        }

        /// The first content bytes up to `FileIdentity.fullLength`, read once, when a head
        /// fingerprint matched and the longer identity must decide.
        var leading: [UInt8] {
            if let longer { return longer }
            var bytes = prefix
            if prefix.count == ContentFingerprint.fullLength,
                let read = try? ContentFingerprint.leadingBytes(of: path, opener: opener, count: FileIdentity.fullLength)
            {
                bytes = read.bytes
            }
            longer = bytes
            return bytes
        }

        /// The CRC-64 identity of the bytes it has, up to `FileIdentity.fullLength`.
        var identity: ContentFingerprint {
            leading.withUnsafeBytes { ContentFingerprint(prefix: $0, limit: FileIdentity.fullLength) }
        }

        func headMatches(_ fingerprint: ContentFingerprint) -> Bool {
            prefix.withUnsafeBytes { fingerprint.matches(prefix: $0) }
        }
    }

    /// What a candidate's content says about a record whose head fingerprint it matches.
    private enum Kinship {
        /// The same file (as far as the first 64 KiB tell).
        case same
        /// Another file that starts with the same bytes (a banner).
        case other
        /// Too short to tell: it may be a copy still being written.
        case undecided
    }

    private func kinship(_ candidate: Candidate, _ record: FileRecord) -> Kinship {
        guard let identity = record.identity else { return .same }  // a record from before identities
        let leading = candidate.leading
        guard leading.count >= identity.length else { return .undecided }
        return leading.withUnsafeBytes { identity.matches(prefix: $0) } ? .same : .other
    }

    /// Whether the candidate is a copy of an open file: copytruncate's copy, or a gzip being
    /// made of it. Plain open files are compared byte for byte over what both have (up to
    /// 64 KiB), so a new file that only shares a banner with an open one is not taken for its
    /// copy.
    private func isCopy(_ candidate: Candidate, of file: FollowedFile) -> Bool {
        guard candidate.headMatches(file.fingerprint) else { return false }
        let leading = candidate.leading
        if file.isGzip {
            guard leading.count >= file.identity.length else { return true }
            return leading.withUnsafeBytes { file.identity.matches(prefix: $0) }
        }
        let theirs = file.file.bytes(at: 0, count: leading.count)
        let compared = min(theirs.count, leading.count)
        return compared > 0 && theirs[..<compared] == leading[..<compared]
    }

    private func scan(
        set: RotatedFileSet, input: InputConfiguration, now: Int64, order newOrder: inout [FileKey],
        seenRecords: inout Set<Int>, claimedRecords: inout Set<Int>, unreadable: inout [String: String]
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
                unreadable[path] = error.description
                reportOnce(path, "cannot read \(path): \(error)")
                continue
            }
            candidates.append(
                Candidate(
                    path: path, name: name, prefix: leading.bytes, isGzip: leading.isGzip, key: key,
                    size: UInt64(info.st_size), modified: Int64(info.st_mtim.tv_sec), opener: opener))
        }
        for candidate in candidates {
            if candidate.prefix.isEmpty {
                // An empty file has no identity yet; only the live one is worth holding open.
                if candidate.name.generation == .live, !candidate.isGzip {
                    open(candidate, input: input, resumeAt: nil, now: now, order: &newOrder, unreadable: &unreadable)
                }
                continue
            }
            // The same content already open under another inode: a copy (copytruncate's copy,
            // or a gzip being made of it). It is read through the open file.
            if files.values.contains(where: { isCopy(candidate, of: $0) }) { continue }
            var matched: Int? = nil
            for index in ledger.indices where !claimedRecords.contains(index) && candidate.headMatches(ledger[index].fingerprint) {
                let record = ledger[index]
                switch kinship(candidate, record) {
                case .same:
                    matched = index
                case .other:
                    continue
                case .undecided:
                    // Shorter than what the record's identity covers. A finished file does not
                    // shrink, so a plain file shorter than it is another one; anything else may
                    // be a copy still being written (copytruncate's), and waits for the next scan.
                    if record.finished && !candidate.isGzip && candidate.size < record.offset { continue }
                    matched = index
                }
                break
            }
            if let index = matched {
                seenRecords.insert(index)
                upgradeLegacyFingerprints(index, from: candidate)
                ledger[index].path = candidate.path
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
                switch open(candidate, input: input, resumeAt: record, now: now, order: &newOrder, unreadable: &unreadable) {
                case .opened:
                    claimedRecords.insert(index)
                case .otherContent:
                    // The bytes before the counted offset are not the record's: this is another
                    // file that shares its first bytes. It is new; the record waits for its own.
                    open(candidate, input: input, resumeAt: nil, now: now, order: &newOrder, unreadable: &unreadable)
                case .notOpened:
                    break
                }
                continue
            }
            if candidate.isGzip,
                candidates.contains(where: { !$0.isGzip && $0.prefix == candidate.prefix })
            {
                continue
            }
            open(candidate, input: input, resumeAt: nil, now: now, order: &newOrder, unreadable: &unreadable)
        }
    }

    /// A record from a state before format 3 has legacy fingerprints and no identity; once a
    /// scan finds its file, they are taken again with CRC-64 from the file's bytes.
    private func upgradeLegacyFingerprints(_ index: Int, from candidate: Candidate) {
        guard ledger[index].fingerprint.algorithm == .legacy else { return }
        ledger[index].fingerprint = candidate.prefix.withUnsafeBytes { ContentFingerprint(prefix: $0) }
        let identity = candidate.identity
        ledger[index].identity = identity.length > 0 ? identity : nil
    }

    private enum OpenOutcome {
        case opened, notOpened, otherContent
    }

    /// The most log files held open at once: the descriptor limit less what commits,
    /// snapshots, the journal and scans need, so that following many files never starves
    /// them. Files beyond it wait for others to be finished.
    var maxOpenFiles: Int = DescriptorBudget.followedFiles()
    /// Files that wait for a free descriptor, logged once per scan that finds some.
    private var reportedDescriptorShortage = false

    /// Opens a candidate and positions it at the record's offset (or 0 for a new file).
    @discardableResult
    private func open(
        _ candidate: Candidate, input: InputConfiguration, resumeAt record: FileRecord?, now: Int64,
        order newOrder: inout [FileKey], unreadable: inout [String: String]
    ) -> OpenOutcome {
        guard files.count < maxOpenFiles else {
            let reason = "waiting for a free descriptor: \(files.count) files are open, the most this process's descriptor limit leaves room for; raise LimitNOFILE"
            unreadable[candidate.path] = reason
            if !reportedDescriptorShortage {
                reportedDescriptorShortage = true
                logger.error("\(candidate.path): \(reason)")
            }
            return .notOpened
        }
        do {
            let opened = try opener.open(candidate.path)
            guard let identity = opened.file.identity,
                FileKey(device: identity.device, inode: identity.inode) == candidate.key
            else { return .notOpened }  // replaced between the stat and the open: next scan
            let fingerprint = candidate.prefix.withUnsafeBytes { ContentFingerprint(prefix: $0) }
            // Plain files grow their identity as they are read; a gzip file's is taken now.
            let contentIdentity =
                opened.isGzip
                ? candidate.identity : candidate.prefix.withUnsafeBytes { ContentFingerprint(prefix: $0) }
            let file = FollowedFile(
                file: opened.file, content: opened.content, isGzip: opened.isGzip, device: identity.device,
                inode: identity.inode, input: input, path: candidate.path, fingerprint: fingerprint,
                identity: contentIdentity, maxLineBytes: maxLineBytes, isLive: candidate.name.generation == .live,
                now: now)
            if let record, record.offset > 0 {
                guard try position(file, at: record) else { return .otherContent }
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
            return .opened
        } catch {
            unreadable[candidate.path] = "\(error)"
            reportOnce(candidate.path, "cannot open \(candidate.path): \(error)")
            return .notOpened
        }
    }

    /// Skips to a committed offset: a seek for a plain file, decompress-and-discard for gzip.
    /// Returns false when the bytes just before the offset are not the record's (its tail): the
    /// file is another one that only starts like it.
    private func position(_ file: FollowedFile, at record: FileRecord) throws -> Bool {
        if file.isGzip {
            var remaining = record.offset
            let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 8)
            defer { scratch.deallocate() }
            var last: [UInt8] = []
            while remaining > 0 {
                let want = Int(min(remaining, UInt64(scratch.count)))
                let n = try file.content.read(into: UnsafeMutableRawBufferPointer(rebasing: scratch[..<want]))
                if n == 0 { break }
                remaining -= UInt64(n)
                let keep = min(n, FollowedFile.tailLength)
                last = Array((last + scratch[(n - keep)..<n]).suffix(FollowedFile.tailLength))
            }
            if remaining == 0, let expected = record.tail {
                guard last.withUnsafeBytes({ expected.matches(prefix: $0) }) else { return false }
            }
            file.reader.reset(toOffset: record.offset - remaining)
            if remaining == 0, record.offset > 0 {
                file.gzipTail = (record.offset, last.withUnsafeBytes { ContentFingerprint(prefix: $0, limit: FollowedFile.tailLength) })
            }
        } else {
            if let expected = record.tail {
                let length = expected.length
                let bytes = file.file.bytes(at: record.offset - UInt64(length), count: length)
                guard bytes.withUnsafeBytes({ expected.matches(prefix: $0) }) else { return false }
            }
            try file.file.seek(to: record.offset)
            file.reader.reset(toOffset: record.offset)
        }
        if let identity = record.identity, identity.length > file.identity.length { file.identity = identity }
        return true
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
        file.identity = ContentFingerprint(length: 0, hash: 0)
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

    /// A short file's fingerprint and identity grow with it, up to their full lengths.
    private func extendFingerprint(_ file: FollowedFile) {
        guard !file.isGzip else { return }
        let available = file.offset + UInt64(file.reader.pendingBytes)
        if !file.fingerprint.isFull, available > UInt64(file.fingerprint.length) {
            let prefix = file.file.bytes(at: 0, count: Int(min(available, UInt64(ContentFingerprint.fullLength))))
            // The bytes already fingerprinted must still be there: if not, the file was truncated
            // since it was read, and the longer fingerprint would describe other content.
            guard file.fingerprint.length == 0 || prefix.withUnsafeBytes({ file.fingerprint.matches(prefix: $0) })
            else {
                if file.isLive { file.truncationSeen = true }
                return
            }
            file.fingerprint = prefix.withUnsafeBytes { ContentFingerprint(prefix: $0) }
        }
        // The identity is a CRC, continued over the bytes that came since.
        let identityEnd = min(available, UInt64(FileIdentity.fullLength))
        if identityEnd > UInt64(file.identity.length), file.identity.algorithm == .crc64 {
            let more = file.file.bytes(at: UInt64(file.identity.length), count: Int(identityEnd) - file.identity.length)
            file.identity = more.withUnsafeBytes { file.identity.extended(by: $0) }
        }
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
        needsScan = true
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
        // Records of files the last scan found (at the path it found them), and unfinished ones;
        // tombstones of deleted files are kept in the state a while, but not listed.
        for record in ledger where !record.finished || record.lastSeen >= lastScan {
            rows.append(
                FileStatus(
                    path: record.path, device: record.device, inode: record.inode,
                    fingerprint: record.fingerprint.description, compressed: record.isGzip, offset: record.offset,
                    lagBytes: 0, finished: record.finished, damage: record.damage))
        }
        for (path, error) in unreadable.sorted(by: { $0.key < $1.key }) {
            rows.append(
                FileStatus(path: path, compressed: false, offset: 0, lagBytes: 0, finished: false, error: error))
        }
        return rows
    }

    /// Bytes not yet read, over all open files.
    var lagBytes: UInt64 { statuses().reduce(0) { $0 + $1.lagBytes } }
}
