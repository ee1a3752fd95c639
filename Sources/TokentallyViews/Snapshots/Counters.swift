/// The COUNTERS of a bucket file (docs/snapshot-format.md, "COUNTERS"), exact: thirteen
/// integers and `cost_usd` as an integer count of nano-dollars. Sums of rows are exact.
public struct Counters: Sendable, Equatable {
    /// The counters' names, in the snapshot's order; `cost_usd` is the last.
    public static let names = [
        "requests", "succeeded", "failed", "input_tokens", "output_tokens", "total_tokens", "cached_tokens",
        "cache_write_tokens", "reasoning_tokens", "web_search_requests", "web_search_calls",
        "web_search_input_tokens", "web_search_output_tokens", "cost_usd",
    ]
    /// How many integer counters come before `cost_usd`.
    public static let integerCount = 13

    /// The integer counters in the order of `names` (lanes 13–15 unused).
    public var integers = SIMD16<UInt64>(repeating: 0)
    /// `cost_usd` in nano-dollars (10^-9 USD); negative for credits.
    public var costNanos: Int64 = 0

    public init() {}

    public var requests: UInt64 { integers[0] }
    public var succeeded: UInt64 { integers[1] }
    public var failed: UInt64 { integers[2] }
    public var inputTokens: UInt64 { integers[3] }
    public var outputTokens: UInt64 { integers[4] }
    public var totalTokens: UInt64 { integers[5] }
    public var webSearchRequests: UInt64 { integers[9] }

    /// The integer counter `name`, or nil for `cost_usd` and unknown names.
    public func integer(_ name: String) -> UInt64? {
        guard let index = Self.names.firstIndex(of: name), index < Self.integerCount else { return nil }
        return integers[index]
    }

    public static func += (lhs: inout Counters, rhs: Counters) {
        lhs.integers &+= rhs.integers
        lhs.costNanos &+= rhs.costNanos
    }

    /// `succeeded / requests` rounded half up to 6 decimals, as the snapshot writes it; nil
    /// without requests.
    public var successRate: Double? {
        guard requests > 0 else { return nil }
        let millionths = (succeeded * 1_000_000 * 2 + requests) / (requests * 2)
        return Double(millionths) / 1_000_000
    }

    /// The exact decimal text of `succeeded / requests` to 6 decimals (`0.666667`, `1`).
    public var successRateText: String? {
        guard requests > 0 else { return nil }
        let millionths = (succeeded * 1_000_000 * 2 + requests) / (requests * 2)
        return Money.decimal(Int64(millionths), scale: 6)
    }

    /// The value of column `index` of `names` as the snapshot writes it.
    public func text(_ index: Int) -> String {
        index < Self.integerCount ? String(integers[index]) : Money.text(costNanos)
    }
}

/// Exact money: nano-dollars, read from and written as decimal text.
public enum Money {
    /// Parses a decimal such as `0.021006`, `-12.5` or `3` into nano-dollars; nil when it is not
    /// one (an exponent, more than 9 decimals, beyond ±9.2 billion dollars).
    public static func nanos(_ text: String) -> Int64? {
        var utf8 = Substring(text).utf8[...]
        var negative = false
        if utf8.first == UInt8(ascii: "-") {
            negative = true
            utf8 = utf8.dropFirst()
        }
        var whole: Int64 = 0
        var fraction: Int64 = 0
        var fractionDigits = 0
        var seenPoint = false
        var digits = 0
        for byte in utf8 {
            if byte == UInt8(ascii: ".") && !seenPoint {
                seenPoint = true
                continue
            }
            guard (0x30...0x39).contains(byte) else { return nil }
            digits += 1
            let digit = Int64(byte - 0x30)
            if seenPoint {
                fractionDigits += 1
                guard fractionDigits <= 9 else { return nil }
                fraction = fraction * 10 + digit
            } else {
                let (times, o1) = whole.multipliedReportingOverflow(by: 10)
                let (sum, o2) = times.addingReportingOverflow(digit)
                guard !o1, !o2 else { return nil }
                whole = sum
            }
        }
        guard digits > 0 else { return nil }
        for _ in fractionDigits..<9 { fraction *= 10 }
        let (scaled, o3) = whole.multipliedReportingOverflow(by: 1_000_000_000)
        let (value, o4) = scaled.addingReportingOverflow(fraction)
        guard !o3, !o4 else { return nil }
        return negative ? -value : value
    }

    /// The shortest exact decimal of `nanos` nano-dollars: at most 9 decimals, no trailing
    /// zeros, no exponent (`0.051006`, `12`, `-0.000000005`).
    public static func text(_ nanos: Int64) -> String { decimal(nanos, scale: 9) }

    /// `value / 10^scale` as the shortest exact decimal.
    static func decimal(_ value: Int64, scale: Int) -> String {
        var power: UInt64 = 1
        for _ in 0..<scale { power *= 10 }
        let magnitude = value.magnitude
        let whole = magnitude / power
        var fraction = magnitude % power
        var text = (value < 0 ? "-" : "") + String(whole)
        guard fraction != 0 else { return text }
        var width = scale
        while fraction % 10 == 0 {
            fraction /= 10
            width -= 1
        }
        let digits = String(fraction)
        text += "." + String(repeating: "0", count: width - digits.count) + digits
        return text
    }

    /// Dollars as a Double, for display and bars only.
    public static func dollars(_ nanos: Int64) -> Double { Double(nanos) / 1e9 }
}
