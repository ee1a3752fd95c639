import TokentallyCounting
import TokentallyReading

extension FileFollower {
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
            let before = file.readPosition
            let outcome: ParsingPipeline.Outcome
            let backlog = hasBacklog(file)
            if backlog { readBacklog = true }
            do {
                outcome = try ingestor.consume(
                    file.stream, progress: &file.progress, budget: budget - spent, parallel: backlog)
            } catch let error as FileReadError where error.code == .truncated {
                // Nothing read after the truncation was counted; the rest comes from the copy.
                startOver(key, file, now: now)
                allAtEnd = false
                continue
            }
            let after = file.readPosition
            spent += Int(after - before)
            file.atEnd = outcome == .atEnd
            if !file.atEnd { allAtEnd = false }
            if after > before { file.lastGrowth = now }
            guard extendFingerprint(file) else {
                startOver(key, file, now: now)
                allAtEnd = false
                continue
            }
            if file.atEnd { finishIfDone(key, file, now: now) }
        }
        return allAtEnd
    }

    /// Whether a read went through the parsing threads since the last call, and forgets it.
    func takeBacklogRead() -> Bool {
        defer { readBacklog = false }
        return readBacklog
    }

    /// Whether `file` has enough to read that the parsing threads should help: a gzip file (read
    /// whole, catching up), a file whose last read stopped at the budget, or a plain file at
    /// least `parallelBacklogBytes` short of the size it had when last looked at (when it was
    /// opened, or found rotated). Following a live file, a read holds a few hundred lines,
    /// which the loop's thread parses faster than it could hand them over.
    func hasBacklog(_ file: FollowedFile) -> Bool {
        if file.isGzip || !file.atEnd { return true }
        return file.lastSize > file.readPosition && file.lastSize - file.readPosition >= Self.parallelBacklogBytes
    }

    /// About 10k lines: parsing them takes tens of milliseconds, far more than the hand-over.
    static let parallelBacklogBytes: UInt64 = 4 << 20

    /// copytruncate: a file that shrank below what was read, or whose first block changed, was
    /// truncated. What was not yet counted is in the copy, found later by fingerprint; the
    /// truncated file starts over as a new file.
    func checkOpenFilesForTruncation(now: Int64) {
        // copytruncate truncates the live file only. A rotated copy that looks short is still
        // being copied by logrotate; it is never started over.
        for (key, file) in files where !file.isGzip && file.isLive {
            guard let status = file.file.status() else { continue }
            let truncated = RotationDecider.isTruncated(
                size: status.size, readPosition: file.readPosition, headStillMatches: file.headStillMatches())
            if truncated { startOver(key, file, now: now) }
        }
    }

    /// The file was truncated: what was counted stays counted, the rest is read from the copy
    /// (found by the old fingerprint), and the file itself is read again from its new start.
    func startOver(_ key: FileKey, _ file: FollowedFile, now: Int64) {
        if file.offset > 0 || file.stream.reader.pendingBytes > 0 {
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
        file.stream.reader.reset()
        file.fingerprint = ContentFingerprint(length: 0, hash: 0)
        file.identity = ContentFingerprint(length: 0, hash: 0)
        file.lastSize = 0
    }

    /// A short file's fingerprint and identity grow with it, up to their full lengths. Returns
    /// false when the bytes already fingerprinted are gone: the live file was truncated since it
    /// was read, and a longer fingerprint would describe other content.
    func extendFingerprint(_ file: FollowedFile) -> Bool {
        guard !file.isGzip else { return true }
        let available = file.readPosition
        if !file.fingerprint.isFull, available > UInt64(file.fingerprint.length) {
            let prefix = file.file.bytes(at: 0, count: Int(min(available, UInt64(ContentFingerprint.fullLength))))
            guard file.fingerprint.length == 0 || prefix.withUnsafeBytes({ file.fingerprint.matches(prefix: $0) })
            else { return !file.isLive }
            file.fingerprint = prefix.withUnsafeBytes { ContentFingerprint(prefix: $0) }
        }
        // The identity is a CRC, continued over the bytes that came since. They are read from
        // the file after the read that counted them: a truncation in between (checked for
        // after they are read) would put new content's bytes in it, and the copy would then be
        // taken for another file.
        let identityEnd = min(available, UInt64(FileIdentity.fullLength))
        if identityEnd > UInt64(file.identity.length), file.identity.algorithm == .crc64 {
            let more = file.file.bytes(at: UInt64(file.identity.length), count: Int(identityEnd) - file.identity.length)
            if file.isLive && !file.headStillMatches() { return false }
            file.identity = more.withUnsafeBytes { file.identity.extended(by: $0) }
        }
        return true
    }

    /// A file read to its end: carries out what `RotationDecider.atEnd` says of it.
    func finishIfDone(_ key: FileKey, _ file: FollowedFile, now: Int64) {
        guard let status = file.file.status() else { return }
        if !file.isGzip, status.size != file.lastSize {
            file.lastSize = status.size
            file.lastGrowth = now
        }
        let damage = file.stream.source.damage
        let facts = EndFacts(
            isGzip: file.isGzip, damage: damage, secondsSinceModified: now - status.modified, isLive: file.isLive,
            links: status.links, secondsSinceGrowth: now - file.lastGrowth)
        switch RotationDecider.atEnd(facts) {
        case .keepFollowing:
            break
        case .closeAndResumeLater:
            ledger.append(file.record(finished: false, now: now))
            close(key)
        case .finish:
            finish(key, file, now: now, damage: damage)
        }
    }

    func finish(_ key: FileKey, _ file: FollowedFile, now: Int64, damage: Damage?) {
        needsScan = true
        ingestor.finish(file.stream, progress: &file.progress, damage: damage)
        _ = extendFingerprint(file)
        ledger.append(file.record(finished: true, now: now, damage: damage))
        logger.info("finished file", metadata: ["file": "\(file.path)", "offset": "\(file.offset)"])
        close(key)
    }

    func close(_ key: FileKey) {
        files[key] = nil
        order.removeAll { $0 == key }
    }
}
