/// The distributions of one rollup (totals, a model, a provider, or a model × provider pair)
/// in one bucket: latency, time to first token and throughput sketches, and the sums behind
/// the aggregate throughput.
public struct PerformanceAccumulator: Sendable {
    public var latency = QuantileSketch()
    public var ttft = QuantileSketch()
    public var throughput = QuantileSketch()
    /// Σ output tokens and Σ generation seconds over requests that have a throughput.
    public var throughputOutputTokens: UInt64 = 0
    public var throughputGenerationSeconds: Double = 0

    public init() {}

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

    /// The PERFORMANCE block of snapshot.md.
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
