import TokentallySystem
/// A decimal number read exactly from the text of a JSON number, or of a numeric JSON string such
/// as `"0.051006"` or `"7.335e-05"` (docs/log-format.md: numbers "may be JSON numbers or decimal
/// strings, with exponents").
///
/// The value is `±(significand + tail) × 10^exponent`, where `significand` holds the first 19
/// significant digits (19 decimal digits always fit in a `UInt64`) and `tail`, a fraction in
/// [0, 1), stands for the digits after them: the first of those digits is kept, and whether any
/// later digit is nonzero. That is exactly what integer-ness and rounding at or above the 20th
/// digit need. When the tail is zero the significand carries no trailing zeros, so
/// `3.0`, `30e-1` and `0.3e1` are the same value with the same fields.
///
/// Parsing reads bytes and allocates nothing: it is on the per-line hot path. Only
/// ``doubleValue()`` outside the Clinger fast path builds a `String`.
///
/// Two numbers are equal when they parsed to the same fields, ``isStrictJSON`` included; compare
/// the results of the conversions to compare values.
struct DecimalNumber: Hashable, Sendable {
    /// True for a number below zero, and also for `-0`, which every conversion treats as 0.
    let isNegative: Bool
    /// The first (at most 19) significant digits as an integer; 0 exactly when the value is 0.
    let significand: UInt64
    /// The power of ten that scales ``significand``.
    let exponent: Int
    /// True when the text followed strict JSON number grammar; false when ``parse(_:lenient:)``
    /// accepted it only in lenient mode (a leading `+` or leading zeros).
    let isStrictJSON: Bool
    /// The 20th significant digit, or 0 when there is none.
    let tailDigit: UInt8
    /// Whether any significant digit after the 20th is nonzero.
    let tailSticky: Bool

    /// True when ``significand`` × 10^``exponent`` is the value exactly: the text had at most 19
    /// significant digits, or only zeros after them.
    var isExact: Bool { tailDigit == 0 && !tailSticky }

    /// Parses the bytes of one JSON number token, or the contents (without quotes) of a numeric
    /// JSON string.
    ///
    /// Strict grammar is JSON's: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`. With `lenient`,
    /// meant for numbers inside strings, a leading `+` and leading zeros in the integer part
    /// (`"+5"`, `"007.5"`) are accepted too, and ``isStrictJSON`` is false for them. Nothing
    /// else is: no whitespace anywhere, no `.5` or `5.`, no `NaN` or `Infinity`, no hex.
    /// Exponents whose magnitude exceeds 10^9 are clamped to it, which changes no result: such a
    /// number is 0 or too large for every conversion.
    ///
    /// - Returns: the number, or nil when the bytes are not a number of that grammar.
    public static func parse(_ bytes: UnsafeRawBufferPointer, lenient: Bool = false) -> DecimalNumber? {
        let count = bytes.count
        guard count > 0 else { return nil }
        var index = 0
        var negative = false
        var strict = true
        switch bytes[0] {
        case minus:
            negative = true
            index = 1
        case plus:
            guard lenient else { return nil }
            strict = false
            index = 1
        default:
            break
        }

        var significand: UInt64 = 0
        var kept = 0  // significant digits in `significand`
        var exponent = 0
        var tailDigit: UInt8 = 0
        var tailSticky = false
        var tailStarted = false

        // Integer part.
        guard index < count, bytes[index] &- zero <= 9 else { return nil }
        if bytes[index] == zero && index + 1 < count && bytes[index + 1] &- zero <= 9 {
            guard lenient else { return nil }
            strict = false
        }
        while index < count {
            let digit = bytes[index] &- zero
            guard digit <= 9 else { break }
            index += 1
            if kept < 19 {
                if digit == 0 && kept == 0 { continue }  // a leading zero
                significand = significand &* 10 &+ UInt64(digit)
                kept += 1
            } else {
                // An integer digit past the 19th: the significand's unit moves up one place.
                exponent += 1
                if tailStarted {
                    tailSticky = tailSticky || digit != 0
                } else {
                    tailDigit = digit
                    tailStarted = true
                }
            }
        }

        // Fraction.
        if index < count && bytes[index] == dot {
            index += 1
            let start = index
            while index < count {
                let digit = bytes[index] &- zero
                guard digit <= 9 else { break }
                index += 1
                if kept < 19 {
                    exponent -= 1
                    if digit == 0 && kept == 0 { continue }  // a zero before the first significant digit
                    significand = significand &* 10 &+ UInt64(digit)
                    kept += 1
                } else if tailStarted {
                    tailSticky = tailSticky || digit != 0
                } else {
                    tailDigit = digit
                    tailStarted = true
                }
            }
            guard index > start else { return nil }
        }

        // Exponent.
        if index < count && (bytes[index] == lowerE || bytes[index] == upperE) {
            index += 1
            var exponentNegative = false
            if index < count && (bytes[index] == plus || bytes[index] == minus) {
                exponentNegative = bytes[index] == minus
                index += 1
            }
            let start = index
            var written = 0
            while index < count {
                let digit = bytes[index] &- zero
                guard digit <= 9 else { break }
                index += 1
                if written < exponentLimit {
                    written = written * 10 + Int(digit)
                }
            }
            guard index > start else { return nil }
            written = min(written, exponentLimit)
            exponent += exponentNegative ? -written : written
        }

        guard index == count else { return nil }

        if significand == 0 {
            // Leading zeros never reach the significand, so a zero significand is a zero value.
            return DecimalNumber(
                isNegative: negative, significand: 0, exponent: 0, isStrictJSON: strict,
                tailDigit: 0, tailSticky: false)
        }
        if tailDigit == 0 && !tailSticky {
            // Normal form: only an exact significand may shed trailing zeros.
            while significand % 10 == 0 {
                significand /= 10
                exponent += 1
            }
        }
        return DecimalNumber(
            isNegative: negative, significand: significand, exponent: exponent, isStrictJSON: strict,
            tailDigit: tailDigit, tailSticky: tailSticky)
    }

    /// The number times 10^`power`, exactly (a cost in cents is the same digits × 10^-2 dollars).
    func shifted(byPowerOfTen power: Int) -> DecimalNumber {
        guard significand != 0 else { return self }
        return DecimalNumber(
            isNegative: isNegative, significand: significand, exponent: exponent + power, isStrictJSON: isStrictJSON,
            tailDigit: tailDigit, tailSticky: tailSticky)
    }

    /// What ``wholeNumber()`` found.
    enum WholeNumberResult: Hashable, Sendable {
        /// The number is this whole number, exactly.
        case value(UInt64)
        /// The number is below zero (whole or not).
        case negative
        /// The number is at least zero but not whole.
        case fractional
        /// The number is above `UInt64.max` (whole or not).
        case tooLarge
    }

    /// The number as an exact non-negative whole number, as token counts must be.
    ///
    /// `3.0`, `1e3` and `12.50e1` are whole; `1.5` is fractional; `-0` is 0. A number that is
    /// both negative and fractional is `.negative`; one that is both too large and fractional
    /// is `.tooLarge`.
    func wholeNumber() -> WholeNumberResult {
        if significand == 0 { return .value(0) }
        if isNegative { return .negative }
        if isExact {
            // No trailing zeros in the significand: any negative exponent leaves a fraction.
            if exponent < 0 { return .fractional }
            guard exponent <= 19 else { return .tooLarge }
            let (product, overflow) = significand.multipliedReportingOverflow(by: Self.integerPowersOfTen[exponent])
            return overflow ? .tooLarge : .value(product)
        }
        // A tail means 19 significand digits; the tail lies below the significand's unit 10^exponent.
        if exponent >= 2 { return .tooLarge }  // at least 10^18 × 100
        if exponent <= 0 { return .fractional }  // below 10^19, so not too large
        // exponent == 1: the tail digit is the units digit, the sticky digits are the fraction.
        let (shifted, overflow) = significand.multipliedReportingOverflow(by: 10)
        let (whole, carry) = shifted.addingReportingOverflow(UInt64(tailDigit))
        if overflow || carry { return .tooLarge }
        guard tailSticky else { return .value(whole) }
        // A fraction above UInt64.max itself is too large, not merely fractional.
        return whole == UInt64.max ? .tooLarge : .fractional
    }

    /// The number times 10^9 as an exact integer, rounded half to even past the ninth decimal: a
    /// cost in US dollars becomes nano-dollars. Computed from the decimal digits, never through a
    /// binary floating-point value, so `"0.051006"` is exactly 51_006_000.
    ///
    /// - Returns: the scaled value, or nil when it lies outside `Int64`'s range.
    func nanoUnits() -> Int64? {
        if significand == 0 { return 0 }
        let scale = exponent + 9
        var magnitude: UInt64
        if scale >= 0 {
            if isExact {
                guard scale <= 19 else { return nil }
                let (product, overflow) = significand.multipliedReportingOverflow(by: Self.integerPowersOfTen[scale])
                guard !overflow else { return nil }
                magnitude = product
            } else {
                // 19 significand digits times 10 would pass 10^19, beyond Int64.
                guard scale == 0 else { return nil }
                magnitude = significand
                let roundUp = tailDigit > 5 || (tailDigit == 5 && (tailSticky || significand & 1 == 1))
                if roundUp { magnitude += 1 }  // significand < 10^19, no overflow
            }
        } else {
            let shift = -scale
            // significand < 10^19, so past 19 places the scaled value is below 0.1 and rounds to 0.
            guard shift <= 19 else { return 0 }
            let divisor = Self.integerPowersOfTen[shift]
            let (quotient, remainder) = significand.quotientAndRemainder(dividingBy: divisor)
            let half = divisor / 2
            // A nonzero tail lifts an exact half above half; below half it cannot reach half.
            let roundUp = remainder > half || (remainder == half && (!isExact || quotient & 1 == 1))
            magnitude = roundUp ? quotient + 1 : quotient
        }
        if isNegative {
            guard magnitude <= UInt64(Int64.max) + 1 else { return nil }
            return Int64(truncatingIfNeeded: 0 &- magnitude)
        }
        guard magnitude <= UInt64(Int64.max) else { return nil }
        return Int64(magnitude)
    }

    /// The number as the nearest `Double`.
    ///
    /// When the significand is below 2^53 and the power of ten is exact in a `Double` (Clinger's
    /// fast path, the case of every latency a gateway writes), one exact multiplication or
    /// division gives the correctly rounded result without allocating. Otherwise the digits are
    /// written to a `String` and read back with `Double(String)`, which rounds correctly too.
    /// For text with more than 20 significant digits, the digits after the 20th are stood in for
    /// by one nonzero digit when any is nonzero; this is exact except, in rare cases, within one
    /// unit in the last place of the correctly rounded value.
    /// Values beyond `Double`'s range become infinite or zero; `-0` gives `-0.0`.
    func doubleValue() -> Double {
        if significand == 0 { return isNegative ? -0.0 : 0.0 }
        if isExact && significand <= Self.maxExactInteger {
            var result: Double?
            if exponent >= 0 && exponent <= 22 {
                result = Double(significand) * Self.exactPowersOfTen[exponent]
            } else if exponent < 0 && exponent >= -22 {
                result = Double(significand) / Self.exactPowersOfTen[-exponent]
            } else if exponent > 22 && exponent <= 22 + 15 {
                // Move powers of ten into the significand while it stays below 2^53: still exact.
                let (scaled, overflow) = significand.multipliedReportingOverflow(
                    by: Self.integerPowersOfTen[exponent - 22])
                if !overflow && scaled <= Self.maxExactInteger {
                    result = Double(scaled) * Self.exactPowersOfTen[22]
                }
            }
            if let result { return isNegative ? -result : result }
        }
        return slowDoubleValue()
    }

    /// `Double(String)` of the digits; allocation is acceptable on this rare path.
    private func slowDoubleValue() -> Double {
        var text = isNegative ? "-" : ""
        text += String(significand)
        var scale = exponent
        if !isExact {
            text += String(tailDigit)
            scale -= 1
            if tailSticky {
                text += "1"
                scale -= 1
            }
        }
        text += "e" + String(scale)
        return Double(text) ?? .nan
    }

    /// Decimal exponents are clamped to ±10^9 while parsing.
    private static let exponentLimit = 1_000_000_000
    /// 2^53: every integer up to it is exact in a `Double`.
    private static let maxExactInteger: UInt64 = 1 << 53
    /// 10^0 ... 10^19, all exact in `UInt64`.
    static let integerPowersOfTen: [UInt64] = {
        var powers: [UInt64] = [1]
        for _ in 1...19 { powers.append(powers[powers.count - 1] * 10) }
        return powers
    }()
    /// 10^0 ... 10^22, the powers of ten a `Double` holds exactly (5^22 < 2^53).
    static let exactPowersOfTen: [Double] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
        1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    ]

    private static let zero = UInt8(ascii: "0")
    private static let minus = UInt8(ascii: "-")
    private static let plus = UInt8(ascii: "+")
    private static let dot = UInt8(ascii: ".")
    private static let lowerE = UInt8(ascii: "e")
    private static let upperE = UInt8(ascii: "E")
}
