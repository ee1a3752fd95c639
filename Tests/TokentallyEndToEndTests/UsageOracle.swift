import Foundation

// The oracle: an independent reading of docs/log-format.md and docs/snapshot-format.md that computes, from the
// log lines alone, what every bucket file must say. It shares no code with tokentally; it is
// deliberately plain (a JSON tree per line, Foundation's Calendar for buckets, Decimal for money)
// so that its correctness can be read off the page.

/// The calendar periods that snapshots bucket by.
enum BucketPeriod: String, CaseIterable, Sendable {
    case day, week, month
}

/// The log formats shipped with tokentally.
enum LogFormat: String, CaseIterable, Sendable, CustomStringConvertible {
    case tokentally, litellm, zenmux, openrouter, kong
    case envoyAIGateway = "envoy-ai-gateway"
    var description: String { rawValue }
}

/// The key a record that names none is counted under, and the provider of records whose
/// source names none (docs/log-format.md).
let noKeyPlaceholder = "__no_key__"
let unknownProvider = "__unknown__"

/// Why a line is rejected, as index.json's `status.rejected` names it.
enum RejectReason: String, CaseIterable, Sendable, Error {
    case invalidJSON = "invalid_json"
    case notObject = "not_object"
    case missingField = "missing_field"
    case wrongType = "wrong_type"
    case invalidTokenCount = "invalid_token_count"
    case numberOutOfRange = "number_out_of_range"
    case invalidTimestamp = "invalid_timestamp"
    case lineTooLong = "line_too_long"
    case invalidUTF8 = "invalid_utf8"
    case nestingTooDeep = "nesting_too_deep"
    case futureTimestamp = "future_timestamp"
}

/// One request as the oracle reads it from one line, in canonical terms.
struct UsageRecord: Sendable {
    var epochSeconds: Double
    var requestID: String?
    /// The key as it appears in the log (possibly a secret); see `KeyRedaction` for what is written.
    var rawAPIKey: String
    var model: String
    var provider: String
    var succeeded: Bool
    var inputTokens: UInt64 = 0
    var outputTokens: UInt64 = 0
    var cachedTokens: UInt64 = 0
    var cacheWriteTokens: UInt64 = 0
    var reasoningTokens: UInt64 = 0
    var webSearchCalls: UInt64 = 0
    var latencyMs: Double?
    var ttftMs: Double?
    var generationMs: Double?
    /// Exact cost in USD, rounded to whole nano-dollars (the unit tokentally sums in).
    var costUSD: Decimal = 0
    /// How far a duration may fairly be off, in ms: 0 where the log gives durations, 2 µs where
    /// they are differences of epoch-second floats (LiteLLM), whose `Double`s are only that exact.
    var durationSlackMs: Double = 0

    /// Tokens per second of this request, where defined (docs/log-format.md).
    var throughputTPS: Double? {
        guard outputTokens > 0, let generationMs, generationMs > 0 else { return nil }
        return Double(outputTokens) / (generationMs / 1000)
    }

    /// The slack of `throughputTPS`: a generation time (a difference of two durations) off by
    /// twice the duration slack moves the quotient by that relative amount.
    var throughputSlack: Double {
        guard let tps = throughputTPS, let generationMs, durationSlackMs > 0 else { return 0 }
        return tps * 2 * durationSlackMs / max(generationMs - 2 * durationSlackMs, durationSlackMs)
    }
}

/// What one line amounts to.
enum LineOutcome {
    case empty
    case rejected(RejectReason)
    case record(UsageRecord)
}

// MARK: - Keys

/// What tokentally writes for a key under `redact_keys: auto`: `key_` + the first 16 hex digits
/// of the SHA-256 of a value matching `^(sk|pk|rk)[-_]`, other values as they are.
struct KeyRedaction {
    private var written: [String: String] = [:]

    static func isSecret(_ key: String) -> Bool {
        let bytes = Array(key.utf8.prefix(3))
        guard bytes.count == 3 else { return false }
        let head = String(decoding: bytes[0..<2], as: UTF8.self)
        return ["sk", "pk", "rk"].contains(head) && (bytes[2] == UInt8(ascii: "-") || bytes[2] == UInt8(ascii: "_"))
    }

    mutating func writtenKey(for raw: String) throws -> String {
        if let known = written[raw] { return known }
        let result = Self.isSecret(raw) ? "key_" + String(try HostTools.sha256Hex(raw).prefix(16)) : raw
        written[raw] = result
        return result
    }
}

// MARK: - Counting

/// docs/snapshot-format.md's COUNTERS for one group of requests.
struct ExpectedCounters: Equatable, Sendable {
    var requests: UInt64 = 0
    var succeeded: UInt64 = 0
    var failed: UInt64 = 0
    var inputTokens: UInt64 = 0
    var outputTokens: UInt64 = 0
    var cachedTokens: UInt64 = 0
    var cacheWriteTokens: UInt64 = 0
    var reasoningTokens: UInt64 = 0
    var webSearchRequests: UInt64 = 0
    var webSearchCalls: UInt64 = 0
    var webSearchInputTokens: UInt64 = 0
    var webSearchOutputTokens: UInt64 = 0
    var costUSD: Decimal = 0

    mutating func add(_ record: UsageRecord) {
        requests += 1
        if record.succeeded { succeeded += 1 } else { failed += 1 }
        inputTokens += record.inputTokens
        outputTokens += record.outputTokens
        cachedTokens += record.cachedTokens
        cacheWriteTokens += record.cacheWriteTokens
        reasoningTokens += record.reasoningTokens
        webSearchCalls += record.webSearchCalls
        if record.webSearchCalls > 0 {
            webSearchRequests += 1
            webSearchInputTokens += record.inputTokens
            webSearchOutputTokens += record.outputTokens
        }
        costUSD += record.costUSD
    }

    /// The integer counters by their snapshot names, in snapshot order (cost is apart).
    var integerFields: [(name: String, value: UInt64)] {
        [
            ("requests", requests), ("succeeded", succeeded), ("failed", failed),
            ("input_tokens", inputTokens), ("output_tokens", outputTokens),
            ("total_tokens", inputTokens + outputTokens), ("cached_tokens", cachedTokens),
            ("cache_write_tokens", cacheWriteTokens), ("reasoning_tokens", reasoningTokens),
            ("web_search_requests", webSearchRequests), ("web_search_calls", webSearchCalls),
            ("web_search_input_tokens", webSearchInputTokens), ("web_search_output_tokens", webSearchOutputTokens),
        ]
    }
}

/// Every value of one measure (latency, ttft, throughput) for exact order statistics.
struct ValueSample: Sendable {
    private(set) var values: [Double] = []
    /// The largest slack of any value (see `UsageRecord.durationSlackMs`).
    private(set) var slack: Double = 0
    mutating func add(_ value: Double?, slack valueSlack: Double = 0) {
        guard let value else { return }
        values.append(value)
        slack = max(slack, valueSlack)
    }
    var sorted: [Double] { values.sorted() }
    var mean: Double? { values.isEmpty ? nil : values.reduce(0, +) / Double(values.count) }
}

/// Counters plus the performance measures of totals, one model, one provider or one pair.
struct ExpectedRollup: Sendable {
    var counters = ExpectedCounters()
    var latency = ValueSample()
    var ttft = ValueSample()
    var throughput = ValueSample()
    /// Σ output tokens and Σ generation seconds over the requests that have a throughput.
    var throughputOutputTokens: UInt64 = 0
    var throughputSeconds: Double = 0
    var throughputSecondsSlack: Double = 0

    mutating func add(_ record: UsageRecord) {
        counters.add(record)
        latency.add(record.latencyMs, slack: record.durationSlackMs)
        ttft.add(record.ttftMs, slack: record.durationSlackMs)
        if let tps = record.throughputTPS, let generationMs = record.generationMs {
            throughput.add(tps, slack: record.throughputSlack)
            throughputOutputTokens += record.outputTokens
            throughputSeconds += generationMs / 1000
            throughputSecondsSlack += 2 * record.durationSlackMs / 1000
        }
    }

    var aggregateThroughput: Double? {
        throughputSeconds > 0 ? Double(throughputOutputTokens) / throughputSeconds : nil
    }

    var aggregateThroughputSlack: Double {
        guard let aggregate = aggregateThroughput, throughputSecondsSlack > 0 else { return 0 }
        return aggregate * throughputSecondsSlack / max(throughputSeconds - throughputSecondsSlack, 1e-9)
    }
}

/// One series row: counters plus the latency mean.
struct ExpectedSeriesRow: Sendable {
    var counters = ExpectedCounters()
    var latencySum: Double = 0
    var latencyCount = 0
    var latencySlack: Double = 0

    mutating func add(_ record: UsageRecord) {
        counters.add(record)
        if let latency = record.latencyMs {
            latencySum += latency
            latencyCount += 1
            latencySlack = max(latencySlack, record.durationSlackMs)
        }
    }

    var latencyMean: Double? { latencyCount > 0 ? latencySum / Double(latencyCount) : nil }
}

struct ModelProvider: Hashable, Sendable, CustomStringConvertible {
    var model: String
    var provider: String
    var description: String { "(\(model), \(provider))" }
}

struct SeriesKey: Hashable, Sendable, CustomStringConvertible {
    var apiKey: String
    var model: String
    var provider: String
    var description: String { "(\(apiKey), \(model), \(provider))" }
}

/// Everything one bucket file must hold.
struct ExpectedBucket: Sendable {
    var period: BucketPeriod
    var label: String
    var interval: DateInterval
    var totals = ExpectedRollup()
    var byModel: [String: ExpectedRollup] = [:]
    var byProvider: [String: ExpectedRollup] = [:]
    var byModelProvider: [ModelProvider: ExpectedRollup] = [:]
    var byKey: [String: ExpectedCounters] = [:]
    var series: [SeriesKey: ExpectedSeriesRow] = [:]

    mutating func add(_ record: UsageRecord, writtenKey: String) {
        totals.add(record)
        byModel[record.model, default: ExpectedRollup()].add(record)
        byProvider[record.provider, default: ExpectedRollup()].add(record)
        byModelProvider[ModelProvider(model: record.model, provider: record.provider), default: ExpectedRollup()]
            .add(record)
        byKey[writtenKey, default: ExpectedCounters()].add(record)
        series[SeriesKey(apiKey: writtenKey, model: record.model, provider: record.provider), default: .init()]
            .add(record)
    }
}

/// Day, week (ISO 8601, Monday first, ISO week-year) and month buckets in one time zone.
struct BucketCalendar {
    let calendar: Calendar

    init(timeZone: TimeZone) {
        var calendar = Calendar(identifier: .iso8601)
        calendar.timeZone = timeZone
        calendar.firstWeekday = 2
        calendar.minimumDaysInFirstWeek = 4
        self.calendar = calendar
    }

    private static func padded(_ value: Int, _ width: Int) -> String {
        let text = String(value)
        return String(repeating: "0", count: max(0, width - text.count)) + text
    }

    func label(_ period: BucketPeriod, for date: Date) -> String {
        switch period {
        case .day:
            let parts = calendar.dateComponents([.year, .month, .day], from: date)
            return "\(Self.padded(parts.year!, 4))-\(Self.padded(parts.month!, 2))-\(Self.padded(parts.day!, 2))"
        case .week:
            let parts = calendar.dateComponents([.yearForWeekOfYear, .weekOfYear], from: date)
            return "\(Self.padded(parts.yearForWeekOfYear!, 4))-W\(Self.padded(parts.weekOfYear!, 2))"
        case .month:
            let parts = calendar.dateComponents([.year, .month], from: date)
            return "\(Self.padded(parts.year!, 4))-\(Self.padded(parts.month!, 2))"
        }
    }

    func interval(_ period: BucketPeriod, containing date: Date) -> DateInterval {
        let component: Calendar.Component =
            switch period {
            case .day: .day
            case .week: .weekOfYear
            case .month: .month
            }
        return calendar.dateInterval(of: component, for: date)!
    }

    /// The start of the oldest bucket kept when `count` buckets are kept back from `newestStart`'s.
    func oldestRetainedStart(_ period: BucketPeriod, newestStart: Date, count: Int) -> Date {
        let component: Calendar.Component =
            switch period {
            case .day: .day
            case .week: .weekOfYear
            case .month: .month
            }
        let shifted = calendar.date(byAdding: component, value: -(count - 1), to: newestStart)!
        return interval(period, containing: shifted).start
    }
}

/// What the oracle expects a replay to produce.
struct OracleResult: Sendable {
    var buckets: [BucketPeriod: [String: ExpectedBucket]]
    var linesCounted: Int
    var linesEmpty: Int
    var rejected: [String: Int]
    var lateDropped: [BucketPeriod: Int]
    /// Every record counted, in reading order (raw keys included: for the secrets test).
    var records: [UsageRecord]

    var linesRejected: Int { rejected.values.reduce(0, +) }
}

/// Reads lines the way docs/log-format.md describes and computes the expected snapshots.
struct UsageOracle {
    var interpreter: RecordInterpreter
    var timeZone: TimeZone
    var maxLineBytes = 1_048_576
    var retention: [BucketPeriod: Int] = [.day: 62, .week: 27, .month: 25]

    private(set) var records: [UsageRecord] = []
    private(set) var linesEmpty = 0
    private(set) var rejected: [String: Int] = [:]
    /// Every line's outcome in order, for tests that check a corpus line by line.
    private(set) var outcomes: [LineOutcome] = []

    /// - Parameter naiveZone: the zone of timestamps without an offset (LiteLLM's text times).
    init(
        format: LogFormat, timeZone: TimeZone = TimeZone(identifier: "UTC")!,
        naiveZone: TimeZone = TimeZone(identifier: "UTC")!
    ) {
        self.interpreter = RecordInterpreter(format: format, naiveZone: naiveZone)
        self.timeZone = timeZone
    }

    /// Reads a plain or gzip file (gzip through the host's `gzip -dc`).
    mutating func read(file: URL) throws {
        let (bytes, complete) = try decompressedContents(of: file)
        read(bytes: bytes, countUnterminatedLastLine: complete)
    }

    /// Splits on `\n` (dropping one `\r` before it). A last line without `\n` counts only when
    /// `countUnterminatedLastLine` (false for a cut-short gzip, whose tail is a partial line).
    mutating func read(bytes: [UInt8], countUnterminatedLastLine: Bool = true) {
        var start = 0
        while start < bytes.count {
            guard let newline = bytes[start...].firstIndex(of: 0x0A) else {
                if countUnterminatedLastLine { read(line: bytes[start...]) }
                return
            }
            read(line: bytes[start..<newline])
            start = newline + 1
        }
    }

    mutating func read(line rawLine: ArraySlice<UInt8>) {
        var line = rawLine
        if line.last == 0x0D { line = line.dropLast() }
        let outcome: LineOutcome =
            line.count > maxLineBytes ? .rejected(.lineTooLong) : interpreter.interpret(line)
        outcomes.append(outcome)
        switch outcome {
        case .empty: linesEmpty += 1
        case .rejected(let reason): rejected[reason.rawValue, default: 0] += 1
        case .record(let record): records.append(record)
        }
    }

    func result() throws -> OracleResult {
        let bucketCalendar = BucketCalendar(timeZone: timeZone)
        var redaction = KeyRedaction()
        // Labels change only on quarter hours in every real zone: cache per 15-minute slot.
        var labelCache: [Int: [BucketPeriod: String]] = [:]
        var intervals: [BucketPeriod: [String: DateInterval]] = [:]
        var placed: [(record: UsageRecord, labels: [BucketPeriod: String])] = []
        for record in records {
            let slot = Int((record.epochSeconds / 900).rounded(.down))
            let labels: [BucketPeriod: String]
            if let cached = labelCache[slot] {
                labels = cached
            } else {
                let date = Date(timeIntervalSince1970: record.epochSeconds)
                var computed: [BucketPeriod: String] = [:]
                for period in BucketPeriod.allCases {
                    let label = bucketCalendar.label(period, for: date)
                    computed[period] = label
                    if intervals[period]?[label] == nil {
                        intervals[period, default: [:]][label] = bucketCalendar.interval(period, containing: date)
                    }
                }
                labelCache[slot] = computed
                labels = computed
            }
            placed.append((record, labels))
        }

        var buckets: [BucketPeriod: [String: ExpectedBucket]] = [:]
        var lateDropped: [BucketPeriod: Int] = [:]
        guard !records.isEmpty else {
            return OracleResult(
                buckets: [:], linesCounted: 0, linesEmpty: linesEmpty, rejected: rejected, lateDropped: [:],
                records: [])
        }
        // Retention counts back from the second-newest record (docs/snapshot-format.md): no single
        // record moves it. With one record there is nothing to count back from: all is kept.
        let byTime = records.map(\.epochSeconds).sorted(by: >)
        let anchorDate = byTime.count >= 2 ? Date(timeIntervalSince1970: byTime[1]) : nil
        for period in BucketPeriod.allCases {
            let oldestKept =
                anchorDate.map { anchor in
                    bucketCalendar.oldestRetainedStart(
                        period, newestStart: bucketCalendar.interval(period, containing: anchor).start,
                        count: retention[period]!)
                } ?? Date.distantPast
            for (record, labels) in placed {
                let label = labels[period]!
                let interval = intervals[period]![label]!
                guard interval.start >= oldestKept else {
                    lateDropped[period, default: 0] += 1
                    continue
                }
                let key = try redaction.writtenKey(for: record.rawAPIKey)
                buckets[period, default: [:]][
                    label,
                    default: ExpectedBucket(
                        period: period, label: label, interval: interval)
                ].add(record, writtenKey: key)
            }
        }
        return OracleResult(
            buckets: buckets, linesCounted: records.count, linesEmpty: linesEmpty, rejected: rejected,
            lateDropped: lateDropped, records: records)
    }
}
