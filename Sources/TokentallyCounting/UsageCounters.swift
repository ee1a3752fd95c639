import TokentallySystem
import TokentallyReading
/// The usage counters of every retained day, week and month bucket, per series.
///
/// A series is one (api key, model, provider) triple. Each record lands in three buckets (its
/// day, ISO week and month in the configured time zone) and updates, in each, its series' exact
/// counters and the performance sketches of the totals, its model, its provider and its model ×
/// provider pair. Rollup counters (by model, by key, ...) are sums of series, made when a
/// snapshot is taken, so the per-record work stays small. One owner uses it at a time.
public final class UsageCounters {
    /// The label written for series beyond `limits.max_series`.
    static let overflowName = "__overflow__"

    /// How many buckets of each period are kept, counted back from the retention anchor
    /// (`anchorOrdinal`). A change (a reload) applies at once: buckets that fall out are dropped.
    public var retention: RetentionConfiguration {
        didSet {
            for period in 0..<3 where anchorOrdinal[period] != .min {
                evict(period: period, olderThanOrEqual: anchorOrdinal[period] - Int32(retentionCount(period)))
            }
        }
    }
    /// Beyond it, new series are counted under `__overflow__`; a change applies to new series.
    @exclusivity(unchecked) public var maxSeries: Int
    @exclusivity(unchecked) public private(set) var calendar: BucketCalendar
    private let redactor: KeyRedactor

    // Dimensions, interned to dense ids.
    @exclusivity(unchecked) private var rawKeys = [ByteStringInterner](
        repeating: ByteStringInterner(), count: KeyRedaction.allCases.count)
    @exclusivity(unchecked) private var keyIDForRaw = [[Int32]](repeating: [], count: KeyRedaction.allCases.count)
    @exclusivity(unchecked) private var keyIDByName: [String: Int32] = [:]
    @exclusivity(unchecked) package private(set) var keyNames: [String] = []
    @exclusivity(unchecked) private var models = ByteStringInterner()
    @exclusivity(unchecked) private var providers = ByteStringInterner()
    @exclusivity(unchecked) package private(set) var modelNames: [String] = []
    @exclusivity(unchecked) package private(set) var providerNames: [String] = []

    // Series and model × provider pairs.
    @exclusivity(unchecked) private var seriesIndex = SeriesIndex()
    package struct SeriesEntry {
        package var key: Int32
        package var model: Int32
        package var provider: Int32
        package var pair: Int32
    }
    @exclusivity(unchecked) package private(set) var seriesDimensions: [SeriesEntry] = []
    @exclusivity(unchecked) private var pairByModelProvider: [Int64: Int32] = [:]
    @exclusivity(unchecked) package private(set) var pairs: [(model: Int32, provider: Int32)] = []

    // Buckets by period (index = Period ordinal) and ordinal.
    @exclusivity(unchecked) var buckets: [[Int32: BucketAccumulator]] = [[:], [:], [:]]
    /// Per period, the newest bucket any record reached, and the retention anchor: the newest
    /// bucket reached by a record other than the single newest one (the second-newest record's
    /// bucket). Retention counts back from the anchor, so no single record, however far ahead
    /// its time (a clock glitch, a mistyped year), can push the other buckets out: it is counted
    /// in its own bucket, and only a second record at or beyond a bucket moves the window there.
    /// `.min` until the records needed have come.
    @exclusivity(unchecked) var newestOrdinal: [Int32] = [.min, .min, .min]
    @exclusivity(unchecked) var anchorOrdinal: [Int32] = [.min, .min, .min]
    /// Per series, per period (index `series × 3 + period`): the bucket ordinal and cell index it
    /// last touched, so the common case (same day as the series' previous request) needs no
    /// hashing.
    @exclusivity(unchecked) private var lastCell: [UInt64] = []
    @exclusivity(unchecked) var hotBucket: [BucketAccumulator?] = [nil, nil, nil]
    @exclusivity(unchecked) private var cachedNameRanks: NameRanks?
    /// Day buckets whose `unfoldedByPair` holds something.
    @exclusivity(unchecked) private var daysToFold: [BucketAccumulator] = []

    /// Events older than retention, by period index (day, week, month).
    @exclusivity(unchecked) public internal(set) var lateDropped: [UInt64] = [0, 0, 0]
    /// Records counted under `__overflow__` because the series limit was reached.
    @exclusivity(unchecked) public internal(set) var overflowRecords: UInt64 = 0
    /// Records counted.
    @exclusivity(unchecked) public internal(set) var recordsCounted: UInt64 = 0

    /// Whether buckets keep the cells changed since the last state commit, so that a commit can
    /// write only those (`encodeChanges`). The daemon turns it on; replay commits nothing.
    @exclusivity(unchecked) public var tracksChanges = false
    /// What existed at the last state commit (`markCommitted`).
    @exclusivity(unchecked) var committed = CommitMark()

    /// Monotonic counters per (model, provider), and per key up to `lifetimeKeys`: never reset
    /// by retention (`LifetimeCounters`).
    public let lifetime: LifetimeCounters

    public init(
        calendar: BucketCalendar, retention: RetentionConfiguration, maxSeries: Int, redactor: KeyRedactor,
        lifetimeKeys: Int = 0
    ) {
        self.calendar = calendar
        self.retention = retention
        self.maxSeries = maxSeries
        self.redactor = redactor
        self.lifetime = LifetimeCounters(keyLimit: lifetimeKeys)
    }

    /// How many series exist (including `__overflow__` once used).
    public var seriesCount: Int { seriesDimensions.count }

    // MARK: - Counting

    /// Counts one record. Allocates nothing once its series and buckets exist.
    public func add(_ record: GatewayRecord, redaction: KeyRedaction) {
        let series = seriesID(for: record, redaction: redaction)
        let ordinals = calendar.ordinals(forEpochSeconds: Int64(record.epochSeconds.rounded(.down)))
        recordsCounted &+= 1
        let dimensions = seriesDimensions[Int(series)]
        lifetime.add(record, key: dimensions.key, pair: dimensions.pair) {
            (keyNames[Int(dimensions.key)], modelNames[Int(dimensions.model)], providerNames[Int(dimensions.provider)])
        }
        let day = count(record, series, dimensions, period: 0, ordinal: ordinals.day)
        let week = count(record, series, dimensions, period: 1, ordinal: ordinals.week)
        let month = count(record, series, dimensions, period: 2, ordinal: ordinals.month)

        let sample = PerformanceSample(record)
        guard !sample.isEmpty else { return }
        if let day, week != nil, month != nil {
            // The common case: the sketches of the day only, folded into its week and month
            // before anything reads them.
            if !day.hasUnfolded {
                day.hasUnfolded = true
                daysToFold.append(day)
            }
            day.addUnfolded(sample, pair: dimensions.pair)
            return
        }
        // A bucket that does not take the record (past retention): the others take it directly.
        day?.performance.add(sample, model: dimensions.model, provider: dimensions.provider, pair: dimensions.pair)
        week?.performance.add(sample, model: dimensions.model, provider: dimensions.provider, pair: dimensions.pair)
        month?.performance.add(sample, model: dimensions.model, provider: dimensions.provider, pair: dimensions.pair)
    }

    /// Adds the record to its series' cell in one period's bucket; nil when the bucket is past
    /// retention (the record is counted as late-dropped there).
    @inline(__always)
    private func count(
        _ record: GatewayRecord, _ series: Int32, _ dimensions: SeriesEntry, period: Int, ordinal: Int32
    ) -> BucketAccumulator? {
        guard let bucket = bucket(period: period, ordinal: ordinal) else {
            lateDropped[period] &+= 1
            return nil
        }
        let cell = cellIndex(bucket, series: series, period: period)
        bucket.cells.pointer(cell).pointee.add(record)
        if tracksChanges { bucket.markChanged(cell) }
        if !record.latencyMs.isNaN {
            bucket.noteRequest(record, model: dimensions.model, provider: dimensions.provider)
        }
        bucket.lastChange = recordsCounted
        return bucket
    }

    /// Grows with every record counted: a bucket's `lastChange` is the value when a record last
    /// changed it, so that whoever writes buckets out can tell, by remembering the value it wrote
    /// a bucket at, which ones changed since (`ChangeTracker` in the output stage). The counters
    /// know nothing of snapshots.
    public var changeSequence: UInt64 { recordsCounted }

    /// Moves the performance that day buckets hold apart (`BucketAccumulator.unfoldedByPair`)
    /// into the rollups of the day, its week and its month. Called before a bucket is read,
    /// written or evicted, so that a week or month always holds exactly the requests its cells
    /// count.
    package func foldUnfoldedPerformance() {
        guard !daysToFold.isEmpty else { return }
        for day in daysToFold {
            let ordinals = BucketCalendar.ordinals(ofDay: Int64(day.ordinal))
            let week = buckets[1][ordinals.week]
            let month = buckets[2][ordinals.month]
            for pair in day.unfoldedByPair.indices where !day.unfoldedByPair[pair].isEmpty {
                let accumulator = day.unfoldedByPair[pair]
                let (model, provider) = pairs[pair]
                let id = Int32(pair)
                day.performance.merge(accumulator, model: model, provider: provider, pair: id)
                week?.performance.merge(accumulator, model: model, provider: provider, pair: id)
                month?.performance.merge(accumulator, model: model, provider: provider, pair: id)
                day.unfoldedByPair[pair].removeAll()
            }
            // Only the newest day keeps its sketches' memory for the records to come; an older
            // day (a replay's, or one a late record reached) rarely gets more, and at high
            // cardinality thirty days of them are megabytes.
            if day.ordinal < newestOrdinal[0] { day.unfoldedByPair = [] }
            day.hasUnfolded = false
        }
        daysToFold.removeAll(keepingCapacity: true)
    }

    @inline(__always)
    private func bucket(period: Int, ordinal: Int32) -> BucketAccumulator? {
        // The usual case: the bucket of the record before, at or behind the anchor.
        if let hot = hotBucket[period], hot.ordinal == ordinal, ordinal <= anchorOrdinal[period] { return hot }
        let keep = Int32(retentionCount(period))
        let anchor = anchorOrdinal[period]
        if anchor != .min && ordinal <= anchor - keep { return nil }
        // Move the newest and the anchor: the anchor is the second-newest record's bucket.
        if ordinal > newestOrdinal[period] {
            anchorOrdinal[period] = newestOrdinal[period]
            newestOrdinal[period] = ordinal
        } else if ordinal > anchor {
            anchorOrdinal[period] = ordinal
        }
        if anchorOrdinal[period] > anchor {
            evict(period: period, olderThanOrEqual: anchorOrdinal[period] - keep)
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
        guard buckets[period].keys.contains(where: { $0 <= limit }) else { return }
        foldUnfoldedPerformance()
        for ordinal in buckets[period].keys where ordinal <= limit {
            buckets[period][ordinal] = nil
            if hotBucket[period]?.ordinal == ordinal { hotBucket[period] = nil }
        }
    }

    @inline(__always)
    private func cellIndex(_ bucket: BucketAccumulator, series: Int32, period: Int) -> Int {
        let cached = lastCell[Int(series) &* 3 &+ period]
        if cached >> 32 == UInt64(UInt32(bitPattern: bucket.ordinal)), cached & 0xFFFF_FFFF != 0 {
            return Int(cached & 0xFFFF_FFFF) - 1
        }
        let cell = bucket.cell(for: series)
        lastCell[Int(series) &* 3 &+ period] = UInt64(UInt32(bitPattern: bucket.ordinal)) << 32 | UInt64(cell + 1)
        return cell
    }

    // MARK: - Dimensions

    @inline(__always)
    private func seriesID(for record: GatewayRecord, redaction: KeyRedaction) -> Int32 {
        let mode = redaction.ordinal
        if let raw = rawKeys[mode].id(of: record.apiKey), let model = models.id(of: record.model),
            let provider = providers.id(of: record.provider),
            let series = seriesIndex.find(
                key: keyIDForRaw[mode][Int(raw)], model: model, provider: provider, in: seriesDimensions)
        {
            return series
        }
        return newSeriesID(for: record, mode: mode, redaction: redaction)
    }

    /// The slow path: a series not seen before (or one of its strings not seen before); the
    /// fast path in `seriesID` already looked for an existing one.
    private func newSeriesID(for record: GatewayRecord, mode: Int, redaction: KeyRedaction) -> Int32 {
        guard seriesDimensions.count < maxSeries else {
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

    func keyID(named name: String) -> Int32 {
        if let id = keyIDByName[name] { return id }
        let id = Int32(keyNames.count)
        keyNames.append(name)
        keyIDByName[name] = id
        return id
    }

    func internModel(_ bytes: UnsafeRawBufferPointer) -> Int32 {
        let id = models.intern(bytes)
        if Int(id) == modelNames.count { modelNames.append(models.string(id)) }
        return id
    }

    func internProvider(_ bytes: UnsafeRawBufferPointer) -> Int32 {
        let id = providers.intern(bytes)
        if Int(id) == providerNames.count { providerNames.append(providers.string(id)) }
        return id
    }

    func series(key: Int32, model: Int32, provider: Int32) -> Int32 {
        if let existing = seriesIndex.find(key: key, model: model, provider: provider, in: seriesDimensions) {
            return existing
        }
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
        seriesDimensions.append(SeriesEntry(key: key, model: model, provider: provider, pair: pair))
        seriesIndex.insert(id, in: seriesDimensions)
        lastCell.append(contentsOf: [0, 0, 0])
        return id
    }

    // MARK: - Reading

    /// Each key, model and provider name's position in name order (equal names, which Swift
    /// may find among different bytes, share one), so that report rows sort by name with
    /// integer compares. Kept until a name is added.
    package func nameRanks() -> NameRanks {
        if let cached = cachedNameRanks, cached.keys.count == keyNames.count,
            cached.models.count == modelNames.count, cached.providers.count == providerNames.count
        {
            return cached
        }
        func ranks(_ names: [String]) -> [Int32] {
            let order = names.indices.sorted { names[$0] < names[$1] }
            var ranks = [Int32](repeating: 0, count: names.count)
            var rank: Int32 = 0
            for (position, index) in order.enumerated() {
                if position > 0 && names[order[position - 1]] < names[index] { rank += 1 }
                ranks[index] = rank
            }
            return ranks
        }
        let computed = NameRanks(keys: ranks(keyNames), models: ranks(modelNames), providers: ranks(providerNames))
        cachedNameRanks = computed
        return computed
    }

    package struct NameRanks {
        package var keys: [Int32]
        package var models: [Int32]
        package var providers: [Int32]
    }

    /// The bucket of a period and ordinal, if retained (for the reports).
    package func bucket(_ period: Period, ordinal: Int32) -> BucketAccumulator? {
        buckets[period.ordinal][ordinal]
    }

    /// Retained bucket ordinals of a period, oldest first.
    public func bucketOrdinals(_ period: Period) -> [Int32] {
        buckets[period.ordinal].keys.sorted()
    }

    /// The oldest bucket ordinal that retention keeps, or nil before an anchor exists (two
    /// records).
    public func oldestRetainedOrdinal(_ period: Period) -> Int32? {
        let anchor = anchorOrdinal[period.ordinal]
        guard anchor != .min else { return nil }
        return anchor - Int32(retentionCount(period.ordinal)) + 1
    }

    /// Drops a bucket, for a caller that has read it for the last time and counts no more
    /// (`replay`, which so gives each bucket's memory back once its report is built). The
    /// performance of days is folded into their weeks and months first.
    package func release(_ period: Period, ordinal: Int32) {
        foldUnfoldedPerformance()
        buckets[period.ordinal][ordinal] = nil
        if hotBucket[period.ordinal]?.ordinal == ordinal { hotBucket[period.ordinal] = nil }
    }

    /// Every retained bucket: its period, ordinal and `lastChange`.
    public func bucketChanges() -> [(period: Period, ordinal: Int32, lastChange: UInt64)] {
        buckets.joined().map { ($0.value.period, $0.key, $0.value.lastChange) }
    }
}

/// Series ids by their (key, model, provider) ids: open addressing over small integers, so a
/// lookup hashes no string (they were interned already) and allocates nothing.
private struct SeriesIndex {
    /// Series id + 1 per slot, 0 for an empty slot; the size is a power of two.
    private var slots = [Int32](repeating: 0, count: 1024)
    private var count = 0

    @inline(__always)
    private static func hash(_ key: Int32, _ model: Int32, _ provider: Int32) -> Int {
        var h = UInt64(UInt32(bitPattern: key)) | UInt64(UInt32(bitPattern: model)) << 32
        h ^= UInt64(UInt32(bitPattern: provider)) &* 0x9E37_79B9_7F4A_7C15
        h = (h ^ (h >> 31)) &* 0xBF58_476D_1CE4_E5B9
        return Int(truncatingIfNeeded: h ^ (h >> 29))
    }

    @inline(__always)
    func find(
        key: Int32, model: Int32, provider: Int32, in entries: [UsageCounters.SeriesEntry]
    ) -> Int32? {
        let mask = slots.count - 1
        var slot = Self.hash(key, model, provider) & mask
        while true {
            let entry = slots[slot]
            if entry == 0 { return nil }
            let candidate = entries[Int(entry - 1)]
            if candidate.key == key && candidate.model == model && candidate.provider == provider {
                return entry - 1
            }
            slot = (slot + 1) & mask
        }
    }

    /// Adds series `id`, whose dimensions are `entries[id]`.
    mutating func insert(_ id: Int32, in entries: [UsageCounters.SeriesEntry]) {
        count += 1
        if count * 2 > slots.count {
            slots = [Int32](repeating: 0, count: slots.count * 2)
            for existing in 0..<Int32(count - 1) { place(existing, entries[Int(existing)]) }
        }
        place(id, entries[Int(id)])
    }

    private mutating func place(_ id: Int32, _ entry: UsageCounters.SeriesEntry) {
        let mask = slots.count - 1
        var slot = Self.hash(entry.key, entry.model, entry.provider) & mask
        while slots[slot] != 0 { slot = (slot + 1) & mask }
        slots[slot] = id + 1
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
        foldUnfoldedPerformance()
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
            writer.write(anchorOrdinal[period])
            writer.write(lateDropped[period])
            writer.write(UInt32(buckets[period].count))
            for ordinal in buckets[period].keys.sorted() { buckets[period][ordinal]!.encode(into: &writer) }
        }
        writer.write(overflowRecords)
        writer.write(recordsCounted)
        lifetime.encode(into: &writer)
    }

    /// Replaces the (empty) counters with ones written by `encode`. The time zone must be the
    /// one the counters were made in, since buckets are calendar periods of that zone.
    /// - Parameter formatVersion: the state file's format; before 3 only the newest ordinal was
    ///   kept, and it is taken as the anchor too (the retention those counters were made with).
    public func restore(from reader: inout StateReader, formatVersion: UInt32 = .max) throws(StateDecodingError) {
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
            anchorOrdinal[period] = formatVersion >= 3 ? try reader.read(Int32.self) : newestOrdinal[period]
            guard anchorOrdinal[period] <= newestOrdinal[period] else {
                throw StateDecodingError("the retention anchor is newer than the newest bucket")
            }
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
        if formatVersion >= 4 { try lifetime.restore(from: &reader, resolve: lifetimePlace) }
    }

    /// The (key id, pair) of a lifetime entry's names, for its per-record index.
    func lifetimePlace(_ entry: LifetimeCounters.Entry) -> (key: Int32?, pair: Int32?) {
        let key = keyIDByName[entry.key]
        let model =
            entry.model.utf8.withContiguousStorageIfAvailable { models.id(of: UnsafeRawBufferPointer($0)) } ?? nil
        let provider =
            entry.provider.utf8.withContiguousStorageIfAvailable { providers.id(of: UnsafeRawBufferPointer($0)) } ?? nil
        guard let model, let provider else { return (key, nil) }
        return (key, pairByModelProvider[Int64(model) << 32 | Int64(provider)])
    }
}
