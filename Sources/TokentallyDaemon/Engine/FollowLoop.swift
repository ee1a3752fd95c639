#if canImport(Glibc)
import Glibc
#endif
import TokentallySystem
import TokentallyReading
import TokentallyCounting
import TokentallyOutput
import TokentallyConfiguration
import Foundation
import Logging
import Synchronization

/// The daemon's engine: follows the inputs, counts lines, commits state and publishes
/// snapshots, on one thread that owns all of its mutable state.
///
/// Exactly once: the counters and the files' counted offsets are committed together in one
/// atomic state file every `state.commit_interval_seconds`. After a crash the daemon restarts
/// from that commit, counters and offsets of the same moment, and reads again what came after.
/// Snapshots are written from the in-memory counters every `snapshot.interval_seconds` and on
/// shutdown; they may run ahead of the last commit, and are rewritten after a restart.
public final class FollowLoop: @unchecked Sendable {
    /// How often the inputs' globs are scanned even without inotify events (inotify queues can
    /// overflow, and some file systems do not report every change).
    public static let scanIntervalSeconds = 5.0
    /// After a write wakes the loop, it waits this long so that a busy gateway's lines are
    /// read in batches rather than one wake-up per line.
    public static let batchDelaySeconds = 0.05
    /// Bytes read between checks of the timers and of a stop request.
    static let readBudget = 8 << 20

    public private(set) var configuration: Configuration
    public let counters: UsageCounters
    public let ingestor: LogIngestor
    private let follower: FileFollower
    private let store: StateStore
    /// Held for the daemon's life: one tokentally per state directory, and per snapshot
    /// directory (`DirectoryLock`).
    private var stateLock: DirectoryLock
    private var snapshotLock: DirectoryLock
    private var publisher: SnapshotPublisher
    private let watcher: DirectoryWatcher
    private let logger: Logger
    private let notifier: ServiceNotifier
    private let journal: JournalSink?
    private let stopRequested = Atomic<Bool>(false)
    /// A configuration handed over by a reload, applied by the loop at its next turn.
    private let pendingReload = Mutex<Configuration?>(nil)
    /// Why the last reload was refused, shown in `STATUS=` until a reload succeeds.
    private var reloadProblem: String? = nil
    private struct JournalState {
        var works = true
        var lastDay: (label: String, requests: UInt64)? = nil
    }
    private let journalState = Mutex(JournalState())
    /// The journal settings, read by the outbox thread; replaced by a reload.
    private let journalSettings: Mutex<JournalConfiguration>
    private var outbox: SnapshotOutbox!
    private var lastWatchdog = 0.0

    private var lastCommitSignature: [UInt64] = []
    private var lastCommitTime: Int64? = nil
    private var commitHealth = OperationHealth()
    private var commitErrorLog = RateLimiter(interval: 60)
    private var lastSnapshotLines: UInt64 = .max
    private var lastSnapshotFileChanges: UInt64 = .max
    private var lastSnapshotTime: Int64? = nil
    private var rateWindow: (time: Double, lines: UInt64) = (0, 0)
    private var linesPerSecond: Double? = nil

    /// Sets everything up and loads the committed state, before anything is read. Throws a
    /// `CommandError` with one line for a bad input directory or an unreadable state.
    /// - Parameter adoptState: resume a committed state even when it was committed for inputs
    ///   that share nothing with the configured ones (`tokentally adopt-state`).
    public init(
        configuration: Configuration, opener: LogFileOpener, logger: Logger,
        notifier: ServiceNotifier = SilentNotifier(), journal: JournalSink? = nil, adoptState: Bool = false
    ) throws(CommandError) {
        // Before anything is opened: the unit's LimitNOFILE, not the default soft 1024.
        DescriptorBudget.raiseSoftLimit()
        self.configuration = configuration
        self.logger = logger
        self.notifier = notifier
        self.journal = journal
        self.journalSettings = Mutex(configuration.journal)
        guard let calendar = BucketCalendar(timeZoneIdentifier: configuration.timezone) else {
            throw .usage("timezone: unknown time zone \"\(configuration.timezone)\"")
        }
        let redactor: KeyRedactor
        do { redactor = try KeyRedactor(secretPattern: configuration.secretPattern) } catch {
            throw .usage("secret_pattern: \(error)")
        }
        counters = UsageCounters(
            calendar: calendar, retention: configuration.retention, maxSeries: configuration.limits.maxSeries,
            redactor: redactor)
        var mappings = configuration.formats
        for preset in FormatPreset.allCases { mappings[preset.rawValue] = preset.mapping }
        ingestor = LogIngestor(
            counters: counters, mappings: mappings, maxLineBytes: configuration.limits.maxLineBytes, logger: logger)
        follower = FileFollower(
            inputs: configuration.inputs, ingestor: ingestor, opener: opener, logger: logger,
            maxLineBytes: configuration.limits.maxLineBytes)
        do {
            watcher = try DirectoryWatcher()
            try Self.watchInputDirectories(configuration.inputs, with: watcher)
        } catch let error as CommandError {
            throw error
        } catch {
            throw .io("\(error)")
        }
        follower.maxOpenFiles = DescriptorBudget.followedFiles()
        do {
            store = try StateStore(directory: configuration.state.directory)
            stateLock = try DirectoryLock(
                directory: configuration.state.directory, name: "lock", setting: "state.directory")
            store.removeStaleTemporaryFiles()
            let writer = try SnapshotWriter(
                directory: configuration.snapshot.directory, fileMode: configuration.snapshot.fileMode)
            snapshotLock = try DirectoryLock(
                directory: writer.directory, name: SnapshotWriter.lockFileName, setting: "snapshot.directory")
            // Temporary files left by a crash mid-write are never read; remove them (the lock
            // says no other tokentally writes here).
            _ = try writer.removeStaleTemporaryFiles()
            publisher = SnapshotPublisher(
                writer: writer, host: configuration.host ?? HostName.current, timezone: configuration.timezone,
                minRequests: configuration.highlights.minRequests, pruneUnknownBuckets: false)
        } catch {
            throw .io("\(error)")
        }
        try restoreState(adopt: adoptState)
        ingestor.markLateDropsLogged()
        outbox = SnapshotOutbox(logger: logger) { [weak self] batch in self?.writeJournal(batch) }
    }

    /// Every input's directory must exist (the files in it may come later).
    private static func watchInputDirectories(_ inputs: [InputConfiguration], with watcher: DirectoryWatcher) throws {
        for input in inputs {
            var directory = (input.path as NSString).deletingLastPathComponent
            if directory.isEmpty { directory = "." }
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue
            else {
                throw CommandError.usage(
                    "inputs: the directory \(directory) of \(input.path) does not exist; create it or fix the path")
            }
            try watcher.watch(directory: directory)
        }
    }

    private func restoreState(adopt: Bool) throws(CommandError) {
        let loaded: StateReader?
        do { loaded = try store.load() } catch { throw .io(error.description) }
        guard var reader = loaded else {
            logger.info("no committed state: reading every file from its start")
            return
        }
        let version = reader.formatVersion
        var committedInputs: [String]? = nil
        var records: [FileRecord] = []
        do {
            lastCommitTime = try reader.read(Int64.self)
            if version >= 3 {
                let count = try reader.readCount(minimumItemSize: 4)
                var inputs: [String] = []
                for _ in 0..<count { inputs.append(try reader.readString()) }
                committedInputs = inputs
            }
            try ingestor.restore(from: &reader)
            try counters.restore(from: &reader, formatVersion: version)
            let count = try reader.readCount(minimumItemSize: 40)
            for _ in 0..<count { records.append(try FileRecord.decode(from: &reader, formatVersion: version)) }
            try reader.finish()
        } catch {
            throw .io("\(store.path): the state cannot be used: \(error); \(StateError.rebuildHint)")
        }
        if let committedInputs, !adopt,
            let problem = Self.foreignStateProblem(
                committed: committedInputs, records: records, configured: configuration.inputs.map(\.path),
                directory: configuration.state.directory)
        {
            throw .usage(problem)
        }
        follower.restore(records)
        counters.markAllDirty()
        logger.info(
            adopt ? "adopted the committed state for the configured inputs" : "resumed from committed state",
            metadata: ["lines": "\(counters.recordsCounted)", "files": "\(records.count)"])
    }

    /// Why a committed state must not be resumed by this configuration, or nil: it was
    /// committed for inputs that share nothing with the configured ones (no glob in common, and
    /// none of its files matched by a configured glob). That is a configuration copied for
    /// another gateway with `state.directory` left as it was: resuming would merge two
    /// gateways' counts. Ordinary edits (a glob added, removed or rewritten to match the same
    /// files) share something, and work as they do on reload.
    static func foreignStateProblem(
        committed: [String], records: [FileRecord], configured: [String], directory: String
    ) -> String? {
        guard !committed.isEmpty else { return nil }
        if !Set(committed).isDisjoint(with: configured) { return nil }
        if records.contains(where: { record in configured.contains { FileGlob.matches($0, record.path) } }) {
            return nil
        }
        return "state.directory \(directory) holds the counts of other inputs (\(committed.joined(separator: ", "))), which share nothing with the configured \(configured.joined(separator: ", ")); resuming would merge two gateways' counts. Give this configuration its own state.directory, or, if these inputs really are the same logs moved, adopt the state once with: tokentally adopt-state --config FILE (docs/operations.md)"
    }

    /// Asks `run` to stop: it stops reading, commits, writes a final snapshot and returns.
    /// Safe from any thread.
    public func requestStop() {
        stopRequested.store(true, ordering: .releasing)
        watcher.wake()
    }

    /// Hands a new, already validated configuration to the loop, which applies it at its next
    /// turn, between lines, after a commit. Safe from any thread.
    public func requestReload(_ configuration: Configuration) {
        pendingReload.withLock { $0 = configuration }
        watcher.wake()
    }

    /// Shows a refused reload in `STATUS=` (the old configuration keeps running).
    public func reportRefusedReload(_ reason: String) {
        reloadRefusal.withLock { $0 = reason }
        watcher.wake()
    }
    private let reloadRefusal = Mutex<String?>(nil)

    /// Whether a reload from `old` to `new` can be applied while running; if not, why.
    public static func liveChangeProblem(from old: Configuration, to new: Configuration) -> String? {
        if old.timezone != new.timezone {
            return "timezone cannot change while running (buckets are counted in \(old.timezone)); restart tokentally after rebuilding its state (docs/operations.md)"
        }
        if old.state.directory != new.state.directory {
            return "state.directory cannot change while running; stop tokentally, move the state, then start it"
        }
        if old.secretPattern != new.secretPattern {
            return "secret_pattern cannot change while running (keys already seen keep their names); restart tokentally to apply it"
        }
        return nil
    }

    private var shouldStop: Bool { stopRequested.load(ordering: .acquiring) }

    /// Runs until `requestStop`. Blocks the calling thread (run it on a thread of its own).
    public func run() throws {
        // Read from the configuration at each use: a reload may change them.
        var interval: Double { Double(configuration.snapshot.intervalSeconds) }
        var commitInterval: Double { Double(configuration.state.commitIntervalSeconds) }
        var nextScan = 0.0
        var nextCommit = monotonicNow() + commitInterval
        var nextSnapshot = 0.0
        var namesChanged = true
        var ready = false
        rateWindow = (monotonicNow(), ingestor.linesRead)
        while !shouldStop {
            let now = wallNow()
            if let refusal = reloadRefusal.withLock({ value -> String? in defer { value = nil }; return value }) {
                reloadProblem = refusal
                notifier.notify("STATUS=" + statusLine())
            }
            if let reloaded = pendingReload.withLock({ value -> Configuration? in defer { value = nil }; return value }) {
                try applyReload(reloaded, now: now)
                namesChanged = true
            }
            if namesChanged || follower.needsScan || monotonicNow() >= nextScan {
                follower.scan(now: now)
                nextScan = monotonicNow() + Self.scanIntervalSeconds
                namesChanged = false
            }
            if !ready {
                // State is loaded, the inputs are open and the signal handlers are installed.
                ready = true
                notifier.notify("READY=1\nSTATUS=" + statusLine())
            }
            pingWatchdog()
            ingestor.notAfterEpochSeconds = Double(now + Int64(configuration.limits.maxFutureSeconds))
            let caughtUp = try follower.read(budget: Self.readBudget, now: now)
            ingestor.logLateDrops()
            if monotonicNow() >= nextCommit {
                let started = monotonicNow()
                commitIfChanged()
                let took = monotonicNow() - started
                nextCommit = monotonicNow() + max(commitInterval, took * Self.commitSpacing)
            }
            if monotonicNow() >= nextSnapshot {
                if !snapshotBacklog {
                    snapshotCost = (0, outbox.writeSeconds.total)
                    snapshotMark = counters.changeMark
                }
                let started = monotonicNow()
                try snapshot()
                snapshotCost.building += monotonicNow() - started
                if snapshotBacklog {
                    nextSnapshot = monotonicNow() + Self.snapshotBacklogRetrySeconds
                } else {
                    // Building every batch, writing all but the last, and the last as long as
                    // the one before it took.
                    let written = outbox.writeSeconds
                    let cost = snapshotCost.building + written.total - snapshotCost.writtenBefore + written.last
                    let spaced = min(cost * Self.commitSpacing, interval * Self.snapshotSpacingLimit)
                    nextSnapshot = monotonicNow() + max(interval, spaced)
                }
            }
            guard caughtUp, !shouldStop else { continue }
            let mono = monotonicNow()
            var deadline = nextScan
            if let watchdog = notifier.watchdogInterval { deadline = min(deadline, lastWatchdog + watchdog / 2) }
            if commitSignature() != lastCommitSignature { deadline = min(deadline, nextCommit) }
            if ingestor.linesRead != lastSnapshotLines || follower.statusChanges != lastSnapshotFileChanges
                || snapshotBacklog
            {
                deadline = min(deadline, nextSnapshot)
            }
            if follower.needsScan { deadline = mono }
            let wake = watcher.wait(timeout: max(0, deadline - mono))
            namesChanged = wake.namesChanged
            if wake.contentChanged && !wake.requested {
                usleep(useconds_t(Self.batchDelaySeconds * 1_000_000))
            }
        }
        notifier.notify("STOPPING=1\nSTATUS=stopping: committing and writing a final snapshot")
        ingestor.logLateDrops(force: true)
        let committed = commitIfChanged()
        try snapshot(final: true)
        let snapshotError = outbox.health.consecutiveFailures > 0 ? outbox.health.lastError : nil
        guard committed, snapshotError == nil else {
            // Exit 1 (README, "Exit status"): what was counted since the last good commit is read
            // again at the next start, so nothing is lost, but the operator must know.
            var problems: [String] = []
            if !committed { problems.append("the final commit failed: \(commitHealth.lastError ?? "unknown error")") }
            if let snapshotError { problems.append("the final snapshot failed: \(snapshotError)") }
            logger.error("stopped without saving everything", metadata: ["lines": "\(ingestor.linesRead)"])
            throw CommandError.io("stopped, but " + problems.joined(separator: "; and "))
        }
        logger.info("stopped", metadata: ["lines": "\(ingestor.linesRead)"])
    }

    /// `WATCHDOG=1` at half the interval systemd asked for. It is sent from the loop itself, so
    /// a loop that is stuck (a hung read, a deadlock) stops sending it and gets restarted.
    private func pingWatchdog() {
        guard let interval = notifier.watchdogInterval else { return }
        let mono = monotonicNow()
        if mono - lastWatchdog >= interval / 2 {
            notifier.notify("WATCHDOG=1")
            lastWatchdog = mono
        }
    }

    /// Applies a reloaded configuration between lines: first a commit (so offsets and counters
    /// stay of one moment), then inputs, formats, limits, intervals, snapshot and journal
    /// settings. `RELOADING=1` … `READY=1` frame it for systemd.
    private func applyReload(_ new: Configuration, now: Int64) throws {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        let microseconds = UInt64(spec.tv_sec) * 1_000_000 + UInt64(spec.tv_nsec) / 1000
        notifier.notify("RELOADING=1\nMONOTONIC_USEC=\(microseconds)")
        if let problem = Self.liveChangeProblem(from: configuration, to: new) {
            reloadProblem = problem
            logger.error("reload refused; the old configuration keeps running: \(problem)")
            notifier.notify("READY=1\nSTATUS=" + statusLine())
            return
        }
        commitIfChanged()
        do {
            try Self.watchInputDirectories(new.inputs, with: watcher)
            outbox.drain()  // the old publisher's last batch goes where it was meant to
            if new.snapshot.directory != configuration.snapshot.directory
                || new.snapshot.fileMode != configuration.snapshot.fileMode
                || new.host != configuration.host || new.highlights != configuration.highlights
            {
                let writer = try SnapshotWriter(directory: new.snapshot.directory, fileMode: new.snapshot.fileMode)
                if writer.directory != snapshotLock.directory {
                    snapshotLock = try DirectoryLock(
                        directory: writer.directory, name: SnapshotWriter.lockFileName, setting: "snapshot.directory")
                }
                publisher = SnapshotPublisher(
                    writer: writer, host: new.host ?? HostName.current, timezone: new.timezone,
                    minRequests: new.highlights.minRequests, pruneUnknownBuckets: false)
                counters.markAllDirty()
            }
        } catch {
            reloadProblem = "\(error)"
            logger.error("reload refused; the old configuration keeps running: \(error)")
            notifier.notify("READY=1\nSTATUS=" + statusLine())
            return
        }
        var mappings = new.formats
        for preset in FormatPreset.allCases { mappings[preset.rawValue] = preset.mapping }
        ingestor.mappings = mappings
        ingestor.maxLineBytes = new.limits.maxLineBytes
        counters.retention = new.retention
        counters.maxSeries = new.limits.maxSeries
        journalSettings.withLock { $0 = new.journal }
        follower.update(inputs: new.inputs, maxLineBytes: new.limits.maxLineBytes, now: now)
        configuration = new
        reloadProblem = nil
        // Retention or the snapshot settings may have changed what the files should hold.
        lastSnapshotLines = .max
        logger.info("configuration reloaded", metadata: ["inputs": "\(new.inputs.count)"])
        notifier.notify("READY=1\nSTATUS=" + statusLine())
    }

    /// The one-line summary shown by `systemctl status`.
    func statusLine() -> String {
        let rate = linesPerSecond.map { String(Int($0.rounded())) } ?? "0"
        let files = follower.files.count
        var line = "\(rate) lines/s, \(files) files followed, \(follower.lagBytes) bytes behind"
        if let lastSnapshotTime { line += ", last snapshot \(JSONWriter.rfc3339(epochSeconds: lastSnapshotTime))" }
        if let reloadProblem { line += "; reload refused: \(reloadProblem)" }
        return line
    }

    // MARK: - Commit

    private func commitSignature() -> [UInt64] {
        let records = follower.records(now: 0)
        var signature = [ingestor.linesRead, UInt64(records.count)]
        for record in records { signature.append(record.offset &+ (record.finished ? 1 << 63 : 0)) }
        return signature
    }

    /// Commits counters and file offsets together, if anything changed since the last commit.
    /// Returns false when the commit failed: it is logged (at most once a minute while it keeps
    /// failing), shown in the status, and tried again at the next interval.
    @discardableResult
    public func commitIfChanged(force: Bool = false) -> Bool {
        let signature = commitSignature()
        guard force || signature != lastCommitSignature else { return true }
        let now = wallNow()
        let records = follower.records(now: now)
        let inputs = configuration.inputs.map(\.path)
        do {
            try store.commit { writer in
                writer.write(now)
                writer.write(UInt32(inputs.count))
                for input in inputs { writer.write(input) }
                ingestor.encode(into: &writer)
                counters.encode(into: &writer)
                writer.write(UInt32(records.count))
                for record in records { record.encode(into: &writer) }
            }
        } catch {
            commitHealth.failed(at: now, error.description)
            let (allowed, held) = commitErrorLog.allow()
            if allowed {
                logger.error(
                    "state commit failed; will retry",
                    metadata: ["error": "\(error)", "failures": "\(commitHealth.consecutiveFailures)", "not_logged": "\(held)"])
            }
            return false
        }
        if commitHealth.consecutiveFailures > 0 {
            logger.notice("state commits work again", metadata: ["failures": "\(commitHealth.consecutiveFailures)"])
            commitErrorLog.reset()
        }
        commitHealth.succeeded(at: now)
        if !stateLock.isStillInPlace {
            // The state directory was removed and made again while we ran: lock it anew.
            if let lock = try? DirectoryLock(directory: configuration.state.directory, name: "lock", setting: "state.directory") {
                stateLock = lock
            }
        }
        lastCommitSignature = signature
        lastCommitTime = now
        return true
    }

    // MARK: - Snapshots

    /// The status section of index.json, as of now.
    public func status() -> IngestStatus {
        var status = IngestStatus()
        status.linesRead = ingestor.linesRead
        status.linesCounted = counters.recordsCounted
        status.linesEmpty = ingestor.linesEmpty
        status.rejected = ingestor.rejectedByCode
        status.lateDropped = [
            .day: counters.lateDropped[0], .week: counters.lateDropped[1], .month: counters.lateDropped[2],
        ]
        status.overflowRecords = counters.overflowRecords
        status.seriesLimit = counters.maxSeries
        status.seriesCount = counters.seriesCount
        status.linesPerSecond = linesPerSecond
        status.lastCommitEpochSeconds = lastCommitTime
        status.commits = commitHealth
        status.snapshotWrites = outbox?.health ?? OperationHealth()
        status.files = follower.statuses()
        return status
    }

    /// Takes a snapshot: the reports of the changed buckets are built here, on the loop's
    /// thread; encoding and writing them happen on the outbox's thread, off the ingest path.
    /// With `final`, waits until they are written (shutdown).
    /// A commit rewrites the whole state, and a snapshot a whole bucket file for every bucket a
    /// line touched: at high cardinality (100k keys over 30 days: a 300 MB state, a month file
    /// of 400k series) each takes a second or more, and doing them every 2 and 10 s took about
    /// 70 % of a core while following 5k lines/s. The next commit, and the next snapshot, wait
    /// at least this many times as long as the last one took, so each uses at most about a
    /// tenth of the time. A crash then re-reads a little more (and still counts every line
    /// once), and the snapshots are a little older. At ordinary cardinality both take
    /// milliseconds and the configured intervals hold.
    static let commitSpacing = 9.0
    /// Snapshots are never spaced more than this many intervals apart, however long the last
    /// took (the one after a restart rewrites every bucket), so that dashboards stay current.
    static let snapshotSpacingLimit = 6.0

    /// Series rows per snapshot batch. At high cardinality one bucket's report holds hundreds
    /// of thousands of rows, and after a restart every bucket is changed: building them all at
    /// once took more memory than the counters themselves. Batches of about this many rows
    /// (about 30 MB of reports) follow each other as fast as the outbox writes them, and
    /// index.json is rewritten with the last.
    static let snapshotRowBudget = 100_000
    /// How soon the loop comes back for the rest of a snapshot that did not fit in one batch.
    static let snapshotBacklogRetrySeconds = 0.2
    /// Changed buckets are left over from the last batch (see `snapshotRowBudget`).
    private var snapshotBacklog = false
    /// The snapshot being taken covers the buckets changed up to this `changeMark`.
    private var snapshotMark: UInt64 = .max
    /// The snapshot being taken: seconds spent building its batches so far, and the outbox's
    /// total write seconds when it began.
    private var snapshotCost: (building: Double, writtenBefore: Double) = (0, 0)

    private func snapshot(final: Bool = false) throws {
        let mono = monotonicNow()
        if mono - rateWindow.time >= 1 {
            linesPerSecond = Double(ingestor.linesRead - rateWindow.lines) / (mono - rateWindow.time)
            rateWindow = (mono, ingestor.linesRead)
        }
        if outbox.takeFailure() { counters.markAllDirty() }
        if outbox.isBusy {
            guard final else { return }  // the changed buckets stay dirty for the next turn
            outbox.drain()
        }
        let now = wallNow()
        repeat {
            if snapshotBacklog && final { outbox.drain() }
            let batch = publisher.prepare(
                counters, status: status(), now: now, rowBudget: Self.snapshotRowBudget,
                changedBy: final ? .max : snapshotMark)
            outbox.submit(batch, with: publisher)
            snapshotBacklog = !batch.isComplete
        } while final && snapshotBacklog
        lastSnapshotLines = ingestor.linesRead
        lastSnapshotFileChanges = follower.statusChanges
        lastSnapshotTime = now
        notifier.notify("STATUS=" + statusLine())
        if final { outbox.stop() }
    }

    /// The current day's entries, when the day changed since they were last written. If the
    /// journal cannot be reached, the daemon keeps working and says so once. Runs on the
    /// outbox's thread, after the batch's files were written.
    private func writeJournal(_ batch: SnapshotPublisher.Batch) {
        guard let day = batch.newestDay else { return }
        let settings = journalSettings.withLock { $0 }
        guard settings.enabled, let journal else { return }
        journalState.withLock { state in
            if let last = state.lastDay, last.label == day.label, last.requests == day.totals.counters.requests {
                return
            }
            do {
                for entry in JournalEntries.entries(for: day, top: settings.top) { try journal.send(entry) }
                if !state.works { logger.notice("journald is reachable again; snapshot entries resume") }
                state.works = true
                state.lastDay = (day.label, day.totals.counters.requests)
            } catch {
                if state.works {
                    logger.warning(
                        "journald is not reachable; snapshot entries are not written to the journal until it is: \(error)")
                }
                state.works = false
            }
        }
    }

    private func monotonicNow() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }

    private func wallNow() -> Int64 { Int64(time(nil)) }
}
