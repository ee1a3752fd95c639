import TokentallySystem
import TokentallyReading
import Foundation

/// A mergeable quantile sketch with 1% relative accuracy, for non-negative measurements such as
/// latency and time to first token in milliseconds or throughput in tokens per second.
///
/// It is a DDSketch (Masson, Rim, Lee, VLDB 2019): a positive value `v` is counted in the
/// bucket `i = ceil(log_γ(v))` with `γ = (1 + α) / (1 − α)` and `α = 0.01`, so every value of
/// bucket `i` lies in `(γ^(i−1), γ^i]` and the bucket's representative `2γ^i / (γ + 1)` is within
/// `α` of each of them, relative to the value. Zeros have a bucket of their own. Two sketches
/// merge by adding bucket counts, so merging is exact: a merged sketch answers every quantile
/// exactly as one sketch fed with both inputs would.
///
/// The promise: for values in `QuantileSketch.accurateRange` (1e-9 … 1e15, which covers
/// latencies of 0.01 ms … 1e7 ms with room to spare), `quantile(q)` is within 1% relative error of
/// the exact quantile as `quantile(_:)` defines it. `count`, `sum`, `min`, `max` and `mean` are kept exactly
/// (the sum is a `Double` sum in insertion order).
///
/// Memory: one contiguous `[UInt32]` of bucket counts covering the indices seen so far (with
/// geometric slack), plus a few scalars; a latency distribution spanning 10 ms … 60 s needs about
/// 440 buckets (1.7 KiB). A bucket's count saturates at `UInt32.max` (4.29 billion values in one
/// 2%-wide bucket of one sketch); `count` itself is a `UInt64` and never saturates.
public struct QuantileSketch: Sendable, Hashable {
    /// The relative accuracy α of quantile estimates (1%).
    public static let relativeAccuracy: Double = 0.01

    /// Values whose quantile estimates keep the 1% promise. Positive values outside it are
    /// counted in the nearest edge bucket (the result is still clamped into `[min, max]`).
    static let accurateRange: ClosedRange<Double> = 1e-9...1e15

    /// What `bucketIndex(for:)` returns for a value that has no log bucket: zero, negative,
    /// NaN or infinite. `add(_:bucketIndex:)` looks at the value, not this index, to tell.
    static let noBucketIndex: Int32 = .min

    // The constants below are literals, not expressions of `log`, so that the hot path reads them
    // directly instead of through a lazy global's once-check; a test recomputes them.
    /// γ = (1 + α) / (1 − α).
    public static let gamma: Double = 1.02020202020202
    /// 1 / ln γ.
    static let inverseLogGamma: Double = 49.99833328888678
    /// ln γ.
    static let logGamma: Double = 0.020000666706669435
    /// Multiplying γ^i by this, 2 / (1 + γ), gives the bucket's representative: the point with
    /// relative distance α to both bucket bounds.
    static let representativeFactor: Double = 0.9900000000000001
    /// `ceil(log_γ(1e-9))` and `ceil(log_γ(1e15))`, the buckets of `accurateRange`.
    public static let minIndex: Int32 = -1036
    public static let maxIndex: Int32 = 1727
    /// The smallest window allocated for a sketch's first positive value.
    static let initialBucketCount = 16

    /// Counts of buckets `offset ..< offset + counts.count`.
    private var counts: [UInt32] = []
    /// Number of values added (zeros included).
    public private(set) var count: UInt64 = 0
    /// Sum of the values added, in insertion order (merging adds the other sketch's sum).
    private(set) var sum: Double = 0
    /// Smallest value added; 0 for an empty sketch.
    public private(set) var min: Double = 0
    /// Largest value added; 0 for an empty sketch.
    public private(set) var max: Double = 0
    private var zeroCount: UInt64 = 0
    /// Bucket index of `counts[0]`.
    private var offset: Int32 = 0

    /// Creates an empty sketch; it allocates nothing until the first positive value.
    public init() {}

    /// The sketch's whole state, as bucket files carry it (docs/snapshot-format.md, "sketches"):
    /// its bins from the first to the last one that counts something, the index of the first,
    /// and the scalars. Merging states read back gives the sketch of all their values.
    public struct State: Equatable, Sendable {
        public var count: UInt64
        public var sum: Double
        public var min: Double
        public var max: Double
        public var zeroCount: UInt64
        public var offset: Int32
        public var counts: [UInt32]

        public init(
            count: UInt64, sum: Double, min: Double, max: Double, zeroCount: UInt64, offset: Int32, counts: [UInt32]
        ) {
            self.count = count
            self.sum = sum
            self.min = min
            self.max = max
            self.zeroCount = zeroCount
            self.offset = offset
            self.counts = counts
        }
    }

    public var state: State {
        guard let first = counts.firstIndex(where: { $0 != 0 }), let last = counts.lastIndex(where: { $0 != 0 }) else {
            return State(count: count, sum: sum, min: min, max: max, zeroCount: zeroCount, offset: 0, counts: [])
        }
        return State(
            count: count, sum: sum, min: min, max: max, zeroCount: zeroCount, offset: offset + Int32(first),
            counts: Array(counts[first...last]))
    }

    /// The sketch of a state; nil when the state is not one a sketch can have (bins outside the
    /// index range, counts that do not add up).
    public init?(_ state: State) {
        let binned = state.counts.reduce(UInt64(0)) { $0 + UInt64($1) }
        guard binned + state.zeroCount == state.count, state.offset >= Self.minIndex,
            Int(state.offset) + state.counts.count - 1 <= Int(Self.maxIndex) || state.counts.isEmpty,
            state.min <= state.max
        else { return nil }
        count = state.count
        sum = state.sum
        min = state.min
        max = state.max
        zeroCount = state.zeroCount
        offset = state.counts.isEmpty ? 0 : state.offset
        counts = state.counts
    }

    /// The `q` quantile (`quantile(_:)`), for readers of merged states.
    public func estimate(_ q: Double) -> Double { quantile(q) }

    /// The arithmetic mean of the values added, `sum / count`; 0 for an empty sketch.
    public var mean: Double {
        count == 0 ? 0 : sum / Double(count)
    }

    /// The log bucket of a positive finite value: `ceil(log_γ(value))`, clamped to the buckets
    /// of `accurateRange`. Returns `noBucketIndex` for 0 and for values that `add` ignores.
    ///
    /// The index depends on the value only, so a caller that adds one value to many sketches
    /// (totals, per model, per provider) computes the logarithm once and passes it to
    /// `add(_:bucketIndex:)`.
    public static func bucketIndex(for value: Double) -> Int32 {
        guard value > 0, value.isFinite else { return noBucketIndex }
        let raw = (log(value) * inverseLogGamma).rounded(.up)
        // Clamp as a Double so that the Int32 conversion can never trap.
        return Int32(Swift.min(Swift.max(raw, Double(minIndex)), Double(maxIndex)))
    }

    /// Adds one value. Negative, NaN and infinite values are ignored.
    public mutating func add(_ value: Double) {
        add(value, bucketIndex: Self.bucketIndex(for: value))
    }

    /// Adds one value whose index the caller computed with `bucketIndex(for: value)`.
    ///
    /// Hot path: once the count array covers the index this is a few compares and one increment,
    /// with no allocation. Negative, NaN and infinite values are ignored; an index outside the
    /// accurate range is clamped, so a wrong index costs accuracy but never traps.
    public mutating func add(_ value: Double, bucketIndex: Int32) {
        guard value.isFinite, value >= 0 else { return }
        // -0.0 compares equal to 0; store +0 so that `min` never prints as "-0".
        let value = value == 0 ? 0 : value
        if count == 0 {
            min = value
            max = value
        } else if value < min {
            min = value
        } else if value > max {
            max = value
        }
        count &+= 1
        sum += value
        if value == 0 {
            zeroCount &+= 1
            return
        }
        let index = Swift.min(Swift.max(bucketIndex, Self.minIndex), Self.maxIndex)
        var slot = Int(index) - Int(offset)
        if slot < 0 || slot >= counts.count {
            cover(lowest: index, highest: index)
            slot = Int(index) - Int(offset)
        }
        if counts[slot] != .max {
            counts[slot] += 1
        }
    }

    /// Adds every value of `other` into this sketch. Afterwards every quantile, `count`, `min`
    /// and `max` are exactly what one sketch fed with both inputs reports; `sum` (and so `mean`)
    /// equals it up to the order of floating-point additions.
    mutating func merge(_ other: QuantileSketch) {
        guard other.count > 0 else { return }
        guard count > 0 else {
            self = other
            return
        }
        min = Swift.min(min, other.min)
        max = Swift.max(max, other.max)
        count &+= other.count
        sum += other.sum
        zeroCount &+= other.zeroCount
        guard let first = other.counts.firstIndex(where: { $0 != 0 }),
            let last = other.counts.lastIndex(where: { $0 != 0 })
        else { return }
        // Cover only the other's occupied buckets, not its slack.
        cover(lowest: other.offset + Int32(first), highest: other.offset + Int32(last))
        let shift = Int(other.offset) - Int(offset)
        for slot in first...last where other.counts[slot] != 0 {
            let (total, overflow) = counts[slot + shift].addingReportingOverflow(other.counts[slot])
            counts[slot + shift] = overflow ? .max : total
        }
    }

    /// Empties the sketch but keeps its bucket array, so that refilling it allocates nothing.
    mutating func removeAll() {
        count = 0
        sum = 0
        min = 0
        max = 0
        zeroCount = 0
        if !counts.isEmpty { counts.withUnsafeMutableBufferPointer { $0.update(repeating: 0) } }
    }

    /// The estimated `q`-quantile: the value of rank `max(1, ceil(q × count))` (1-based) in
    /// ascending order, within 1% relative error for values in `accurateRange`, and clamped into
    /// `[min, max]`. Ranks 1 and `count` are exact: `quantile(0) == min`, `quantile(1) == max`.
    /// `q` is clamped into `[0, 1]`, NaN counts as 0. Returns 0 for an empty sketch.
    func quantile(_ q: Double) -> Double {
        guard count > 0 else { return 0 }
        let q = q.isNaN ? 0 : Swift.min(Swift.max(q, 0), 1)
        let rank = Swift.max(1, UInt64((q * Double(count)).rounded(.up)))
        // The extreme ranks are known exactly.
        if rank == 1 { return min }
        if rank >= count { return max }
        if rank <= zeroCount {
            return clamped(0)
        }
        var seen = zeroCount
        for slot in counts.indices {
            seen &+= UInt64(counts[slot])
            if seen >= rank {
                return clamped(Self.representative(ofBucket: Int(offset) + slot))
            }
        }
        // Reached only when a bucket count saturated: the rank lies above what the buckets hold.
        return max
    }

    /// Number of bucket slots allocated; for tests of the growth policy.
    var allocatedBucketCount: Int { counts.count }

    static func representative(ofBucket index: Int) -> Double {
        exp(Double(index) * logGamma) * representativeFactor
    }

    private func clamped(_ value: Double) -> Double {
        Swift.min(Swift.max(value, min), max)
    }

    /// Grows `counts` so that it covers bucket indices `lowest ... highest`, both within
    /// `minIndex ... maxIndex`. Grows by at least half the current size, on the side that
    /// needs it, so that a run of adds reallocates O(log n) times.
    private mutating func cover(lowest: Int32, highest: Int32) {
        let currentLow = Int(offset)
        let currentHigh = Int(offset) + counts.count  // exclusive
        let wantedLow = counts.isEmpty ? Int(lowest) : Swift.min(currentLow, Int(lowest))
        let wantedHigh = counts.isEmpty ? Int(highest) + 1 : Swift.max(currentHigh, Int(highest) + 1)
        if !counts.isEmpty && wantedLow == currentLow && wantedHigh == currentHigh { return }

        let boundLow = Int(Self.minIndex)
        let boundHigh = Int(Self.maxIndex) + 1
        let length = Swift.min(
            Swift.max(wantedHigh - wantedLow, counts.count + counts.count / 2, Self.initialBucketCount),
            boundHigh - boundLow
        )
        var newLow: Int
        if counts.isEmpty {
            newLow = wantedLow - (length - (wantedHigh - wantedLow)) / 2
        } else if wantedLow < currentLow {
            // Growing downwards: put the slack below, where the next values are likely to land.
            newLow = wantedHigh - length
        } else {
            newLow = wantedLow
        }
        newLow = Swift.min(Swift.max(newLow, boundLow), boundHigh - length)

        var grown = [UInt32](repeating: 0, count: length)
        if !counts.isEmpty {
            let shift = currentLow - newLow
            grown.replaceSubrange(shift..<(shift + counts.count), with: counts)
        }
        counts = grown
        offset = Int32(newLow)
    }
}

extension QuantileSketch {
    /// Writes the sketch exactly, for the daemon's state commit.
    func encode(into writer: inout StateWriter) {
        writer.write(count)
        writer.write(sum)
        writer.write(min)
        writer.write(max)
        writer.write(zeroCount)
        writer.write(offset)
        writer.write(counts)
    }

    /// Reads a sketch written by `encode`.
    static func decode(from reader: inout StateReader) throws(StateDecodingError) -> QuantileSketch {
        var sketch = QuantileSketch()
        sketch.count = try reader.read(UInt64.self)
        sketch.sum = try reader.readDouble()
        sketch.min = try reader.readDouble()
        sketch.max = try reader.readDouble()
        sketch.zeroCount = try reader.read(UInt64.self)
        sketch.offset = try reader.read(Int32.self)
        sketch.counts = try reader.readUInt32Array()
        return sketch
    }
}
