import TokentallyCounting
import TokentallyReading
import TokentallySystem

extension UsageCounters {
    /// Builds the report of one retained bucket, or nil if it is not retained.
    public func report(
        _ period: Period, ordinal: Int32, host: String, timezone: String, generatedAt: Int64, minRequests: Int
    ) -> BucketReport? {
        guard let bucket = bucket(period, ordinal: ordinal) else { return nil }
        foldUnfoldedPerformance()
        let interval = calendar.interval(period, ordinal: ordinal)
        return BucketReportBuilder(counters: self, bucket: bucket).build(
            label: calendar.label(period, ordinal: ordinal), start: interval.start, end: interval.end, host: host,
            timezone: timezone, generatedAt: generatedAt, minRequests: minRequests)
    }
}

/// One cell's place in `series`: compared member by member, most requests first, then by the
/// ranks of its key, model and provider names; the cell index last (series are unique, so it
/// never decides).
private struct CellOrder: Comparable {
    var fewerRequests: UInt64
    var key: Int32
    var model: Int32
    var provider: Int32
    var cell: Int32

    static func < (a: CellOrder, b: CellOrder) -> Bool {
        if a.fewerRequests != b.fewerRequests { return a.fewerRequests < b.fewerRequests }
        if a.key != b.key { return a.key < b.key }
        if a.model != b.model { return a.model < b.model }
        if a.provider != b.provider { return a.provider < b.provider }
        return a.cell < b.cell
    }
}

/// Counter sums by a dense id (a model's, a provider's, a pair's), and which ids were used.
private struct DenseSums {
    var sums: [CounterValues]
    var seen: [Bool]

    init(count: Int) {
        sums = Array(repeating: CounterValues(), count: count)
        seen = Array(repeating: false, count: count)
    }

    @inline(__always)
    mutating func add(_ values: CounterValues, to id: Int32) {
        sums[Int(id)].add(values)
        seen[Int(id)] = true
    }

    /// The ids used, with their sums.
    var used: [(id: Int32, values: CounterValues)] {
        seen.indices.filter { seen[$0] }.map { (Int32($0), sums[$0]) }
    }
}

/// Turns one bucket's cells and accumulators into the rows of a `BucketReport`.
struct BucketReportBuilder {
    let counters: UsageCounters
    let bucket: BucketAccumulator

    func build(
        label: String, start: Int64, end: Int64, host: String, timezone: String, generatedAt: Int64, minRequests: Int
    ) -> BucketReport {
        var totals = CounterValues()
        // Models, providers and pairs are few and their ids dense: sums by id, in arrays.
        var byModel = DenseSums(count: counters.modelNames.count)
        var byProvider = DenseSums(count: counters.providerNames.count)
        var byPair = DenseSums(count: counters.pairs.count)
        // The sort key of every cell: most requests first, then names in order (through their
        // ranks: integers, no String compares), packed in one value so the sort compares plain
        // integers instead of chasing the cells and their series through closures.
        let ranks = counters.nameRanks()
        // Read once: the loops below run once per cell, and a class's array reached anew in
        // each turn is retained and released each time.
        let seriesDimensions = counters.seriesDimensions
        let cellSeries = bucket.cellSeries
        let cells = bucket.cells
        var order: [CellOrder] = []
        order.reserveCapacity(cellSeries.count)
        for (cell, seriesID) in cellSeries.enumerated() {
            let values = cells[cell]
            let dimensions = seriesDimensions[Int(seriesID)]
            totals.add(values)
            byModel.add(values, to: dimensions.model)
            byProvider.add(values, to: dimensions.provider)
            byPair.add(values, to: dimensions.pair)
            order.append(
                CellOrder(
                    fewerRequests: UInt64.max - values.requests, key: ranks.keys[Int(dimensions.key)],
                    model: ranks.models[Int(dimensions.model)], provider: ranks.providers[Int(dimensions.provider)],
                    cell: Int32(cell)))
        }
        // The rows are sorted as these small values and then built in order, so that a bucket of
        // many series never holds a second, sorting copy of its rows.
        order.sort()
        var series: [SeriesReport] = []
        series.reserveCapacity(order.count)
        // by_key is summed from these rows as it is written (`BucketReport.forEachKeyRow`).
        let names = SeriesNames(
            keys: counters.keyNames, models: counters.modelNames, providers: counters.providerNames,
            keyRanks: ranks.keys)
        for entry in order {
            let dimensions = seriesDimensions[Int(cellSeries[Int(entry.cell)])]
            series.append(
                SeriesReport(
                    names: names, key: dimensions.key, model: dimensions.model, provider: dimensions.provider,
                    counters: cells[Int(entry.cell)]))
        }
        order = []

        let modelRows = byModel.used.map { (id, values) in
            (
                name: counters.modelNames[Int(id)],
                rollup: RollupReport(counters: values, sketches: Self.sketches(bucket.performance.byModel, id))
            )
        }.sorted { $0.name < $1.name }
        let providerRows = byProvider.used.map { (id, values) in
            (
                name: counters.providerNames[Int(id)],
                rollup: RollupReport(counters: values, sketches: Self.sketches(bucket.performance.byProvider, id))
            )
        }.sorted { $0.name < $1.name }
        let pairRows = byPair.used.map { (id, values) in
            let pair = counters.pairs[Int(id)]
            return (
                model: counters.modelNames[Int(pair.model)], provider: counters.providerNames[Int(pair.provider)],
                rollup: RollupReport(counters: values, sketches: Self.sketches(bucket.performance.byPair, id))
            )
        }.sorted { a, b in
            if a.rollup.counters.requests != b.rollup.counters.requests {
                return a.rollup.counters.requests > b.rollup.counters.requests
            }
            return (a.model, a.provider) < (b.model, b.provider)
        }

        return BucketReport(
            period: bucket.period, label: label, startEpochSeconds: start, endEpochSeconds: end, timezone: timezone,
            host: host, generatedAtEpochSeconds: generatedAt,
            totals: RollupReport(counters: totals, sketches: bucket.performance.total),
            byModel: modelRows, byProvider: providerRows, byModelProvider: pairRows, byKey: nil, series: series,
            highlights: highlights(models: modelRows, providers: providerRows, minRequests: minRequests))
    }

    /// The sketches of one rollup; a rollup whose requests had no performance figures may have
    /// no accumulator at all.
    private static func sketches(_ group: [PerformanceAccumulator], _ id: Int32) -> PerformanceAccumulator {
        Int(id) < group.count ? group[Int(id)] : PerformanceAccumulator()
    }

    private func highlights(
        models: [(name: String, rollup: RollupReport)], providers: [(name: String, rollup: RollupReport)],
        minRequests: Int
    ) -> HighlightsReport {
        var report = HighlightsReport.ranking(models: models, providers: providers, minRequests: minRequests)
        if let fastest = bucket.fastest {
            report.fastestRequest = RequestHighlight(
                requestID: fastest.requestID, model: counters.modelNames[Int(fastest.model)],
                provider: counters.providerNames[Int(fastest.provider)], latencyMs: fastest.latencyMs)
        }
        if let slowest = bucket.slowest {
            report.slowestRequest = RequestHighlight(
                requestID: slowest.requestID, model: counters.modelNames[Int(slowest.model)],
                provider: counters.providerNames[Int(slowest.provider)], latencyMs: slowest.latencyMs)
        }
        return report
    }
}

extension HighlightsReport {
    /// The highlights that rank rollups (primary, fastest and slowest provider and models,
    /// throughput), from the rollups alone: the same for one host's buckets and for a fleet's
    /// merged ones. The highlighted requests are the caller's.
    public static func ranking(
        models: [(name: String, rollup: RollupReport)], providers: [(name: String, rollup: RollupReport)],
        minRequests: Int
    ) -> HighlightsReport {
        var report = HighlightsReport(minRequests: minRequests)
        report.providerCount = providers.count
        report.primaryProvider =
            providers.min { a, b in
                if a.rollup.counters.requests != b.rollup.counters.requests {
                    return a.rollup.counters.requests > b.rollup.counters.requests
                }
                return a.name < b.name
            }?.name

        func eligible(
            _ rows: [(name: String, rollup: RollupReport)], _ figure: (PerformanceSummary) -> DistributionSummary
        )
            -> [(name: String, p50: Double)]
        {
            rows.filter {
                $0.rollup.counters.requests >= UInt64(minRequests) && figure($0.rollup.performance).count > 0
            }
            .map { ($0.name, figure($0.rollup.performance).p50) }
        }
        // Ties go to the name that sorts first, so the result does not depend on hash order.
        func lowest(_ rows: [(name: String, p50: Double)]) -> String? {
            rows.min { $0.p50 != $1.p50 ? $0.p50 < $1.p50 : $0.name < $1.name }?.name
        }
        func highest(_ rows: [(name: String, p50: Double)]) -> String? {
            rows.min { $0.p50 != $1.p50 ? $0.p50 > $1.p50 : $0.name < $1.name }?.name
        }
        let providerLatency = eligible(providers, \.latencyMs)
        let modelLatency = eligible(models, \.latencyMs)
        let modelThroughput = eligible(models, \.throughputTPS)
        report.fastestProvider = lowest(providerLatency)
        report.fastestModel = lowest(modelLatency)
        report.slowestModel = highest(modelLatency)
        report.highestThroughputModel = highest(modelThroughput)
        report.lowestThroughputModel = lowest(modelThroughput)
        return report
    }
}
