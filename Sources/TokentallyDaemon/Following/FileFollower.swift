#if canImport(Glibc)
    import Glibc
#endif
import Logging
import TokentallyConfiguration
import TokentallyCounting
import TokentallyReading
import TokentallySystem

/// Finds the files of the configured inputs, follows them through logrotate, and feeds their
/// lines to the ingestor, so that every line is counted exactly once.
///
/// This is the file-system side: it stats, opens and reads, gathers what it saw as facts, and
/// carries out what `RotationDecider` decides from them (scanning here; reading, finishing and
/// truncation in `FileFollower+Reading.swift`; the status in `FileFollower+Status.swift`).
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

    /// Tombstones and unread records not seen by a scan for this long are forgotten.
    static let forgetAfterSeconds: Int64 = 7 * 86_400

    var inputs: [InputConfiguration]
    let ingestor: LogIngestor
    let opener: LogFileOpener
    let logger: Logger
    var maxLineBytes: Int
    var files: [FileKey: FollowedFile] = [:]
    /// Read order: oldest generation first, per input set.
    var order: [FileKey] = []
    /// Records of files not open: tombstones of finished files, and unfinished ones whose file
    /// is not (or not yet) found, such as the copy of a truncated file.
    var ledger: [FileRecord] = []
    /// Files that could not be read, logged once each.
    var reportedErrors: Set<String> = []
    /// Files a scan matched but could not read, with why: shown in the status, so that lag
    /// monitoring sees them.
    var unreadable: [String: String] = [:]
    /// Files not open that a record's tail check found are not its file, as the last scan
    /// found them: the check is not made again at every scan (for a gzip file it means
    /// decompressing up to the record's offset).
    var knownMismatches = Set<Mismatch>()
    /// When the last scan ran.
    var lastScan: Int64 = 0
    /// Set when a file was finished: the next turn scans at once, so that the
    /// status shows its copies under their paths of now.
    var needsScan = false
    /// Whether a read since the last `takeBacklogRead` went through the parsing threads.
    var readBacklog = false
    /// Grows whenever what the status shows of the files changes (a file opened, finished,
    /// renamed, deleted, unreadable), so that a snapshot is written for it even when no line
    /// was read.
    var statusChanges: UInt64 = 0
    var lastStatusSignature: [String] = []
    /// The most log files held open at once (`DescriptorBudget`): files beyond it wait for
    /// others to be finished.
    var maxOpenFiles: Int = DescriptorBudget.followedFiles()
    /// Whether a file waiting for a free descriptor was logged.
    var reportedDescriptorShortage = false

    init(inputs: [InputConfiguration], ingestor: LogIngestor, opener: LogFileOpener, logger: Logger, maxLineBytes: Int)
    {
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
                logger.info(
                    "input removed; file closed", metadata: ["file": "\(file.path)", "offset": "\(file.offset)"])
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
        var pass = ScanPass()
        for input in inputs {
            for set in RotatedFileSet.group(FileGlob.expand(input.path)) {
                scan(set: set, input: input, now: now, pass: &pass)
            }
        }
        // Open files no longer matched (deleted, renamed out of the glob, or replaced at their
        // path by another file) are still read through their descriptors until they are
        // finished; none of them is live any more, whether or not a scan saw it renamed (with
        // `compress` and no `delaycompress`, logrotate renames, gzips and unlinks `.1` between
        // two scans). Otherwise it would never be finished and its descriptor, and its disk
        // space, would be held for the daemon's lifetime.
        for key in order where !pass.order.contains(key) {
            guard let file = files[key] else { continue }
            file.isLive = false
            pass.order.append(key)
        }
        order = pass.order
        for index in pass.seenRecords { ledger[index].lastSeen = now }
        // Records now owned by an open file leave the ledger.
        ledger = ledger.enumerated().filter { !pass.claimedRecords.contains($0.offset) }.map(\.element)
        unreadable = pass.unreadable
        knownMismatches = pass.mismatches
        lastScan = now
        needsScan = false
        forgetOldRecords(now: now)
        let signature = statusSignature()
        if signature != lastStatusSignature {
            lastStatusSignature = signature
            statusChanges &+= 1
        }
    }

    /// What one scan gathers as it goes.
    struct ScanPass {
        var order: [FileKey] = []
        var seenRecords = Set<Int>()
        var claimedRecords = Set<Int>()
        var unreadable: [String: String] = [:]
        /// The mismatches found, or found again, by this scan: the ones to remember.
        var mismatches = Set<Mismatch>()
    }

    private func scan(set: RotatedFileSet, input: InputConfiguration, now: Int64, pass: inout ScanPass) {
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
                if !pass.order.contains(key) { pass.order.append(key) }
                continue
            }
            let leading: (bytes: [UInt8], isGzip: Bool)
            do {
                leading = try ContentFingerprint.leadingBytes(of: path, opener: opener)
            } catch {
                pass.unreadable[path] = error.description
                reportOnce(path, "cannot read \(path): \(error)")
                continue
            }
            candidates.append(
                Candidate(
                    path: path, name: name, prefix: leading.bytes, isGzip: leading.isGzip, key: key,
                    size: UInt64(info.st_size), opener: opener))
        }
        for candidate in candidates {
            decide(candidate, among: candidates, input: input, now: now, pass: &pass)
        }
    }

    /// Decides what a candidate is and carries it out. A record whose tail the candidate's bytes
    /// do not have is not its record: the next one it matches is tried (its own tombstone, once
    /// it was read as a new file), and only when none is left is it a new file. Opening it as new
    /// at the first mismatch would read it again at every scan, for as long as the record it
    /// only starts like stays in the ledger.
    private func decide(
        _ candidate: Candidate, among candidates: [Candidate], input: InputConfiguration, now: Int64,
        pass: inout ScanPass
    ) {
        var notThisFile = Set<Int>()
        while true {
            let facts = self.facts(candidate, among: candidates, pass: pass, excluding: notThisFile)
            let decision = RotationDecider.decide(facts)
            if case .resume(let index) = decision {
                let mismatch = Mismatch(file: candidate.key, record: ledger[index])
                var record = ledger[index]
                record.finished = false
                let outcome =
                    knownMismatches.contains(mismatch)
                    ? .otherContent : open(candidate, input: input, resumeAt: record, now: now, pass: &pass)
                if outcome == .otherContent {
                    // The bytes before the counted offset are not the record's: this is another
                    // file that shares its first bytes. The record waits for its own, and is
                    // not tried again with this file while it is there.
                    notThisFile.insert(index)
                    pass.mismatches.insert(mismatch)
                    continue
                }
                if outcome == .opened { pass.claimedRecords.insert(index) }
            }
            if let index = decision.record {
                pass.seenRecords.insert(index)
                upgradeLegacyFingerprints(index, from: candidate)
                ledger[index].path = candidate.path
            }
            if decision == .openNew { open(candidate, input: input, resumeAt: nil, now: now, pass: &pass) }
            return
        }
    }

    /// A file that a record's tail check found is not the record's file.
    struct Mismatch: Hashable {
        var file: FileKey
        var fingerprint: ContentFingerprint
        var offset: UInt64

        init(file: FileKey, record: FileRecord) {
            self.file = file
            self.fingerprint = record.fingerprint
            self.offset = record.offset
        }
    }

    /// What the decider needs to know of a candidate, read off the open files, the ledger and
    /// the other candidates of its set.
    private func facts(
        _ candidate: Candidate, among candidates: [Candidate], pass: ScanPass, excluding notThisFile: Set<Int>
    ) -> CandidateFacts {
        var records: [RecordMatch] = []
        for index in ledger.indices
        where !notThisFile.contains(index) && candidate.headMatches(ledger[index].fingerprint) {
            let record = ledger[index]
            records.append(
                RecordMatch(
                    index: index, kinship: kinship(candidate, record), finished: record.finished,
                    offset: record.offset, claimed: pass.claimedRecords.contains(index),
                    plainTwinInSet: candidates.contains {
                        !$0.isGzip && $0.prefix.withUnsafeBytes(record.fingerprint.matches)
                    }))
        }
        return CandidateFacts(
            isLive: candidate.name.generation == .live, isGzip: candidate.isGzip, isEmpty: candidate.prefix.isEmpty,
            size: candidate.size, isCopyOfOpenFile: files.values.contains { isCopy(candidate, of: $0) },
            hasPlainTwin: candidates.contains { !$0.isGzip && $0.prefix == candidate.prefix }, records: records)
    }

    /// A file found by a scan and not open: its first bytes, read once (more when a head
    /// fingerprint matched and the longer identity must decide).
    final class Candidate {
        let path: String
        let name: RotatedFileName
        /// The first content bytes, up to `ContentFingerprint.fullLength`.
        let prefix: [UInt8]
        let isGzip: Bool
        let key: FileKey
        let size: UInt64
        private let opener: LogFileOpener
        private var longer: [UInt8]?

        init(
            path: String, name: RotatedFileName, prefix: [UInt8], isGzip: Bool, key: FileKey, size: UInt64,
            opener: LogFileOpener
        ) {
            self.path = path
            self.name = name
            self.prefix = prefix
            self.isGzip = isGzip
            self.key = key
            self.size = size
            self.opener = opener
        }

        /// The first content bytes up to `FileIdentity.fullLength`.
        var leading: [UInt8] {
            if let longer { return longer }
            var bytes = prefix
            if prefix.count == ContentFingerprint.fullLength,
                let read = try? ContentFingerprint.leadingBytes(
                    of: path, opener: opener, count: FileIdentity.fullLength)
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

    private func kinship(_ candidate: Candidate, _ record: FileRecord) -> Kinship {
        guard let identity = record.identity else { return .same }  // a record from before identities
        let leading = candidate.leading
        guard leading.count >= identity.length else { return .undecided }
        return leading.withUnsafeBytes { identity.matches(prefix: $0) } ? .same : .other
    }

    /// Whether the candidate is a copy of an open file: copytruncate's copy, or a gzip being
    /// made of it. Plain open files are compared byte for byte over what both have (up to
    /// 64 KiB), so a new file that only shares a banner with an open one is not taken for its
    /// copy. A candidate that holds the bytes the open file's identity was taken from is its
    /// copy even when the open file no longer holds them: logrotate may truncate it after this
    /// scan looked for a truncation, and the copy would otherwise be read as a new file, its
    /// lines counted again. The next scan sees the truncation and resumes the copy.
    func isCopy(_ candidate: Candidate, of file: FollowedFile) -> Bool {
        guard candidate.headMatches(file.fingerprint) else { return false }
        let leading = candidate.leading
        if file.isGzip {
            guard leading.count >= file.identity.length else { return true }
            return leading.withUnsafeBytes { file.identity.matches(prefix: $0) }
        }
        if file.identity.length > 0, leading.count >= file.identity.length,
            leading.withUnsafeBytes({ file.identity.matches(prefix: $0) })
        {
            return true
        }
        let theirs = file.file.bytes(at: 0, count: leading.count)
        let compared = min(theirs.count, leading.count)
        return compared > 0 && theirs[..<compared] == leading[..<compared]
    }

    /// A record from a state before format 3 has legacy fingerprints and no identity; once a
    /// scan finds its file, they are taken again with CRC-64 from the file's bytes.
    private func upgradeLegacyFingerprints(_ index: Int, from candidate: Candidate) {
        guard ledger[index].fingerprint.algorithm == .legacy else { return }
        ledger[index].fingerprint = candidate.prefix.withUnsafeBytes { ContentFingerprint(prefix: $0) }
        let identity = candidate.identity
        ledger[index].identity = identity.length > 0 ? identity : nil
    }

    enum OpenOutcome {
        case opened, notOpened, otherContent
    }

    /// Opens a candidate and positions it at the record's offset (or 0 for a new file).
    @discardableResult
    private func open(
        _ candidate: Candidate, input: InputConfiguration, resumeAt record: FileRecord?, now: Int64,
        pass: inout ScanPass
    ) -> OpenOutcome {
        guard files.count < maxOpenFiles else {
            let reason =
                "waiting for a free descriptor: \(files.count) files are open, the most this process's descriptor limit leaves room for; raise LimitNOFILE"
            pass.unreadable[candidate.path] = reason
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
                opened.isGzip ? candidate.identity : candidate.prefix.withUnsafeBytes { ContentFingerprint(prefix: $0) }
            let file = FollowedFile(
                opened: opened, device: identity.device, inode: identity.inode, input: input, path: candidate.path,
                fingerprint: fingerprint, identity: contentIdentity, maxLineBytes: maxLineBytes,
                isLive: candidate.name.generation == .live, now: now)
            if let record, record.offset > 0 {
                guard try position(file, at: record) else { return .otherContent }
            }
            file.lastSize = identity.size
            files[candidate.key] = file
            pass.order.append(candidate.key)
            logger.info(
                record == nil ? "following new file" : "resuming file",
                metadata: [
                    "file": "\(candidate.path)", "offset": "\(file.offset)", "gzip": "\(opened.isGzip)",
                    "fingerprint": "\(fingerprint)",
                ])
            return .opened
        } catch {
            pass.unreadable[candidate.path] = "\(error)"
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
                let n = try file.stream.source.read(into: UnsafeMutableRawBufferPointer(rebasing: scratch[..<want]))
                if n == 0 { break }
                remaining -= UInt64(n)
                let keep = min(n, FollowedFile.tailLength)
                last = Array((last + scratch[(n - keep)..<n]).suffix(FollowedFile.tailLength))
            }
            if remaining == 0, let expected = record.tail {
                guard last.withUnsafeBytes({ expected.matches(prefix: $0) }) else { return false }
            }
            file.stream.reader.reset(toOffset: record.offset - remaining)
            if remaining == 0, record.offset > 0 {
                file.gzipTail = (
                    record.offset,
                    last.withUnsafeBytes { ContentFingerprint(prefix: $0, limit: FollowedFile.tailLength) }
                )
            }
        } else {
            if let expected = record.tail {
                let length = expected.length
                let bytes = file.file.bytes(at: record.offset - UInt64(length), count: length)
                guard bytes.withUnsafeBytes({ expected.matches(prefix: $0) }) else { return false }
            }
            try file.file.seek(to: record.offset)
            file.stream.reader.reset(toOffset: record.offset)
        }
        if let identity = record.identity, identity.length > file.identity.length { file.identity = identity }
        return true
    }

    func forgetOldRecords(now: Int64) {
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

    func reportOnce(_ key: String, _ message: String) {
        guard reportedErrors.insert(key).inserted else { return }
        logger.error("\(message)")
    }
}
