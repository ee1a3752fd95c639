import TokentallySystem
import TokentallyReading
import Foundation

/// The day, ISO week and month buckets of one instant, as ordinals in a calendar's time zone.
///
/// Ordinals are plain integers so that buckets sort, hash and subtract cheaply; `BucketCalendar`
/// turns them into labels and UTC intervals.
struct BucketOrdinals: Hashable, Sendable {
    /// Days since 1970-01-01 of the local civil date (1970-01-01 is 0, 1969-12-31 is −1).
    var day: Int32
    /// ISO week ordinal, `floor((day + 3) / 7)`: weeks start on Monday, and week 0 is the one
    /// from Monday 1969-12-29 to Sunday 1970-01-04.
    var week: Int32
    /// `year × 12 + (month − 1)` of the local civil date (2026-11 is 24322).
    var month: Int32

    /// Creates ordinals from their three parts; they are not checked against each other.
    public init(day: Int32, week: Int32, month: Int32) {
        self.day = day
        self.week = week
        self.month = month
    }
}

/// Maps instants to day / ISO week / month buckets of an IANA time zone, and buckets back to
/// labels (`2026-11-28`, `2026-W48`, `2026-11`) and to UTC intervals.
///
/// A local day is the interval from the first instant whose local wall time reaches that date's
/// 00:00 to the first instant that reaches the next date's 00:00, so days are contiguous and may
/// last 23 or 25 hours (or 23.5 / 24.5 in Australia/Lord_Howe); where a transition skips
/// midnight the day starts at the transition. Weeks start at local Monday 00:00, months at the
/// local first of the month. Dates are proleptic Gregorian; instants are clamped into years
/// 0001 … 9999 (UTC) so a garbage timestamp cannot trap.
///
/// `ordinals(forEpochSeconds:)` keeps a small cache of the local days it last resolved and is
/// meant to be owned by the single task that counts records; the other methods are pure.
public struct BucketCalendar: Sendable {
    /// The IANA identifier this calendar was created with, such as `America/New_York`.
    let timeZoneIdentifier: String
    private let timeZone: TimeZone

    private struct CachedDay: Sendable {
        var start: Int64
        var end: Int64
        var ordinals: BucketOrdinals
    }

    /// Days recently resolved, `[start, end)` in UTC seconds; empty slots have `start > end`.
    private var cache: [CachedDay]
    private var lastHit = 0
    private var nextSlot = 0

    static let cacheSize = 8
    static let secondsPerDay: Int64 = 86_400
    /// 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z.
    static let supportedEpochSeconds: ClosedRange<Int64> = -62_135_596_800...253_402_300_799

    /// Creates a calendar for an IANA time zone name (`UTC`, `America/New_York`, `Asia/Kolkata`,
    /// `Australia/Lord_Howe`, ...). Returns nil when the system does not know the name.
    public init?(timeZoneIdentifier: String) {
        guard let timeZone = TimeZone(identifier: timeZoneIdentifier) else { return nil }
        self.timeZoneIdentifier = timeZoneIdentifier
        self.timeZone = timeZone
        let empty = CachedDay(start: .max, end: .min, ordinals: BucketOrdinals(day: 0, week: 0, month: 0))
        self.cache = Array(repeating: empty, count: Self.cacheSize)
    }

    /// The buckets that the instant `epochSeconds` (Unix seconds, UTC) falls in.
    ///
    /// Hot path, called once per record with mostly increasing times: an instant in a recently
    /// seen local day costs a couple of compares and allocates nothing; otherwise the day's
    /// bounds are computed from the time zone's offsets and cached (8 days, oldest replaced).
    mutating func ordinals(forEpochSeconds epochSeconds: Int64) -> BucketOrdinals {
        let recent = cache[lastHit]
        if epochSeconds >= recent.start && epochSeconds < recent.end {
            return recent.ordinals
        }
        return ordinalsOutsideLastDay(epochSeconds)
    }

    private mutating func ordinalsOutsideLastDay(_ epochSeconds: Int64) -> BucketOrdinals {
        for slot in cache.indices where epochSeconds >= cache[slot].start && epochSeconds < cache[slot].end {
            lastHit = slot
            return cache[slot].ordinals
        }
        let instant = Self.clampedEpochSeconds(epochSeconds)
        var day = Self.floorDivide(instant + offset(at: instant), Self.secondsPerDay)
        var start = utcStart(ofLocalDay: day)
        var end = utcStart(ofLocalDay: day + 1)
        // The local date at `instant` names the day unless a transition moved the wall clock back
        // across midnight; then step to the day whose interval holds the instant. Bounded, so a
        // zone whose offsets contradict each other cannot loop.
        var attempts = 0
        while instant < start || instant >= end, attempts < 4 {
            if instant < start {
                day -= 1
                end = start
                start = utcStart(ofLocalDay: day)
            } else {
                day += 1
                start = end
                end = utcStart(ofLocalDay: day + 1)
            }
            attempts += 1
        }
        let ordinals = Self.ordinals(ofDay: day)
        // Only an interval that holds the instant is cached; clamped instants are not (the next
        // garbage timestamp pays the slow path again, which is fine).
        if instant == epochSeconds, instant >= start, instant < end {
            cache[nextSlot] = CachedDay(start: start, end: end, ordinals: ordinals)
            lastHit = nextSlot
            nextSlot = (nextSlot + 1) % Self.cacheSize
        }
        return ordinals
    }

    /// The bucket's label: `2026-11-28` for a day, `2026-W48` for an ISO week (numbered in its
    /// ISO week-year, so 2027-01-01 is in `2026-W53` and 2024-12-30 in `2025-W01`), `2026-11`
    /// for a month. Years are written with at least four digits.
    public func label(_ period: Period, ordinal: Int32) -> String {
        switch period {
        case .day:
            let date = Self.civilDate(fromDays: Int64(ordinal))
            return "\(Self.padded(date.year, 4))-\(Self.padded(date.month, 2))-\(Self.padded(date.day, 2))"
        case .week:
            let (weekYear, week) = Self.isoWeek(ofWeekOrdinal: Int64(ordinal))
            return "\(Self.padded(weekYear, 4))-W\(Self.padded(week, 2))"
        case .month:
            let year = Self.floorDivide(Int64(ordinal), 12)
            let month = Int64(ordinal) - year * 12 + 1
            return "\(Self.padded(year, 4))-\(Self.padded(month, 2))"
        }
    }

    /// The ordinal of a label written by `label(_:ordinal:)`, or nil when the string is not
    /// exactly such a label (wrong shape, a date that does not exist such as `2026-02-30`, a
    /// week the year does not have such as `2026-W54`, an ordinal outside `Int32`).
    public func ordinal(_ period: Period, label: String) -> Int32? {
        let bytes = Array(label.utf8)
        let ordinal: Int64
        switch period {
        case .day:
            guard bytes.count == 10, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"),
                let year = Self.decimal(bytes[0..<4]), let month = Self.decimal(bytes[5..<7]),
                let day = Self.decimal(bytes[8..<10]), (1...12).contains(month), (1...31).contains(day)
            else { return nil }
            ordinal = Self.daysFromCivil(year: year, month: month, day: day)
        case .week:
            guard bytes.count == 8, bytes[4] == UInt8(ascii: "-"), bytes[5] == UInt8(ascii: "W"),
                let weekYear = Self.decimal(bytes[0..<4]), let week = Self.decimal(bytes[6..<8]),
                (1...53).contains(week)
            else { return nil }
            // Week 1 is the week holding the year's first Thursday; Thursdays are the days
            // divisible by 7 (1970-01-01, day 0, was one), and week ordinal = Thursday / 7.
            let januaryFirst = Self.daysFromCivil(year: weekYear, month: 1, day: 1)
            let firstThursday = januaryFirst + Self.floorModulo(-januaryFirst, 7)
            ordinal = firstThursday / 7 + (week - 1)
        case .month:
            guard bytes.count == 7, bytes[4] == UInt8(ascii: "-"),
                let year = Self.decimal(bytes[0..<4]), let month = Self.decimal(bytes[5..<7]),
                (1...12).contains(month)
            else { return nil }
            ordinal = year * 12 + month - 1
        }
        // Round-tripping rejects impossible dates (2026-02-30) and weeks (2026-W53 does exist,
        // 2025-W53 does not) without a second set of rules.
        guard let narrow = Int32(exactly: ordinal), self.label(period, ordinal: narrow) == label else { return nil }
        return narrow
    }

    /// The bucket's bounds in Unix seconds (UTC): `start` is the instant the bucket's first local
    /// day begins, `end` (exclusive) the instant the day after its last local day begins, so the
    /// end of one bucket is the start of the next. A New York day lasts 23 hours on 2026-03-08
    /// and 25 hours on 2026-11-01.
    public func interval(_ period: Period, ordinal: Int32) -> (start: Int64, end: Int64) {
        let firstDay: Int64
        let dayAfter: Int64
        switch period {
        case .day:
            firstDay = Int64(ordinal)
            dayAfter = firstDay + 1
        case .week:
            // Monday of week w is day 7w − 3.
            firstDay = Int64(ordinal) * 7 - 3
            dayAfter = firstDay + 7
        case .month:
            let year = Self.floorDivide(Int64(ordinal), 12)
            let month = Int64(ordinal) - year * 12 + 1
            firstDay = Self.daysFromCivil(year: year, month: month, day: 1)
            dayAfter =
                month == 12
                ? Self.daysFromCivil(year: year + 1, month: 1, day: 1)
                : Self.daysFromCivil(year: year, month: month + 1, day: 1)
        }
        let start = utcStart(ofLocalDay: firstDay)
        return (start, Swift.max(start, utcStart(ofLocalDay: dayAfter)))
    }

    // MARK: Time zone offsets

    /// The zone's offset from UTC, in seconds, at the instant `epochSeconds`.
    private func offset(at epochSeconds: Int64) -> Int64 {
        Int64(timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(epochSeconds))))
    }

    /// Whether the local wall time at `epochSeconds` has reached `localSeconds` (seconds since
    /// 1970-01-01T00:00 local).
    private func wallClock(at epochSeconds: Int64, reaches localSeconds: Int64) -> Bool {
        epochSeconds + offset(at: epochSeconds) >= localSeconds
    }

    /// The first instant (Unix seconds) whose local wall time reaches 00:00 of local day `day`.
    private func utcStart(ofLocalDay day: Int64) -> Int64 {
        let midnight = day * Self.secondsPerDay
        // Usual case: midnight exists once; two offset lookups find it.
        var guess = midnight - offset(at: midnight)
        guess = midnight - offset(at: guess)
        if wallClock(at: guess, reaches: midnight) && !wallClock(at: guess - 1, reaches: midnight) {
            return guess
        }
        // Midnight is skipped (the day starts at the transition) or repeated (the day starts at
        // its first occurrence). Offsets stay within ±24 h, so the wall clock has not reached
        // midnight a day before it in UTC and has reached it a day after: bisect between.
        var notYet = midnight - Self.secondsPerDay
        var reached = midnight + Self.secondsPerDay
        while reached - notYet > 1 {
            let middle = notYet + (reached - notYet) / 2
            if wallClock(at: middle, reaches: midnight) {
                reached = middle
            } else {
                notYet = middle
            }
        }
        return reached
    }

    // MARK: Civil calendar arithmetic (proleptic Gregorian)

    static func ordinals(ofDay day: Int64) -> BucketOrdinals {
        let date = civilDate(fromDays: day)
        return BucketOrdinals(
            day: Int32(truncatingIfNeeded: day),
            week: Int32(truncatingIfNeeded: floorDivide(day + 3, 7)),
            month: Int32(truncatingIfNeeded: date.year * 12 + date.month - 1)
        )
    }

    /// Days since 1970-01-01 of a civil date (`CivilCalendar`).
    static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        CivilCalendar.days(year: year, month: month, day: day)
    }

    /// The civil date of a day count since 1970-01-01 (`CivilCalendar`).
    static func civilDate(fromDays days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        CivilCalendar.date(fromDays: days)
    }

    /// ISO week-year and week number (1 ... 53) of a week ordinal: both are those of the week's
    /// Thursday, which is day 7w.
    static func isoWeek(ofWeekOrdinal week: Int64) -> (weekYear: Int64, week: Int64) {
        let thursday = week * 7
        let weekYear = civilDate(fromDays: thursday).year
        let dayOfYear = thursday - daysFromCivil(year: weekYear, month: 1, day: 1)  // 0-based
        return (weekYear, dayOfYear / 7 + 1)
    }

    static func floorDivide(_ dividend: Int64, _ divisor: Int64) -> Int64 {
        CivilCalendar.floorDivide(dividend, divisor)
    }

    static func floorModulo(_ dividend: Int64, _ divisor: Int64) -> Int64 {
        dividend - floorDivide(dividend, divisor) * divisor
    }

    private static func clampedEpochSeconds(_ epochSeconds: Int64) -> Int64 {
        Swift.min(Swift.max(epochSeconds, supportedEpochSeconds.lowerBound), supportedEpochSeconds.upperBound)
    }

    /// Decimal digits, zero-padded on the left to `width`; a minus sign precedes the padding.
    private static func padded(_ value: Int64, _ width: Int) -> String {
        let digits = String(value.magnitude)
        let padding = String(repeating: "0", count: Swift.max(0, width - digits.count))
        return (value < 0 ? "-" : "") + padding + digits
    }

    /// The value of a run of ASCII digits, or nil if any byte is not a digit.
    private static func decimal(_ bytes: ArraySlice<UInt8>) -> Int64? {
        var value: Int64 = 0
        for byte in bytes {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int64(byte - UInt8(ascii: "0"))
        }
        return value
    }
}
