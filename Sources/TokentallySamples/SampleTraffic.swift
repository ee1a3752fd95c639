#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
import TokentallySystem
import TokentallyReading

// MARK: - Time of the requests

/// Hands out completion times in increasing order whose density follows a traffic curve.
///
/// The range is cut into 5-minute buckets weighted by a UTC daily curve (a broad daytime peak
/// around 14:30 UTC, a smaller one for Asia-Pacific mornings, a quiet European night), quieter
/// weekends, some noise and rare bursts of batch traffic. Line k of n gets the quantile
/// (k + u) / n of that distribution, with u uniform in [0, 1): times are random but never go
/// backwards, and the walk over the cumulative weights is linear in lines plus buckets.
struct Timeline {
    private static let bucketSeconds: Int64 = 300
    private let cumulative: [Double]
    private let startMicros: Int64
    private let endMicros: Int64
    private let lines: Int
    private var index = 0
    private var bucket = 0

    init(startSeconds: Int64, days: Int, lines: Int, seed: UInt64) {
        var noise = Xoshiro256(seed: seed ^ 0x7131_E11E_D0C7_A11C)
        let buckets = days * Int(86_400 / Self.bucketSeconds)
        var sums = [0.0]
        sums.reserveCapacity(buckets + 1)
        var total = 0.0
        for bucket in 0..<buckets {
            let seconds = startSeconds + Int64(bucket) * Self.bucketSeconds
            let hour = Double(seconds % 86_400) / 3600
            let weekday = (seconds / 86_400 + 4) % 7  // 1970-01-01 was a Thursday; 0 is Sunday.
            var weight = 0.22
            weight += exp(-(hour - 14.5) * (hour - 14.5) / (2 * 3.6 * 3.6))
            weight += 0.35 * exp(-(hour - 2.5) * (hour - 2.5) / (2 * 2.2 * 2.2))
            weight += 0.35 * exp(-(hour - 26.5) * (hour - 26.5) / (2 * 2.2 * 2.2))  // the same, wrapped
            if weekday == 0 || weekday == 6 { weight *= 0.55 }
            weight *= 0.85 + 0.3 * noise.unit()
            if noise.chance(0.004) { weight *= 2.5 + 3 * noise.unit() }
            total += weight
            sums.append(total)
        }
        cumulative = sums
        startMicros = startSeconds * 1_000_000
        endMicros = startMicros + Int64(days) * 86_400_000_000
        self.lines = lines
    }

    /// The next completion time, in epoch microseconds, in [start, end).
    mutating func next(_ random: inout Xoshiro256) -> Int64 {
        let total = cumulative[cumulative.count - 1]
        let target = (Double(index) + random.unit()) / Double(max(lines, 1)) * total
        index += 1
        let last = cumulative.count - 2
        while bucket < last && cumulative[bucket + 1] <= target { bucket += 1 }
        let width = cumulative[bucket + 1] - cumulative[bucket]
        let fraction = width > 0 ? min(max((target - cumulative[bucket]) / width, 0), 0.999_999_9) : 0
        let bucketMicros = Self.bucketSeconds * 1_000_000
        let time = startMicros + Int64(bucket) * bucketMicros + Int64(fraction * Double(bucketMicros))
        return min(max(time, startMicros), endMicros - 1)
    }
}

// MARK: - What a line says

/// One request, drawn once and then written in the chosen format.
struct SampleRecord {
    var completedMicros: Int64 = 0
    var lateMicros: Int64 = 0
    var uniqueID: UInt64 = 0
    var randomID: UInt64 = 0
    var key = 0
    var model = 0
    var provider = 0  // index into the provider table
    var stream = false
    var status = 200  // HTTP status; 200 for every success
    var inputTokens: Int64 = 0
    var outputTokens: Int64 = 0  // reasoning tokens included
    var cachedTokens: Int64 = 0
    var cacheWrite5mTokens: Int64 = 0
    var cacheWrite1hTokens: Int64 = 0
    var reasoningTokens: Int64 = 0
    var webSearchCalls: Int64 = 0
    var ttftMicros: Int64 = 0
    var generationMicros: Int64 = 0
    var latencyMicros: Int64 = 0
    var costNanos: Int64 = 0
    var finishReason = 0
    var tagsStart = 0
    var tagsCount = 0
    // How the numbers and strings are spelled; drawn for every format so that the requests stay
    // the same whichever format is written.
    var timestampAsEpoch = false
    var costSpelling = 0  // 0 number, 1 decimal string, 2 number with exponent, 3 string with exponent
    var fractionalMillis = false
    var statusSpelling = 0  // 0 integer, 1 true, 2 "ok"
    var writesGenerationTime = true
    var escapeNonASCII = false

    var failed: Bool { status != 200 }
    var cacheWriteTokens: Int64 { cacheWrite5mTokens + cacheWrite1hTokens }
}

/// How a model caches prompts.
enum Caching {
    /// No prompt caching.
    case none
    /// Automatic prefix caching (OpenAI style): reads only, in 128-token steps.
    case automatic
    /// Explicit cache breakpoints (Anthropic style): reads and billed writes.
    case explicit
}

struct ModelProfile {
    let slug: String
    /// Providers (indexes into the provider table) and their shares of the model's traffic.
    let providers: [(provider: Int, share: Double)]
    /// Share of requests that use reasoning (extended thinking).
    let reasoning: Double
    let caching: Caching
    let medianInput: Double
    let medianOutput: Double
    /// Dollars per million tokens: input, output, cache read, cache write (5-minute; 1-hour
    /// writes cost 1.6 times as much).
    let prices: (input: Double, output: Double, cacheRead: Double, cacheWrite: Double)
    /// Multiplies the provider's generation speed.
    let speed: Double
    /// Multiplies the provider's time to first token.
    let firstTokenFactor: Double
}

struct ProviderProfile {
    let slug: String
    let medianFirstTokenMillis: Double
    let tokensPerSecond: Double
    let priceFactor: Double
}

/// Up to four providers of one model with their cumulative shares: a plain value, so drawing
/// one per line copies nothing that is reference-counted.
struct ProviderChoice {
    var providers: (Int, Int, Int, Int) = (0, 0, 0, 0)
    var cumulative: (Double, Double, Double, Double) = (1, 1, 1, 1)

    init(_ shares: [(provider: Int, share: Double)]) {
        precondition((1...4).contains(shares.count))
        let total = shares.reduce(0) { $0 + $1.share }
        var running = 0.0
        var ids = [0, 0, 0, 0]
        var sums = [1.0, 1.0, 1.0, 1.0]
        for (index, entry) in shares.enumerated() {
            running += entry.share / total
            ids[index] = entry.provider
            sums[index] = index == shares.count - 1 ? 1 : running
        }
        for index in shares.count..<4 { ids[index] = ids[shares.count - 1] }
        providers = (ids[0], ids[1], ids[2], ids[3])
        cumulative = (sums[0], sums[1], sums[2], sums[3])
    }

    func draw(_ random: inout Xoshiro256) -> Int {
        let u = random.unit()
        if u < cumulative.0 { return providers.0 }
        if u < cumulative.1 { return providers.1 }
        if u < cumulative.2 { return providers.2 }
        return providers.3
    }
}

/// Strings encoded once as JSON string tokens (quotes and escapes included), stored end to end
/// in one array so that writing one costs a copy and no reference counting.
struct StringTable: Sendable {
    private var storage: [UInt8] = []
    private var bounds: [Range<Int>] = []

    init(_ names: [String] = [], asciiOnly: Bool = false) {
        for name in names { append(name, asciiOnly: asciiOnly) }
    }

    mutating func append(_ name: String, asciiOnly: Bool = false) {
        let start = storage.count
        storage += jsonString(name, asciiOnly: asciiOnly)
        bounds.append(start..<storage.count)
    }

    var count: Int { bounds.count }

    @inline(__always)
    func write(_ index: Int, into line: inout LineBuffer) {
        let range = bounds[index]
        storage.withUnsafeBufferPointer { line.copy(UnsafeBufferPointer(rebasing: $0[range])) }
    }
}

/// Everything that stays the same between lines: models, providers, the key table and every
/// string a line may hold.
