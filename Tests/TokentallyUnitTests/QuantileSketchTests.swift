import Foundation
import Testing

@testable import TokentallySystem
@testable import TokentallyReading
@testable import TokentallyCounting
@testable import TokentallyOutput
@testable import TokentallyConfiguration
@testable import TokentallyReplay
@testable import TokentallyDaemon
@testable import TokentallySamples

/// The exact quantile with the definition the sketch documents: the value of rank
/// max(1, ceil(q·n)) (1-based) in ascending order.
private func exactQuantile(_ sorted: [Double], _ q: Double) -> Double {
    let rank = max(1, Int((q * Double(sorted.count)).rounded(.up)))
    return sorted[rank - 1]
}

private let probedQuantiles: [Double] = [0, 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1]

/// Checks every probed quantile of a sketch fed with `values` against the exact one.
private func expectWithinOnePercent(_ values: [Double], sourceLocation: SourceLocation = #_sourceLocation) {
    var sketch = QuantileSketch()
    for value in values { sketch.add(value) }
    let sorted = values.sorted()
    for q in probedQuantiles {
        let exact = exactQuantile(sorted, q)
        let estimate = sketch.quantile(q)
        if exact == 0 {
            #expect(estimate == 0, "q=\(q)", sourceLocation: sourceLocation)
        } else {
            // The bound is exactly α at bucket edges; allow for rounding in log/exp.
            let relativeError = abs(estimate - exact) / exact
            #expect(
                relativeError <= 0.01 + 1e-12, "q=\(q) exact=\(exact) estimate=\(estimate)",
                sourceLocation: sourceLocation)
        }
    }
    #expect(sketch.count == UInt64(values.count), sourceLocation: sourceLocation)
    #expect(sketch.min == sorted.first!, sourceLocation: sourceLocation)
    #expect(sketch.max == sorted.last!, sourceLocation: sourceLocation)
}

@Test func uniformLatenciesQuantilesWithinOnePercent() {
    var random = SplitMix64(state: 1)
    let values = (0..<20_000).map { _ in 0.01 + random.unit() * 10_000 }
    expectWithinOnePercent(values)
}

@Test func lognormalLatenciesQuantilesWithinOnePercent() {
    var random = SplitMix64(state: 2)
    // Median around 800 ms, spread over several orders of magnitude.
    let values = (0..<20_000).map { _ in exp(log(800) + 1.2 * random.normal()) }
    expectWithinOnePercent(values)
}

@Test func heavyTailedLatenciesQuantilesWithinOnePercent() {
    var random = SplitMix64(state: 3)
    // Pareto with shape 0.8: the tail reaches the 1e7 ms ceiling.
    let values = (0..<20_000).map { _ in min(1e7, 5 * pow(random.unit(), -1 / 0.8)) }
    expectWithinOnePercent(values)
}

@Test func tinyAndHugeValuesQuantilesWithinOnePercent() {
    var random = SplitMix64(state: 4)
    // Log-uniform over the whole stated latency range 0.01 ms ... 1e7 ms.
    let values = (0..<20_000).map { _ in 0.01 * pow(1e9, random.unit()) }
    expectWithinOnePercent(values)
}

@Test func constantValueQuantilesAreExact() {
    var sketch = QuantileSketch()
    for _ in 0..<1_000 { sketch.add(123.4) }
    for q in probedQuantiles {
        #expect(sketch.quantile(q) == 123.4)
    }
    #expect(sketch.min == 123.4)
    #expect(sketch.max == 123.4)
    expectWithinOnePercent(Array(repeating: 0.37, count: 17))
}

@Test func zerosAreCountedInTheirOwnBucket() {
    var random = SplitMix64(state: 5)
    // 30% zeros (for example a TTFT of 0 from a cache hit), the rest uniform.
    let values = (0..<10_000).map { _ in random.unit() < 0.3 ? 0 : 1 + random.unit() * 500 }
    expectWithinOnePercent(values)

    var onlyZeros = QuantileSketch()
    for _ in 0..<10 { onlyZeros.add(0) }
    onlyZeros.add(-0.0)
    #expect(onlyZeros.count == 11)
    #expect(onlyZeros.quantile(0.5) == 0)
    #expect(onlyZeros.quantile(1) == 0)
    #expect(onlyZeros.min.sign == .plus)
    #expect(onlyZeros.allocatedBucketCount == 0)
}

@Test func mergingTwoSketchesEqualsOneSketchOverTheUnion() {
    var random = SplitMix64(state: 6)
    let first = (0..<5_000).map { _ in random.unit() < 0.05 ? 0 : exp(log(300) + random.normal()) }
    // Disjoint-ish ranges on purpose: the merge has to grow the array on both sides.
    let second = (0..<7_000).map { _ in 0.02 + random.unit() * 3 } + (0..<500).map { _ in 1e5 + random.unit() * 1e6 }

    var left = QuantileSketch()
    for value in first { left.add(value) }
    var right = QuantileSketch()
    for value in second { right.add(value) }
    var union = QuantileSketch()
    for value in first + second { union.add(value) }

    var merged = left
    merged.merge(right)
    var mergedOtherWay = right
    mergedOtherWay.merge(left)

    for sketch in [merged, mergedOtherWay] {
        #expect(sketch.count == union.count)
        #expect(sketch.min == union.min)
        #expect(sketch.max == union.max)
        #expect(abs(sketch.sum - union.sum) <= 1e-9 * union.sum)
        for step in 0...1_000 {
            let q = Double(step) / 1_000
            #expect(sketch.quantile(q) == union.quantile(q), "q=\(q)")
        }
    }
    // The merge did not disturb its argument, and `left` kept its own values (value semantics).
    #expect(left.count == UInt64(first.count))
    #expect(right.count == UInt64(second.count))
}

@Test func mergingWithAnEmptySketchChangesNothing() {
    var sketch = QuantileSketch()
    for value in [3.0, 1.0, 2.0] { sketch.add(value) }
    var merged = sketch
    merged.merge(QuantileSketch())
    #expect(merged.count == 3)
    #expect(merged.quantile(0.5) == sketch.quantile(0.5))

    var empty = QuantileSketch()
    empty.merge(sketch)
    #expect(empty.count == 3)
    #expect(empty.min == 1)
    #expect(empty.max == 3)
    #expect(empty.quantile(0.5) == sketch.quantile(0.5))
}

@Test func emptySketchReportsZeros() {
    let sketch = QuantileSketch()
    #expect(sketch.count == 0)
    #expect(sketch.sum == 0)
    #expect(sketch.min == 0)
    #expect(sketch.max == 0)
    #expect(sketch.mean == 0)
    for q in probedQuantiles {
        #expect(sketch.quantile(q) == 0)
    }
}

@Test func countSumMinMaxAndMeanAreExact() {
    var sketch = QuantileSketch()
    let values: [Double] = [250, 0.5, 12_000, 0, 75.25, 3, 999.125]
    for value in values { sketch.add(value) }
    var expectedSum = 0.0
    for value in values { expectedSum += value }
    #expect(sketch.count == 7)
    #expect(sketch.sum == expectedSum)
    #expect(sketch.min == 0)
    #expect(sketch.max == 12_000)
    #expect(sketch.mean == expectedSum / 7)
    #expect(sketch.quantile(0) == 0)
    #expect(sketch.quantile(1) == 12_000)
}

@Test func invalidValuesAreIgnored() {
    var sketch = QuantileSketch()
    for value in [-1, -0.001, .nan, .infinity, -.infinity, .signalingNaN] as [Double] {
        sketch.add(value)
        sketch.add(value, bucketIndex: QuantileSketch.bucketIndex(for: value))
        sketch.add(value, bucketIndex: 12)
    }
    #expect(sketch.count == 0)
    sketch.add(5)
    #expect(sketch.count == 1)
    #expect(sketch.quantile(0.5) == 5)
    #expect(QuantileSketch.bucketIndex(for: -1) == QuantileSketch.noBucketIndex)
    #expect(QuantileSketch.bucketIndex(for: 0) == QuantileSketch.noBucketIndex)
    #expect(QuantileSketch.bucketIndex(for: .nan) == QuantileSketch.noBucketIndex)
}

@Test func extremeValuesAndWrongIndicesDoNotTrap() {
    var sketch = QuantileSketch()
    for value in [Double.leastNonzeroMagnitude, .leastNormalMagnitude, 1e-300, 1e300, .greatestFiniteMagnitude] {
        sketch.add(value)
    }
    sketch.add(7, bucketIndex: .max)
    sketch.add(7, bucketIndex: .min)
    #expect(sketch.count == 7)
    #expect(sketch.min == .leastNonzeroMagnitude)
    #expect(sketch.max == .greatestFiniteMagnitude)
    #expect(sketch.quantile(1) == .greatestFiniteMagnitude)
    // Clamped indices keep the array within the accurate range's buckets.
    #expect(
        sketch.allocatedBucketCount <= Int(QuantileSketch.maxIndex) - Int(QuantileSketch.minIndex) + 1)
}

@Test func precomputedIndexGivesTheSameSketchAsAdd() {
    var random = SplitMix64(state: 7)
    var plain = QuantileSketch()
    var precomputed = [QuantileSketch](repeating: QuantileSketch(), count: 3)
    for _ in 0..<2_000 {
        let value = exp(6 * random.normal())
        plain.add(value)
        let index = QuantileSketch.bucketIndex(for: value)
        for slot in precomputed.indices { precomputed[slot].add(value, bucketIndex: index) }
    }
    for sketch in precomputed {
        for q in probedQuantiles {
            #expect(sketch.quantile(q) == plain.quantile(q))
        }
    }
}

@Test func bucketArrayStopsGrowingOnceItCoversTheValues() {
    var sketch = QuantileSketch()
    sketch.add(10)
    sketch.add(10_000)
    let allocated = sketch.allocatedBucketCount
    // Every value between the two already has a slot, so no add may reallocate.
    var value = 10.0
    while value <= 10_000 {
        sketch.add(value)
        value *= 1.001
    }
    #expect(sketch.allocatedBucketCount == allocated)
    // Index span of 10 ... 10 000 at γ ≈ 1.0202 is about 346 buckets; slack stays bounded.
    #expect(allocated < 2 * 350)
}

@Test func growthIsGeometric() {
    var sketch = QuantileSketch()
    var reallocations = 0
    var allocated = sketch.allocatedBucketCount
    var value = 1.0
    // Values rising bucket by bucket over 1 500 buckets: growing by a fixed step of 16 slots would
    // reallocate about 94 times, growing by half each time (16, 24, 36, ... 2 053) 13 times.
    for _ in 0..<1_500 {
        sketch.add(value)
        if sketch.allocatedBucketCount != allocated {
            reallocations += 1
            allocated = sketch.allocatedBucketCount
        }
        value *= QuantileSketch.gamma
    }
    #expect(reallocations <= 14)
}

@Test func literalConstantsMatchTheirDefinitions() {
    let alpha = QuantileSketch.relativeAccuracy
    let gamma = (1 + alpha) / (1 - alpha)
    #expect(QuantileSketch.gamma == gamma)
    #expect(QuantileSketch.logGamma == log(gamma))
    #expect(QuantileSketch.inverseLogGamma == 1 / log(gamma))
    #expect(QuantileSketch.representativeFactor == 2 / (1 + gamma))
    #expect(QuantileSketch.minIndex == Int32((log(QuantileSketch.accurateRange.lowerBound) / log(gamma)).rounded(.up)))
    #expect(QuantileSketch.maxIndex == Int32((log(QuantileSketch.accurateRange.upperBound) / log(gamma)).rounded(.up)))
}

/// A sketch's state, as bucket files carry it, reads back as the same sketch; the states of
/// two halves, merged, are the sketch of the whole; a state that no sketch can have is refused.
@Test func sketchStatesRoundTripAndMergeAsTheWhole() throws {
    var whole = QuantileSketch()
    var first = QuantileSketch()
    var second = QuantileSketch()
    for index in 0..<5_000 {
        let value = index % 97 == 0 ? 0 : Double((index * 7_919) % 60_000) / 7 + 0.5
        whole.add(value)
        if index % 3 == 0 { first.add(value) } else { second.add(value) }
    }
    let restored = try #require(QuantileSketch(whole.state))
    for q in [0.5, 0.9, 0.99] { #expect(restored.estimate(q) == whole.estimate(q)) }
    #expect(restored.state == whole.state)

    var merged = try #require(QuantileSketch(first.state))
    merged.merge(try #require(QuantileSketch(second.state)))
    for q in [0.01, 0.5, 0.9, 0.99, 1] { #expect(merged.estimate(q) == whole.estimate(q), "q \(q)") }
    #expect(merged.count == whole.count && merged.min == whole.min && merged.max == whole.max)

    var broken = whole.state
    broken.count += 1
    #expect(QuantileSketch(broken) == nil, "counts that do not add up")
    broken = whole.state
    broken.offset = QuantileSketch.maxIndex
    #expect(QuantileSketch(broken) == nil, "bins past the last index")
}
