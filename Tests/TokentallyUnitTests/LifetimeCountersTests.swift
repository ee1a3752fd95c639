import Foundation
import Testing

@testable import TokentallyCounting
@testable import TokentallyReading
@testable import TokentallySystem

/// The lifetime counters behind `/metrics`: histogram buckets as Prometheus reads them, the
/// key cap, and their state round trip.
@Suite struct LifetimeCountersTests {
    private func counters(keys: Int) throws -> UsageCounters {
        UsageCounters(
            calendar: try #require(BucketCalendar(timeZoneIdentifier: "UTC")),
            retention: RetentionConfiguration(days: 2, weeks: 2, months: 2), maxSeries: 1_000,
            redactor: try KeyRedactor(secretPattern: "^sk-"), lifetimeKeys: keys)
    }

    private func add(_ counters: UsageCounters, key: String, latency: Double, ttft: Double? = nil, day: Int = 28) {
        let parser = RecordParser(mapping: FormatPreset.tokentally.mapping)
        let ttftField = ttft.map { ",\"ttft_ms\":\($0)" } ?? ""
        var line =
            #"{"ts":"2026-11-\#(day)T10:00:00Z","api_key":"\#(key)","model":"m","provider":"p","input_tokens":3,"latency_ms":\#(latency)\#(ttftField)}"#
        let outcome = line.withUTF8 { parser.parse(UnsafeRawBufferPointer($0)) }
        guard case .accepted = outcome else {
            Issue.record("rejected: \(outcome)")
            return
        }
        counters.add(parser.record, redaction: .auto)
    }

    /// Prometheus buckets are "less than or equal": 10 ms is in the 0.01 s bucket, 10.5 ms in
    /// the next, and anything above the last bound in +Inf only.
    @Test func valuesLandInTheFirstBucketAtOrAboveThem() throws {
        let counters = try counters(keys: 0)
        add(counters, key: "a", latency: 10, ttft: 1)
        add(counters, key: "a", latency: 10.5)
        add(counters, key: "a", latency: 90_000)
        let entry = try #require(counters.lifetime.entries.first)
        #expect(counters.lifetime.entries.count == 1 && entry.key == "")
        #expect(entry.values.duration.counts[0] == 1 && entry.values.duration.counts[1] == 1)
        #expect(entry.values.duration.counts.last == 1 && entry.values.duration.count == 3)
        #expect(entry.values.ttft.counts[0] == 1 && entry.values.ttft.count == 1)
        #expect(abs(entry.values.duration.sumSeconds - 90.0205) < 1e-9)
    }

    /// With `lifetime.keys: 2`, the first two keys get their own entries and every later key
    /// counts under `__other__`; retention evicting the buckets resets nothing.
    @Test func keysBeyondTheCapCountAsOtherAndRetentionResetsNothing() throws {
        let counters = try counters(keys: 2)
        for (day, key) in [(20, "a"), (21, "b"), (22, "c"), (23, "d"), (28, "a"), (28, "c")] {
            add(counters, key: key, latency: 100, day: day)
        }
        let byKey = Dictionary(
            uniqueKeysWithValues: counters.lifetime.entries.map { ($0.key, $0.values.succeeded) })
        #expect(byKey == ["a": 2, "b": 1, LifetimeCounters.otherKeys: 3])
        #expect(counters.bucketOrdinals(.day).count < 6, "retention should have evicted days")

        // A full state round trip keeps them, and counting goes on in the same entries.
        var writer = StateWriter()
        counters.encode(into: &writer)
        let restored = try self.counters(keys: 2)
        var reader = StateReader(writer.bytes)
        try restored.restore(from: &reader)
        add(restored, key: "d", latency: 100)
        add(restored, key: "b", latency: 100)
        let after = Dictionary(uniqueKeysWithValues: restored.lifetime.entries.map { ($0.key, $0.values.succeeded) })
        #expect(after == ["a": 2, "b": 2, LifetimeCounters.otherKeys: 4])
    }
}
