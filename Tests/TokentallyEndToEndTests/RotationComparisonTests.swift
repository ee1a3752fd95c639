import Foundation
import Testing

/// The rotation scenarios pass only when every counter of every day is equal; these checks show
/// that their comparison does see a lost line, a doubled line, a cost off by a millionth and a
/// missing day, so a green run means equal counters and not a blind comparison.
@Suite("Rotation: the totals comparison sees every difference")
struct RotationComparisonTests {
    static func line(input: Int64, output: Int64, cost: String, failed: Bool = false) -> DayCounters {
        var counters = DayCounters.zero
        counters.integers["requests"] = 1
        counters.integers[failed ? "failed" : "succeeded"] = 1
        counters.integers["input_tokens"] = input
        counters.integers["output_tokens"] = output
        counters.integers["total_tokens"] = input + output
        counters.costUSD = exactDecimal(cost)
        return counters
    }

    static let written: DailyTotals = {
        var totals = DailyTotals()
        totals.add(line(input: 100, output: 10, cost: "0.000310"), day: "2026-11-25")
        totals.add(line(input: 200, output: 0, cost: "0.000600", failed: true), day: "2026-11-25")
        totals.add(line(input: 300, output: 30, cost: "0.001350"), day: "2026-11-26")
        return totals
    }()

    @Test
    func rotationComparisonAcceptsEqualTotals() {
        var counted = DailyTotals()
        counted.add(Self.written)
        let comparison = TotalsComparison(expected: Self.written, counted: counted)
        #expect(comparison.isExact, "\(comparison.differences)")
        #expect(comparison.lost == 0 && comparison.doubled == 0)
    }

    @Test
    func rotationComparisonReportsLostAndDoubledLinesPerDay() {
        var counted = DailyTotals()
        counted.add(Self.line(input: 100, output: 10, cost: "0.000310"), day: "2026-11-25")
        counted.add(Self.line(input: 300, output: 30, cost: "0.001350"), day: "2026-11-26")
        counted.add(Self.line(input: 300, output: 30, cost: "0.001350"), day: "2026-11-26")
        let comparison = TotalsComparison(expected: Self.written, counted: counted)
        #expect(comparison.lost == 1)
        #expect(comparison.doubled == 1)
        #expect(comparison.differences.contains("2026-11-25 requests: expected 2, counted 1 (lost 1)"))
        #expect(comparison.differences.contains("2026-11-26 input_tokens: expected 300, counted 600 (doubled 300)"))
    }

    @Test
    func rotationComparisonSeesACostOffByAMillionthAndAMissingCounter() {
        var counted = DailyTotals()
        counted.add(Self.written)
        counted.days["2026-11-26"]?.costUSD = exactDecimal("0.001351")
        counted.days["2026-11-25"]?.integers["cached_tokens"] = nil
        let comparison = TotalsComparison(expected: Self.written, counted: counted)
        #expect(comparison.lost == 0 && comparison.doubled == 0)
        #expect(comparison.differences.count == 2, "\(comparison.differences)")
        #expect(comparison.differences.contains("2026-11-25 cached_tokens: expected 0, absent"))
    }

    @Test
    func rotationComparisonCountsAMissingDayAsLost() {
        var counted = DailyTotals()
        counted.add(Self.written)
        counted.days["2026-11-26"] = nil
        let comparison = TotalsComparison(expected: Self.written, counted: counted)
        #expect(comparison.lost == 1)
        #expect(comparison.differences == ["2026-11-26: no day file (expected 1 requests)"])
    }
}
