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

// Expected values come from Foundation's Calendar (an independent implementation of the same
// civil-time rules) or from well-known facts written out by hand, never from BucketCalendar.

/// Unix seconds of a wall-clock time in `zone`, according to Foundation.
private func instant(
    _ zone: String, _ year: Int, _ month: Int, _ day: Int, _ hour: Int = 0, _ minute: Int = 0, _ second: Int = 0
) -> Int64 {
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = TimeZone(identifier: zone)!
    let components = DateComponents(year: year, month: month, day: day, hour: hour, minute: minute, second: second)
    return Int64(calendar.date(from: components)!.timeIntervalSince1970)
}

private let hour: Int64 = 3_600

/// Days since 1970-01-01 of a civil date, counted by Foundation in UTC.
private func dayNumber(_ year: Int, _ month: Int, _ day: Int) -> Int32 {
    Int32((instant("UTC", year, month, day) - instant("UTC", 1970, 1, 1)) / 86_400)
}

/// The local civil date of an instant in `zone`, according to Foundation, as a day number.
private func foundationLocalDay(_ zone: String, _ epochSeconds: Int64) -> Int32 {
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = TimeZone(identifier: zone)!
    let parts = calendar.dateComponents(
        [.year, .month, .day], from: Date(timeIntervalSince1970: Double(epochSeconds)))
    return dayNumber(parts.year!, parts.month!, parts.day!)
}

/// Ordinals from a calendar with an empty cache, so the answer cannot come from the cache.
private func uncachedOrdinals(_ zone: String, _ epochSeconds: Int64) -> BucketOrdinals {
    var calendar = BucketCalendar(timeZoneIdentifier: zone)!
    return calendar.ordinals(forEpochSeconds: epochSeconds)
}

@Test func acceptsIANANamesAndRejectsUnknownOnes() {
    for name in ["UTC", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe", "Europe/Berlin"] {
        #expect(BucketCalendar(timeZoneIdentifier: name)?.timeZoneIdentifier == name)
    }
    for name in ["", "Mars/Olympus_Mons", "America/New_Yrok"] {
        #expect(BucketCalendar(timeZoneIdentifier: name) == nil, "\(name)")
    }
}

@Test func ordinalsFollowTheirDefinitions() {
    var calendar = BucketCalendar(timeZoneIdentifier: "UTC")!
    #expect(calendar.ordinals(forEpochSeconds: 0) == BucketOrdinals(day: 0, week: 0, month: 1970 * 12))
    #expect(calendar.ordinals(forEpochSeconds: -1) == BucketOrdinals(day: -1, week: 0, month: 1969 * 12 + 11))
    // Monday 1970-01-05 starts week 1; Monday 1969-12-29 starts week 0.
    #expect(calendar.ordinals(forEpochSeconds: 4 * 86_400).week == 1)
    #expect(calendar.ordinals(forEpochSeconds: 4 * 86_400 - 1).week == 0)
    #expect(calendar.ordinals(forEpochSeconds: -3 * 86_400).week == 0)
    #expect(calendar.ordinals(forEpochSeconds: -3 * 86_400 - 1).week == -1)
    let ordinals = calendar.ordinals(forEpochSeconds: instant("UTC", 2026, 11, 28, 12))
    #expect(ordinals.day == dayNumber(2026, 11, 28))
    #expect(ordinals.month == 2026 * 12 + 10)
    #expect(calendar.label(.day, ordinal: ordinals.day) == "2026-11-28")
    #expect(calendar.label(.week, ordinal: ordinals.week) == "2026-W48")
    #expect(calendar.label(.month, ordinal: ordinals.month) == "2026-11")
}

@Test func newYorkSpringForwardDayLasts23Hours() {
    var calendar = BucketCalendar(timeZoneIdentifier: "America/New_York")!
    let day = dayNumber(2026, 3, 8)
    // Midnight is still EST (UTC−5); the next midnight is EDT (UTC−4).
    let interval = calendar.interval(.day, ordinal: day)
    #expect(interval.start == instant("UTC", 2026, 3, 8, 5))
    #expect(interval.end == instant("UTC", 2026, 3, 9, 4))
    #expect(interval.end - interval.start == 23 * hour)
    #expect(calendar.ordinals(forEpochSeconds: instant("UTC", 2026, 3, 8, 5, 30)).day == day)  // 00:30 EST
    #expect(calendar.ordinals(forEpochSeconds: instant("UTC", 2026, 3, 9, 3, 30)).day == day)  // 23:30 EDT
    #expect(calendar.ordinals(forEpochSeconds: interval.start - 1).day == day - 1)
    #expect(calendar.ordinals(forEpochSeconds: interval.end - 1).day == day)
    #expect(calendar.ordinals(forEpochSeconds: interval.end).day == day + 1)
    #expect(calendar.label(.day, ordinal: day) == "2026-03-08")
}

@Test func newYorkFallBackDayLasts25Hours() {
    var calendar = BucketCalendar(timeZoneIdentifier: "America/New_York")!
    let day = dayNumber(2026, 11, 1)
    let interval = calendar.interval(.day, ordinal: day)
    #expect(interval.start == instant("UTC", 2026, 11, 1, 4))
    #expect(interval.end == instant("UTC", 2026, 11, 2, 5))
    #expect(interval.end - interval.start == 25 * hour)
    #expect(calendar.ordinals(forEpochSeconds: instant("UTC", 2026, 11, 1, 4, 30)).day == day)  // 00:30 EDT
    // 01:30 happens twice; both are 2026-11-01.
    #expect(calendar.ordinals(forEpochSeconds: instant("UTC", 2026, 11, 1, 5, 30)).day == day)
    #expect(calendar.ordinals(forEpochSeconds: instant("UTC", 2026, 11, 1, 6, 30)).day == day)
    #expect(calendar.ordinals(forEpochSeconds: instant("UTC", 2026, 11, 2, 4, 30)).day == day)  // 23:30 EST
    #expect(calendar.ordinals(forEpochSeconds: interval.start - 1).day == day - 1)
    #expect(calendar.ordinals(forEpochSeconds: interval.end).day == day + 1)
    // The week holding the change (Mon 2026-10-26 ... Sun 2026-11-01) is 7 × 24 + 1 hours.
    let week = calendar.ordinals(forEpochSeconds: interval.start).week
    let weekInterval = calendar.interval(.week, ordinal: week)
    #expect(weekInterval.start == instant("UTC", 2026, 10, 26, 4))
    #expect(weekInterval.end - weekInterval.start == 7 * 24 * hour + hour)
}

@Test func isoWeekYearEdges() {
    var calendar = BucketCalendar(timeZoneIdentifier: "UTC")!
    let cases: [(year: Int, month: Int, day: Int, label: String)] = [
        (2026, 12, 31, "2026-W53"),  // Thursday
        (2027, 1, 1, "2026-W53"),  // Friday
        (2027, 1, 3, "2026-W53"),  // Sunday
        (2027, 1, 4, "2027-W01"),  // Monday
        (2024, 12, 29, "2024-W52"),  // Sunday
        (2024, 12, 30, "2025-W01"),  // Monday
        (2021, 1, 3, "2020-W53"),  // Sunday
        (2021, 1, 4, "2021-W01"),  // Monday
        (2026, 1, 1, "2026-W01"),  // Thursday
        (2025, 12, 29, "2026-W01"),  // Monday
    ]
    for item in cases {
        let ordinals = calendar.ordinals(forEpochSeconds: instant("UTC", item.year, item.month, item.day, 12))
        #expect(calendar.label(.week, ordinal: ordinals.week) == item.label, "\(item)")
        #expect(calendar.ordinal(.week, label: item.label) == ordinals.week, "\(item)")
    }
}

@Test func isoWeekLabelsMatchFoundationForFiftyYears() {
    let calendar = BucketCalendar(timeZoneIdentifier: "UTC")!
    var iso = Calendar(identifier: .iso8601)
    iso.timeZone = TimeZone(identifier: "UTC")!
    var gregorian = Calendar(identifier: .gregorian)
    gregorian.timeZone = TimeZone(identifier: "UTC")!
    let first = dayNumber(1995, 1, 1)
    let last = dayNumber(2045, 12, 31)
    var mismatches = 0
    for day in first...last {
        let date = Date(timeIntervalSince1970: Double(Int64(day) * 86_400 + 43_200))
        let isoParts = iso.dateComponents([.yearForWeekOfYear, .weekOfYear], from: date)
        let expectedWeek = String(format: "%04d-W%02d", isoParts.yearForWeekOfYear!, isoParts.weekOfYear!)
        let parts = gregorian.dateComponents([.year, .month, .day], from: date)
        let expectedDay = String(format: "%04d-%02d-%02d", parts.year!, parts.month!, parts.day!)
        let week: Int32 = (day + 3) / 7  // days after 1970 are positive, so / rounds down
        if calendar.label(.week, ordinal: week) != expectedWeek || calendar.label(.day, ordinal: day) != expectedDay {
            mismatches += 1
        }
    }
    #expect(mismatches == 0)
}

@Test func kolkataDaysStartAtHalfPastSixUTC() {
    var calendar = BucketCalendar(timeZoneIdentifier: "Asia/Kolkata")!
    let day = dayNumber(2026, 3, 15)
    let interval = calendar.interval(.day, ordinal: day)
    // IST is UTC+5:30 all year.
    #expect(interval.start == instant("UTC", 2026, 3, 14, 18, 30))
    #expect(interval.end - interval.start == 24 * hour)
    #expect(calendar.ordinals(forEpochSeconds: instant("UTC", 2026, 3, 14, 18, 29, 59)).day == day - 1)
    #expect(calendar.ordinals(forEpochSeconds: instant("UTC", 2026, 3, 14, 18, 30)).day == day)
    #expect(calendar.ordinals(forEpochSeconds: instant("UTC", 2026, 3, 15, 18, 29, 59)).day == day)
    // Month boundaries move with the offset too: 2026-04-01 00:00 IST is 2026-03-31 18:30 UTC.
    let april = calendar.ordinals(forEpochSeconds: instant("UTC", 2026, 3, 31, 18, 30)).month
    #expect(calendar.label(.month, ordinal: april) == "2026-04")
    #expect(calendar.interval(.month, ordinal: april).start == instant("UTC", 2026, 3, 31, 18, 30))
}

@Test func lordHoweShiftsByHalfAnHour() {
    let calendar = BucketCalendar(timeZoneIdentifier: "Australia/Lord_Howe")!
    // DST (UTC+11) ends on 2026-04-05 and starts (from UTC+10:30) on 2026-10-04.
    let autumn = calendar.interval(.day, ordinal: dayNumber(2026, 4, 5))
    #expect(autumn.end - autumn.start == 24 * hour + hour / 2)
    #expect(autumn.start == instant("UTC", 2026, 4, 4, 13))
    let spring = calendar.interval(.day, ordinal: dayNumber(2026, 10, 4))
    #expect(spring.end - spring.start == 24 * hour - hour / 2)
    #expect(spring.start == instant("UTC", 2026, 10, 3, 13, 30))
}

@Test func intervalsAreContiguousAndMatchFoundationAcrossAYear() {
    // Havana and Beirut change clocks at midnight (skipping or repeating it); Santiago skips it.
    let zones = [
        "UTC", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe", "America/Havana", "Asia/Beirut",
        "America/Santiago", "Pacific/Chatham", "Asia/Kathmandu",
    ]
    for zone in zones {
        var calendar = BucketCalendar(timeZoneIdentifier: zone)!
        var foundation = Calendar(identifier: .gregorian)
        foundation.timeZone = TimeZone(identifier: zone)!
        let first = dayNumber(2026, 1, 1)
        let last = dayNumber(2026, 12, 31)
        var previousEnd: Int64? = nil
        for day in first...last {
            let (start, end) = calendar.interval(.day, ordinal: day)
            if let previousEnd { #expect(start == previousEnd, "\(zone) \(day)") }
            previousEnd = end
            // Foundation's start of the local day, found from local noon.
            let civil = Date(timeIntervalSince1970: Double(Int64(day) * 86_400 + 43_200))
            var utc = Calendar(identifier: .gregorian)
            utc.timeZone = TimeZone(identifier: "UTC")!
            let parts = utc.dateComponents([.year, .month, .day], from: civil)
            let noon = instant(zone, parts.year!, parts.month!, parts.day!, 12)
            let foundationStart = Int64(
                foundation.startOfDay(for: Date(timeIntervalSince1970: Double(noon))).timeIntervalSince1970)
            #expect(start == foundationStart, "\(zone) \(calendar.label(.day, ordinal: day))")
            #expect(end - start >= 22 * hour && end - start <= 26 * hour, "\(zone) \(day)")
            #expect(calendar.ordinals(forEpochSeconds: start).day == day, "\(zone) \(day)")
            #expect(calendar.ordinals(forEpochSeconds: end - 1).day == day, "\(zone) \(day)")
        }
        for period in [Period.week, .month] {
            let firstOrdinal = calendar.ordinals(forEpochSeconds: instant(zone, 2026, 1, 1, 12))
            let lastOrdinal = calendar.ordinals(forEpochSeconds: instant(zone, 2026, 12, 31, 12))
            let range =
                period == .week ? firstOrdinal.week...lastOrdinal.week : firstOrdinal.month...lastOrdinal.month
            var previousEnd: Int64? = nil
            for ordinal in range {
                let (start, end) = calendar.interval(period, ordinal: ordinal)
                if let previousEnd { #expect(start == previousEnd, "\(zone) \(period) \(ordinal)") }
                previousEnd = end
                let startOrdinals = calendar.ordinals(forEpochSeconds: start)
                let lastOrdinals = calendar.ordinals(forEpochSeconds: end - 1)
                #expect((period == .week ? startOrdinals.week : startOrdinals.month) == ordinal)
                #expect((period == .week ? lastOrdinals.week : lastOrdinals.month) == ordinal)
            }
        }
    }
}

@Test func aSkippedDayHasAnEmptyInterval() {
    // Samoa moved across the date line: 2011-12-29 23:59:59 was followed by 2011-12-31 00:00:00.
    var calendar = BucketCalendar(timeZoneIdentifier: "Pacific/Apia")!
    let skipped = calendar.interval(.day, ordinal: dayNumber(2011, 12, 30))
    #expect(skipped.start == skipped.end)
    #expect(calendar.interval(.day, ordinal: dayNumber(2011, 12, 29)).end == skipped.start)
    #expect(calendar.ordinals(forEpochSeconds: skipped.start).day == dayNumber(2011, 12, 31))
    #expect(calendar.ordinals(forEpochSeconds: skipped.start - 1).day == dayNumber(2011, 12, 29))
}

@Test func labelsRoundTrip() {
    let calendar = BucketCalendar(timeZoneIdentifier: "UTC")!
    let firstDay = dayNumber(1900, 1, 1)
    let lastDay = dayNumber(2100, 12, 31)
    var failures = 0
    for day in firstDay...lastDay where calendar.ordinal(.day, label: calendar.label(.day, ordinal: day)) != day {
        failures += 1
    }
    for week in (firstDay / 7 - 1)...(lastDay / 7 + 1)
    where calendar.ordinal(.week, label: calendar.label(.week, ordinal: week)) != week {
        failures += 1
    }
    for month in Int32(1 * 12)...Int32(9999 * 12 + 11)
    where calendar.ordinal(.month, label: calendar.label(.month, ordinal: month)) != month {
        failures += 1
    }
    #expect(failures == 0)
    #expect(calendar.ordinal(.day, label: "2026-11-28") == dayNumber(2026, 11, 28))
    // Int32(...) on purpose: #expect(optionalInt32 == 2026 * 12 + 10) compares unequal in Swift Testing 6.3.
    #expect(calendar.ordinal(.month, label: "2026-11") == Int32(2026 * 12 + 10))
    #expect(calendar.ordinal(.day, label: "1970-01-01") == 0)
    #expect(calendar.ordinal(.week, label: "1970-W01") == 0)
}

@Test func malformedLabelsAreRejected() {
    let calendar = BucketCalendar(timeZoneIdentifier: "UTC")!
    for label in [
        "", "2026-02-30", "2026-02-29", "2026-13-01", "2026-00-10", "2026-11-00", "2026-11-32", "26-11-28",
        "2026-1-28", "2026/11/28", "2026-11-28 ", " 2026-11-28", "2026-11-2x", "+026-11-28", "2026-W48",
    ] {
        #expect(calendar.ordinal(.day, label: label) == nil, "\(label)")
    }
    for label in ["2025-W53", "2026-W54", "2026-W00", "2026-W5", "2026W48", "2026-w48", "2026-11", "2026-W4a"] {
        #expect(calendar.ordinal(.week, label: label) == nil, "\(label)")
    }
    for label in ["2026-13", "2026-00", "2026-1", "202611", "2026-11-01", "2026-W11", "-001-01"] {
        #expect(calendar.ordinal(.month, label: label) == nil, "\(label)")
    }
    #expect(calendar.ordinal(.day, label: "2024-02-29") != nil)
    #expect(calendar.ordinal(.week, label: "2026-W53") != nil)
    #expect(calendar.ordinal(.week, label: "2020-W53") != nil)
}

@Test func cacheGivesTheSameAnswersWhenTimesJumpAround() {
    for zone in ["America/New_York", "Australia/Lord_Howe", "Asia/Kolkata"] {
        var calendar = BucketCalendar(timeZoneIdentifier: zone)!
        // Mostly increasing times with jumps back by hours and days, and forward by weeks, around
        // both DST changes of 2026 (and the boundaries of the days they touch).
        var state: UInt64 = 42
        var time = instant("UTC", 2026, 2, 20)
        var probes: [Int64] = []
        for _ in 0..<4_000 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let roll = Int64(state >> 33) % 1_000
            switch roll {
            case 0..<850: time += roll * 17  // small steps forward
            case 850..<930: time -= (roll - 849) * 1_800  // back by up to 40 hours
            case 930..<990: time += (roll - 929) * 7_200  // forward by up to 5 days
            default: time -= 9 * 86_400  // back by 9 days: out of the 8-day cache
            }
            probes.append(time)
        }
        for day in [dayNumber(2026, 3, 8), dayNumber(2026, 11, 1), dayNumber(2026, 4, 5), dayNumber(2026, 10, 4)] {
            let (start, end) = calendar.interval(.day, ordinal: day)
            probes += [start, end - 1, start - 1, end, start, end - 1, end, start - 1]
        }
        probes += [
            instant("UTC", 2026, 11, 1, 4, 30), instant("UTC", 2026, 3, 8, 5, 30), instant("UTC", 2026, 3, 8, 5, 30),
        ]
        var mismatches = 0
        for probe in probes {
            let cached = calendar.ordinals(forEpochSeconds: probe)
            if cached != uncachedOrdinals(zone, probe) || cached.day != foundationLocalDay(zone, probe) {
                mismatches += 1
            }
        }
        #expect(mismatches == 0, "\(zone)")
    }
}

@Test func absurdTimestampsDoNotTrap() {
    var calendar = BucketCalendar(timeZoneIdentifier: "America/New_York")!
    let far = calendar.ordinals(forEpochSeconds: .max)
    let past = calendar.ordinals(forEpochSeconds: .min)
    #expect(calendar.label(.day, ordinal: far.day).hasPrefix("9999-12-31"))
    // Clamped to 0001-01-01T00:00Z, which is still 0000-12-31 in New York (local mean time,
    // UTC−4:56:02). Foundation's gregorian calendar is Julian before 1582, so it cannot check this.
    #expect(calendar.label(.day, ordinal: past.day) == "0000-12-31")
    _ = calendar.interval(.month, ordinal: .max)
    _ = calendar.interval(.week, ordinal: .min)
    _ = calendar.label(.week, ordinal: .max)
    _ = calendar.label(.month, ordinal: .min)
}
