import Foundation
import Testing

/// Buckets at daylight-saving changes and at ISO week-year edges.
@Suite("Calendar boundaries")
struct CalendarBoundaryTests {
    /// One handcrafted event: its timestamp (raw JSON), and the day, week and month it belongs to.
    struct Event {
        var ts: String
        var day: String
        var week: String
        var month: String
    }

    /// Writes the events (each with a distinct power of two as input_tokens, so a bucket's sum
    /// names exactly the events in it), replays them, and checks each bucket's sum, plus every
    /// figure against the oracle.
    static func replayEvents(
        _ events: [Event], timezone: String, in root: URL
    ) throws -> SnapshotDirectory {
        let lines = events.enumerated().map { number, event in
            canonicalLine(
                ts: event.ts, apiKey: "team-\(number % 3)",
                fields: ["input_tokens": String(1 << number), "output_tokens": "10", "latency_ms": "\(100 + number)"])
        }
        let logFile = root.appendingPathComponent("events.log")
        try logBytes(lines).write(to: logFile)
        let snapshots = root.appendingPathComponent("snapshots")
        let outcome = try TokentallyBinary.replay(
            [logFile.path], snapshotDirectory: snapshots, options: ["--timezone", timezone])
        try #require(outcome.status == 0, "replay failed: \(outcome.summary)")
        let actual = try SnapshotDirectory.load(from: snapshots)

        for period in BucketPeriod.allCases {
            var expectedSums: [String: UInt64] = [:]
            for (number, event) in events.enumerated() {
                let label =
                    switch period {
                    case .day: event.day
                    case .week: event.week
                    case .month: event.month
                    }
                expectedSums[label, default: 0] += 1 << number
            }
            var foundSums: [String: UInt64] = [:]
            for (label, file) in actual.buckets[period] ?? [:] {
                foundSums[label] = file.value(at: ["totals", "input_tokens"])?.numberText.flatMap { UInt64($0) }
            }
            #expect(foundSums == expectedSums, "\(period.rawValue) input_tokens (bit i = event i)")
        }

        var oracle = UsageOracle(format: .tokentally, timeZone: TimeZone(identifier: timezone)!)
        oracle.read(bytes: [UInt8](try Data(contentsOf: logFile)))
        let mismatches = SnapshotComparison.compare(try oracle.result(), actual)
        #expect(mismatches.isEmpty, "\(SnapshotComparison.report(mismatches))")
        return actual
    }

    /// `start` and `end` of a bucket file as epoch seconds.
    static func bounds(_ file: JSONValue?) -> (start: Double?, end: Double?) {
        (
            file?["start"]?.stringValue.flatMap(TimestampText.epochSeconds),
            file?["end"]?.stringValue.flatMap(TimestampText.epochSeconds)
        )
    }

    static func utc(_ text: String) -> Double { TimestampText.epochSeconds(text)! }

    @Test
    func springForwardDayInNewYorkLasts23Hours() throws {
        let events = [
            Event(ts: "\"2026-03-07T23:59:59-05:00\"", day: "2026-03-07", week: "2026-W10", month: "2026-03"),
            Event(ts: "\"2026-03-08T04:59:59.999Z\"", day: "2026-03-07", week: "2026-W10", month: "2026-03"),
            Event(ts: "\"2026-03-08T05:00:00Z\"", day: "2026-03-08", week: "2026-W10", month: "2026-03"),
            Event(ts: "\"2026-03-08T00:30:00-05:00\"", day: "2026-03-08", week: "2026-W10", month: "2026-03"),
            Event(ts: "\"2026-03-08T01:30:00-05:00\"", day: "2026-03-08", week: "2026-W10", month: "2026-03"),
            Event(ts: "\"2026-03-08T03:30:00-04:00\"", day: "2026-03-08", week: "2026-W10", month: "2026-03"),
            Event(ts: "\"2026-03-08T23:30:00-04:00\"", day: "2026-03-08", week: "2026-W10", month: "2026-03"),
            Event(ts: "\"2026-03-09T03:59:59Z\"", day: "2026-03-08", week: "2026-W10", month: "2026-03"),
            Event(ts: "\"2026-03-09T00:00:00-04:00\"", day: "2026-03-09", week: "2026-W11", month: "2026-03"),
        ]
        try withScratchDirectory("spring-forward") { root in
            let actual = try Self.replayEvents(events, timezone: "America/New_York", in: root)
            let day = Self.bounds(actual.buckets[.day]?["2026-03-08"])
            #expect(day.start == Self.utc("2026-03-08T05:00:00Z"))
            #expect(day.end == Self.utc("2026-03-09T04:00:00Z"))
            if let start = day.start, let end = day.end { #expect(end - start == 23 * 3600) }
            let week = Self.bounds(actual.buckets[.week]?["2026-W10"])
            #expect(week.start == Self.utc("2026-03-02T05:00:00Z"))
            #expect(week.end == Self.utc("2026-03-09T04:00:00Z"))
            #expect(actual.index["timezone"]?.stringValue == "America/New_York")
        }
    }

    @Test
    func fallBackDayInNewYorkLasts25HoursAndKeepsBothOneThirties() throws {
        let events = [
            Event(ts: "\"2026-10-31T23:59:59-04:00\"", day: "2026-10-31", week: "2026-W44", month: "2026-10"),
            Event(ts: "\"2026-11-01T04:00:00Z\"", day: "2026-11-01", week: "2026-W44", month: "2026-11"),
            Event(ts: "\"2026-11-01T00:30:00-04:00\"", day: "2026-11-01", week: "2026-W44", month: "2026-11"),
            Event(ts: "\"2026-11-01T01:30:00-04:00\"", day: "2026-11-01", week: "2026-W44", month: "2026-11"),
            Event(ts: "\"2026-11-01T01:30:00-05:00\"", day: "2026-11-01", week: "2026-W44", month: "2026-11"),
            Event(ts: "\"2026-11-01T23:30:00-05:00\"", day: "2026-11-01", week: "2026-W44", month: "2026-11"),
            Event(ts: "\"2026-11-02T04:59:59Z\"", day: "2026-11-01", week: "2026-W44", month: "2026-11"),
            Event(ts: "\"2026-11-02T00:00:00-05:00\"", day: "2026-11-02", week: "2026-W45", month: "2026-11"),
        ]
        try withScratchDirectory("fall-back") { root in
            let actual = try Self.replayEvents(events, timezone: "America/New_York", in: root)
            let day = Self.bounds(actual.buckets[.day]?["2026-11-01"])
            #expect(day.start == Self.utc("2026-11-01T04:00:00Z"))
            #expect(day.end == Self.utc("2026-11-02T05:00:00Z"))
            if let start = day.start, let end = day.end { #expect(end - start == 25 * 3600) }
            let month = Self.bounds(actual.buckets[.month]?["2026-10"])
            #expect(month.start == Self.utc("2026-10-01T04:00:00Z"))
            #expect(month.end == Self.utc("2026-11-01T04:00:00Z"))
        }
    }

    @Test
    func isoWeekYearEdgesInUTC() throws {
        let events = [
            Event(ts: "\"2026-12-28T00:00:00Z\"", day: "2026-12-28", week: "2026-W53", month: "2026-12"),
            Event(ts: "\"2026-12-31T23:59:59.5Z\"", day: "2026-12-31", week: "2026-W53", month: "2026-12"),
            // 2027-01-01T00:00:00Z as epoch seconds, and 2027-01-03T23:59:59Z as epoch milliseconds.
            Event(ts: "1798761600", day: "2027-01-01", week: "2026-W53", month: "2027-01"),
            Event(ts: "1799020799000", day: "2027-01-03", week: "2026-W53", month: "2027-01"),
            Event(ts: "\"2027-01-04T00:00:00+00:00\"", day: "2027-01-04", week: "2027-W01", month: "2027-01"),
        ]
        try withScratchDirectory("iso-week") { root in
            let actual = try Self.replayEvents(events, timezone: "UTC", in: root)
            #expect(actual.index.value(at: ["buckets", "week"]) == .array([.string("2026-W53"), .string("2027-W01")]))
            #expect(actual.index.value(at: ["buckets", "month"]) == .array([.string("2026-12"), .string("2027-01")]))
            let week = Self.bounds(actual.buckets[.week]?["2026-W53"])
            #expect(week.start == Self.utc("2026-12-28T00:00:00Z"))
            #expect(week.end == Self.utc("2027-01-04T00:00:00Z"))
        }
    }
}
