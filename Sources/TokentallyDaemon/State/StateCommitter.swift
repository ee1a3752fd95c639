import Logging
import TokentallyCounting
import TokentallyOutput
import TokentallySystem

/// Commits checkpoints to the state directory, which it holds locked for the daemon's life
/// (one tokentally per state directory), and keeps how commits fare: the last commit's time, a
/// signature of what it held (so that an unchanged checkpoint is not written again), and the
/// health shown in the status. A failed commit is logged at most once a minute while it keeps
/// failing, and retried at the next interval.
///
/// Most commits append what changed since the commit before to `state.journal` (`StateJournal`),
/// so that their cost follows the lines read, not the state's size. A full `state.bin` is written
/// at the first commit, after a failed one, whenever the journal has grown as large as the last
/// full state (and at least `minimumCompactionBytes`), and when the changes are half the state
/// or more (catching up); the journal then starts over.
///
/// Used by the follow loop's thread only.
final class StateCommitter {
    let store: StateStore
    let journal: StateJournal
    private var lock: DirectoryLock
    /// The size of the last full state file's payload: the journal is compacted into a new
    /// full state once it holds about as much.
    private var fullStateBytes: UInt64 = 0
    static let minimumCompactionBytes: UInt64 = 64 << 20
    /// Bytes the commits wrote, full and journal, for the status and benchmarks.
    private(set) var bytesWritten = CommitBytes()
    private let logger: Logger
    private(set) var health = OperationHealth()
    private var errorLog = RateLimiter(interval: 60)
    private var lastSignature: [UInt64] = []
    /// When the last commit was made (loaded from the state at start-up).
    private(set) var lastCommitTime: Int64? = nil

    /// Locks `directory` (made if missing) and removes temporary files that earlier commits left.
    init(directory: String, logger: Logger) throws(CommandError) {
        self.logger = logger
        do {
            store = try StateStore(directory: directory)
            journal = StateJournal(directory: directory)
            lock = try DirectoryLock(directory: directory, name: "lock", setting: "state.directory")
        } catch {
            throw .io("\(error)")
        }
        store.removeStaleTemporaryFiles()
    }

    /// The committed checkpoint, its statistics and counters restored into `ingestor`; nil on a
    /// first start.
    func load(into ingestor: LogIngestor) throws(CommandError) -> Checkpoint? {
        let loaded: StateReader?
        do { loaded = try store.load() } catch { throw .io(error.description) }
        guard var reader = loaded else { return nil }
        var checkpoint: Checkpoint
        do {
            checkpoint = try Checkpoint.decode(from: &reader, into: ingestor)
        } catch {
            throw .io("\(store.path): the state cannot be used: \(error); \(StateError.rebuildHint)")
        }
        if let header = store.committedHeader() {
            fullStateBytes = header.length
            do {
                let records = try journal.load(base: header.checksum) { payload in
                    var record = StateReader(payload)
                    record.formatVersion = Checkpoint.formatVersion
                    checkpoint = try Checkpoint.decodeChanges(from: &record, into: ingestor)
                }
                if records > 0 {
                    logger.info("applied the state journal", metadata: ["commits": "\(records)"])
                }
            } catch {
                throw .io("\(journal.path): the state journal cannot be used: \(error); \(StateError.rebuildHint)")
            }
        }
        ingestor.counters.markCommitted()
        lastCommitTime = checkpoint.commitTime
        return checkpoint
    }

    /// A cheap summary of what a checkpoint would hold: lines read, and each file's offset and
    /// whether it is finished. A commit is skipped while it stays the same.
    static func signature(linesRead: UInt64, files: [FileRecord]) -> [UInt64] {
        var signature = [linesRead, UInt64(files.count)]
        for record in files { signature.append(record.offset &+ (record.finished ? 1 << 63 : 0)) }
        return signature
    }

    /// Whether `signature` differs from the last commit's.
    func hasChanges(_ signature: [UInt64]) -> Bool { signature != lastSignature }

    /// Commits `checkpoint` with `ingestor`'s statistics and counters. Returns false when it
    /// failed: logged (rate-limited), shown in `health`, tried again at the next call.
    func commit(_ checkpoint: Checkpoint, lines ingestor: LogIngestor, signature: [UInt64]) -> Bool {
        let now = checkpoint.commitTime
        do {
            // A record of most of the state (catching up) is no cheaper than the state itself.
            let recordBytes = UInt64(ingestor.counters.changedCellCount) * 130
            if journal.isUsable && journal.size < max(Self.minimumCompactionBytes, fullStateBytes)
                && recordBytes < fullStateBytes / 2
            {
                let appended: UInt64
                do {
                    appended = try journal.append { writer in checkpoint.encodeChanges(lines: ingestor, into: &writer) }
                } catch {
                    throw StateError(
                        code: .ioFailed, path: journal.path,
                        message: "cannot append: \(error); \(StateStore.advice(forErrno: error.code))")
                }
                bytesWritten.journal &+= appended
            } else {
                let written = try store.commit { writer in checkpoint.encode(lines: ingestor, into: &writer) }
                fullStateBytes = written.length
                bytesWritten.full &+= written.length
                // The full state holds everything: a journal that cannot start over is only
                // unusable (the next commit is full again), and an old one follows another state.
                do { try journal.startOver(base: written.checksum) } catch {
                    logger.warning("cannot start the state journal; commits stay full", metadata: ["error": "\(error)"])
                }
            }
        } catch {
            health.failed(at: now, "\(error)")
            let (allowed, held) = errorLog.allow()
            if allowed {
                logger.error(
                    "state commit failed; will retry",
                    metadata: [
                        "error": "\(error)", "failures": "\(health.consecutiveFailures)", "not_logged": "\(held)",
                    ])
            }
            return false
        }
        if health.consecutiveFailures > 0 {
            logger.notice("state commits work again", metadata: ["failures": "\(health.consecutiveFailures)"])
            errorLog.reset()
        }
        health.succeeded(at: now)
        if !lock.isStillInPlace {
            // The state directory was removed and made again while we ran: lock it anew.
            if let relocked = try? DirectoryLock(directory: store.directory, name: "lock", setting: "state.directory") {
                lock = relocked
            }
        }
        ingestor.counters.markCommitted()
        lastSignature = signature
        lastCommitTime = now
        return true
    }
}

/// Bytes written by commits since the daemon started.
struct CommitBytes: Equatable, Sendable {
    var full: UInt64 = 0
    var journal: UInt64 = 0
}
