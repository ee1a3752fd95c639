import TokentallySystem
/// Turns the `ts` field of a gateway record into epoch seconds (docs/log-format.md, "Canonical record").
///
/// Every function here runs once per line on the hot path: it reads bytes, allocates nothing and
/// uses no Foundation formatter. Calendar dates become epoch seconds through days-from-civil
/// arithmetic on the proleptic Gregorian calendar.
public enum Timestamp {
    /// Parses the contents of a JSON string (without its quotes) as a point in time.
    ///
    /// Accepted forms:
    /// - RFC 3339 date-time: `2026-11-28T13:45:12Z`, `2026-11-28T13:45:12.123456+05:30`, `...-08:00`.
    ///   The date/time separator may be `T`, `t` or a space; the zone may be `Z`, `z`, `±hh:mm`, or
    ///   missing, which means UTC; the fraction may have any number of digits (digits past the 15th
    ///   are validated but cannot change a `Double` at this magnitude and are not used).
    /// - LiteLLM's `YYYY-MM-DD HH:MM:SS.ffffff` in UTC, fraction optional (the same grammar as above).
    /// - A decimal epoch number written as a string (`"1764337512.5"`), read with
    ///   ``DecimalNumber/parse(_:lenient:)`` in lenient mode and then ``fromEpochNumber(_:)``.
    ///
    /// Fields are range-checked: year 0000-9999, month 1-12, day within its month (leap years
    /// included), hour < 24, minute < 60, second <= 60, offset hours <= 23 and offset minutes < 60.
    /// A leap second (`:60`) is read as the last microsecond of its minute, `:59.999999`, whatever
    /// fraction it carries, so the event stays in the minute, day and month the log line names
    /// (POSIX time would move `23:59:60` into the next day).
    ///
    /// - Returns: seconds since 1970-01-01T00:00:00Z (negative before it), or nil for any other text.
    public static func parse(text: UnsafeRawBufferPointer) -> Double? {
        parse(text: text, naiveZone: nil)
    }

    /// `parse(text:)`, with a date-time written without an offset read in `naiveZone` (nil:
    /// UTC) rather than in UTC.
    @inline(__always)
    public static func parse(text: UnsafeRawBufferPointer, naiveZone: NaiveTimeZone?) -> Double? {
        // A calendar form has `-` right after four digits; a number can only have `-` at that
        // place after an `e` (`123e-4`), so the digit before it tells the two apart.
        if text.count >= 19 && text[4] == hyphen && text[3] &- zero <= 9 {
            guard let (seconds, hasOffset) = parseDateTime(text) else { return nil }
            if !hasOffset, let naiveZone { return naiveZone.utc(fromLocal: seconds) }
            return seconds
        }
        guard let number = DecimalNumber.parse(text, lenient: true) else { return nil }
        return fromEpochNumber(number.doubleValue())
    }

    /// An epoch number in a given unit (`ts: {path: started_at, unit: ms}`), in seconds, when it
    /// names a time of years 1970 to 9999.
    static func fromEpochNumber(_ value: Double, unit: TimeUnit) -> Double? {
        guard value.isFinite, value >= 0 else { return nil }
        let seconds = value * unit.seconds
        return seconds < 253_402_300_800 ? seconds : nil
    }

    /// Applies the spec's rule for a numeric `ts`: values below 1e11 are seconds, values from
    /// 1e11 up to 1e14 are milliseconds (1e11 seconds is the year 5138; 1e11 milliseconds is
    /// March 1973, 1e14 milliseconds the year 5138 again). Anything larger is neither: an epoch
    /// in microseconds or nanoseconds would otherwise be read as milliseconds thousands of
    /// years ahead, so it is refused rather than guessed at.
    ///
    /// - Returns: epoch seconds, or nil when `value` is negative, NaN, infinite or 1e14 or more.
    static func fromEpochNumber(_ value: Double) -> Double? {
        guard value.isFinite, value >= 0 else { return nil }
        if value < 1e11 { return value }
        return value < 1e14 ? value / 1000 : nil
    }

    /// Days from 1970-01-01 to a proleptic Gregorian date (`CivilCalendar`).
    @inline(__always)
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        Int(CivilCalendar.days(year: Int64(year), month: Int64(month), day: Int64(day)))
    }

    /// Days in `month` (1-12) of `year`, Gregorian leap rule.
    static func daysInMonth(year: Int, month: Int) -> Int {
        Int(CivilCalendar.daysInMonth(year: Int64(year), month: Int64(month)))
    }

    private static let hyphen = UInt8(ascii: "-")
    private static let colon = UInt8(ascii: ":")
    private static let zero = UInt8(ascii: "0")

    /// The value of the two ASCII digits at `index` and `index + 1`, or nil.
    @inline(__always)
    private static func twoDigits(_ text: UnsafeRawBufferPointer, _ index: Int) -> Int? {
        let high = text[index] &- zero
        let low = text[index + 1] &- zero
        guard high <= 9, low <= 9 else { return nil }
        return Int(high) * 10 + Int(low)
    }

    /// `YYYY-MM-DD[Tt ]hh:mm:ss[.f+][Zz|±hh:mm]`; the caller checked `count >= 19`. Also says
    /// whether the text named its offset (without one, the time is read as UTC here).
    private static func parseDateTime(_ text: UnsafeRawBufferPointer) -> (seconds: Double, hasOffset: Bool)? {
        guard let century = twoDigits(text, 0), let yearInCentury = twoDigits(text, 2),
            let month = twoDigits(text, 5), let day = twoDigits(text, 8),
            let hour = twoDigits(text, 11), let minute = twoDigits(text, 14),
            var second = twoDigits(text, 17)
        else { return nil }
        let separator = text[10]
        guard text[4] == hyphen, text[7] == hyphen, text[13] == colon, text[16] == colon,
            separator == UInt8(ascii: "T") || separator == UInt8(ascii: "t") || separator == UInt8(ascii: " ")
        else { return nil }
        let year = century * 100 + yearInCentury
        guard (1...12).contains(month), day >= 1, day <= daysInMonth(year: year, month: month),
            hour < 24, minute < 60, second <= 60
        else { return nil }

        var index = 19
        var fraction = 0.0
        if index < text.count && text[index] == UInt8(ascii: ".") {
            index += 1
            var digits: UInt64 = 0
            var used = 0
            let start = index
            while index < text.count {
                let digit = text[index] &- zero
                guard digit <= 9 else { break }
                // 15 digits stay below 2^53, so the quotient below is one correctly rounded division.
                if used < 15 {
                    digits = digits * 10 + UInt64(digit)
                    used += 1
                }
                index += 1
            }
            guard index > start else { return nil }
            fraction = Double(digits) / DecimalNumber.exactPowersOfTen[used]
        }
        if second == 60 {
            second = 59
            fraction = 0.999_999
        }

        var offsetSeconds = 0
        let hasOffset = index < text.count
        if index < text.count {
            let zone = text[index]
            if zone == UInt8(ascii: "Z") || zone == UInt8(ascii: "z") {
                guard index + 1 == text.count else { return nil }
            } else if zone == UInt8(ascii: "+") || zone == hyphen {
                guard index + 6 == text.count, text[index + 3] == colon,
                    let offsetHours = twoDigits(text, index + 1), let offsetMinutes = twoDigits(text, index + 4),
                    offsetHours <= 23, offsetMinutes < 60
                else { return nil }
                offsetSeconds = (offsetHours * 60 + offsetMinutes) * 60
                if zone == hyphen { offsetSeconds = -offsetSeconds }
            } else {
                return nil
            }
        }

        let days = daysFromCivil(year: year, month: month, day: day)
        // The local time minus its offset from UTC is the UTC time.
        let wholeSeconds = days * 86_400 + hour * 3_600 + minute * 60 + second - offsetSeconds
        return (Double(wholeSeconds) + fraction, hasOffset)
    }
}
