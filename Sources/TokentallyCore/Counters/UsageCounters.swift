/// The usage counters of every retained day, week and month bucket, per series.
///
/// A series is one (api key, model, provider) triple. Each record lands in three buckets (its
/// day, ISO week and month in the configured time zone) and updates, in each, its series' exact
/// counters and the performance sketches of the totals, its model, its provider and its model ×
/// provider pair. Rollup counters (by model, by key, ...) are sums of series, made when a
/// snapshot is taken, so the per-record work stays small. One owner uses it at a time.
public final class UsageCounters {
    /// The label written for series beyond `limits.max_series`.
    public static let overflowName = "__overflow__"

    /// How many buckets of each period are kept; a change (a reload) applies from the next
    /// event on.
    public var retention: RetentionConfiguration
    /// Beyond it, new series are counted under `__overflow__`; a change applies to new series.
    public var maxSeries: Int
    public private(set) var calendar: BucketCalendar
    private let redactor: KeyRedactor

    // Dimensions, interned to dense ids.
    private var rawKeys = [ByteStringInterner](repeating: ByteStringInterner(), count: KeyRedaction.allCases.count)
    private var keyIDForRaw = [[Int32]](repeating: [], count: KeyRedaction.allCases.count)
    private var keyIDByName: [String: Int32] = [:]
    private(set) var keyNames: [String] = []
    private var models = ByteStringInterner()
    private var providers = ByteStringInterner()
    private(set) var modelNames: [String] = []
    private(set) var providerNames: [String] = []

    // Series and model × provider pairs.
    private struct SeriesDimensions: Hashable {
        var key: Int32
        var model: Int32
        var provider: Int32
    }
    private var seriesByDimensions: [SeriesDimensions: Int32] = [:]
    private(set) var seriesDimensions: [(key: Int32, model: Int32, provider: Int32, pair: Int32)] = []
    private var pairByModelProvider: [Int64: Int32] = [:]
    private(set) var pairs: [(model: Int32, provider: Int32)] = []

    // Buckets by period (index = Period ordinal) and ordinal.
    private var buckets: [[Int32: BucketAccumulator]] = [[:], [:], [:]]
    private var newestOrdinal: [Int32] = [.min, .min, .min]
    /// Per period, per series: the bucket ordinal and cell index it last touched, so the common
    /// case (same day as the series' previous request) needs no hashing.
    private var lastCell: [[UInt64]] = [[], [], []]
    private var hotBucket: [BucketAccumulator?] = [nil, nil, nil]

    /// Events older than retention, by period index (day, week, month).
    public private(set) var lateDropped: [UInt64] = [0, 0, 0]
    /// Records counted under `__overflow__` because the series limit was reached.
    public private(set) var overflowRecords: UInt64 = 0
    /// Records counted.
    public private(set) var recordsCounted: UInt64 = 0

    public init(calendar: BucketCalendar, retention: RetentionConfiguration, maxSeries: Int, redactor: KeyRedactor) {
        self.calendar = calendar
        self.retention = retention
        self.maxSeries = maxSeries
        self.redactor = redactor
    }

    /// How many series exist (including `__overflow__` once used).
    public var seriesCount: Int { seriesDimensions.count }

    // MARK: - Counting

    /// Counts one record. Allocates nothing once its series and buckets exist.
    public func add(_ record: GatewayRecord, redaction: KeyRedaction) {
        let series = seriesID(for: record, redaction: redaction)
        let ordinals = calendar.ordinals(forEpochSeconds: Int64(record.epochSeconds.rounded(.down)))
        let sample = PerformanceSample(record)
        recordsCounted &+= 1
        add(record, sample, series, period: 0, ordinal: ordinals.day)
        add(record, sample, series, period: 1, ordinal: ordinals.week)
        add(record, sample, series, period: 2, ordinal: ordinals.month)
    }

    @inline(__always)
    private func add(
        _ record: GatewayRecord, _ sample: PerformanceSample, _ series: Int32, period: Int, ordinal: Int32
    ) {
        guard let bucket = bucket(period: period, ordinal: ordinal) else {
            lateDropped[period] &+= 1
            return
        }
        let cell = cellIndex(bucket, series: series, period: period)
        bucket.cells[cell].add(record)
        let dimensions = seriesDimensions[Int(series)]
        bucket.addPerformance(sample, model: dimensions.model, provider: dimensions.provider, pair: dimensions.pair)
        if !sample.latencyMs.isNaN { bucket.noteRequest(record, model: dimensions.model, provider: dimensions.provider) }
        bucket.dirty = true
    }

    @inline(__always)
    private func bucket(period: Int, ordinal: Int32) -> BucketAccumulator? {
        if let hot = hotBucket[period], hot.ordinal == ordinal { return hot }
        let keep = Int32(retentionCount(period))
        if ordinal > newestOrdinal[period] {
            newestOrdinal[period] = ordinal
            evict(period: period, olderThanOrEqual: ordinal - keep)
        } else if ordinal <= newestOrdinal[period] - keep {
            return nil
        }
        if let existing = buckets[period][ordinal] {
            hotBucket[period] = existing
            return existing
        }
        let created = BucketAccumulator(period: Period.allCases[period], ordinal: ordinal)
        buckets[period][ordinal] = created
        hotBucket[period] = created
        return created
    }

    private func retentionCount(_ period: Int) -> Int {
        switch period {
        case 0: retention.days
        case 1: retention.weeks
        default: retention.months
        }
    }

    private func evict(period: Int, olderThanOrEqual limit: Int32) {
        for ordinal in buckets[period].keys where ordinal <= limit {
            buckets[period][ordinal] = nil
            if hotBucket[period]?.ordinal == ordinal { hotBucket[period] = nil }
        }
    }

    @inline(__always)
    private func cellIndex(_ bucket: BucketAccumulator, series: Int32, period: Int) -> Int {
        let cached = lastCell[period][Int(series)]
        if cached >> 32 == UInt64(UInt32(bitPattern: bucket.ordinal)), cached & 0xFFFF_FFFF != 0 {
            return Int(cached & 0xFFFF_FFFF) - 1
        }
        let cell = bucket.cell(for: series)
        lastCell[period][Int(series)] = UInt64(UInt32(bitPattern: bucket.ordinal)) << 32 | UInt64(cell + 1)
        return cell
    }

    // MARK: - Dimensions

    @inline(__always)
    private func seriesID(for record: GatewayRecord, redaction: KeyRedaction) -> Int32 {
        let mode = redaction.ordinal
        if let raw = rawKeys[mode].id(of: record.apiKey), let model = models.id(of: record.model),
            let provider = providers.id(of: record.provider),
            let series = seriesByDimensions[
                SeriesDimensions(key: keyIDForRaw[mode][Int(raw)], model: model, provider: provider)]
        {
            return series
        }
        return newSeriesID(for: record, mode: mode, redaction: redaction)
    }

    /// The slow path: a series not seen before (or one of its strings not seen before).
    private func newSeriesID(for record: GatewayRecord, mode: Int, redaction: KeyRedaction) -> Int32 {
        guard seriesDimensions.count < maxSeries || seriesDimensionsExist(record, mode: mode) else {
            return overflowSeriesID(for: record)
        }
        let rawCount = rawKeys[mode].count
        let raw = rawKeys[mode].intern(record.apiKey)
        if raw == rawCount {
            let rawString = String(decoding: record.apiKey, as: UTF8.self)
            keyIDForRaw[mode].append(keyID(named: redactor.displayName(forRawKey: rawString, mode: redaction)))
        }
        let key = keyIDForRaw[mode][Int(raw)]
        let model = internModel(record.model)
        let provider = internProvider(record.provider)
        return series(key: key, model: model, provider: provider)
    }

    /// Beyond `limits.max_series`, a new series is counted under the key `__overflow__`, with
    /// its model and provider kept when they are already known (so per-model and per-provider
    /// figures stay exact under a flood of junk keys) and folded into `__overflow__` too when
    /// they are new (so junk models cannot grow memory either).
    private func overflowSeriesID(for record: GatewayRecord) -> Int32 {
        overflowRecords &+= 1
        let name = Self.overflowName
        let key = keyID(named: name)
        let (overflowModel, overflowProvider) = name.utf8.withContiguousStorageIfAvailable { bytes in
            let raw = UnsafeRawBufferPointer(bytes)
            return (models.id(of: raw), providers.id(of: raw))
        }!
        let model = models.id(of: record.model) ?? overflowModel ?? overflowDimension(model: true)
        let provider = providers.id(of: record.provider) ?? overflowProvider ?? overflowDimension(model: false)
        return series(key: key, model: model, provider: provider)
    }

    private func overflowDimension(model: Bool) -> Int32 {
        Self.overflowName.utf8.withContiguousStorageIfAvailable { bytes in
            model ? internModel(UnsafeRawBufferPointer(bytes)) : internProvider(UnsafeRawBufferPointer(bytes))
        }!
    }

    private func seriesDimensionsExist(_ record: GatewayRecord, mode: Int) -> Bool {
        guard let raw = rawKeys[mode].id(of: record.apiKey), let model = models.id(of: record.model),
            let provider = providers.id(of: record.provider)
        else { return false }
        return seriesByDimensions[SeriesDimensions(key: keyIDForRaw[mode][Int(raw)], model: model, provider: provider)]
            != nil
    }

    private func keyID(named name: String) -> Int32 {
        if let id = keyIDByName[name] { return id }
        let id = Int32(keyNames.count)
        keyNames.append(name)
        keyIDByName[name] = id
        return id
    }

    private func internModel(_ bytes: UnsafeRawBufferPointer) -> Int32 {
        let id = models.intern(bytes)
        if Int(id) == modelNames.count { modelNames.append(models.string(id)) }
        return id
    }

    private func internProvider(_ bytes: UnsafeRawBufferPointer) -> Int32 {
        let id = providers.intern(bytes)
        if Int(id) == providerNames.count { providerNames.append(providers.string(id)) }
        return id
    }

    private func series(key: Int32, model: Int32, provider: Int32) -> Int32 {
        let dimensions = SeriesDimensions(key: key, model: model, provider: provider)
        if let existing = seriesByDimensions[dimensions] { return existing }
        let pairKey = Int64(model) << 32 | Int64(provider)
        let pair: Int32
        if let existing = pairByModelProvider[pairKey] {
            pair = existing
        } else {
            pair = Int32(pairs.count)
            pairs.append((model, provider))
            pairByModelProvider[pairKey] = pair
        }
        let id = Int32(seriesDimensions.count)
        seriesDimensions.append((key, model, provider, pair))
        seriesByDimensions[dimensions] = id
        for period in 0..<3 { lastCell[period].append(0) }
        return id
    }

    // MARK: - Reading

    /// Retained bucket ordinals of a period, oldest first.
    public func bucketOrdinals(_ period: Period) -> [Int32] {
        buckets[period.ordinal].keys.sorted()
    }

    /// The oldest bucket ordinal that retention keeps, or nil before the first event.
    public func oldestRetainedOrdinal(_ period: Period) -> Int32? {
        let newest = newestOrdinal[period.ordinal]
        guard newest != .min else { return nil }
        return newest - Int32(retentionCount(period.ordinal)) + 1
    }

    /// Retained bucket ordinals that changed since `markClean` was last called.
    public func dirtyBucketOrdinals(_ period: Period) -> [Int32] {
        buckets[period.ordinal].values.filter(\.dirty).map(\.ordinal).sorted()
    }

    /// Marks every bucket as written.
    public func markClean() {
        for period in 0..<3 { for bucket in buckets[period].values { bucket.dirty = false } }
    }

    /// Builds the report of one retained bucket, or nil if it is not retained.
    public func report(
        _ period: Period, ordinal: Int32, host: String, timezone: String, generatedAt: Int64, minRequests: Int
    ) -> BucketReport? {
        guard let bucket = buckets[period.ordinal][ordinal] else { return nil }
        let interval = calendar.interval(period, ordinal: ordinal)
        return BucketReportBuilder(counters: self, bucket: bucket).build(
            label: calendar.label(period, ordinal: ordinal), start: interval.start, end: interval.end, host: host,
            timezone: timezone, generatedAt: generatedAt, minRequests: minRequests)
    }
}

extension Period {
    /// Index into per-period arrays: day 0, week 1, month 2.
    @inline(__always)
    var ordinal: Int {
        switch self {
        case .day: 0
        case .week: 1
        case .month: 2
        }
    }
}

extension KeyRedaction {
    @inline(__always)
    var ordinal: Int {
        switch self {
        case .auto: 0
        case .hash: 1
        case .none: 2
        }
    }
}

extension CounterValues {
    /// Adds one request.
    @inline(__always)
    mutating func add(_ record: GatewayRecord) {
        requests &+= 1
        if record.succeeded { succeeded &+= 1 } else { failed &+= 1 }
        inputTokens &+= record.inputTokens
        outputTokens &+= record.outputTokens
        cachedTokens &+= record.cachedTokens
        cacheWriteTokens &+= record.cacheWriteTokens
        reasoningTokens &+= record.reasoningTokens
        if record.webSearchCalls > 0 {
            webSearchRequests &+= 1
            webSearchCalls &+= record.webSearchCalls
            webSearchInputTokens &+= record.inputTokens
            webSearchOutputTokens &+= record.outputTokens
        }
        costNanoUSD &+= record.costNanoUSD
        if !record.latencyMs.isNaN {
            latencySumMs += record.latencyMs
            latencyCount &+= 1
        }
    }
}

// MARK: - State

extension UsageCounters {
    /// Writes every counter, sketch and dimension name, for the daemon's state commit. Raw API
    /// keys are not written: only their redacted names are, and a raw key seen again after a
    /// restart is redacted again to the same name.
    public func encode(into writer: inout StateWriter) {
        writer.write(calendar.timeZoneIdentifier)
        for names in [keyNames, modelNames, providerNames] {
            writer.write(UInt32(names.count))
            for name in names { writer.write(name) }
        }
        writer.write(UInt32(seriesDimensions.count))
        for series in seriesDimensions {
            writer.write(series.key)
            writer.write(series.model)
            writer.write(series.provider)
        }
        for period in 0..<3 {
            writer.write(newestOrdinal[period])
            writer.write(lateDropped[period])
            writer.write(UInt32(buckets[period].count))
            for ordinal in buckets[period].keys.sorted() { buckets[period][ordinal]!.encode(into: &writer) }
        }
        writer.write(overflowRecords)
        writer.write(recordsCounted)
    }

    /// Replaces the (empty) counters with ones written by `encode`. The time zone must be the
    /// one the counters were made in, since buckets are calendar periods of that zone.
    public func restore(from reader: inout StateReader) throws(StateDecodingError) {
        let zone = try reader.readString()
        guard zone == calendar.timeZoneIdentifier else {
            throw StateDecodingError(
                "the state was counted in time zone \(zone), but the configuration says \(calendar.timeZoneIdentifier)")
        }
        var lists: [[String]] = []
        for _ in 0..<3 {
            let count = try reader.readCount(minimumItemSize: 4)
            var names: [String] = []
            names.reserveCapacity(count)
            for _ in 0..<count { names.append(try reader.readString()) }
            lists.append(names)
        }
        for name in lists[0] { _ = keyID(named: name) }
        for name in lists[1] {
            _ = name.utf8.withContiguousStorageIfAvailable { internModel(UnsafeRawBufferPointer($0)) }
        }
        for name in lists[2] {
            _ = name.utf8.withContiguousStorageIfAvailable { internProvider(UnsafeRawBufferPointer($0)) }
        }
        guard keyNames.count == lists[0].count, modelNames.count == lists[1].count,
            providerNames.count == lists[2].count
        else { throw StateDecodingError("duplicate dimension names in the state") }
        let seriesCount = try reader.readCount(minimumItemSize: 12)
        for index in 0..<seriesCount {
            let key = try reader.read(Int32.self)
            let model = try reader.read(Int32.self)
            let provider = try reader.read(Int32.self)
            guard key >= 0, Int(key) < keyNames.count, model >= 0, Int(model) < modelNames.count, provider >= 0,
                Int(provider) < providerNames.count
            else { throw StateDecodingError("series \(index) names an unknown dimension") }
            guard series(key: key, model: model, provider: provider) == Int32(index) else {
                throw StateDecodingError("series \(index) is a duplicate")
            }
        }
        for period in 0..<3 {
            newestOrdinal[period] = try reader.read(Int32.self)
            lateDropped[period] = try reader.read(UInt64.self)
            let count = try reader.readCount(minimumItemSize: 16)
            for _ in 0..<count {
                let bucket = try BucketAccumulator.decode(from: &reader, seriesCount: seriesCount)
                guard bucket.period.ordinal == period else { throw StateDecodingError("bucket under the wrong period") }
                buckets[period][bucket.ordinal] = bucket
            }
        }
        overflowRecords = try reader.read(UInt64.self)
        recordsCounted = try reader.read(UInt64.self)
    }

    /// Marks every bucket as changed, so that the next snapshot rewrites them all (after a
    /// restart, the snapshot files may be older than the restored counters).
    public func markAllDirty() {
        for period in 0..<3 { for bucket in buckets[period].values { bucket.dirty = true } }
    }
}
