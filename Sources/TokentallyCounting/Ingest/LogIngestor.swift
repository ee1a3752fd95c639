import TokentallySystem
import TokentallyReading
import Logging

/// Reads log files line by line into the usage counters, counting what it reads and rejects.
///
/// This is the pipeline's middle: bytes from a `ByteSource` become lines (`LineReader`), lines
/// become records (`RecordParser`), and records are added to `UsageCounters`. It keeps the
/// per-reason reject counts and logs the first few rejected lines of each file.
public final class LogIngestor {
    public let counters: UsageCounters
    /// The longest line accepted; applies to files opened after a change.
    public var maxLineBytes: Int
    private let logger: Logger
    private var parsers: [String: RecordParser] = [:]
    /// Format mappings by name. Replacing them (a reload) takes effect from the next line.
    public var mappings: [String: FieldMapping] {
        didSet { parsers = [:] }
    }

    public private(set) var linesRead: UInt64 = 0
    public private(set) var linesEmpty: UInt64 = 0
    public private(set) var rejected = [UInt64](repeating: 0, count: RejectReason.allCases.count)
    /// Rejected lines logged per file before the rest are only counted.
    public var rejectLogLimit = 5

    /// - Parameter mappings: the format mappings by name (presets and user formats).
    public init(counters: UsageCounters, mappings: [String: FieldMapping], maxLineBytes: Int, logger: Logger) {
        self.counters = counters
        self.mappings = mappings
        self.maxLineBytes = maxLineBytes
        self.logger = logger
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

    /// Records dated after this are rejected as `future_timestamp` (`RecordParser`); the
    /// daemon moves it with its clock. Infinity checks nothing.
    public var notAfterEpochSeconds: Double = .infinity {
        didSet { for parser in parsers.values { parser.notAfterEpochSeconds = notAfterEpochSeconds } }
    }

    /// The parser of a format, with an input's zone for timestamps without an offset.
    private func parser(forFormat format: String, naiveTimezone: String?) -> RecordParser? {
        let key = naiveTimezone.map { format + "\u{0}" + $0 } ?? format
        if let parser = parsers[key] { return parser }
        guard let mapping = mappings[format] else { return nil }
        let parser = RecordParser(mapping: mapping, naiveTimezone: naiveTimezone)
        parser.notAfterEpochSeconds = notAfterEpochSeconds
        parsers[key] = parser
        return parser
    }

    /// What reading one file came to.
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
        var reader = LineReader(maxLineBytes: maxLineBytes)
        var progress = FileProgress(
            displayPath: displayPath, format: format, redaction: redaction, naiveTimezone: naiveTimezone)
        let readBefore = linesRead
        let rejectedBefore = linesRejected
        try consume(source, reader: &reader, progress: &progress)
        finish(reader: &reader, progress: &progress, damage: source.damage)
        return FileOutcome(
            linesRead: linesRead - readBefore, linesRejected: linesRejected - rejectedBefore,
            contentOffset: reader.committedOffset, damage: source.damage)
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
        public var rejectsLogged = 0
        /// Rejected lines since the last line that logged them (one by one or summed), and when
        /// that was (monotonic seconds): a followed file is never finished, so its rejects past
        /// the first few are summed at most once per `rejectSummarySeconds`.
        public var rejectsNotLogged: UInt64 = 0
        public var lastRejectLog: Double = 0

        public init(displayPath: String, format: String, redaction: KeyRedaction, naiveTimezone: String? = nil) {
            self.displayPath = displayPath
            self.format = format
            self.redaction = redaction
            self.naiveTimezone = naiveTimezone
        }
    }

    /// Counts the complete lines `source` has now, up to about `budget` bytes; a partial last
    /// line stays in `reader` until its newline arrives. Returns true when the source had
    /// nothing more to give.
    @discardableResult
    public func consume(
        _ source: any ByteSource, reader: inout LineReader, progress: inout FileProgress, budget: Int = .max
    ) throws -> Bool {
        guard let parser = parser(forFormat: progress.format, naiveTimezone: progress.naiveTimezone) else {
            preconditionFailure("format \(progress.format) was validated before reading")
        }
        let counters = self.counters
        let redaction = progress.redaction
        return try reader.read(from: source, budget: budget) { event, lineNumber in
            handle(event, lineNumber: lineNumber, parser: parser, counters: counters, redaction: redaction, progress: &progress)
        }
    }

    /// Counts a last line that has no newline (the file is complete), and logs a summary of the
    /// file's rejects and damage.
    public func finish(reader: inout LineReader, progress: inout FileProgress, damage: String?) {
        guard let parser = parser(forFormat: progress.format, naiveTimezone: progress.naiveTimezone) else { return }
        let counters = self.counters
        let redaction = progress.redaction
        reader.finish { event, lineNumber in
            handle(event, lineNumber: lineNumber, parser: parser, counters: counters, redaction: redaction, progress: &progress)
        }
        reportRejectsAndDamage(of: progress, damage: damage)
    }

    /// Logs the summary of a finished file's rejects and damage.
    private func reportRejectsAndDamage(of progress: FileProgress, damage: String?) {
        if progress.rejectsNotLogged > 0 {
            logger.warning(
                "more rejected lines not shown",
                metadata: ["file": "\(progress.displayPath)", "count": "\(progress.rejectsNotLogged)"])
        }
        if let damage {
            logger.warning("file damaged", metadata: ["file": "\(progress.displayPath)", "damage": "\(damage)"])
        }
    }

    @inline(__always)
    private func handle(
        _ event: LineEvent, lineNumber: UInt64, parser: RecordParser, counters: UsageCounters, redaction: KeyRedaction,
        progress: inout FileProgress
    ) {
        switch event {
        case .tooLong:
            tally(.rejected(Rejection(.lineTooLong)), lineNumber: lineNumber, progress: &progress) {}
        case .line(let bytes):
            tally(parser.parse(bytes), lineNumber: lineNumber, progress: &progress) { counters.add(parser.record, redaction: redaction) }
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

    private var lateDropsLogged: [UInt64] = [0, 0, 0]
    private var lateDropLog = RateLimiter(interval: 60)

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
        logger.warning(
            "records older than retention were dropped",
            metadata: [
                "day": "\(new[0])", "week": "\(new[1])", "month": "\(new[2])",
                "oldest_kept_day": "\(counters.oldestRetainedOrdinal(.day).map { counters.calendar.label(.day, ordinal: $0) } ?? "none")",
            ])
    }

    // MARK: - Reading and parsing on other threads

    /// Reads `source` to its end like `ingest`, but reads it on a thread of its own and parses
    /// it on `parserCount` more (`ParsingPipeline`), while this thread counts the records in
    /// line order. The counters, rejects and logs come out exactly as from `ingest`.
    /// `chunkBytes` is how much each parser reads at a time (`ParsingPipeline`).
    public func ingestInParallel(
        _ source: any ByteSource, displayPath: String, format: String, redaction: KeyRedaction, parserCount: Int,
        chunkBytes: Int = 256 << 10, naiveTimezone: String? = nil
    ) throws -> FileOutcome {
        guard let mapping = mappings[format] else {
            preconditionFailure("format \(format) was validated before reading")
        }
        var progress = FileProgress(
            displayPath: displayPath, format: format, redaction: redaction, naiveTimezone: naiveTimezone)
        let readBefore = linesRead
        let rejectedBefore = linesRejected
        let counters = self.counters
        let pipeline = ParsingPipeline(
            source: source, mapping: mapping, maxLineBytes: maxLineBytes, parserCount: parserCount,
            chunkBytes: chunkBytes, naiveTimezone: naiveTimezone, notAfterEpochSeconds: notAfterEpochSeconds)
        while let batch = try pipeline.next() {
            batch.warmDimensions()
            for line in batch.parsed {
                tally(line.outcome, lineNumber: line.lineNumber, progress: &progress) {
                    counters.add(line.record, redaction: redaction)
                }
            }
        }
        reportRejectsAndDamage(of: progress, damage: pipeline.damage)
        return FileOutcome(
            linesRead: linesRead - readBefore, linesRejected: linesRejected - rejectedBefore,
            contentOffset: pipeline.committedOffset, damage: pipeline.damage)
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
