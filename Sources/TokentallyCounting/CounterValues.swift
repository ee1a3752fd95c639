import TokentallySystem
import TokentallyReading
/// The calendar periods that usage is bucketed by.
public enum Period: String, CaseIterable, Sendable, Hashable, Comparable {
    case day, week, month

    public static func < (lhs: Period, rhs: Period) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

/// The exact counters of docs/snapshot-format.md's COUNTERS, as written to a bucket file.
public struct CounterValues: Hashable, Sendable {
    public var requests: UInt64 = 0
    public var succeeded: UInt64 = 0
    public var failed: UInt64 = 0
    public var inputTokens: UInt64 = 0
    public var outputTokens: UInt64 = 0
    public var cachedTokens: UInt64 = 0
    public var cacheWriteTokens: UInt64 = 0
    public var reasoningTokens: UInt64 = 0
    public var webSearchRequests: UInt64 = 0
    public var webSearchCalls: UInt64 = 0
    public var webSearchInputTokens: UInt64 = 0
    public var webSearchOutputTokens: UInt64 = 0
    /// Cost in nano-dollars (1e-9 USD), summed exactly.
    public var costNanoUSD: Int64 = 0
    /// Sum and count of `latency_ms` over the requests that have one (for `latency_ms_mean`).
    public var latencySumMs: Double = 0
    public var latencyCount: UInt64 = 0

    public init() {}

    /// `input_tokens + output_tokens`.
    public var totalTokens: UInt64 { inputTokens &+ outputTokens }

    /// Adds another set of counters into this one (rollups are sums of series).
    public mutating func add(_ other: CounterValues) {
        requests &+= other.requests
        succeeded &+= other.succeeded
        failed &+= other.failed
        inputTokens &+= other.inputTokens
        outputTokens &+= other.outputTokens
        cachedTokens &+= other.cachedTokens
        cacheWriteTokens &+= other.cacheWriteTokens
        reasoningTokens &+= other.reasoningTokens
        webSearchRequests &+= other.webSearchRequests
        webSearchCalls &+= other.webSearchCalls
        webSearchInputTokens &+= other.webSearchInputTokens
        webSearchOutputTokens &+= other.webSearchOutputTokens
        costNanoUSD &+= other.costNanoUSD
        latencySumMs += other.latencySumMs
        latencyCount &+= other.latencyCount
    }
}

/// One distribution of docs/snapshot-format.md's PERFORMANCE (`latency_ms`, `ttft_ms`, `throughput_tps`).
public struct DistributionSummary: Hashable, Sendable {
    public var count: UInt64
    public var mean: Double
    public var min: Double
    public var max: Double
    public var p50: Double
    public var p90: Double
    public var p99: Double

    public init(count: UInt64, mean: Double, min: Double, max: Double, p50: Double, p90: Double, p99: Double) {
        self.count = count
        self.mean = mean
        self.min = min
        self.max = max
        self.p50 = p50
        self.p90 = p90
        self.p99 = p99
    }

    static let empty = DistributionSummary(count: 0, mean: 0, min: 0, max: 0, p50: 0, p90: 0, p99: 0)
}

/// docs/snapshot-format.md's PERFORMANCE block; `success_rate` is derived from the counters beside it.
public struct PerformanceSummary: Hashable, Sendable {
    public var latencyMs: DistributionSummary
    public var ttftMs: DistributionSummary
    public var throughputTPS: DistributionSummary
    /// Σ output_tokens / Σ generation seconds over requests with a throughput; nil when none.
    public var aggregateThroughputTPS: Double?

    public init(
        latencyMs: DistributionSummary, ttftMs: DistributionSummary, throughputTPS: DistributionSummary,
        aggregateThroughputTPS: Double?
    ) {
        self.latencyMs = latencyMs
        self.ttftMs = ttftMs
        self.throughputTPS = throughputTPS
        self.aggregateThroughputTPS = aggregateThroughputTPS
    }
}
