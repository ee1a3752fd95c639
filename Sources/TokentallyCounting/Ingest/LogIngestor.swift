import Logging
import TokentallyReading
import TokentallySystem

/// Counts log lines into the usage counters: the middle of the one ingest pipeline, which both
/// drivers use (replay's one pass and the daemon's live following).
///
/// Bytes from a `LineStream` become lines and records in the `ParsingPipeline` (on its threads,
/// or on this one with none), and the records are added to `UsageCounters` here, in line order.
/// It keeps the per-reason reject counts and logs the first few rejected lines of each file.
/// One owner uses it at a time.
public final class LogIngestor {
    public let counters: UsageCounters
    /// The longest line accepted; applies to files opened after a change.
    @exclusivity(unchecked) public var maxLineBytes: Int
    private let logger: Logger
    private let pipeline: ParsingPipeline
    /// Format mappings by name. Replacing them (a reload) takes effect from the next read.
    public var mappings: [String: FieldMapping] {
        didSet { mappingGeneration &+= 1 }
    }
    /// Tells the parsers of one set of mappings from the next (parsers are kept by name).
    @exclusivity(unchecked) private var mappingGeneration = 0

    @exclusivity(unchecked) public private(set) var linesRead: UInt64 = 0
    @exclusivity(unchecked) public private(set) var linesEmpty: UInt64 = 0
    @exclusivity(unchecked) public private(set) var rejected = [UInt64](
        repeating: 0, count: RejectReason.allCases.count)
    /// Rejected lines logged per file before the rest are only counted.
    @exclusivity(unchecked) var rejectLogLimit = 5

    /// Records dated after this are rejected as `future_timestamp` (`RecordParser`); the
    /// daemon moves it with its clock. Infinity checks nothing.
    @exclusivity(unchecked) public var notAfterEpochSeconds: Double = .infinity

    /// - Parameters:
    ///   - mappings: the format mappings by name (presets and user formats).
    ///   - parserThreads: threads that read and parse besides the one that counts (which
    ///     parses too whenever it would wait); 0 does everything on the calling thread.
    ///   - chunkBytes: bytes read from a file at a time, the lines of one batch
    ///     (`ParsingPipeline`).
    public init(
        counters: UsageCounters, mappings: [String: FieldMapping], maxLineBytes: Int, parserThreads: Int = 0,
        chunkBytes: Int = 256 << 10, logger: Logger
    ) {
        self.counters = counters
        self.mappings = mappings
        self.maxLineBytes = maxLineBytes
        self.logger = logger
        self.pipeline = ParsingPipeline(parserThreads: parserThreads, chunkBytes: chunkBytes)
    }

    /// Threads that read and parse besides the caller.
    var parserThreads: Int { pipeline.parserThreads }

    /// Gives back the reading buffers (`ParsingPipeline.releaseBuffers`), between reads.
    public func releaseReadingBuffers() {
        pipeline.releaseBuffers()
    }

    /// Lines rejected, in all.
    public var linesRejected: UInt64 { rejected.reduce(0, +) }

    /// Rejected lines by reason code, only the reasons that occurred.
    public var rejectedByCode: [String: UInt64] {
        var result: [String: UInt64] = [:]
        for reason in RejectReason.allCases where rejected[Int(reason.rawValue)] > 0 {
            result[reason.code] = rejected[Int(reason.rawValue)]
        }
        return result
    }

    /// What the ingestor remembers of one file between reads.
    public struct FileProgress: Sendable {
        public var displayPath: String
        public var format: String
        public var redaction: KeyRedaction
        /// The input's zone for timestamps without an offset (nil: the format's).
        public var naiveTimezone: String?
        /// Rejected lines of this file so far, and how many of them were logged one by one.
        public var rejected: UInt64 = 0
        var rejectsLogged = 0
        /// Rejected lines since the last line that logged them (one by one or summed), and when
        /// that was (monotonic seconds): a followed file is never finished, so its rejects past
        /// the first few are summed at most once per `rejectSummarySeconds`.
        var rejectsNotLogged: UInt64 = 0
        var lastRejectLog: Double = 0
        /// The name of the parser last used, and what it was made of (a followed file is read
        /// many times a second: the name is not made again each time).
        var parserName: (generation: Int, format: String, zone: String?, name: String)? = nil

        public init(displayPath: String, format: String, redaction: KeyRedaction, naiveTimezone: String? = nil) {
            self.displayPath = displayPath
            self.format = format
            self.redaction = redaction
            self.naiveTimezone = naiveTimezone
        }
    }

    /// What reading one whole file came to.
    public struct FileOutcome: Sendable {
        public var linesRead: UInt64
        public var linesRejected: UInt64
        /// Content bytes consumed through the last complete line.
        public var contentOffset: UInt64
        public var damage: String?
    }

    /// Reads `source` to its end as format `format` and counts every line. The last line is
    /// counted even without a trailing newline (the file is taken as complete).
    public func ingest(
        _ source: any ByteSource, displayPath: String, format: String, redaction: KeyRedaction,
        naiveTimezone: String? = nil
    ) throws -> FileOutcome {
        let stream = LineStream(source: source, maxLineBytes: maxLineBytes)
        var progress = FileProgress(
            displayPath: displayPath, format: format, redaction: redaction, naiveTimezone: naiveTimezone)
        let readBefore = linesRead
        let rejectedBefore = linesRejected
        defer { reportRejectsAndDamage(of: progress, damage: source.damage) }
        _ = try consume(stream, progress: &progress, finishAtEnd: true)
        return FileOutcome(
            linesRead: linesRead - readBefore, linesRejected: linesRejected - rejectedBefore,
            contentOffset: stream.reader.committedOffset, damage: source.damage?.description)
    }

    /// Counts the complete lines `stream` has now, up to about `budget` bytes. A partial last
    /// line stays in the stream's reader until its newline arrives, unless `finishAtEnd` (the
    /// file is complete). Unless `parallel`, the caller's thread does it alone (a small read:
    /// `ParsingPipeline.read`).
    @discardableResult
    public func consume(
        _ stream: LineStream, progress: inout FileProgress, budget: Int = .max, finishAtEnd: Bool = false,
        parallel: Bool = true
    ) throws -> ParsingPipeline.Outcome {
        try run(
            stream, progress: &progress, budget: budget, finishAtEnd: finishAtEnd, finishOnly: false, parallel: parallel
        )
    }

    /// Counts a last line that has no newline (the file is complete), and logs a summary of the
    /// file's rejects and damage.
    public func finish(_ stream: LineStream, progress: inout FileProgress, damage: Damage?) {
        _ = try? run(stream, progress: &progress, budget: 0, finishAtEnd: true, finishOnly: true, parallel: false)
        reportRejectsAndDamage(of: progress, damage: damage)
    }

    private func run(
        _ stream: LineStream, progress: inout FileProgress, budget: Int, finishAtEnd: Bool, finishOnly: Bool,
        parallel: Bool
    ) throws -> ParsingPipeline.Outcome {
        guard let mapping = mappings[progress.format] else {
            preconditionFailure("format \(progress.format) was validated before reading")
        }
        let cached = progress.parserName
        if cached == nil || cached!.generation != mappingGeneration || cached!.format != progress.format
            || cached!.zone != progress.naiveTimezone
        {
            let name = "\(mappingGeneration)|\(progress.format)|\(progress.naiveTimezone ?? "")"
            progress.parserName = (mappingGeneration, progress.format, progress.naiveTimezone, name)
        }
        let choice = ParserChoice(
            name: progress.parserName!.name, mapping: mapping,
            naiveTimezone: progress.naiveTimezone, notAfterEpochSeconds: notAfterEpochSeconds)
        let counters = self.counters
        let redaction = progress.redaction
        return try pipeline.read(
            stream, parser: choice, budget: budget, finishAtEnd: finishAtEnd, finishOnly: finishOnly, parallel: parallel
        ) { batch in
            batch.warmDimensions()
            for line in batch.parsed {
                tally(line.outcome, lineNumber: line.lineNumber, progress: &progress) {
                    counters.add(line.record, redaction: redaction)
                }
            }
        }
    }

    /// Logs the summary of a finished file's rejects and damage.
    private func reportRejectsAndDamage(of progress: FileProgress, damage: Damage?) {
        if progress.rejectsNotLogged > 0 {
            logger.warning(
                "more rejected lines not shown",
                metadata: ["file": "\(progress.displayPath)", "count": "\(progress.rejectsNotLogged)"])
        }
        if let damage {
            logger.warning("file damaged", metadata: ["file": "\(progress.displayPath)", "damage": "\(damage)"])
        }
    }

    /// Counts what one line came to: its record through `count`, or its reject.
    @inline(__always)
    private func tally(
        _ outcome: RecordParser.Outcome, lineNumber: UInt64, progress: inout FileProgress, count: () -> Void
    ) {
        linesRead &+= 1
        switch outcome {
        case .accepted:
            count()
        case .empty:
            linesEmpty &+= 1
        case .rejected(let rejection):
            rejected[Int(rejection.reason.rawValue)] &+= 1
            progress.rejected &+= 1
            if progress.rejectsLogged < rejectLogLimit {
                progress.rejectsLogged += 1
                progress.lastRejectLog = MonotonicClock.seconds()
                logger.warning(
                    "rejected line",
                    metadata: ["file": "\(progress.displayPath)", "line": "\(lineNumber)", "reason": "\(rejection)"])
            } else {
                progress.rejectsNotLogged &+= 1
                let now = MonotonicClock.seconds()
                if now - progress.lastRejectLog >= Self.rejectSummarySeconds {
                    logger.warning(
                        "more rejected lines",
                        metadata: [
                            "file": "\(progress.displayPath)", "count": "\(progress.rejectsNotLogged)",
                            "last_line": "\(lineNumber)", "last_reason": "\(rejection)",
                        ])
                    progress.rejectsNotLogged = 0
                    progress.lastRejectLog = now
                }
            }
        }
    }

    /// Past the first `rejectLogLimit` rejects of a file, at most one line per this many seconds
    /// sums the rest (a followed file is never finished, so its summary cannot wait for the end).
    static let rejectSummarySeconds = 60.0

    // MARK: - Late records

    @exclusivity(unchecked) private var lateDropsLogged: [UInt64] = [0, 0, 0]
    @exclusivity(unchecked) private var lateDropLog = RateLimiter(interval: 60)

    /// Takes the late drops counted so far as logged (after a restart from committed state).
    public func markLateDropsLogged() { lateDropsLogged = counters.lateDropped }

    /// Logs records dropped as older than retention since the last time it did, at most once a
    /// minute unless `force` (the end of a replay, a stop): they are counted in the status, and
    /// an operator who lowered retention, or whose gateway's clock jumped, should also be told.
    public func logLateDrops(force: Bool = false) {
        let now = counters.lateDropped
        guard now != lateDropsLogged else { return }
        guard force || lateDropLog.allow().allowed else { return }
        let new = zip(now, lateDropsLogged).map { $0 &- $1 }
        lateDropsLogged = now
        let oldest = counters.oldestRetainedOrdinal(.day).map { counters.calendar.label(.day, ordinal: $0) }
        logger.warning(
            "records older than retention were dropped",
            metadata: [
                "day": "\(new[0])", "week": "\(new[1])", "month": "\(new[2])", "oldest_kept_day": "\(oldest ?? "none")",
            ])
    }

    // MARK: - State

    /// Writes the line statistics, for the daemon's state commit.
    public func encode(into writer: inout StateWriter) {
        writer.write(linesRead)
        writer.write(linesEmpty)
        writer.write(UInt32(rejected.count))
        for count in rejected { writer.write(count) }
    }

    /// Restores statistics written by `encode`.
    public func restore(from reader: inout StateReader) throws(StateDecodingError) {
        linesRead = try reader.read(UInt64.self)
        linesEmpty = try reader.read(UInt64.self)
        let count = try reader.readCount(minimumItemSize: 8)
        for index in 0..<count {
            let value = try reader.read(UInt64.self)
            if index < rejected.count { rejected[index] = value }
        }
    }
}
