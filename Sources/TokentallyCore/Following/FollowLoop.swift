#if canImport(Glibc)
import Glibc
#endif
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

    public let configuration: Configuration
    public let counters: UsageCounters
    public let ingestor: LogIngestor
    private let follower: FileFollower
    private let store: StateStore
    private let publisher: SnapshotPublisher
    private let watcher: DirectoryWatcher
    private let logger: Logger
    private let stopRequested = Atomic<Bool>(false)
    private let finished = Mutex<Bool>(false)

    private var lastCommitSignature: [UInt64] = []
    private var lastCommitTime: Int64? = nil
    private var lastSnapshotLines: UInt64 = .max
    private var rateWindow: (time: Double, lines: UInt64) = (0, 0)
    private var linesPerSecond: Double? = nil

    /// Called after each snapshot with the files' status (for journald and `STATUS=`).
    public var onSnapshot: (@Sendable (IngestStatus) -> Void)? = nil

    /// Sets everything up and loads the committed state, before anything is read. Throws a
    /// `CommandError` with one line for a bad input directory or an unreadable state.
    public init(configuration: Configuration, opener: LogFileOpener, logger: Logger) throws(CommandError) {
        self.configuration = configuration
        self.logger = logger
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
            for input in configuration.inputs {
                let directory = (input.path as NSString).deletingLastPathComponent
                var isDirectory: ObjCBool = false
                guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory),
                    isDirectory.boolValue
                else {
                    throw CommandError.usage(
                        "inputs: the directory \(directory) of \(input.path) does not exist; create it or fix the path")
                }
                try watcher.watch(directory: directory.isEmpty ? "." : directory)
            }
        } catch let error as CommandError {
            throw error
        } catch {
            throw .io("\(error)")
        }
        do {
            store = try StateStore(directory: configuration.state.directory)
            let writer = try SnapshotWriter(
                directory: configuration.snapshot.directory, fileMode: configuration.snapshot.fileMode)
            // Temporary files left by a crash mid-write are never read; remove them.
            _ = try writer.removeStaleTemporaryFiles()
            publisher = SnapshotPublisher(
                writer: writer, host: configuration.host ?? HostName.current, timezone: configuration.timezone,
                minRequests: configuration.highlights.minRequests, pruneUnknownBuckets: false)
        } catch {
            throw .io("\(error)")
        }
        try restoreState()
    }

    private func restoreState() throws(CommandError) {
        let payload: [UInt8]?
        do { payload = try store.load() } catch { throw .io(error.description) }
        guard let payload else {
            logger.info("no committed state: reading every file from its start")
            return
        }
        var reader = StateReader(payload)
        do {
            lastCommitTime = try reader.read(Int64.self)
            try ingestor.restore(from: &reader)
            try counters.restore(from: &reader)
            let count = try reader.readCount(minimumItemSize: 40)
            var records: [FileRecord] = []
            for _ in 0..<count { records.append(try FileRecord.decode(from: &reader)) }
            guard reader.isAtEnd else { throw StateDecodingError("unexpected bytes after the end of the state") }
            follower.restore(records)
            counters.markAllDirty()
            logger.info(
                "resumed from committed state",
                metadata: ["lines": "\(counters.recordsCounted)", "files": "\(records.count)"])
        } catch {
            throw .io("\(store.path): the state cannot be used: \(error); \(StateError.rebuildHint)")
        }
    }

    /// Asks `run` to stop: it stops reading, commits, writes a final snapshot and returns.
    /// Safe from any thread.
    public func requestStop() {
        stopRequested.store(true, ordering: .releasing)
        watcher.wake()
    }

    private var shouldStop: Bool { stopRequested.load(ordering: .acquiring) }

    /// Runs until `requestStop`. Blocks the calling thread (run it on a thread of its own).
    public func run() throws {
        let interval = Double(configuration.snapshot.intervalSeconds)
        let commitInterval = Double(configuration.state.commitIntervalSeconds)
        var nextScan = 0.0
        var nextCommit = monotonicNow() + commitInterval
        var nextSnapshot = 0.0
        var namesChanged = true
        rateWindow = (monotonicNow(), ingestor.linesRead)
        while !shouldStop {
            let now = wallNow()
            if namesChanged || monotonicNow() >= nextScan {
                follower.scan(now: now)
                nextScan = monotonicNow() + Self.scanIntervalSeconds
                namesChanged = false
            }
            let caughtUp = try follower.read(budget: Self.readBudget, now: now)
            if monotonicNow() >= nextCommit {
                try commitIfChanged()
                nextCommit = monotonicNow() + commitInterval
            }
            if monotonicNow() >= nextSnapshot {
                try snapshot()
                nextSnapshot = monotonicNow() + interval
            }
            guard caughtUp, !shouldStop else { continue }
            let mono = monotonicNow()
            var deadline = nextScan
            if commitSignature() != lastCommitSignature { deadline = min(deadline, nextCommit) }
            if ingestor.linesRead != lastSnapshotLines { deadline = min(deadline, nextSnapshot) }
            let wake = watcher.wait(timeout: max(0, deadline - mono))
            namesChanged = wake.namesChanged
            if wake.contentChanged && !wake.requested {
                usleep(useconds_t(Self.batchDelaySeconds * 1_000_000))
            }
        }
        try commitIfChanged()
        try snapshot()
        logger.info("stopped", metadata: ["lines": "\(ingestor.linesRead)"])
    }

    // MARK: - Commit

    private func commitSignature() -> [UInt64] {
        let records = follower.records(now: 0)
        var signature = [ingestor.linesRead, UInt64(records.count)]
        for record in records { signature.append(record.offset &+ (record.finished ? 1 << 63 : 0)) }
        return signature
    }

    /// Commits counters and file offsets together, if anything changed since the last commit.
    public func commitIfChanged() throws {
        let signature = commitSignature()
        guard signature != lastCommitSignature else { return }
        let now = wallNow()
        var writer = StateWriter(capacity: 1 << 20)
        writer.write(now)
        ingestor.encode(into: &writer)
        counters.encode(into: &writer)
        let records = follower.records(now: now)
        writer.write(UInt32(records.count))
        for record in records { record.encode(into: &writer) }
        do {
            try store.commit(writer.bytes)
        } catch {
            logger.error("state commit failed; will retry", metadata: ["error": "\(error)"])
            return
        }
        lastCommitSignature = signature
        lastCommitTime = now
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
        status.files = follower.statuses()
        return status
    }

    private func snapshot() throws {
        let mono = monotonicNow()
        if mono - rateWindow.time >= 1 {
            linesPerSecond = Double(ingestor.linesRead - rateWindow.lines) / (mono - rateWindow.time)
            rateWindow = (mono, ingestor.linesRead)
        }
        let status = status()
        do {
            try publisher.publish(counters, status: status, now: wallNow())
        } catch {
            logger.error("writing snapshots failed; will retry", metadata: ["error": "\(error)"])
            return
        }
        lastSnapshotLines = ingestor.linesRead
        onSnapshot?(status)
    }

    private func monotonicNow() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }

    private func wallNow() -> Int64 { Int64(time(nil)) }
}
