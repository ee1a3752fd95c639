import TokentallySystem
import TokentallyReading
import TokentallyCounting
import Foundation

/// Writes the counters' changed buckets and index.json, and deletes buckets out of retention.
public struct SnapshotPublisher: Sendable {
    let writer: SnapshotWriter
    public let host: String
    public let timezone: String
    public let minRequests: Int
    /// Whether bucket files the counters do not hold are deleted even inside the retention
    /// window: yes for `replay` (its output is exactly one pass), no for the daemon (after its
    /// state is rebuilt, older files it cannot recount are kept until they age out).
    let pruneUnknownBuckets: Bool

    public init(
        writer: SnapshotWriter, host: String, timezone: String, minRequests: Int, pruneUnknownBuckets: Bool = true
    ) {
        self.writer = writer
        self.host = host
        self.timezone = timezone
        self.minRequests = minRequests
        self.pruneUnknownBuckets = pruneUnknownBuckets
    }

    /// The reports of one snapshot, taken from the counters at one moment: plain values that
    /// another thread may encode and write while counting goes on.
    public struct Batch: Sendable {
        var reports: [BucketReport]
        var index: IndexReport
        /// Labels to keep per period; other bucket files are removed.
        var retained: [Period: Set<String>]
        /// The newest day's report, when it changed (for the journal).
        public var newestDay: BucketReport?
        /// Whether every changed bucket is in this batch; if not, the rest wait for the next.
        var isComplete: Bool
    }

    /// Builds the reports of the buckets in `pending`, in order, and takes them out of it: all of
    /// them, or, when they hold more than `rowBudget` series rows in all, as many as reach it (at
    /// least one), leaving the rest for the next batch. The budget bounds the memory a batch holds
    /// at high cardinality, where one bucket's report has hundreds of thousands of rows and every
    /// bucket is changed after a restart. The index of a batch that leaves buckets for later lists
    /// only buckets whose files exist or are in the batch, so that a reader that follows the
    /// index never finds a listed bucket missing. `tracker` learns what each report holds.
    /// This is the only part that reads the counters; it runs on their owner's thread.
    ///
    /// `pending` is `tracker.changedBuckets(in:)` when a snapshot begins: a snapshot written in
    /// several batches covers the buckets changed when it began, so it ends even while new lines
    /// keep changing buckets; those wait for the next snapshot.
    public func prepare(
        _ counters: UsageCounters, status: IngestStatus, now: Int64, rowBudget: Int = .max,
        tracker: inout ChangeTracker, pending: inout [BucketKey]
    ) -> Batch {
        var reports: [BucketReport] = []
        var newestDay: BucketReport? = nil
        var rows = 0
        eachReport(of: &pending, counters, now: now, tracker: &tracker) { report, _, isNewestDay in
            rows += report.series.count
            reports.append(report)
            if isNewestDay { newestDay = report }
            return rows < rowBudget
        }
        let complete = pending.isEmpty
        var listable: [Period: Set<String>]? = nil
        if !complete {
            var labels: [Period: Set<String>] = [:]
            for period in Period.allCases { labels[period] = Set(existingLabels(period)) }
            for report in reports { labels[report.period, default: []].insert(report.label) }
            listable = labels
        }
        let (index, retained) = indexAndRetained(counters, status: status, now: now, listing: listable)
        return Batch(reports: reports, index: index, retained: retained, newestDay: newestDay, isComplete: complete)
    }

    /// Builds the report of each bucket of `pending` in turn, takes it out of `pending`, notes in
    /// `tracker` what it holds and hands it to `body`, one at a time (so that a caller that writes
    /// each one never holds them all), until `body` returns false. Buckets no longer retained are
    /// skipped.
    private func eachReport(
        of pending: inout [BucketKey], _ counters: UsageCounters, now: Int64, tracker: inout ChangeTracker,
        _ body: (_ report: BucketReport, _ key: BucketKey, _ isNewestDay: Bool) throws -> Bool
    ) rethrows {
        let newestDayOrdinal = counters.bucketOrdinals(.day).last
        while !pending.isEmpty {
            let key = pending.removeFirst()
            guard
                let report = counters.report(
                    key.period, ordinal: key.ordinal, host: host, timezone: timezone, generatedAt: now,
                    minRequests: minRequests)
            else { continue }
            tracker.noteWritten(key, at: counters.changeSequence, rows: report.series.count, time: now)
            guard try body(report, key, key.period == .day && key.ordinal == newestDayOrdinal) else { return }
        }
    }

    /// index.json's report, and the labels of the bucket files to keep per period. With
    /// `listing`, the index lists only the buckets it names.
    private func indexAndRetained(
        _ counters: UsageCounters, status: IngestStatus, now: Int64, listing: [Period: Set<String>]? = nil
    ) -> (index: IndexReport, retained: [Period: Set<String>]) {
        var retained: [Period: Set<String>] = [:]
        var labels: [Period: [String]] = [:]
        for period in Period.allCases {
            let all = counters.bucketOrdinals(period).map { counters.calendar.label(period, ordinal: $0) }
            labels[period] = listing.map { listed in all.filter { listed[period]?.contains($0) == true } } ?? all
            retained[period] = Set(all)
            if !pruneUnknownBuckets {
                let oldestKept = counters.oldestRetainedOrdinal(period)
                for label in existingLabels(period) {
                    guard let ordinal = counters.calendar.ordinal(period, label: label) else { continue }
                    if oldestKept == nil || ordinal >= oldestKept! { retained[period]!.insert(label) }
                }
            }
        }
        let index = IndexReport(
            generatedAtEpochSeconds: now, host: host, timezone: timezone, buckets: labels, status: status,
            lifetime: counters.lifetime.entries)
        return (index, retained)
    }

    /// Writes a batch: every bucket file, then index.json, then removes buckets that fell out of
    /// retention. The index lists only bucket files that exist once the buckets are written, so
    /// a reader that follows it never finds a listed bucket missing, even when a write failed
    /// (a full disk). A failed bucket write does not stop the others, nor the index, whose
    /// status then says what failed (`health`, as `snapshot_writes`); the first error is thrown
    /// after the index is written.
    public func write(_ batch: Batch, health: inout OperationHealth, now: Int64) throws {
        var index = batch.index
        try writeBuckets(batch.reports, index: &index, health: &health, now: now) { report in
            try writer.write(report)
        }
        _ = try writer.removeBuckets(except: batch.retained)
    }

    /// `write(_:health:now:)` for a caller that keeps no health of its own.
    public func write(_ batch: Batch) throws {
        var health = batch.index.status.snapshotWrites
        try write(batch, health: &health, now: batch.index.generatedAtEpochSeconds)
    }

    /// Writes each report with `write`, then the index, as `write(_:health:now:)` describes.
    private func writeBuckets<Reports: Sequence<BucketReport>>(
        _ reports: Reports, index: inout IndexReport, health: inout OperationHealth, now: Int64,
        _ write: (BucketReport) throws -> Void
    ) throws {
        var firstError: (any Error)? = nil
        for report in reports {
            do { try write(report) } catch { if firstError == nil { firstError = error } }
        }
        try finishIndex(&index, firstError: firstError, health: &health, now: now)
    }

    /// Records the outcome of the bucket writes in `health`, writes the index listing only the
    /// bucket files that exist, and throws the first error.
    private func finishIndex(
        _ index: inout IndexReport, firstError: (any Error)?, health: inout OperationHealth, now: Int64
    ) throws {
        if let firstError { health.failed(at: now, "\(firstError)") } else { health.succeeded(at: now) }
        for (period, labels) in index.buckets {
            index.buckets[period] = labels.filter { writer.bucketExists(period: period, label: $0) }
        }
        index.status.snapshotWrites = health
        do { try writer.write(index) } catch {
            health.failed(at: now, "\(error)")
            throw firstError ?? error
        }
        if let firstError { throw firstError }
    }

    /// What one publish wrote.
    public struct Published: Sendable {
        /// Bucket files written.
        public var bucketsWritten: Int
        /// The newest day's report, when it was among them (for the journal).
        public var newestDay: BucketReport?
    }

    /// Writes every changed bucket and then index.json, as `prepare` and `write` would, but
    /// each report as soon as it is built (for `replay`, which has nothing else to do): at most
    /// `reportsInFlight` reports are in memory at a time, not every bucket's (millions of series
    /// rows at high cardinality, docs/performance.md). Reports are encoded and written on a
    /// thread of their own while this one builds the next (building reads the counters, so it
    /// stays on their owner's thread).
    ///
    /// With `releasingBuckets` (counting is over), each bucket's memory is given back as soon as
    /// its report is built: the peak is then the counters when they are complete, and large
    /// reports, which otherwise wait for the writer to be idle so that two are never in memory
    /// with the counters, can be built while the one before is written. A report the writer
    /// has no room for is then encoded and written on this thread, so that both cores work.
    ///
    /// A failed write does not stop the others; the index is still written, listing only the
    /// bucket files that exist and saying what failed in its status, and then the first error
    /// is thrown.
    @discardableResult
    public func publish(
        _ counters: UsageCounters, status: IngestStatus, now: Int64, reportsInFlight: Int = 2,
        releasingBuckets: Bool = false
    ) throws -> Published {
        let writing = ReportWriting(
            writer: writer, reportsInFlight: reportsInFlight, overlapLargeReports: releasingBuckets)
        var newestDay: BucketReport? = nil
        var tracker = ChangeTracker()
        var pending = tracker.changedBuckets(in: counters)
        // Before any bucket is released: the index lists them all.
        let (built, retained) = indexAndRetained(counters, status: status, now: now)
        eachReport(of: &pending, counters, now: now, tracker: &tracker) { report, key, isNewestDay in
            if releasingBuckets { counters.release(key.period, ordinal: key.ordinal) }
            writing.enqueue(report)
            if isNewestDay { newestDay = report }
            return true
        }
        var index = built
        let (written, firstError) = writing.finish()
        var health = status.snapshotWrites
        try finishIndex(&index, firstError: firstError, health: &health, now: now)
        _ = try writer.removeBuckets(except: retained)
        return Published(bucketsWritten: written, newestDay: newestDay)
    }

    /// Bucket reports being encoded and written on a serial queue, at most `reportsInFlight` at
    /// a time; a failed write does not stop the others, and `finish` returns the first error.
    /// Unless `overlapLargeReports`, a large report is written on the calling thread once the
    /// queue has drained, so that at most one is in memory: at high cardinality one report holds
    /// hundreds of thousands of series rows (measured: overlapping them while the counters keep
    /// every bucket raised peak memory per cell from 227 to 257 bytes, past issue 5's 256).
    ///
    /// `@unchecked Sendable`: the caller's thread enqueues and finishes, the queue writes; the
    /// only state they share, `failure` and `written`, is under `lock`.
    private final class ReportWriting: @unchecked Sendable {
        static let largeReportRows = 20_000
        private let writer: SnapshotWriter
        private let queue = DispatchQueue(label: "tokentally.snapshot-writer")
        private let slots: DispatchSemaphore
        /// Written on the queue, read after it drained or before an enqueue, under `lock`.
        private let lock = NSLock()
        private var failure: (any Error)?
        private var written = 0
        private let overlapLargeReports: Bool

        init(writer: SnapshotWriter, reportsInFlight: Int, overlapLargeReports: Bool) {
            self.writer = writer
            self.overlapLargeReports = overlapLargeReports
            slots = DispatchSemaphore(value: overlapLargeReports ? 1 : max(reportsInFlight, 1))
        }

        func enqueue(_ report: BucketReport) {
            if overlapLargeReports {
                // Counting is over, so this thread has nothing better to do than the queue's
                // work: a report the queue has no room for is written here, and both cores
                // encode (each file on one thread, so the order of their writes does not matter:
                // the index comes after all of them).
                guard slots.wait(timeout: .now()) == .success else {
                    write(report)
                    return
                }
                queue.async {
                    defer { self.slots.signal() }
                    self.write(report)
                }
                return
            }
            if report.series.count > Self.largeReportRows {
                queue.sync {}
                write(report)
                return
            }
            slots.wait()
            queue.async {
                defer { self.slots.signal() }
                self.write(report)
            }
        }

        private func write(_ report: BucketReport) {
            do {
                try writer.write(report)
                lock.withLock { written += 1 }
            } catch {
                lock.withLock { if failure == nil { failure = error } }
            }
        }

        /// Waits for every enqueued report; returns how many were written, and the first error.
        func finish() -> (written: Int, firstError: (any Error)?) {
            queue.sync {}
            return lock.withLock { (written, failure) }
        }
    }

    /// Labels of the bucket files of a period that exist now.
    private func existingLabels(_ period: Period) -> [String] {
        let folder = writer.directory + "/" + period.rawValue
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        return names.filter { $0.hasSuffix(".json") && !$0.hasPrefix(".") }.map { String($0.dropLast(5)) }
    }
}

/// A bucket of a period.
public struct BucketKey: Hashable, Sendable, CustomStringConvertible {
    var period: Period
    var ordinal: Int32

    public init(_ period: Period, _ ordinal: Int32) {
        self.period = period
        self.ordinal = ordinal
    }

    public var description: String { "\(period.rawValue)#\(ordinal)" }
}

/// Which buckets were written holding which changes, so that a snapshot writes only what changed
/// since: the output stage's own record, kept apart from the counters (which only number their
/// changes, `UsageCounters.changeSequence`). A bucket never written counts as changed, so an
/// empty tracker (a start, or `forgetWritten` after a failed write) rewrites them all.
public struct ChangeTracker: Sendable {
    private struct Written: Sendable {
        /// `changeSequence` when the report was built: the changes it holds.
        var sequence: UInt64
        /// When it was written, as a count of writes: the one written longest ago goes first.
        var order: UInt64
        /// Its series rows, and when it was built (Unix seconds), for `paced`.
        var rows: Int
        var at: Int64
    }

    /// How long a bucket file waits, per series row, before it is rewritten while following:
    /// building and writing a row costs about 2 µs, so a file is rewritten at most every 125
    /// times what it costs (under 1 % of a core per file, whatever its size). A file of up to
    /// 40k rows so follows the snapshot interval (10 s by default), one of 100k rows is
    /// rewritten every 25 s, the month of 500k series every two minutes; a stop writes every
    /// changed file.
    public static let pacingSecondsPerRow = 250e-6

    private var written: [BucketKey: Written] = [:]
    private var writes: UInt64 = 0

    public init() {}

    /// The retained buckets that changed since they were written (or were never written): the
    /// one written longest ago first, then by period and ordinal, so that a snapshot written in
    /// batches reaches every changed bucket even while new lines keep changing the first ones.
    /// Forgets buckets that are no longer retained.
    ///
    /// With `pacedAt` (the time now), a bucket written before is left out until
    /// `pacingSecondsPerRow` × its rows have passed since: big files are rewritten only as
    /// often as their size allows, small ones at every snapshot.
    public mutating func changedBuckets(in counters: UsageCounters, pacedAt now: Int64? = nil) -> [BucketKey] {
        var retained = Set<BucketKey>()
        var changed: [(order: UInt64, key: BucketKey)] = []
        for bucket in counters.bucketChanges() {
            let key = BucketKey(bucket.period, bucket.ordinal)
            retained.insert(key)
            let mark = written[key]
            if let mark, let now, Double(now - mark.at) < Double(mark.rows) * Self.pacingSecondsPerRow { continue }
            if mark == nil || bucket.lastChange > mark!.sequence { changed.append((mark?.order ?? 0, key)) }
        }
        if written.count > retained.count { written = written.filter { retained.contains($0.key) } }
        return changed.sorted { a, b in
            (a.order, a.key.period.ordinalIndex, a.key.ordinal) < (b.order, b.key.period.ordinalIndex, b.key.ordinal)
        }.map(\.key)
    }

    /// Whether any retained bucket changed since it was written.
    func hasChanges(in counters: UsageCounters) -> Bool {
        counters.bucketChanges().contains { bucket in
            guard let mark = written[BucketKey(bucket.period, bucket.ordinal)] else { return true }
            return bucket.lastChange > mark.sequence
        }
    }

    /// The report of `key`, of `rows` series rows, was built at `time` when the counters were at
    /// `sequence`.
    mutating func noteWritten(_ key: BucketKey, at sequence: UInt64, rows: Int = 0, time: Int64 = 0) {
        writes &+= 1
        written[key] = Written(sequence: sequence, order: writes, rows: rows, at: time)
    }

    /// Every bucket counts as changed again (after a restart, or a write that failed).
    public mutating func forgetWritten() {
        written = [:]
    }
}

extension Period {
    /// Day 0, week 1, month 2: the order buckets of one age are written in.
    var ordinalIndex: Int { Period.allCases.firstIndex(of: self)! }
}
