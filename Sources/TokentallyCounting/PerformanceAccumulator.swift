import TokentallySystem
import TokentallyReading
/// The distributions of one rollup (totals, a model, a provider, or a model × provider pair)
/// in one bucket: latency, time to first token and throughput sketches, and the sums behind
/// the aggregate throughput.
public struct PerformanceAccumulator: Sendable, Hashable {
    var latency = QuantileSketch()
    var ttft = QuantileSketch()
    var throughput = QuantileSketch()
    /// Σ output tokens and Σ generation seconds over requests that have a throughput.
    var throughputOutputTokens: UInt64 = 0
    var throughputGenerationSeconds: Double = 0

    public init() {}

    /// The state of each sketch and the aggregate's sums, as bucket files carry them.
    public var states: (latency: QuantileSketch.State, ttft: QuantileSketch.State, throughput: QuantileSketch.State) {
        (latency.state, ttft.state, throughput.state)
    }
    public var aggregateSums: (outputTokens: UInt64, generationSeconds: Double) {
        (throughputOutputTokens, throughputGenerationSeconds)
    }

    /// An accumulator made of sketches read back (`QuantileSketch.init?(_:)`) and the sums.
    public init(
        latency: QuantileSketch, ttft: QuantileSketch, throughput: QuantileSketch, outputTokens: UInt64,
        generationSeconds: Double
    ) {
        self.latency = latency
        self.ttft = ttft
        self.throughput = throughput
        throughputOutputTokens = outputTokens
        throughputGenerationSeconds = generationSeconds
    }

    /// Merges `other` into this one, as if its requests had been added here.
    public mutating func add(_ other: PerformanceAccumulator) { merge(other) }

    /// Adds one request's figures; the sketch bucket indexes are computed once by the caller,
    /// since the same values go into a dozen accumulators.
    @inline(__always)
    mutating func add(_ sample: PerformanceSample) {
        if sample.latencyIndex != nil { latency.add(sample.latencyMs, bucketIndex: sample.latencyIndex!) }
        if sample.ttftIndex != nil { ttft.add(sample.ttftMs, bucketIndex: sample.ttftIndex!) }
        if sample.throughputIndex != nil {
            throughput.add(sample.throughputTPS, bucketIndex: sample.throughputIndex!)
            throughputOutputTokens &+= sample.outputTokens
            throughputGenerationSeconds += sample.generationSeconds
        }
    }

    /// Whether no request was added.
    var isEmpty: Bool { latency.count == 0 && ttft.count == 0 && throughput.count == 0 }

    /// Adds everything `other` holds, as if its requests had been added here.
    mutating func merge(_ other: PerformanceAccumulator) {
        latency.merge(other.latency)
        ttft.merge(other.ttft)
        throughput.merge(other.throughput)
        throughputOutputTokens &+= other.throughputOutputTokens
        throughputGenerationSeconds += other.throughputGenerationSeconds
    }

    /// Empties the accumulator, keeping the sketches' memory for the next requests.
    mutating func removeAll() {
        latency.removeAll()
        ttft.removeAll()
        throughput.removeAll()
        throughputOutputTokens = 0
        throughputGenerationSeconds = 0
    }

    /// The PERFORMANCE block of docs/snapshot-format.md.
    public var summary: PerformanceSummary {
        PerformanceSummary(
            latencyMs: Self.summarize(latency),
            ttftMs: Self.summarize(ttft),
            throughputTPS: Self.summarize(throughput),
            aggregateThroughputTPS: throughputGenerationSeconds > 0
                ? Double(throughputOutputTokens) / throughputGenerationSeconds : nil
        )
    }

    static func summarize(_ sketch: QuantileSketch) -> DistributionSummary {
        guard sketch.count > 0 else { return .empty }
        return DistributionSummary(
            count: sketch.count, mean: sketch.mean, min: sketch.min, max: sketch.max,
            p50: sketch.quantile(0.5), p90: sketch.quantile(0.9), p99: sketch.quantile(0.99))
    }
}

/// The performance accumulators of one bucket: the totals, and one per model, provider and
/// model × provider pair, indexed by their dense ids.
package struct PerformanceRollups {
    package var total = PerformanceAccumulator()
    package var byModel: [PerformanceAccumulator] = []
    package var byProvider: [PerformanceAccumulator] = []
    package var byPair: [PerformanceAccumulator] = []

    init() {}

    init(
        total: PerformanceAccumulator, byModel: [PerformanceAccumulator], byProvider: [PerformanceAccumulator],
        byPair: [PerformanceAccumulator]
    ) {
        self.total = total
        self.byModel = byModel
        self.byProvider = byProvider
        self.byPair = byPair
    }

    /// Adds one request to the totals and to its model's, provider's and pair's accumulators.
    @inline(__always)
    mutating func add(_ sample: PerformanceSample, model: Int32, provider: Int32, pair: Int32) {
        total.add(sample)
        Self.grow(&byModel, toHold: model)
        byModel[Int(model)].add(sample)
        Self.grow(&byProvider, toHold: provider)
        byProvider[Int(provider)].add(sample)
        Self.grow(&byPair, toHold: pair)
        byPair[Int(pair)].add(sample)
    }

    /// Adds the performance of requests of one model × provider pair, as if each had been
    /// added with `add`.
    mutating func merge(_ accumulator: PerformanceAccumulator, model: Int32, provider: Int32, pair: Int32) {
        total.merge(accumulator)
        Self.grow(&byModel, toHold: model)
        byModel[Int(model)].merge(accumulator)
        Self.grow(&byProvider, toHold: provider)
        byProvider[Int(provider)].merge(accumulator)
        Self.grow(&byPair, toHold: pair)
        byPair[Int(pair)].merge(accumulator)
    }

    @inline(__always)
    static func grow(_ group: inout [PerformanceAccumulator], toHold id: Int32) {
        if Int(id) >= group.count { group.append(contentsOf: repeatElement(.init(), count: Int(id) + 1 - group.count)) }
    }
}

/// One request's performance figures, prepared once for all the accumulators it goes into.
struct PerformanceSample {
    var latencyMs: Double
    var ttftMs: Double
    var throughputTPS: Double
    var latencyIndex: Int32?
    var ttftIndex: Int32?
    var throughputIndex: Int32?
    var outputTokens: UInt64
    var generationSeconds: Double

    /// Whether the request has any figure for the sketches.
    var isEmpty: Bool { latencyIndex == nil && ttftIndex == nil && throughputIndex == nil }

    @inline(__always)
    init(_ record: GatewayRecord) {
        latencyMs = record.latencyMs
        ttftMs = record.ttftMs
        throughputTPS = record.throughputTPS
        latencyIndex = latencyMs.isNaN ? nil : QuantileSketch.bucketIndex(for: latencyMs)
        ttftIndex = ttftMs.isNaN ? nil : QuantileSketch.bucketIndex(for: ttftMs)
        throughputIndex = throughputTPS.isNaN ? nil : QuantileSketch.bucketIndex(for: throughputTPS)
        outputTokens = record.outputTokens
        generationSeconds = record.generationMs / 1000
    }
}
