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

private func number(_ text: String, lenient: Bool = false) -> DecimalNumber? {
    var text = text
    return text.withUTF8 { DecimalNumber.parse(UnsafeRawBufferPointer($0), lenient: lenient) }
}

/// A random JSON number with `digits` significant digits (the first nonzero), a random decimal
/// point position, optional leading fraction zeros and an optional exponent.
private func randomNumberText(digits: Int, exponentRange: ClosedRange<Int>, using random: inout SplitMix64) -> String {
    var digitText = String(Int.random(in: 1...9, using: &random))
    for _ in 1..<digits { digitText += String(Int.random(in: 0...9, using: &random)) }
    var text = Bool.random(using: &random) ? "-" : ""
    let integerDigits = Int.random(in: 0...digits, using: &random)
    if integerDigits == 0 {
        text += "0." + String(repeating: "0", count: Int.random(in: 0...3, using: &random)) + digitText
    } else if integerDigits == digits {
        text += digitText
    } else {
        let split = digitText.index(digitText.startIndex, offsetBy: integerDigits)
        text += digitText[..<split] + "." + digitText[split...]
    }
    if Int.random(in: 0..<3, using: &random) > 0 {
        let exponent = Int.random(in: exponentRange, using: &random)
        text += ["e", "E"].randomElement(using: &random)!
        text += exponent < 0 ? "-" : ["", "+"].randomElement(using: &random)!
        text += String(abs(exponent))
    }
    return text
}

// MARK: Grammar

@Test func strictGrammarAcceptsJSONNumbers() {
    let texts = [
        "0", "-0", "1", "10", "1.5", "-1.5", "0.051006", "7.335e-05", "1e5", "1E+5", "1e-5", "-0.0e0",
        "123456789012345678901234567890", "0.000000000000000000000000000001", "1e999999999999999999999",
    ]
    for text in texts {
        let parsed = number(text)
        #expect(parsed != nil, "\(text)")
        #expect(parsed?.isStrictJSON == true, "\(text)")
    }
}

@Test func strictGrammarRejectsEverythingElse() {
    let texts = [
        "", "-", "+", "+1", "01", "-01", "00", "1.", ".5", "-.5", "1e", "1e+", "1E-", " 12", "12 ", "1 2",
        "1.5.2", "0x10", "NaN", "Infinity", "-Infinity", "1_000", "--1", "1e5.5", "1e5e5", "1,5", "١", "e5",
        "\t1", "1\n",
    ]
    for text in texts {
        #expect(number(text) == nil, "\(text)")
    }
}

@Test func lenientModeAcceptsPlusSignAndLeadingZerosOnly() throws {
    let plus = try #require(number("+5", lenient: true))
    #expect(plus.isStrictJSON == false)
    #expect(plus.wholeNumber() == .value(5))
    let zeros = try #require(number("007.50", lenient: true))
    #expect(zeros.isStrictJSON == false)
    #expect(zeros.nanoUnits() == 7_500_000_000)
    #expect(number("0.5", lenient: true)?.isStrictJSON == true)
    for text in [" 12", "12 ", ".5", "5.", "+-1", "++1", "", "+", "0x1", "1e"] {
        #expect(number(text, lenient: true) == nil, "\(text)")
    }
}

@Test func normalFormDropsTrailingZerosAndLeadingZeros() throws {
    let three = try #require(number("3.000"))
    #expect(three.significand == 3 && three.exponent == 0 && three.isExact)
    let cost = try #require(number("0.051006"))
    #expect(cost.significand == 51_006 && cost.exponent == -6)
    let long = try #require(number("1234567890123456789012"))
    #expect(long.significand == 1_234_567_890_123_456_789 && long.exponent == 3 && !long.isExact)
    let zero = try #require(number("-0.000e7"))
    #expect(zero.significand == 0 && zero.isNegative)
}

// MARK: Whole numbers

@Test func wholeNumbersAreExact() {
    let cases: [(String, DecimalNumber.WholeNumberResult)] = [
        ("0", .value(0)), ("-0", .value(0)), ("-0.0", .value(0)), ("0e99", .value(0)), ("3.0", .value(3)),
        ("1e3", .value(1000)), ("12.50e1", .value(125)), ("1234", .value(1234)), ("1.5", .fractional),
        ("0.5", .fractional), ("1e-1", .fractional), ("10e-1", .value(1)), ("-1", .negative), ("-1.5", .negative),
        ("-0.5", .negative), ("-1e30", .negative),
        ("18446744073709551615", .value(UInt64.max)),
        ("18446744073709551615.0000", .value(UInt64.max)),
        ("1844674407370955161.5e1", .value(UInt64.max)),
        ("18446744073709551616", .tooLarge),
        ("18446744073709551615.5", .tooLarge),
        ("18446744073709551614.5", .fractional),
        ("18446744073709551614.0000000000001", .fractional),
        ("10000000000000000000", .value(10_000_000_000_000_000_000)),
        ("1e19", .value(10_000_000_000_000_000_000)),
        ("1e20", .tooLarge), ("1e999999999999", .tooLarge), ("1.8e19", .value(18_000_000_000_000_000_000)),
        ("1.9e19", .tooLarge),
        ("100000000000000000000e-2", .value(1_000_000_000_000_000_000)),
        ("12345678901234567890123e-3", .fractional),
        ("12345678901234567890000e-3", .value(12_345_678_901_234_567_890)),
        ("1.0000000000000000000001", .fractional),
        ("1.0000000000000000000000", .value(1)),
        ("9999999999999999999.9", .fractional),
        ("123456789012345678901234567890", .tooLarge),
        ("1e-999999999999", .fractional),
    ]
    for (text, expected) in cases {
        #expect(number(text)?.wholeNumber() == expected, "\(text)")
    }
}

@Test func randomIntegersRoundTripThroughWholeNumber() {
    var random = SplitMix64(state: 7)
    for _ in 0..<5_000 {
        let value = UInt64.random(in: 0...UInt64.max, using: &random) >> UInt64.random(in: 0...63, using: &random)
        let zeros = Int.random(in: 0...3, using: &random)
        let text = String(value) + (zeros > 0 ? "." + String(repeating: "0", count: zeros) : "")
        #expect(number(text)?.wholeNumber() == .value(value), "\(text)")
        if value > 0 {
            #expect(number(text + "1")?.wholeNumber() != .value(value), "\(text)1")
            #expect(number("-" + text)?.wholeNumber() == .negative)
        }
    }
}

// MARK: Nano units

@Test func nanoUnitsAreExactWithHalfEvenRounding() {
    let cases: [(String, Int64?)] = [
        ("0.051006", 51_006_000), ("7.335e-05", 73_350), ("-0.5", -500_000_000), ("0", 0), ("-0", 0),
        ("12", 12_000_000_000), ("1e-9", 1), ("0.000000001", 1), ("0.0000000005", 0), ("0.0000000015", 2),
        ("0.0000000025", 2), ("0.0000000035", 4), ("0.00000000250000000000000000001", 3),
        ("0.0000000024999999999999999999999", 2), ("-0.0000000025", -2), ("-0.0000000035", -4),
        ("0.00000000051", 1), ("0.00000000049", 0), ("1e-300", 0), ("-1e-300", 0),
        ("9223372036.854775807", Int64.max), ("9223372036.854775808", nil),
        ("-9223372036.854775808", Int64.min), ("-9223372036.854775809", nil),
        ("-9223372036.8547758085", Int64.min), ("-9223372036.8547758075", Int64.min), ("-9223372036.8547758095", nil),
        ("9223372036.8547758065", 9_223_372_036_854_775_806), ("9223372036.8547758075", nil),
        ("9223372036.85477580649", 9_223_372_036_854_775_806), ("9223372036.85477580651", 9_223_372_036_854_775_807),
        ("92233720368547758070e-10", Int64.max), ("1e300", nil), ("1e10", nil), ("1e9", 1_000_000_000_000_000_000),
        ("123.456789012345", 123_456_789_012), ("0.1234567895", 123_456_790), ("0.1234567885", 123_456_788),
    ]
    for (text, expected) in cases {
        #expect(number(text)?.nanoUnits() == expected, "\(text)")
    }
}

@Test func randomNanoUnitsMatchFoundationDecimal() throws {
    var random = SplitMix64(state: 42)
    let billion = Decimal(sign: .plus, exponent: 9, significand: 1)
    var compared = 0
    for _ in 0..<10_000 {
        let text = randomNumberText(
            digits: Int.random(in: 1...25, using: &random), exponentRange: -14...6, using: &random)
        let parsed = try #require(number(text), "\(text)")
        var scaled = try #require(Decimal(string: text), "\(text)") * billion
        var rounded = Decimal()
        NSDecimalRound(&rounded, &scaled, 0, .bankers)
        let expectedText = rounded.description
        let fits = Int64(expectedText) != nil
        if let nano = parsed.nanoUnits() {
            #expect(String(nano) == expectedText, "\(text)")
            compared += 1
        } else {
            #expect(!fits, "\(text) gave nil but Foundation gives \(expectedText)")
        }
    }
    #expect(compared > 5_000)
}

// MARK: Doubles

private func bitExact(_ text: String) -> Bool {
    guard let parsed = number(text), let expected = Double(text) else { return false }
    return parsed.doubleValue().bitPattern == expected.bitPattern
}

@Test func doubleValueIsCorrectlyRoundedOnKnownHardCases() {
    let texts = [
        "0", "-0", "1", "-1", "0.1", "123.456", "1e22", "1e23", "9007199254740992", "9007199254740993",
        "9007199254740995", "2.2250738585072011e-308", "2.2250738585072014e-308", "4.9e-324", "5e-324",
        "2.4703282292062327e-324", "1.7976931348623157e308", "1.7976931348623159e308", "1e400", "-1e400",
        "1e-400", "0.30000000000000004", "1e-22", "3e-23", "123456789e15", "8.98846567431158e307",
        "1.00000000000000011102230246251565404236316680908203125", "0.1000000000000000055511151231257827",
        "7.335e-05", "1764337512.5", "1.7643375125e9", "123456789012345678", "12345678901234567890",
        "12345678901234567891",
    ]
    for text in texts {
        #expect(bitExact(text), "\(text)")
    }
    #expect(number("-0")!.doubleValue().sign == .minus)
    #expect(number("1e400")!.doubleValue() == .infinity)
}

@Test func randomDoublesMatchDoubleFromStringBitForBit() {
    var random = SplitMix64(state: 1_764_337_512)
    for round in 0..<20_000 {
        // Up to 20 significant digits the parsed fields hold the text exactly.
        let digits = round % 2 == 0 ? Int.random(in: 1...15, using: &random) : Int.random(in: 1...20, using: &random)
        let exponentRange = round % 3 == 0 ? -330...310 : -25...25
        let text = randomNumberText(digits: digits, exponentRange: exponentRange, using: &random)
        #expect(bitExact(text), "\(text)")
    }
}

@Test func randomDoublesWithManyDigitsAreWithinOneUlp() throws {
    var random = SplitMix64(state: 99)
    var exact = 0
    for _ in 0..<5_000 {
        let text = randomNumberText(
            digits: Int.random(in: 21...40, using: &random), exponentRange: -300...300, using: &random)
        let expected = try #require(Double(text))
        let value = try #require(number(text)).doubleValue()
        #expect(value == expected || value == expected.nextUp || value == expected.nextDown, "\(text)")
        if value.bitPattern == expected.bitPattern { exact += 1 }
    }
    // Off by one ulp needs a rounding boundary between the 20th and 21st digit: rare.
    #expect(exact >= 4_990)
}

@Test func parsingRandomDoublesShortestTextRoundTrips() {
    var random = SplitMix64(state: 3)
    for _ in 0..<5_000 {
        let value = Double(bitPattern: UInt64.random(in: 0...UInt64.max, using: &random))
        guard value.isFinite else { continue }
        let text = "\(value)"
        #expect(number(text)?.doubleValue().bitPattern == value.bitPattern, "\(text)")
    }
}
