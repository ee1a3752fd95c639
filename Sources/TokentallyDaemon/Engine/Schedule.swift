/// When the follow loop scans, pings the watchdog, commits and snapshots: a plain value that is
/// told the time (monotonic seconds) and what happened, and says what is due, so that
/// `ScheduleTests` pin down every rule without a clock.
///
/// The rules:
/// - **Scan** at the first turn, whenever names changed in a watched directory or a file was
///   finished, and otherwise every `scanInterval` (inotify queues overflow, and some file
///   systems do not report every change).
/// - **Watchdog** at half the interval systemd asked for.
/// - **Commit** every `commitInterval`, but at least `costSpacing` times as long after the last
///   as it took; **snapshot** likewise every `snapshotInterval`, spaced by what the last one cost
///   (building its batches, writing all but the last, and the last as long as the one before
///   it), but never more than `snapshotSpacingLimit` intervals apart. A commit rewrites the
///   whole state and a snapshot a whole file for every bucket a line touched: at 100k keys over
///   30 days each takes a second or more, and doing them every 2 and 10 s took about 70 % of a
///   core while following 5k lines/s. Spaced so, each uses at most about a tenth of the time; a
///   crash re-reads a little more (still counting every line once) and snapshots are a little
///   older. At ordinary cardinality both take milliseconds and the intervals hold.
/// - A snapshot too big for one batch comes back for the rest after `backlogRetry`.
/// - **Sleep** until the first of these that has something to do.
struct Schedule: Sendable {
    struct Settings: Equatable, Sendable {
        var snapshotInterval: Double
        var commitInterval: Double
        var scanInterval: Double = 5
        /// systemd's `WATCHDOG_USEC`, in seconds; nil without a watchdog.
        var watchdogInterval: Double? = nil
    }

    /// What is due now.
    struct Actions: OptionSet, Sendable, CustomStringConvertible {
        let rawValue: UInt8
        static let scan = Actions(rawValue: 1)
        static let watchdog = Actions(rawValue: 2)
        static let commit = Actions(rawValue: 4)
        static let snapshot = Actions(rawValue: 8)

        var description: String {
            [(Self.scan, "scan"), (.watchdog, "watchdog"), (.commit, "commit"), (.snapshot, "snapshot")]
                .filter { contains($0.0) }.map(\.1).joined(separator: ",")
        }
    }

    /// What happened since the last turn.
    struct Events: Equatable, Sendable {
        /// Files were created, deleted or renamed in a watched directory (or a reload).
        var namesChanged = false
        /// A file was finished: scan at once, so that the status shows its copies.
        var fileFinished = false
    }

    /// What is waiting to be done, for the sleep.
    struct Pending: Equatable, Sendable {
        /// Lines or offsets changed since the last commit.
        var uncommitted = false
        /// Lines or file statuses changed since the last snapshot, or a snapshot's backlog.
        var unpublished = false
        /// A scan is wanted at once.
        var scanNow = false
    }

    /// What a snapshot cost so far: seconds building its batches, and the outbox's total write
    /// seconds when it began.
    struct SnapshotCost: Equatable, Sendable {
        var building: Double = 0
        var writtenBefore: Double = 0
    }

    /// The outbox's write times: of the last batch, and of all so far.
    struct WriteTimes: Equatable, Sendable {
        var last: Double = 0
        var total: Double = 0
    }

    /// Commits and snapshots wait at least this many times as long as the last one took.
    static let costSpacing = 9.0
    /// Snapshots are never spaced more than this many intervals apart, however long the last
    /// took (the one after a restart rewrites every bucket), so that dashboards stay current.
    static let snapshotSpacingLimit = 6.0
    /// How soon the loop comes back for the rest of a snapshot that did not fit in one batch.
    static let backlogRetry = 0.2

    var settings: Settings
    private(set) var nextScan: Double = 0
    private(set) var nextCommit: Double
    private(set) var nextSnapshot: Double = 0
    private(set) var lastWatchdog: Double = 0
    /// The snapshot being taken left buckets for a next batch.
    private(set) var snapshotBacklog = false
    private(set) var snapshotCost = SnapshotCost()

    /// A schedule starting at `now`: scan and snapshot at once, commit after an interval.
    init(settings: Settings, now: Double) {
        self.settings = settings
        nextCommit = now + settings.commitInterval
    }

    /// What is due at `now`, given `events`.
    func due(at now: Double, events: Events = Events()) -> Actions {
        var actions: Actions = []
        if events.namesChanged || events.fileFinished || now >= nextScan { actions.insert(.scan) }
        if let interval = settings.watchdogInterval, now - lastWatchdog >= interval / 2 { actions.insert(.watchdog) }
        if now >= nextCommit { actions.insert(.commit) }
        if now >= nextSnapshot { actions.insert(.snapshot) }
        return actions
    }

    mutating func scanned(at now: Double) {
        nextScan = now + settings.scanInterval
    }

    mutating func pingedWatchdog(at now: Double) {
        lastWatchdog = now
    }

    /// A commit (or the check that nothing changed) ended at `now` and took `took` seconds.
    mutating func committed(at now: Double, took: Double) {
        nextCommit = now + max(settings.commitInterval, took * Self.costSpacing)
    }

    /// A due snapshot begins a batch. Returns true when it is a new snapshot (whose buckets are
    /// those changed now), false when it goes on with the last one's backlog.
    mutating func snapshotBegins(written: WriteTimes) -> Bool {
        guard !snapshotBacklog else { return false }
        snapshotCost = SnapshotCost(building: 0, writtenBefore: written.total)
        return true
    }

    /// A snapshot batch was built in `building` seconds, ending at `now`; `backlog` says whether
    /// buckets were left for another.
    mutating func snapshotBuilt(at now: Double, building: Double, backlog: Bool, written: WriteTimes) {
        snapshotCost.building += building
        snapshotBacklog = backlog
        if backlog {
            nextSnapshot = now + Self.backlogRetry
            return
        }
        let cost = snapshotCost.building + written.total - snapshotCost.writtenBefore + written.last
        let spaced = min(cost * Self.costSpacing, settings.snapshotInterval * Self.snapshotSpacingLimit)
        nextSnapshot = now + max(settings.snapshotInterval, spaced)
    }

    /// When to wake up at the latest, at `now`: the next scan, the watchdog, and the commit and
    /// snapshot if they have something to do.
    func wakeDeadline(at now: Double, pending: Pending) -> Double {
        if pending.scanNow { return now }
        var deadline = nextScan
        if let interval = settings.watchdogInterval { deadline = min(deadline, lastWatchdog + interval / 2) }
        if pending.uncommitted { deadline = min(deadline, nextCommit) }
        if pending.unpublished || snapshotBacklog { deadline = min(deadline, nextSnapshot) }
        return deadline
    }
}
