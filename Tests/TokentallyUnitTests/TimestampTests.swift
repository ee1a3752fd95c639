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

private func parse(_ text: String) -> Double? {
    var text = text
    return text.withUTF8 { Timestamp.parse(text: UnsafeRawBufferPointer($0)) }
}

/// Epoch seconds of a wall-clock time at a fixed UTC offset, computed by Foundation's calendar.
private func foundationEpoch(
    _ year: Int, _ month: Int, _ day: Int, _ hour: Int, _ minute: Int, _ second: Int, offsetSeconds: Int = 0
) -> Double {
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = TimeZone(secondsFromGMT: offsetSeconds)!
    let components = DateComponents(year: year, month: month, day: day, hour: hour, minute: minute, second: second)
    return calendar.date(from: components)!.timeIntervalSince1970
}

private func twoDigits(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }

@Test func rfc3339InstantsMatchISO8601DateFormatter() {
    let formatter = ISO8601DateFormatter()
    let texts = [
        "1970-01-01T00:00:00Z",
        "1970-01-01T00:00:01Z",
        "1969-12-31T23:59:59Z",
        "1972-02-29T12:00:00Z",
        "1999-12-31T23:59:59Z",
        "2000-02-29T00:00:00Z",
        "2000-03-01T00:00:00Z",
        "2024-02-29T23:59:59Z",
        "2026-11-28T13:45:12Z",
        "2026-11-28T13:45:12+05:30",
        "2026-11-28T13:45:12-08:00",
        "2026-01-01T00:30:00+01:00",
        "2026-12-31T23:30:00-00:30",
        "2026-06-15T08:00:00+14:00",
        "2026-06-15T08:00:00-12:00",
        "2026-06-15T08:00:00+23:59",
        "2099-12-31T23:59:59Z",
        "2100-02-28T12:00:00Z",
        "2100-03-01T12:00:00Z",
    ]
    for text in texts {
        let expected = formatter.date(from: text)?.timeIntervalSince1970
        #expect(expected != nil, "Foundation reads \(text)")
        #expect(parse(text) == expected, "\(text)")
    }
}

@Test func randomDateTimesWithOffsetsMatchFoundationCalendar() {
    var random = SplitMix64(state: 20_261_128)
    for _ in 0..<3_000 {
        let year = Int.random(in: 1970...2099, using: &random)
        let month = Int.random(in: 1...12, using: &random)
        let day = Int.random(in: 1...Timestamp.daysInMonth(year: year, month: month), using: &random)
        let hour = Int.random(in: 0...23, using: &random)
        let minute = Int.random(in: 0...59, using: &random)
        let second = Int.random(in: 0...59, using: &random)
        let offsetHours = Int.random(in: 0...14, using: &random)
        let offsetMinutes = [0, 30, 45].randomElement(using: &random)!
        let offsetSign = Bool.random(using: &random) ? 1 : -1
        let offset = offsetSign * (offsetHours * 3600 + offsetMinutes * 60)
        let zone =
            offset == 0 && Bool.random(using: &random)
            ? "Z" : "\(offsetSign > 0 ? "+" : "-")\(twoDigits(offsetHours)):\(twoDigits(offsetMinutes))"
        let text =
            "\(year)-\(twoDigits(month))-\(twoDigits(day))T\(twoDigits(hour)):\(twoDigits(minute)):\(twoDigits(second))\(zone)"
        let expected = foundationEpoch(year, month, day, hour, minute, second, offsetSeconds: offset)
        #expect(parse(text) == expected, "\(text)")
    }
}

@Test func everyDayFrom1970Through2099MatchesFoundationCalendar() {
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = TimeZone(secondsFromGMT: 0)!
    var date = Date(timeIntervalSince1970: 0)
    var days = 0
    while true {
        let parts = calendar.dateComponents([.year, .month, .day], from: date)
        guard parts.year! <= 2099 else { break }
        #expect(Timestamp.daysFromCivil(year: parts.year!, month: parts.month!, day: parts.day!) == days)
        #expect(
            Timestamp.daysInMonth(year: parts.year!, month: parts.month!)
                == calendar.range(of: .day, in: .month, for: date)!.count)
        date = calendar.date(byAdding: .day, value: 1, to: date)!
        days += 1
    }
    #expect(days == 47_482)
}

@Test func separatorsZoneLettersAndLiteLLMFormAreAccepted() {
    let base = foundationEpoch(2026, 11, 28, 13, 45, 12)
    #expect(parse("2026-11-28t13:45:12z") == base)
    #expect(parse("2026-11-28 13:45:12Z") == base)
    #expect(parse("2026-11-28T13:45:12") == base)
    // LiteLLM's endTime string, UTC.
    #expect(parse("2026-11-28 13:45:12") == base)
    let litellm = parse("2026-11-28 13:45:12.123456")
    #expect(litellm != nil)
    #expect(abs(litellm! - (base + 0.123456)) < 1e-6)
}

@Test func fractionsOfAnyLengthAreKept() throws {
    let base = foundationEpoch(2026, 11, 28, 13, 45, 12, offsetSeconds: 19_800)
    #expect(parse("2026-11-28T13:45:12.5+05:30") == base + 0.5)
    #expect(parse("2026-11-28T13:45:12.25Z")! - foundationEpoch(2026, 11, 28, 13, 45, 12) == 0.25)
    let micro = try #require(parse("2026-11-28T13:45:12.123456+05:30"))
    #expect(abs(micro - (base + 0.123456)) < 1e-6)
    let long = try #require(parse("2026-11-28T13:45:12.1234567890123456789012345+05:30"))
    #expect(abs(long - (base + 0.1234567890123)) < 1e-6)
    #expect(parse("1970-01-01T00:00:00.000001Z") == 0.000001)
    #expect(parse("1970-01-01T00:00:00.000000000Z") == 0)
    // Foundation agrees on milliseconds.
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    for text in ["2026-11-28T13:45:12.123Z", "2024-02-29T00:00:00.999-08:00", "1999-12-31T23:59:59.001+01:00"] {
        let expected = try #require(formatter.date(from: text)).timeIntervalSince1970
        let parsed = try #require(parse(text))
        #expect(abs(parsed - expected) < 1e-6, "\(text)")
    }
}

@Test func extremeYearsUseTheProlepticGregorianCalendar() {
    #expect(parse("9999-12-31T23:59:59Z") == 253_402_300_799)
    #expect(parse("0000-03-01T00:00:00Z") == Double(-719_468 * 86_400))
    #expect(parse("1600-02-29T00:00:00Z") != nil)
    #expect(parse("1700-02-29T00:00:00Z") == nil)
}

@Test func leapSecondStaysInItsMinute() throws {
    let leap = try #require(parse("2016-12-31T23:59:60Z"))
    let lastSecond = foundationEpoch(2016, 12, 31, 23, 59, 59)
    let nextDay = foundationEpoch(2017, 1, 1, 0, 0, 0)
    #expect(leap == lastSecond + 0.999_999)
    #expect(leap < nextDay)
    #expect(parse("2016-12-31T23:59:60.5Z") == leap)
}

@Test func outOfRangeFieldsAreRejected() {
    let texts = [
        "2026-00-10T00:00:00Z", "2026-13-10T00:00:00Z", "2026-01-00T00:00:00Z", "2026-01-32T00:00:00Z",
        "2026-04-31T00:00:00Z", "2023-02-29T00:00:00Z", "2100-02-29T00:00:00Z", "2026-11-28T24:00:00Z",
        "2026-11-28T23:60:00Z", "2026-11-28T23:59:61Z", "2026-11-28T13:45:12+24:00",
        "2026-11-28T13:45:12+05:60", "2026-11-28T13:45:12-99:00",
    ]
    for text in texts {
        #expect(parse(text) == nil, "\(text)")
    }
}

@Test func malformedTextIsRejected() {
    let texts = [
        "", "abc", "2026-11-28", "2026-11-28T13:45", "2026-11-28T13:45:1Z", "2026-11-28X13:45:12Z",
        "2026/11/28T13:45:12Z", "2026-11-28T13.45.12Z", "2026-11-28T13:45:12.Z", "2026-11-28T13:45:12.",
        "2026-11-28T13:45:12ZZ", "2026-11-28T13:45:12Z ", " 2026-11-28T13:45:12Z", "2026-11-28T13:45:12+0530",
        "2026-11-28T13:45:12+05:30:00", "2026-11-28T13:45:12+5:30", "2026-11-28T13:45:12 +05:30",
        "2026-11-28T13:45:12UTC", "2026-1a-28T13:45:12Z", "+026-11-28T13:45:12Z", "2026-11-28T13:45:12.12a",
        "20261128T134512Z", "-1764337512", "1764337512 ", "1e", "NaN", "Infinity", "0x10",
    ]
    for text in texts {
        #expect(parse(text) == nil, "\(text)")
    }
}

@Test func epochNumbersInStringsFollowTheSecondsOrMillisecondsRule() {
    #expect(parse("1764337512.5") == 1_764_337_512.5)
    #expect(parse("1764337512") == 1_764_337_512)
    #expect(parse("1764337512500") == 1_764_337_512.5)
    #expect(parse("1.7643375125e9") == 1_764_337_512.5)
    #expect(parse("0") == 0)
    #expect(parse("99999999999") == 99_999_999_999)
    #expect(parse("100000000000") == 100_000_000)
    // A `-` at the fifth byte after an exponent letter is still a number, not a date.
    #expect(parse("123e-0000000000000001") == 12.3)
}

@Test func epochNumberRuleSplitsAtOneHundredBillion() {
    #expect(Timestamp.fromEpochNumber(0) == 0)
    #expect(Timestamp.fromEpochNumber(1_764_337_512.25) == 1_764_337_512.25)
    #expect(Timestamp.fromEpochNumber(99_999_999_999.5) == 99_999_999_999.5)
    #expect(Timestamp.fromEpochNumber(1e11) == 1e8)
    #expect(Timestamp.fromEpochNumber(1_764_337_512_500) == 1_764_337_512.5)
    #expect(Timestamp.fromEpochNumber(-1) == nil)
    #expect(Timestamp.fromEpochNumber(-0.001) == nil)
    #expect(Timestamp.fromEpochNumber(.nan) == nil)
    #expect(Timestamp.fromEpochNumber(.infinity) == nil)
    #expect(Timestamp.fromEpochNumber(-.infinity) == nil)
    // Microseconds and nanoseconds are neither seconds nor milliseconds: refused, not read as
    // milliseconds thousands of years ahead.
    #expect(Timestamp.fromEpochNumber(99_999_999_999_999) == 99_999_999_999.999)
    #expect(Timestamp.fromEpochNumber(1e14) == nil)
    #expect(Timestamp.fromEpochNumber(1_764_590_400_000_000) == nil)
    #expect(Timestamp.fromEpochNumber(1_764_590_400_000_000_000) == nil)
}
