import TokentallySystem
import TokentallyReading
import TokentallyCounting

/// A rollup row: counters plus performance, for totals, one model, one provider or one pair.
public struct RollupReport: Hashable, Sendable {
    public var counters: CounterValues
    var performance: PerformanceSummary
    /// The sketches the performance was computed from, written as the file's `sketches` so that
    /// buckets of several hosts merge exactly; nil writes none for this rollup.
    public var sketches: PerformanceAccumulator?
    public init(counters: CounterValues, performance: PerformanceSummary, sketches: PerformanceAccumulator? = nil) {
        self.counters = counters
        self.performance = performance
        self.sketches = sketches
    }

    /// A rollup whose performance is its sketches' summary.
    public init(counters: CounterValues, sketches: PerformanceAccumulator) {
        self.init(counters: counters, performance: sketches.summary, sketches: sketches)
    }
}

/// One request named in the highlights.
public struct RequestHighlight: Hashable, Sendable {
    public var requestID: String?
    public var model: String
    public var provider: String
    public var latencyMs: Double
    public init(requestID: String?, model: String, provider: String, latencyMs: Double) {
        self.requestID = requestID
        self.model = model
        self.provider = provider
        self.latencyMs = latencyMs
    }
}

/// docs/snapshot-format.md's `highlights`. A name is nil when no candidate has `min_requests` requests.
public struct HighlightsReport: Hashable, Sendable {
    public var primaryProvider: String?
    public var providerCount: Int
    public var fastestProvider: String?
    public var fastestModel: String?
    public var slowestModel: String?
    public var highestThroughputModel: String?
    public var lowestThroughputModel: String?
    public var fastestRequest: RequestHighlight?
    public var slowestRequest: RequestHighlight?
    public var minRequests: Int

    public init(
        primaryProvider: String? = nil, providerCount: Int = 0, fastestProvider: String? = nil,
        fastestModel: String? = nil, slowestModel: String? = nil, highestThroughputModel: String? = nil,
        lowestThroughputModel: String? = nil, fastestRequest: RequestHighlight? = nil,
        slowestRequest: RequestHighlight? = nil, minRequests: Int = 20
    ) {
        self.primaryProvider = primaryProvider
        self.providerCount = providerCount
        self.fastestProvider = fastestProvider
        self.fastestModel = fastestModel
        self.slowestModel = slowestModel
        self.highestThroughputModel = highestThroughputModel
        self.lowestThroughputModel = lowestThroughputModel
        self.fastestRequest = fastestRequest
        self.slowestRequest = slowestRequest
        self.minRequests = minRequests
    }
}

/// The key, model and provider names that a report's series rows point into: the counters'
/// names as they were when the report was built, shared by every row of it. A row so holds one
/// reference instead of three strings: 24 bytes less for each of a big bucket's hundreds of
/// thousands of rows, at the moment memory peaks.
public final class SeriesNames: Sendable {
    let keys: [String]
    let models: [String]
    let providers: [String]
    /// The place of each key in name order, by index into `keys` (empty: `keys` is in name
    /// order already), for `by_key`'s order.
    let keyRanks: [Int32]

    init(keys: [String], models: [String], providers: [String], keyRanks: [Int32] = []) {
        self.keys = keys
        self.models = models
        self.providers = providers
        self.keyRanks = keyRanks
    }
}

/// One series row: an (api key, model, provider) triple and its counters.
public struct SeriesReport: Hashable, Sendable {
    let names: SeriesNames
    let keyIndex: Int32
    let modelIndex: Int32
    let providerIndex: Int32
    public var counters: CounterValues

    public var apiKey: String { names.keys[Int(keyIndex)] }
    public var model: String { names.models[Int(modelIndex)] }
    public var provider: String { names.providers[Int(providerIndex)] }

    public init(apiKey: String, model: String, provider: String, counters: CounterValues) {
        self.init(
            names: SeriesNames(keys: [apiKey], models: [model], providers: [provider]), key: 0, model: 0, provider: 0,
            counters: counters)
    }

    /// A row whose names are `names`' entries at these indexes.
    init(names: SeriesNames, key: Int32, model: Int32, provider: Int32, counters: CounterValues) {
        self.names = names
        self.keyIndex = key
        self.modelIndex = model
        self.providerIndex = provider
        self.counters = counters
    }

    /// Rows of these triples, sharing one name table, in the order bucket files list them: most
    /// requests first, ties by key, model and provider (names compared once, by rank).
    public static func rows(_ entries: [(key: String, model: String, provider: String, counters: CounterValues)])
        -> [SeriesReport]
    {
        func table(_ names: [String]) -> (sorted: [String], rank: [String: Int32]) {
            let sorted = Set(names).sorted()
            var rank: [String: Int32] = [:]
            for (index, name) in sorted.enumerated() { rank[name] = Int32(index) }
            return (sorted, rank)
        }
        let keys = table(entries.map(\.key))
        let models = table(entries.map(\.model))
        let providers = table(entries.map(\.provider))
        let names = SeriesNames(keys: keys.sorted, models: models.sorted, providers: providers.sorted)
        var rows = entries.map { entry in
            SeriesReport(
                names: names, key: keys.rank[entry.key]!, model: models.rank[entry.model]!,
                provider: providers.rank[entry.provider]!, counters: entry.counters)
        }
        rows.sort { a, b in
            if a.counters.requests != b.counters.requests { return a.counters.requests > b.counters.requests }
            return (a.keyIndex, a.modelIndex, a.providerIndex) < (b.keyIndex, b.modelIndex, b.providerIndex)
        }
        return rows
    }

    public static func == (a: SeriesReport, b: SeriesReport) -> Bool {
        a.apiKey == b.apiKey && a.model == b.model && a.provider == b.provider && a.counters == b.counters
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(apiKey)
        hasher.combine(model)
        hasher.combine(provider)
        hasher.combine(counters)
    }
}

/// Everything one bucket file holds, in the order it is written. Rows are already sorted:
/// objects by name, arrays by requests (most first), then by names.
public struct BucketReport: Hashable, Sendable {
    var period: Period
    /// `2026-11-28`, `2026-W48` or `2026-11`.
    public var label: String
    /// Bucket bounds as Unix seconds (UTC); `end` is exclusive.
    var startEpochSeconds: Int64
    var endEpochSeconds: Int64
    public var timezone: String
    public var host: String
    var generatedAtEpochSeconds: Int64
    public var totals: RollupReport
    var byModel: [(name: String, rollup: RollupReport)]
    var byProvider: [(name: String, rollup: RollupReport)]
    var byModelProvider: [(model: String, provider: String, rollup: RollupReport)]
    /// `by_key` as given, or nil when it is the sum of `series` by key: a report built from
    /// counters leaves it to be summed as it is written (`forEachKeyRow`) rather than hold a
    /// second copy of up to as many counters as it has rows (at high cardinality, nearly one
    /// key a row: half a big report's memory, at the moment memory peaks).
    private var explicitByKey: [(name: String, counters: CounterValues)]?
    public var series: [SeriesReport]
    public var highlights: HighlightsReport

    public init(
        period: Period, label: String, startEpochSeconds: Int64, endEpochSeconds: Int64, timezone: String,
        host: String, generatedAtEpochSeconds: Int64, totals: RollupReport,
        byModel: [(name: String, rollup: RollupReport)], byProvider: [(name: String, rollup: RollupReport)],
        byModelProvider: [(model: String, provider: String, rollup: RollupReport)],
        byKey: [(name: String, counters: CounterValues)]?, series: [SeriesReport], highlights: HighlightsReport
    ) {
        self.period = period
        self.label = label
        self.startEpochSeconds = startEpochSeconds
        self.endEpochSeconds = endEpochSeconds
        self.timezone = timezone
        self.host = host
        self.generatedAtEpochSeconds = generatedAtEpochSeconds
        self.totals = totals
        self.byModel = byModel
        self.byProvider = byProvider
        self.byModelProvider = byModelProvider
        self.explicitByKey = byKey
        self.series = series
        self.highlights = highlights
    }

    /// The `by_key` rows, by key name: as given, or the sums of `series` by key. With the sums,
    /// every series row must share one `SeriesNames` (the builder's).
    var byKey: [(name: String, counters: CounterValues)] {
        get {
            var rows: [(name: String, counters: CounterValues)] = []
            forEachKeyRow { rows.append(($0, $1)) }
            return rows
        }
        set { explicitByKey = newValue }
    }

    /// At most how many `by_key` rows there are.
    var keyRowCountBound: Int { explicitByKey?.count ?? series.count }

    /// Hands each `by_key` row to `body` in key name order, summing `series` when `by_key` was
    /// not given: one sort of row numbers, and one sum at a time.
    func forEachKeyRow(_ body: (_ name: String, _ counters: CounterValues) throws -> Void) rethrows {
        if let explicitByKey {
            for row in explicitByKey { try body(row.name, row.counters) }
            return
        }
        guard let keys = series.first?.names.keys else { return }
        try keys.withUnsafeBufferPointer { keys in
            try forEachKeySum { key, sum in try body(keys[Int(key)], sum) }
        }
    }

    /// The sums of `series` by key, in key name order, each with its index into the rows'
    /// names (which they must all share: see `sharedSeriesNames`). The rows are read in place,
    /// not copied out of the array: a copy retains and releases their name table, twice a row.
    func forEachKeySum(_ body: (_ key: Int32, _ counters: CounterValues) throws -> Void) rethrows {
        guard let names = series.first?.names else { return }
        var order = [Int32](0..<Int32(series.count))
        try names.keyRanks.withUnsafeBufferPointer { ranks in
            try series.withUnsafeBufferPointer { rows in
                if ranks.isEmpty {
                    order.sort { rows[Int($0)].keyIndex < rows[Int($1)].keyIndex }
                } else {
                    order.sort { ranks[Int(rows[Int($0)].keyIndex)] < ranks[Int(rows[Int($1)].keyIndex)] }
                }
                var index = 0
                while index < order.count {
                    let key = rows[Int(order[index])].keyIndex
                    var sum = rows[Int(order[index])].counters
                    index += 1
                    while index < order.count, rows[Int(order[index])].keyIndex == key {
                        sum.add(rows[Int(order[index])].counters)
                        index += 1
                    }
                    try body(key, sum)
                }
            }
        }
    }

    /// The one name table every series row points into, if they share one (a report built from
    /// counters; rows made one by one each have their own).
    var sharedSeriesNames: SeriesNames? {
        guard let first = series.first?.names else { return nil }
        let shared = series.withUnsafeBufferPointer { rows in
            rows.allSatisfy { $0.names === first }
        }
        return shared ? first : nil
    }

    public static func == (lhs: BucketReport, rhs: BucketReport) -> Bool {
        lhs.period == rhs.period && lhs.label == rhs.label && lhs.generatedAtEpochSeconds == rhs.generatedAtEpochSeconds
    }
    public func hash(into hasher: inout Hasher) {
        hasher.combine(period)
        hasher.combine(label)
    }
}

/// One followed or replayed file, as index.json's status lists it.
public struct FileStatus: Hashable, Sendable {
    public var path: String
    /// `dev:inode` while known, plus a fingerprint of the first decompressed bytes.
    var device: UInt64?
    var inode: UInt64?
    var fingerprint: String?
    var compressed: Bool
    /// Committed offset in decompressed bytes.
    var offset: UInt64
    /// Bytes not yet read (for a gzip file, compressed bytes left), 0 when finished.
    public var lagBytes: UInt64
    public var finished: Bool
    /// Damage found (a cut-short gzip member, a read error), if any.
    public var damage: String?
    /// Why the file matched by an input cannot be read now (permissions, no free descriptor),
    /// if so; it is retried at every scan.
    public var error: String?

    public init(
        path: String, device: UInt64? = nil, inode: UInt64? = nil, fingerprint: String? = nil, compressed: Bool,
        offset: UInt64, lagBytes: UInt64, finished: Bool, damage: String? = nil, error: String? = nil
    ) {
        self.error = error
        self.path = path
        self.device = device
        self.inode = inode
        self.fingerprint = fingerprint
        self.compressed = compressed
        self.offset = offset
        self.lagBytes = lagBytes
        self.finished = finished
        self.damage = damage
    }
}

/// index.json's `status` section.
public struct IngestStatus: Hashable, Sendable {
    public var linesRead: UInt64 = 0
    public var linesCounted: UInt64 = 0
    public var linesEmpty: UInt64 = 0
    /// Rejected lines by reason code (`invalid_json`, `missing_field`, ...).
    public var rejected: [String: UInt64] = [:]
    /// Events older than retention, by period.
    public var lateDropped: [Period: UInt64] = [:]
    /// Records counted under `__overflow__` because `limits.max_series` was reached.
    public var overflowRecords: UInt64 = 0
    public var seriesLimit: Int = 0
    public var seriesCount: Int = 0
    public var linesPerSecond: Double? = nil
    public var lastCommitEpochSeconds: Int64? = nil
    /// How the daemon's state commits are going; nil for `replay`, which keeps no state.
    public var commits: OperationHealth? = nil
    /// How writing snapshot files is going.
    public var snapshotWrites = OperationHealth()
    public var files: [FileStatus] = []
    public init() {}

    /// The line statistics of `ingestor` and the series figures of its counters, as of now;
    /// the driver adds the rest (files, rate, commits, snapshot writes).
    public init(counting ingestor: LogIngestor) {
        let counters = ingestor.counters
        linesRead = ingestor.linesRead
        linesCounted = counters.recordsCounted
        linesEmpty = ingestor.linesEmpty
        rejected = ingestor.rejectedByCode
        lateDropped = [.day: counters.lateDropped[0], .week: counters.lateDropped[1], .month: counters.lateDropped[2]]
        overflowRecords = counters.overflowRecords
        seriesLimit = counters.maxSeries
        seriesCount = counters.seriesCount
    }
}

/// The last success and the last failure of a repeated write (state commits, snapshot files),
/// so that `status` shows a full disk instead of hiding it behind a fresh `generated_at`.
public struct OperationHealth: Hashable, Sendable {
    var lastSuccessEpochSeconds: Int64? = nil
    var lastErrorEpochSeconds: Int64? = nil
    /// The last failure's one line, kept until the next success clears `consecutiveFailures`
    /// (the line stays, for the record).
    public var lastError: String? = nil
    /// Failures since the last success.
    public var consecutiveFailures: UInt64 = 0

    public init() {}

    public mutating func succeeded(at time: Int64) {
        lastSuccessEpochSeconds = time
        consecutiveFailures = 0
    }

    public mutating func failed(at time: Int64, _ message: String) {
        lastErrorEpochSeconds = time
        lastError = message
        consecutiveFailures &+= 1
    }
}

/// Everything index.json holds.
public struct IndexReport: Hashable, Sendable {
    var generatedAtEpochSeconds: Int64
    public var host: String
    public var timezone: String
    /// Retained bucket labels per period, oldest first.
    var buckets: [Period: [String]]
    public var status: IngestStatus
    /// The lifetime counters (`LifetimeCounters`), sorted by model, provider and key.
    public var lifetime: [LifetimeCounters.Entry]
    /// A fleet's merged index (`tokentally merge`): each host and when its snapshot was
    /// generated, written as `hosts`; nil for one host's own index.
    public var hosts: [(host: String, generatedAtEpochSeconds: Int64)]?
    public init(
        generatedAtEpochSeconds: Int64, host: String, timezone: String, buckets: [Period: [String]],
        status: IngestStatus, lifetime: [LifetimeCounters.Entry] = []
    ) {
        self.generatedAtEpochSeconds = generatedAtEpochSeconds
        self.host = host
        self.timezone = timezone
        self.buckets = buckets
        self.status = status
        self.lifetime = lifetime.sorted { ($0.model, $0.provider, $0.key) < ($1.model, $1.provider, $1.key) }
    }

    public static func == (lhs: IndexReport, rhs: IndexReport) -> Bool {
        lhs.generatedAtEpochSeconds == rhs.generatedAtEpochSeconds && lhs.host == rhs.host
            && lhs.timezone == rhs.timezone && lhs.buckets == rhs.buckets && lhs.status == rhs.status
            && lhs.lifetime.map(\.values) == rhs.lifetime.map(\.values)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(generatedAtEpochSeconds)
        hasher.combine(host)
        hasher.combine(buckets)
    }
}
