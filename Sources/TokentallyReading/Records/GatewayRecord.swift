import TokentallySystem
/// One accepted request, as the counters need it.
///
/// The dimension strings are views into the parser's buffers: valid only until the next line is
/// parsed, and never copied on the hot path. Durations are milliseconds, `.nan` when absent.
public struct GatewayRecord {
    /// When the request completed, in Unix seconds.
    public var epochSeconds: Double = 0
    /// The request id's bytes, or an empty buffer.
    public var requestID = UnsafeRawBufferPointer(start: nil, count: 0)
    /// The API key as logged (raw: it may be a secret; redaction happens when it is interned).
    public var apiKey = UnsafeRawBufferPointer(start: nil, count: 0)
    public var model = UnsafeRawBufferPointer(start: nil, count: 0)
    public var provider = UnsafeRawBufferPointer(start: nil, count: 0)
    public var succeeded = true
    public var inputTokens: UInt64 = 0
    public var outputTokens: UInt64 = 0
    public var cachedTokens: UInt64 = 0
    public var cacheWriteTokens: UInt64 = 0
    public var reasoningTokens: UInt64 = 0
    public var webSearchCalls: UInt64 = 0
    public var latencyMs: Double = .nan
    public var ttftMs: Double = .nan
    public var generationMs: Double = .nan
    public var costNanoUSD: Int64 = 0

    public init() {}

    /// Output tokens per second of generation, or nan when not defined (docs/snapshot-format.md,
    /// PERFORMANCE: only where `output_tokens > 0` and `generation_ms > 0`).
    @inline(__always)
    public var throughputTPS: Double {
        guard outputTokens > 0, generationMs > 0 else { return .nan }
        return Double(outputTokens) / (generationMs / 1000)
    }
}
