#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
import TokentallySystem
import TokentallyReading

// MARK: - Bytes

/// A JSON string token (quotes included) for `text`: `"`, `\` and control characters escaped;
/// with `asciiOnly`, everything beyond ASCII as `\uXXXX` (surrogate pairs above U+FFFF).
func jsonString(_ text: String, asciiOnly: Bool) -> [UInt8] {
    let hex = Array("0123456789abcdef".utf8)
    var out: [UInt8] = [0x22]
    func escape(_ unit: UInt16) {
        out += [0x5C, 0x75]
        for shift in stride(from: 12, through: 0, by: -4) { out.append(hex[Int(unit >> UInt16(shift)) & 0xF]) }
    }
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": out += [0x5C, 0x22]
        case "\\": out += [0x5C, 0x5C]
        case "\n": out += [0x5C, 0x6E]
        case "\t": out += [0x5C, 0x74]
        case "\r": out += [0x5C, 0x72]
        default:
            if scalar.value < 0x20 {
                escape(UInt16(scalar.value))
            } else if scalar.value < 0x80 || !asciiOnly {
                out += Array(String(scalar).utf8)
            } else {
                for unit in String(scalar).utf16 { escape(unit) }
            }
        }
    }
    out.append(0x22)
    return out
}

/// The chunk of lines being built, and the byte formatters that build them: integers, fixed
/// and scientific decimals from scaled integers, RFC 3339 times and hex, with no `String`.
///
/// This is the hot path: a fixed allocation written through a pointer, without the bounds and
/// uniqueness checks of `Array.append`. The generator flushes it before fewer than
/// `maximumLineBytes` remain, and no line comes close to that (the longest strings are table
/// entries of at most a few hundred bytes), so writes stay inside the allocation.
struct LineBuffer: ~Copyable {
    /// More than any line needs; see the type's comment.
    static let maximumLineBytes = 64 * 1024

    private let base: UnsafeMutablePointer<UInt8>
    private let capacity: Int
    /// Bytes written since the last `removeAll()`.
    private(set) var count = 0

    init(capacity: Int) {
        base = .allocate(capacity: capacity)
        self.capacity = capacity
    }

    deinit { base.deallocate() }

    /// The bytes written, valid until the next write or `removeAll()`.
    var written: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    mutating func removeAll() { count = 0 }

    @inline(__always)
    mutating func byte(_ value: UInt8) {
        assert(count < capacity)
        base[count] = value
        count &+= 1
    }

    @inline(__always)
    mutating func copy(_ source: UnsafeBufferPointer<UInt8>) {
        assert(count + source.count <= capacity)
        guard let start = source.baseAddress else { return }
        (base + count).update(from: start, count: source.count)
        count &+= source.count
    }

    @inline(__always)
    mutating func text(_ value: StaticString) {
        copy(UnsafeBufferPointer(start: value.utf8Start, count: value.utf8CodeUnitCount))
    }

    /// Decimal digits of a value ≥ 0.
    @inline(__always)
    mutating func integer(_ value: Int64) {
        precondition(value >= 0)
        digits(UInt64(value), minimumCount: 1)
    }

    /// The digits of `value`, zero-padded to `minimumCount`.
    mutating func digits(_ value: UInt64, minimumCount: Int) {
        var length = 1
        var limit: UInt64 = 10
        while length < 20 && value >= limit {
            length += 1
            limit = limit &* 10
        }
        length = max(length, minimumCount)
        assert(count + length <= capacity)
        var rest = value
        var position = count + length
        while position > count {
            position -= 1
            base[position] = UInt8(truncatingIfNeeded: 0x30 &+ rest % 10)
            rest /= 10
        }
        count &+= length
    }

    /// `value / 10^scale` in plain decimal, trailing fraction zeros dropped, at least
    /// `minimumFractionDigits` (0 or 1) fraction digits: 1234500 at scale 6 is `1.2345`.
    mutating func fixed(_ value: Int64, scale: Int, minimumFractionDigits: Int) {
        precondition(value >= 0)
        var divisor: Int64 = 1
        for _ in 0..<scale { divisor *= 10 }
        integer(value / divisor)
        var fraction = value % divisor
        var count = scale
        while count > 0 && fraction % 10 == 0 && fraction != 0 {
            fraction /= 10
            count -= 1
        }
        if fraction == 0 {
            if minimumFractionDigits > 0 { text(".0") }
            return
        }
        byte(0x2E)
        digits(UInt64(fraction), minimumCount: count)
    }

    /// `value / 10^scale` as `d.ddde-NN` (`7.335e-05`); zero as `0.0`.
    mutating func scientific(_ value: Int64, scale: Int) {
        precondition(value >= 0)
        guard value > 0 else {
            text("0.0")
            return
        }
        var mantissa = value
        var trailingZeros = 0
        while mantissa % 10 == 0 {
            mantissa /= 10
            trailingZeros += 1
        }
        var count = 1
        var power: Int64 = 1
        while mantissa / power >= 10 {
            power *= 10
            count += 1
        }
        let exponent = count - 1 + trailingZeros - scale
        integer(mantissa / power)
        if count > 1 {
            byte(0x2E)
            digits(UInt64(mantissa % power), minimumCount: count - 1)
        }
        byte(0x65)  // e
        byte(exponent < 0 ? 0x2D : 0x2B)
        digits(UInt64(abs(exponent)), minimumCount: 2)
    }

    /// A float the way Python's `repr` would show it: exponent below 1e-4, else plain decimal
    /// with at least one fraction digit.
    mutating func pythonFloat(_ value: Int64, scale: Int) {
        var oneTenThousandth: Int64 = 1
        for _ in 0..<max(scale - 4, 0) { oneTenThousandth *= 10 }
        if value > 0 && value < oneTenThousandth {
            scientific(value, scale: scale)
        } else {
            fixed(value, scale: scale, minimumFractionDigits: 1)
        }
    }

    /// Milliseconds from microseconds: whole (`1234`) or with up to three decimals (`1234.567`).
    mutating func milliseconds(_ micros: Int64, fractional: Bool) {
        if fractional {
            fixed(micros, scale: 3, minimumFractionDigits: 0)
        } else {
            integer(micros / 1000)
        }
    }

    /// `2026-11-27T14:03:12.345Z` for epoch microseconds ≥ 0 (milliseconds, truncated); with
    /// `openRouterStyle`, `2026-11-27T14:03:12.345678+00:00`, as OpenRouter writes its times.
    mutating func rfc3339(micros: Int64, openRouterStyle: Bool = false) {
        let seconds = micros / 1_000_000
        let days = seconds / 86_400
        let secondOfDay = seconds % 86_400
        let (year, month, day) = CivilCalendar.date(fromDays: days)
        digits(UInt64(year), minimumCount: 4)
        byte(0x2D)
        digits(UInt64(month), minimumCount: 2)
        byte(0x2D)
        digits(UInt64(day), minimumCount: 2)
        byte(0x54)
        digits(UInt64(secondOfDay / 3600), minimumCount: 2)
        byte(0x3A)
        digits(UInt64(secondOfDay / 60 % 60), minimumCount: 2)
        byte(0x3A)
        digits(UInt64(secondOfDay % 60), minimumCount: 2)
        byte(0x2E)
        if openRouterStyle {
            digits(UInt64(micros % 1_000_000), minimumCount: 6)
            text("+00:00")
            return
        }
        digits(UInt64(micros % 1_000_000 / 1000), minimumCount: 3)
        byte(0x5A)
    }

    /// The low `digits` hex digits of `value`, lowercase.
    @inline(__always)
    mutating func hex(_ value: UInt64, digits length: Int) {
        assert(count + length <= capacity)
        var rest = value
        var position = count + length
        while position > count {
            position -= 1
            let nibble = UInt8(truncatingIfNeeded: rest) & 0xF
            base[position] = nibble < 10 ? 0x30 &+ nibble : 0x57 &+ nibble
            rest >>= 4
        }
        count &+= length
    }
}
