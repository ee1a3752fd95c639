import Logging

/// Reads log files line by line into the usage counters, counting what it reads and rejects.
///
/// This is the pipeline's middle: bytes from a `ByteSource` become lines (`LineReader`), lines
/// become records (`RecordParser`), and records are added to `UsageCounters`. It keeps the
/// per-reason reject counts and logs the first few rejected lines of each file.
public final class LogIngestor {
    public let counters: UsageCounters
    public let maxLineBytes: Int
    private let logger: Logger
    private var parsers: [String: RecordParser] = [:]
    private let mappings: [String: FieldMapping]

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

    private func parser(forFormat format: String) -> RecordParser? {
        if let parser = parsers[format] { return parser }
        guard let mapping = mappings[format] else { return nil }
        let parser = RecordParser(mapping: mapping)
        parsers[format] = parser
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
        _ source: any ByteSource, displayPath: String, format: String, redaction: KeyRedaction
    ) throws -> FileOutcome {
        guard let parser = parser(forFormat: format) else {
            preconditionFailure("format \(format) was validated before reading")
        }
        var reader = LineReader(maxLineBytes: maxLineBytes)
        let readBefore = linesRead
        let rejectedBefore = linesRejected
        var logged = 0
        let counters = self.counters
        func handle(_ event: LineEvent, lineNumber: UInt64) {
            linesRead &+= 1
            let rejection: Rejection
            switch event {
            case .tooLong(let length):
                rejection = Rejection(.lineTooLong)
                _ = length
            case .line(let bytes):
                switch parser.parse(bytes) {
                case .accepted:
                    counters.add(parser.record, redaction: redaction)
                    return
                case .empty:
                    linesEmpty &+= 1
                    return
                case .rejected(let why):
                    rejection = why
                }
            }
            rejected[Int(rejection.reason.rawValue)] &+= 1
            if logged < rejectLogLimit {
                logged += 1
                logger.warning(
                    "rejected line",
                    metadata: ["file": "\(displayPath)", "line": "\(lineNumber)", "reason": "\(rejection)"])
            }
        }
        try reader.read(from: source) { event, lineNumber in handle(event, lineNumber: lineNumber) }
        reader.finish { event, lineNumber in handle(event, lineNumber: lineNumber) }
        let fileRejected = linesRejected - rejectedBefore
        if fileRejected > UInt64(logged) {
            logger.warning(
                "more rejected lines not shown",
                metadata: ["file": "\(displayPath)", "count": "\(fileRejected - UInt64(logged))"])
        }
        if let damage = source.damage {
            logger.warning("file damaged", metadata: ["file": "\(displayPath)", "damage": "\(damage)"])
        }
        return FileOutcome(
            linesRead: linesRead - readBefore, linesRejected: fileRejected, contentOffset: reader.committedOffset,
            damage: source.damage)
    }
}
