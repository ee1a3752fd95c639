import TokentallySystem
import TokentallyReading
/// The counters of one bucket (one day, week or month): a cell of exact counters per series,
/// and performance accumulators for the totals and per model, provider and pair.
///
/// A request's performance goes into one accumulator only, its pair's in its day's
/// `unfoldedByPair`: three sketch inserts instead of thirty-six (3 periods × 4 rollups × 3
/// figures). `UsageCounters` folds them into the totals, model, provider and pair rollups of the
/// day, its week and its month before anything reads them (`foldUnfoldedPerformance`).
package final class BucketAccumulator {
    package let period: Period
    let ordinal: Int32
    /// `UsageCounters.changeSequence` when a record last changed the bucket (0 for one restored
    /// from state, and not changed since).
    @exclusivity(unchecked) package var lastChange: UInt64 = 0

    /// The cell of each series: open addressing over series ids, cell + 1 per slot (0 empty),
    /// the series of a slot's cell read from `cellSeries`. A power of two in size, at most
    /// three quarters full: 4 to 11 bytes a cell, where a `Dictionary` took 11 to 22 and hashed
    /// each lookup with SipHash (measured at 100k keys: a tenth of the counting thread's time).
    @exclusivity(unchecked) private var cellSlots = [Int32](repeating: 0, count: 16)
    @exclusivity(unchecked) private var cellSlotShift: UInt64 = 60
    @exclusivity(unchecked) package private(set) var cellSeries: [Int32] = []
    package let cells = CellPages()

    /// The performance of the requests counted here, once folded.
    @exclusivity(unchecked) package var performance = PerformanceRollups()
    /// Day buckets only: by model × provider pair, the performance of requests counted in this
    /// day and not yet folded into the `performance` of this day, its week and its month.
    @exclusivity(unchecked) var unfoldedByPair: [PerformanceAccumulator] = []
    /// Whether `unfoldedByPair` holds anything.
    @exclusivity(unchecked) var hasUnfolded = false

    /// The fastest and slowest request (the first one seen wins a tie); the latencies are kept
    /// apart so that the per-request comparison touches no String.
    @exclusivity(unchecked) private(set) var fastestLatencyMs = Double.infinity
    @exclusivity(unchecked) private(set) var slowestLatencyMs = -Double.infinity
    @exclusivity(unchecked) package fileprivate(set) var fastest: RequestNote?
    @exclusivity(unchecked) package fileprivate(set) var slowest: RequestNote?

    package struct RequestNote {
        package var latencyMs: Double
        package var requestID: String?
        package var model: Int32
        package var provider: Int32
    }

    /// With `UsageCounters.tracksChanges`: the cells changed since the last state commit, once
    /// each, and a flag per cell saying whether it is listed.
    @exclusivity(unchecked) private var changedFlags: [Bool] = []
    @exclusivity(unchecked) private(set) var changedCells: [Int32] = []

    init(period: Period, ordinal: Int32) {
        self.period = period
        self.ordinal = ordinal
    }

    /// The cell index of a series, creating the cell on first use.
    func cell(for series: Int32) -> Int {
        let mask = cellSlots.count - 1
        var slot = Self.slot(of: series, shift: cellSlotShift)
        while true {
            let entry = cellSlots[slot]
            if entry == 0 { break }
            if cellSeries[Int(entry) - 1] == series { return Int(entry) - 1 }
            slot = (slot + 1) & mask
        }
        let cell = cells.append(CounterValues())
        cellSeries.append(series)
        if cellSeries.count * 4 > cellSlots.count * 3 {
            growCellSlots()
        } else {
            cellSlots[slot] = Int32(cell + 1)
        }
        return cell
    }

    @inline(__always)
    private static func slot(of series: Int32, shift: UInt64) -> Int {
        Int(truncatingIfNeeded: (UInt64(UInt32(bitPattern: series)) &* 0x9E37_79B9_7F4A_7C15) >> shift)
    }

    /// Doubles the table and places every cell again.
    private func growCellSlots() {
        cellSlots = [Int32](repeating: 0, count: cellSlots.count * 2)
        cellSlotShift -= 1
        let mask = cellSlots.count - 1
        for (cell, series) in cellSeries.enumerated() {
            var slot = Self.slot(of: series, shift: cellSlotShift)
            while cellSlots[slot] != 0 { slot = (slot + 1) & mask }
            cellSlots[slot] = Int32(cell + 1)
        }
    }

    /// Lists `cell` among those changed since the last commit.
    @inline(__always)
    func markChanged(_ cell: Int) {
        if cell >= changedFlags.count {
            changedFlags.append(contentsOf: repeatElement(false, count: max(cell + 1 - changedFlags.count, 1024)))
        }
        guard !changedFlags[cell] else { return }
        changedFlags[cell] = true
        changedCells.append(Int32(cell))
    }

    /// Forgets the changed cells: they were committed.
    func clearChanges() {
        for cell in changedCells { changedFlags[Int(cell)] = false }
        changedCells.removeAll(keepingCapacity: true)
    }

    @inline(__always)
    func addUnfolded(_ sample: PerformanceSample, pair: Int32) {
        PerformanceRollups.grow(&unfoldedByPair, toHold: pair)
        unfoldedByPair[Int(pair)].add(sample)
    }

    /// Keeps the fastest and slowest request of the bucket (the first one seen wins a tie).
    @inline(__always)
    func noteRequest(_ record: GatewayRecord, model: Int32, provider: Int32) {
        let latency = record.latencyMs
        if latency < fastestLatencyMs {
            fastestLatencyMs = latency
            fastest = RequestNote(
                latencyMs: latency, requestID: Self.requestID(record), model: model, provider: provider)
        }
        if latency > slowestLatencyMs {
            slowestLatencyMs = latency
            slowest = RequestNote(
                latencyMs: latency, requestID: Self.requestID(record), model: model, provider: provider)
        }
    }

    fileprivate func restoreRequests(fastest: RequestNote?, slowest: RequestNote?) {
        self.fastest = fastest
        self.slowest = slowest
        fastestLatencyMs = fastest?.latencyMs ?? .infinity
        slowestLatencyMs = slowest?.latencyMs ?? -.infinity
    }

    private static func requestID(_ record: GatewayRecord) -> String? {
        record.requestID.isEmpty ? nil : String(decoding: record.requestID, as: UTF8.self)
    }
}

/// The cells of one bucket, in pages of a fixed size that never move.
///
/// An array of cells would double and copy itself as a bucket grows; at high cardinality
/// (a month of 400,000 series is 48 MB of cells) the copies, and the freed blocks that the
/// allocator keeps, cost more resident memory than the cells. Pages are allocated one at a
/// time and never copied, and only the parts written become resident.
package final class CellPages {
    private static let pageShift = 8
    private static let pageSize = 1 << pageShift
    @exclusivity(unchecked) private var pages: [UnsafeMutablePointer<CounterValues>] = []
    @exclusivity(unchecked) private(set) var count = 0

    init() {}

    deinit {
        for (index, page) in pages.enumerated() {
            page.deinitialize(count: min(Self.pageSize, count - index * Self.pageSize))
            page.deallocate()
        }
    }

    /// Adds a cell and returns its index.
    func append(_ values: CounterValues) -> Int {
        let index = count
        if index & (Self.pageSize - 1) == 0 { pages.append(.allocate(capacity: Self.pageSize)) }
        (pages[index >> Self.pageShift] + (index & (Self.pageSize - 1))).initialize(to: values)
        count += 1
        return index
    }

    /// The cell at `index`, to read or update in place.
    @inline(__always)
    package func pointer(_ index: Int) -> UnsafeMutablePointer<CounterValues> {
        pages[index >> Self.pageShift] + (index & (Self.pageSize - 1))
    }

    package subscript(index: Int) -> CounterValues {
        get { pointer(index).pointee }
        set { pointer(index).pointee = newValue }
    }
}

// MARK: - State

extension CounterValues {
    func encode(into writer: inout StateWriter) {
        for value in [
            requests, succeeded, failed, inputTokens, outputTokens, cachedTokens, cacheWriteTokens, reasoningTokens,
            webSearchRequests, webSearchCalls, webSearchInputTokens, webSearchOutputTokens,
        ] { writer.write(value) }
        writer.write(costNanoUSD)
        writer.write(latencySumMs)
        writer.write(latencyCount)
    }

    static func decode(from reader: inout StateReader) throws(StateDecodingError) -> CounterValues {
        var v = CounterValues()
        v.requests = try reader.read(UInt64.self)
        v.succeeded = try reader.read(UInt64.self)
        v.failed = try reader.read(UInt64.self)
        v.inputTokens = try reader.read(UInt64.self)
        v.outputTokens = try reader.read(UInt64.self)
        v.cachedTokens = try reader.read(UInt64.self)
        v.cacheWriteTokens = try reader.read(UInt64.self)
        v.reasoningTokens = try reader.read(UInt64.self)
        v.webSearchRequests = try reader.read(UInt64.self)
        v.webSearchCalls = try reader.read(UInt64.self)
        v.webSearchInputTokens = try reader.read(UInt64.self)
        v.webSearchOutputTokens = try reader.read(UInt64.self)
        v.costNanoUSD = try reader.read(Int64.self)
        v.latencySumMs = try reader.readDouble()
        v.latencyCount = try reader.read(UInt64.self)
        return v
    }
}

extension PerformanceAccumulator {
    func encode(into writer: inout StateWriter) {
        latency.encode(into: &writer)
        ttft.encode(into: &writer)
        throughput.encode(into: &writer)
        writer.write(throughputOutputTokens)
        writer.write(throughputGenerationSeconds)
    }

    static func decode(from reader: inout StateReader) throws(StateDecodingError) -> PerformanceAccumulator {
        var accumulator = PerformanceAccumulator()
        accumulator.latency = try QuantileSketch.decode(from: &reader)
        accumulator.ttft = try QuantileSketch.decode(from: &reader)
        accumulator.throughput = try QuantileSketch.decode(from: &reader)
        accumulator.throughputOutputTokens = try reader.read(UInt64.self)
        accumulator.throughputGenerationSeconds = try reader.readDouble()
        return accumulator
    }
}

extension BucketAccumulator {
    func encode(into writer: inout StateWriter) {
        writer.write(UInt8(period.ordinal))
        writer.write(ordinal)
        writer.write(UInt32(cells.count))
        for (index, series) in cellSeries.enumerated() {
            writer.write(series)
            cells[index].encode(into: &writer)
        }
        encodeSummaries(into: &writer)
    }

    /// Like `encode`, with only the cells changed since the last commit (absolute values, so
    /// that applying them again changes nothing). The summaries are written whole.
    func encodeChanges(into writer: inout StateWriter) {
        writer.write(UInt8(period.ordinal))
        writer.write(ordinal)
        writer.write(UInt32(changedCells.count))
        for cell in changedCells {
            writer.write(cellSeries[Int(cell)])
            cells[Int(cell)].encode(into: &writer)
        }
        encodeSummaries(into: &writer)
    }

    /// The performance rollups and the fastest and slowest request.
    private func encodeSummaries(into writer: inout StateWriter) {
        performance.total.encode(into: &writer)
        for group in [performance.byModel, performance.byProvider, performance.byPair] {
            writer.write(UInt32(group.count))
            for accumulator in group { accumulator.encode(into: &writer) }
        }
        for request in [fastest, slowest] {
            writer.write(request != nil)
            if let request {
                writer.write(request.latencyMs)
                writer.write(request.requestID != nil)
                if let id = request.requestID { writer.write(id) }
                writer.write(request.model)
                writer.write(request.provider)
            }
        }
    }

    static func decode(from reader: inout StateReader, seriesCount: Int) throws(StateDecodingError) -> BucketAccumulator
    {
        let place = try decodePlace(from: &reader)
        let bucket = BucketAccumulator(period: Period.allCases[place.period], ordinal: place.ordinal)
        try bucket.apply(from: &reader, seriesCount: seriesCount)
        return bucket
    }

    /// The period and ordinal that begin a bucket's record.
    static func decodePlace(from reader: inout StateReader) throws(StateDecodingError) -> (period: Int, ordinal: Int32)
    {
        let periodIndex = Int(try reader.readUInt8())
        guard periodIndex < Period.allCases.count else { throw StateDecodingError("bad period \(periodIndex)") }
        return (periodIndex, try reader.read(Int32.self))
    }

    /// Reads the cells and summaries that follow a bucket's place (`encode` or
    /// `encodeChanges`): each cell's values replace the cell's, and the summaries replace these.
    func apply(from reader: inout StateReader, seriesCount: Int) throws(StateDecodingError) {
        let cellCount = try reader.readCount(minimumItemSize: 124)
        for _ in 0..<cellCount {
            let series = try reader.read(Int32.self)
            guard series >= 0, Int(series) < seriesCount else { throw StateDecodingError("bad series id \(series)") }
            cells[self.cell(for: series)] = try CounterValues.decode(from: &reader)
        }
        let total = try PerformanceAccumulator.decode(from: &reader)
        var groups: [[PerformanceAccumulator]] = []
        for _ in 0..<3 {
            let count = try reader.readCount(minimumItemSize: 16)
            var group: [PerformanceAccumulator] = []
            for _ in 0..<count { group.append(try PerformanceAccumulator.decode(from: &reader)) }
            groups.append(group)
        }
        performance = PerformanceRollups(
            total: total, byModel: groups[0], byProvider: groups[1], byPair: groups[2])
        var requests: [RequestNote?] = []
        for _ in 0..<2 {
            guard try reader.readBool() else {
                requests.append(nil)
                continue
            }
            let latency = try reader.readDouble()
            let id: String? = try reader.readBool() ? try reader.readString() : nil
            requests.append(
                RequestNote(
                    latencyMs: latency, requestID: id, model: try reader.read(Int32.self),
                    provider: try reader.read(Int32.self)))
        }
        restoreRequests(fastest: requests[0], slowest: requests[1])
    }
}
