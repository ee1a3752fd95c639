#if canImport(Glibc)
    import Glibc
#endif
import Foundation
import Logging
import Synchronization
import TokentallyConfiguration
import TokentallyCounting
import TokentallyOutput
import TokentallyReading
import TokentallySystem

/// The daemon's driver of the ingest pipeline: follows the inputs (`FileFollower`), counts
/// their lines (`LogIngestor`, the same pipeline replay drives), commits checkpoints
/// (`StateCommitter`) and publishes snapshots (`SnapshotPublisher` through `SnapshotOutbox`),
/// when the `Schedule` says so, on one thread that owns all of it.
///
/// Exactly once: the counters and the files' counted offsets are committed together in one
/// atomic state file every `state.commit_interval_seconds`. After a crash the daemon restarts
/// from that commit, counters and offsets of the same moment, and reads again what came after.
/// Snapshots are written from the in-memory counters every `snapshot.interval_seconds` and on
/// shutdown; they may run ahead of the last commit, and are rewritten after a restart.
///
/// `@unchecked Sendable`: every stored `var` and every component is owned by the thread that
/// calls `run` (and, before it, `init`). Other threads only call `requestStop`,
/// `requestReload` and `reportRefusedReload`, which put a request in `inbox` (a mutex) and wake
/// the watcher; the loop takes the requests at its next turn. The journal is written on the
/// outbox's thread through `JournalPublisher`, which keeps its own state in mutexes.
public final class FollowLoop: @unchecked Sendable {
    /// After a write wakes the loop, it waits this long so that a busy gateway's lines are
    /// read in batches rather than one wake-up per line.
    static let batchDelaySeconds = 0.05
    /// Bytes read between checks of the timers and of a stop request.
    static let readBudget = 8 << 20
    /// Series rows per snapshot batch. At high cardinality one bucket's report holds hundreds
    /// of thousands of rows, and after a restart every bucket is changed: building them all at
    /// once took more memory than the counters themselves. Batches of about this many rows
    /// (about 8 MB of reports; a bigger bucket is a batch of its own) follow each other as fast
    /// as the outbox writes them, and index.json is rewritten with the last. Measured at 100k
    /// keys over 30 days: 100k rows a batch peaked 13 MB higher.
    static let snapshotRowBudget = 50_000
    /// How long a stop may spend reading what the files held when it was asked for, before it
    /// commits and writes the final snapshot: well under the unit's `TimeoutStopSec=60s`, so a
    /// large backlog cannot make systemd kill the daemon before it has saved anything.
    static let stopReadSeconds = 15.0

    var configuration: Configuration
    let counters: UsageCounters
    let ingestor: LogIngestor
    let follower: FileFollower
    let committer: StateCommitter
    /// Held for the daemon's life: one tokentally per snapshot directory (`DirectoryLock`).
    var snapshotLock: DirectoryLock
    var publisher: SnapshotPublisher
    let watcher: DirectoryWatcher
    let logger: Logger
    let notifier: ServiceNotifier
    let journal: JournalPublisher
    var outbox: SnapshotOutbox!
    var schedule: Schedule
    var snapshots = SnapshotProgress()
    /// Why the last reload was refused, shown in `STATUS=` until a reload succeeds.
    var reloadProblem: String? = nil
    var rate = LineRate()

    /// What other threads ask of the loop, taken at each turn.
    struct Inbox {
        var stop = false
        /// A configuration handed over by a reload, applied at the next turn.
        var reload: Configuration? = nil
        /// A reload refused before it reached the loop (an invalid file), for `STATUS=`.
        var refusal: String? = nil
    }
    private let inbox = Mutex(Inbox())

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
        self.journal = JournalPublisher(sink: journal, settings: configuration.journal, logger: logger)
        schedule = Schedule(settings: Self.scheduleSettings(configuration, notifier), now: MonotonicClock.seconds())
        ingestor = try configuration.makeIngestor(parserThreads: Self.parserThreads, logger: logger)
        // Commits append what changed to the state journal (`StateCommitter`).
        ingestor.counters.tracksChanges = true
        counters = ingestor.counters
        follower = FileFollower(
            inputs: configuration.inputs, ingestor: ingestor, opener: opener, logger: logger,
            maxLineBytes: configuration.limits.maxLineBytes)
        do {
            watcher = try DirectoryWatcher()
        } catch {
            throw .io("\(error)")
        }
        try Self.watchInputDirectories(configuration.inputs, with: watcher)
        follower.maxOpenFiles = DescriptorBudget.followedFiles()
        committer = try StateCommitter(directory: configuration.state.directory, logger: logger)
        do {
            let writer = try SnapshotWriter(
                directory: configuration.snapshot.directory, fileMode: configuration.snapshot.fileMode,
                schema: configuration.snapshotSchema)
            snapshotLock = try DirectoryLock(
                directory: writer.directory, name: SnapshotWriter.lockFileName, setting: "snapshot.directory")
            // Temporary files left by a crash mid-write are never read; remove them (the lock
            // says no other tokentally writes here).
            _ = try writer.removeStaleTemporaryFiles()
            publisher = configuration.snapshotPublisher(writer: writer, pruneUnknownBuckets: false)
        } catch {
            throw .io("\(error)")
        }
        try restoreState(adopt: adoptState)
        ingestor.markLateDropsLogged()
        let journal = self.journal
        outbox = SnapshotOutbox(logger: logger) { batch in journal.publish(batch) }
    }

    /// Parser threads beside the loop's own: one, so that a catch-up after downtime reads and
    /// parses on the second core while the loop counts. Live, a read holds a few lines and the
    /// loop parses them itself whenever the thread has not (`ParsingPipeline`).
    static let parserThreads = 1

    static func scheduleSettings(_ configuration: Configuration, _ notifier: ServiceNotifier) -> Schedule.Settings {
        Schedule.Settings(
            snapshotInterval: Double(configuration.snapshot.intervalSeconds),
            commitInterval: Double(configuration.state.commitIntervalSeconds),
            watchdogInterval: notifier.watchdogInterval)
    }

    /// Every input's directory must exist (the files in it may come later).
    static func watchInputDirectories(
        _ inputs: [InputConfiguration], with watcher: DirectoryWatcher
    ) throws(CommandError) {
        for input in inputs {
            var directory = (input.path as NSString).deletingLastPathComponent
            if directory.isEmpty { directory = "." }
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue
            else {
                throw .usage(
                    "inputs: the directory \(directory) of \(input.path) does not exist; create it or fix the path")
            }
            do { try watcher.watch(directory: directory) } catch { throw .io("\(error)") }
        }
    }

    private func restoreState(adopt: Bool) throws(CommandError) {
        guard let checkpoint = try committer.load(into: ingestor) else {
            logger.info("no committed state: reading every file from its start")
            return
        }
        if !adopt,
            let problem = checkpoint.foreignStateProblem(
                configured: configuration.inputs.map(\.path), directory: configuration.state.directory)
        {
            throw .usage(problem)
        }
        follower.restore(checkpoint.files)
        logger.info(
            adopt ? "adopted the committed state for the configured inputs" : "resumed from committed state",
            metadata: ["lines": "\(counters.recordsCounted)", "files": "\(checkpoint.files.count)"])
    }

    // MARK: - Requests from other threads

    /// Asks `run` to stop: it stops reading, commits, writes a final snapshot and returns.
    /// Safe from any thread.
    func requestStop() {
        inbox.withLock { $0.stop = true }
        watcher.wake()
    }

    /// Hands a new, already validated configuration to the loop, which applies it at its next
    /// turn, between lines, after a commit. Safe from any thread.
    func requestReload(_ configuration: Configuration) {
        inbox.withLock { $0.reload = configuration }
        watcher.wake()
    }

    /// Shows a refused reload in `STATUS=` (the old configuration keeps running). Safe from
    /// any thread.
    func reportRefusedReload(_ reason: String) {
        inbox.withLock { $0.refusal = reason }
        watcher.wake()
    }

    private var shouldStop: Bool { inbox.withLock { $0.stop } }

    /// The reload and refusal waiting, taken out of the inbox.
    private func takeRequests() -> (reload: Configuration?, refusal: String?) {
        inbox.withLock { inbox in
            defer {
                inbox.reload = nil
                inbox.refusal = nil
            }
            return (inbox.reload, inbox.refusal)
        }
    }

    // MARK: - The loop

    /// Runs until `requestStop`. Blocks the calling thread (run it on a thread of its own).
    public func run() throws {
        var events = Schedule.Events(namesChanged: true)
        var ready = false
        rate.start(at: MonotonicClock.seconds(), lines: ingestor.linesRead)
        while !shouldStop {
            let now = WallClock.seconds()
            let requests = takeRequests()
            if let refusal = requests.refusal {
                reloadProblem = refusal
                notifier.notify("STATUS=" + statusLine())
            }
            if let reloaded = requests.reload {
                applyReload(reloaded, now: now)
                events.namesChanged = true
            }
            events.fileFinished = follower.needsScan
            if schedule.due(at: MonotonicClock.seconds(), events: events).contains(.scan) {
                follower.scan(now: now)
                schedule.scanned(at: MonotonicClock.seconds())
            }
            events = Schedule.Events()
            if !ready {
                // State is loaded, the inputs are open and the signal handlers are installed.
                ready = true
                notifier.notify("READY=1\nSTATUS=" + statusLine())
            }
            pingWatchdog()
            let caughtUp = try readFiles(now: now)
            // Caught up after a backlog: live reads of a few KiB need one batch, not the sixteen
            // the parsing threads filled (about 10 MB).
            if caughtUp && follower.takeBacklogRead() { ingestor.releaseReadingBuffers() }
            ingestor.logLateDrops()
            if schedule.due(at: MonotonicClock.seconds()).contains(.commit) {
                let started = MonotonicClock.seconds()
                commitIfChanged()
                let ended = MonotonicClock.seconds()
                schedule.committed(at: ended, took: ended - started)
            }
            if schedule.due(at: MonotonicClock.seconds()).contains(.snapshot) {
                let beginsNew = schedule.snapshotBegins(written: outbox.writeTimes)
                let started = MonotonicClock.seconds()
                snapshot(beginsNew: beginsNew)
                let ended = MonotonicClock.seconds()
                schedule.snapshotBuilt(
                    at: ended, building: ended - started, backlog: snapshots.hasBacklog, written: outbox.writeTimes)
            }
            guard caughtUp, !shouldStop else { continue }
            let mono = MonotonicClock.seconds()
            let pending = Schedule.Pending(
                uncommitted: committer.hasChanges(commitSignature()),
                unpublished: snapshots.isBehind(linesRead: ingestor.linesRead, fileChanges: follower.statusChanges),
                scanNow: follower.needsScan)
            let wake = watcher.wait(timeout: max(0, schedule.wakeDeadline(at: mono, pending: pending) - mono))
            events.namesChanged = wake.namesChanged
            if wake.contentChanged && !wake.requested {
                usleep(useconds_t(Self.batchDelaySeconds * 1_000_000))
            }
        }
        try stop()
    }

    /// Commits and writes a final snapshot. Throws when either failed (exit 1, README "Exit
    /// status"): what was counted since the last good commit is read again at the next start,
    /// so nothing is lost, but the operator must know.
    private func stop() throws(CommandError) {
        notifier.notify("STOPPING=1\nSTATUS=stopping: reading what the files hold, then committing")
        readBeforeStopping()
        ingestor.logLateDrops(force: true)
        let committed = commitIfChanged()
        snapshot(final: true)
        let snapshotError = outbox.health.consecutiveFailures > 0 ? outbox.health.lastError : nil
        guard committed, snapshotError == nil else {
            var problems: [String] = []
            if !committed {
                problems.append("the final commit failed: \(committer.health.lastError ?? "unknown error")")
            }
            if let snapshotError { problems.append("the final snapshot failed: \(snapshotError)") }
            logger.error("stopped without saving everything", metadata: ["lines": "\(ingestor.linesRead)"])
            throw .io("stopped, but " + problems.joined(separator: "; and "))
        }
        logger.info("stopped", metadata: ["lines": "\(ingestor.linesRead)"])
    }

    /// One budget of reading, with records dated after `now` + `limits.max_future_seconds`
    /// rejected; true when every file was read to its end.
    private func readFiles(now: Int64) throws -> Bool {
        ingestor.notAfterEpochSeconds = Double(now + Int64(configuration.limits.maxFutureSeconds))
        return try follower.read(budget: Self.readBudget, now: now)
    }

    /// Reads what the files hold now, so that the final snapshot has every line written before
    /// the stop (a stop arrives while lines written a moment ago wait for the next wake-up).
    /// Bounded by `stopReadSeconds`; what is left is read after the next start, as always.
    private func readBeforeStopping() {
        let deadline = MonotonicClock.seconds() + Self.stopReadSeconds
        follower.scan(now: WallClock.seconds())
        var caughtUp = false
        do {
            while !caughtUp && MonotonicClock.seconds() < deadline {
                pingWatchdog()
                caughtUp = try readFiles(now: WallClock.seconds())
            }
        } catch {
            logger.error(
                "stopping: reading failed; what is left is read at the next start", metadata: ["error": "\(error)"])
            return
        }
        ingestor.logLateDrops()
        if !caughtUp {
            let seconds = Int(Self.stopReadSeconds)
            logger.warning(
                "stopping: lines are left after \(seconds) s of reading; they are read at the next start",
                metadata: ["lines": "\(ingestor.linesRead)"])
        }
    }

    /// `WATCHDOG=1` at half the interval systemd asked for. It is sent from the loop itself, so
    /// a loop that is stuck (a hung read, a deadlock) stops sending it and gets restarted.
    private func pingWatchdog() {
        let mono = MonotonicClock.seconds()
        guard schedule.due(at: mono).contains(.watchdog) else { return }
        notifier.notify("WATCHDOG=1")
        schedule.pingedWatchdog(at: mono)
    }

    /// The one-line summary shown by `systemctl status`.
    func statusLine() -> String {
        let lines = rate.perSecond.map { String(Int($0.rounded())) } ?? "0"
        var line = "\(lines) lines/s, \(follower.files.count) files followed, \(follower.lagBytes) bytes behind"
        if let last = snapshots.lastTime { line += ", last snapshot \(JSONWriter.rfc3339(epochSeconds: last))" }
        if let reloadProblem { line += "; reload refused: \(reloadProblem)" }
        return line
    }
}

/// Lines read per second, over windows of at least a second (for the status).
struct LineRate {
    private var window: (time: Double, lines: UInt64) = (0, 0)
    private(set) var perSecond: Double? = nil

    mutating func start(at time: Double, lines: UInt64) {
        window = (time, lines)
    }

    mutating func update(at time: Double, lines: UInt64) {
        guard time - window.time >= 1 else { return }
        perSecond = Double(lines - window.lines) / (time - window.time)
        window = (time, lines)
    }
}
