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

private func counters(retentionDays: Int = 62, maxSeries: Int = 1_000_000) throws -> UsageCounters {
    UsageCounters(
        calendar: try #require(BucketCalendar(timeZoneIdentifier: "UTC")),
        retention: RetentionConfiguration(days: retentionDays, weeks: 27, months: 25), maxSeries: maxSeries,
        redactor: try KeyRedactor(secretPattern: "^sk-"))
}

/// Counts one canonical line through the real parser.
private func add(_ counters: UsageCounters, ts: String, key: String = "k", model: String = "m", tokens: Int = 1) {
    let parser = RecordParser(mapping: FormatPreset.tokentally.mapping)
    var line =
        #"{"ts":"\#(ts)","api_key":"\#(key)","model":"\#(model)","provider":"p","input_tokens":\#(tokens),"latency_ms":100}"#
    let outcome = line.withUTF8 { parser.parse(UnsafeRawBufferPointer($0)) }
    guard case .accepted = outcome else {
        Issue.record("line rejected: \(outcome)")
        return
    }
    counters.add(parser.record, redaction: .auto)
}

@Suite struct UsageCountersTests {
    @Test func eventsOlderThanRetentionAreDroppedPerPeriod() throws {
        let counters = try counters(retentionDays: 2)
        add(counters, ts: "2026-11-20T10:00:00Z")
        add(counters, ts: "2026-11-28T10:00:00Z")
        add(counters, ts: "2026-11-28T11:00:00Z")  // a second record there moves the day window to 27..28
        add(counters, ts: "2026-11-26T10:00:00Z")  // too old for days, fine for weeks and months
        #expect(counters.lateDropped == [1, 0, 0])
        #expect(counters.bucketOrdinals(.day).map { counters.calendar.label(.day, ordinal: $0) } == ["2026-11-28"])
        #expect(counters.bucketOrdinals(.month).count == 1)
        let month = try #require(
            counters.report(
                .month, ordinal: counters.bucketOrdinals(.month)[0], host: "h", timezone: "UTC", generatedAt: 0,
                minRequests: 1))
        #expect(month.totals.counters.requests == 4)
    }

    /// Retention counts back from the second-newest record's bucket: one record from the far
    /// future (a clock glitch, a mistyped year) is counted in its own bucket and pushes nothing
    /// out; the real records after it are counted, not dropped as late.
    @Test func noSingleRecordMovesRetentionPastEverythingElse() throws {
        let counters = try counters(retentionDays: 2)
        add(counters, ts: "2026-11-27T10:00:00Z")
        add(counters, ts: "2100-01-01T00:00:00Z")
        add(counters, ts: "2026-11-28T10:00:00Z")
        add(counters, ts: "2026-11-28T12:00:00Z")
        #expect(counters.lateDropped == [0, 0, 0])
        #expect(
            counters.bucketOrdinals(.day).map { counters.calendar.label(.day, ordinal: $0) }
                == ["2026-11-27", "2026-11-28", "2100-01-01"])
        // A second record at the new time moves the window there, as a real jump would.
        add(counters, ts: "2100-01-01T01:00:00Z")
        #expect(counters.bucketOrdinals(.day).map { counters.calendar.label(.day, ordinal: $0) } == ["2100-01-01"])
        add(counters, ts: "2026-11-28T13:00:00Z")
        #expect(counters.lateDropped == [1, 1, 1])
    }

    /// Lowering retention (a reload) drops the buckets that fall out at once, not when a newer
    /// bucket arrives.
    @Test func loweringRetentionDropsOldBucketsAtOnce() throws {
        let counters = try counters(retentionDays: 10)
        for day in 20...28 { add(counters, ts: "2026-11-\(day)T10:00:00Z") }
        add(counters, ts: "2026-11-28T11:00:00Z")
        #expect(counters.bucketOrdinals(.day).count == 9)
        counters.retention = RetentionConfiguration(days: 3, weeks: 27, months: 25)
        #expect(
            counters.bucketOrdinals(.day).map { counters.calendar.label(.day, ordinal: $0) }
                == ["2026-11-26", "2026-11-27", "2026-11-28"])
    }

    /// While following, a bucket of many rows is rewritten only after its rows × the pacing
    /// have passed; small ones and a stop's final snapshot are not held back.
    @Test func bigBucketsWaitInProportionToTheirRows() throws {
        let counters = try counters()
        add(counters, ts: "2026-11-20T10:00:00Z")
        var tracker = ChangeTracker()
        let day = try #require(tracker.changedBuckets(in: counters).first { $0.period == .day })
        let week = try #require(tracker.changedBuckets(in: counters).first { $0.period == .week })
        tracker.noteWritten(day, at: counters.changeSequence, rows: 300_000, time: 1_000)
        tracker.noteWritten(week, at: counters.changeSequence, rows: 10, time: 1_000)
        add(counters, ts: "2026-11-20T11:00:00Z")
        let wait = Int64((300_000 * ChangeTracker.pacingSecondsPerRow).rounded(.up))
        #expect(!tracker.changedBuckets(in: counters, pacedAt: 1_001).contains(day))
        #expect(tracker.changedBuckets(in: counters, pacedAt: 1_001).contains(week))
        #expect(!tracker.changedBuckets(in: counters, pacedAt: 1_000 + wait - 1).contains(day))
        #expect(tracker.changedBuckets(in: counters, pacedAt: 1_000 + wait).contains(day))
        #expect(tracker.changedBuckets(in: counters).contains(day))
    }

    @Test func onlyChangedBucketsAreDirty() throws {
        let counters = try counters()
        add(counters, ts: "2026-11-20T10:00:00Z")
        add(counters, ts: "2026-11-27T10:00:00Z")
        // What a snapshot writes: the buckets changed since the tracker saw them written.
        var tracker = ChangeTracker()
        func dirtyBucketOrdinals(_ period: Period) -> [Int32] {
            tracker.changedBuckets(in: counters).filter { $0.period == period }.map(\.ordinal)
        }
        func markClean() {
            for key in tracker.changedBuckets(in: counters) { tracker.noteWritten(key, at: counters.changeSequence) }
        }
        #expect(dirtyBucketOrdinals(.day).count == 2)
        markClean()
        #expect(dirtyBucketOrdinals(.day).isEmpty)
        #expect(!tracker.hasChanges(in: counters))
        add(counters, ts: "2026-11-27T11:00:00Z")
        #expect(dirtyBucketOrdinals(.day).map { counters.calendar.label(.day, ordinal: $0) } == ["2026-11-27"])
        #expect(dirtyBucketOrdinals(.week).count == 1)
        #expect(tracker.hasChanges(in: counters))
    }

    @Test func secretKeysAreStoredOnlyRedacted() throws {
        let counters = try counters()
        add(counters, ts: "2026-11-20T10:00:00Z", key: "sk-live-secret")
        add(counters, ts: "2026-11-20T10:00:00Z", key: "team-a")
        #expect(Set(counters.keyNames) == [KeyRedactor.hashedName(forRawKey: "sk-live-secret"), "team-a"])
        var writer = StateWriter()
        counters.encode(into: &writer)
        let state = String(decoding: writer.bytes, as: UTF8.self)
        #expect(!state.contains("sk-live-secret"))
    }

    @Test func stateRoundTripRestoresEveryFigure() throws {
        let original = try counters()
        for (index, day) in ["2026-11-20", "2026-11-21", "2026-11-21"].enumerated() {
            add(original, ts: "\(day)T10:00:0\(index)Z", key: "k\(index % 2)", model: "m\(index)", tokens: index + 5)
        }
        var writer = StateWriter()
        original.encode(into: &writer)
        let restored = try counters()
        var reader = StateReader(writer.bytes)
        try restored.restore(from: &reader)
        #expect(reader.isAtEnd)
        for period in Period.allCases {
            #expect(restored.bucketOrdinals(period) == original.bucketOrdinals(period))
            for ordinal in original.bucketOrdinals(period) {
                let a = original.report(
                    period, ordinal: ordinal, host: "h", timezone: "UTC", generatedAt: 0, minRequests: 1)
                let b = restored.report(
                    period, ordinal: ordinal, host: "h", timezone: "UTC", generatedAt: 0, minRequests: 1)
                #expect(a.map { SnapshotEncoder.encode($0) } == b.map { SnapshotEncoder.encode($0) })
            }
        }
        // Counting goes on after a restore as it would have without one.
        add(original, ts: "2026-11-21T12:00:00Z", key: "k0", model: "m1")
        add(restored, ts: "2026-11-21T12:00:00Z", key: "k0", model: "m1")
        let day = original.bucketOrdinals(.day).last!
        #expect(
            original.report(.day, ordinal: day, host: "h", timezone: "UTC", generatedAt: 0, minRequests: 1)
                .map { SnapshotEncoder.encode($0) }
                == restored.report(.day, ordinal: day, host: "h", timezone: "UTC", generatedAt: 0, minRequests: 1)
                .map { SnapshotEncoder.encode($0) })
    }

    @Test func stateFromAnotherTimeZoneIsRefused() throws {
        let original = try counters()
        add(original, ts: "2026-11-20T10:00:00Z")
        var writer = StateWriter()
        original.encode(into: &writer)
        let other = UsageCounters(
            calendar: try #require(BucketCalendar(timeZoneIdentifier: "Europe/Berlin")), retention: .init(),
            maxSeries: 10, redactor: try KeyRedactor(secretPattern: "^sk-"))
        var reader = StateReader(writer.bytes)
        #expect(throws: StateDecodingError.self) { try other.restore(from: &reader) }
    }
}
