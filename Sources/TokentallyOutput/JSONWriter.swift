import TokentallySystem
import TokentallyReading
import TokentallyCounting
/// Writes JSON text as UTF-8 bytes into a growable buffer that can be reused between documents.
///
/// The writer handles commas, indentation and escaping; the caller says what goes where:
///
/// ```swift
/// var json = JSONWriter()
/// json.beginObject()
/// json.field("requests"); json.integer(12 as UInt64)
/// json.key(modelName); json.beginObject(compact: true)
/// json.field("p50"); json.number(12.5)
/// json.endObject()
/// json.endObject()
/// ```
///
/// writes
///
/// ```
/// {
///   "requests": 12,
///   "gpt-4o": {"p50": 12.5}
/// }
/// ```
///
/// Member names fixed by a file format go through ``field(_:)``, which copies them as they are;
/// names that come from data (model names, API keys) go through ``key(_:)``, which escapes them.
///
/// Containers are pretty-printed with a two-space indent; a container opened with
/// `compact: true` (and everything inside it) is written on one line, which keeps files with many
/// small rows (a bucket's `series`) short and fast to write while one row stays one line.
///
/// The writer never produces invalid JSON from valid calls: every string is escaped, and numbers
/// are written without exponents, with `null` for NaN and infinities. It does not check the call
/// order (a key outside an object, a missing `endObject`); the encoders that use it are tested
/// against a JSON parser instead. Writing allocates only when the buffer must grow.
public struct JSONWriter: Sendable {
    /// The bytes written so far.
    public private(set) var bytes: [UInt8]

    /// Containers open around the next value.
    private var depth = 0
    /// Containers at this depth or deeper are written on one line; `Int.max` when none is open.
    private var compactDepth = Int.max
    /// Whether the innermost open container already has a member (so the next one needs a comma).
    private var containerHasMembers = false
    /// Whether a key was just written, so the next value follows it directly.
    private var afterKey = false

    /// Makes an empty writer whose buffer can hold `capacity` bytes before it grows.
    public init(capacity: Int = 4096) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// Empties the buffer, keeping its capacity, so the writer can write another document.
    public mutating func reset() {
        bytes.removeAll(keepingCapacity: true)
        depth = 0
        compactDepth = Int.max
        containerHasMembers = false
        afterKey = false
    }

    /// Hands the bytes written so far to `body`, then empties the buffer (keeping its capacity)
    /// while keeping the writer's place in the document: the next bytes continue it. This lets a
    /// long document be written out piece by piece.
    mutating func drain(_ body: (UnsafeRawBufferPointer) throws -> Void) rethrows {
        try bytes.withUnsafeBytes(body)
        bytes.removeAll(keepingCapacity: true)
    }

    /// Makes sure the buffer can hold `count` more bytes without growing again.
    mutating func reserve(additional count: Int) {
        bytes.reserveCapacity(bytes.count + count)
    }

    // MARK: Containers

    /// Opens an object. With `compact`, the object and everything in it go on one line.
    mutating func beginObject(compact: Bool = false) {
        beginContainer(0x7B, compact: compact)  // {
    }

    /// Closes the innermost open object.
    mutating func endObject() {
        endContainer(0x7D)  // }
    }

    /// Opens an array. With `compact`, the array and everything in it go on one line.
    mutating func beginArray(compact: Bool = false) {
        beginContainer(0x5B, compact: compact)  // [
    }

    /// Closes the innermost open array.
    mutating func endArray() {
        endContainer(0x5D)  // ]
    }

    /// Writes an object member's key that comes from data (a model name, a reason code), escaped;
    /// the next value written is that member's value.
    mutating func key(_ name: String) {
        separateMember()
        writeEscapedString(name)
        appendASCII(": ")
        afterKey = true
    }

    /// Writes an object member's key fixed in the program (a field name of a file format); the next
    /// value written is that member's value. The name must need no escaping (plain ASCII letters,
    /// digits and punctuation other than `"` and `\`): it is copied as is, which is what makes this
    /// faster than ``key(_:)``.
    mutating func field(_ name: StaticString) {
        separateMember()
        bytes.append(0x22)
        appendASCII(name)
        bytes.append(0x22)
        bytes.append(0x3A)  // :
        bytes.append(0x20)
        afterKey = true
    }

    /// Ends the document with a newline (files are easier to `cat` with one).
    mutating func finishLine() {
        bytes.append(0x0A)
    }

    // MARK: Values

    /// Writes a string value, escaped (see ``JSONWriter`` for the rules).
    mutating func string(_ value: String) {
        beginValue()
        writeEscapedString(value)
    }

    /// Writes a string value escaped before (`EscapedNames`), its quotes included.
    mutating func escapedString(_ quoted: UnsafeRawBufferPointer) {
        beginValue()
        bytes.append(contentsOf: quoted)
    }

    /// Writes a string value fixed in the program that needs no escaping (see ``field(_:)``).
    mutating func string(_ value: StaticString) {
        beginValue()
        bytes.append(0x22)
        appendASCII(value)
        bytes.append(0x22)
    }

    /// Writes a string value, or `null` when there is none.
    mutating func string(_ value: String?) {
        if let value { string(value) } else { null() }
    }

    /// Writes an unsigned integer exactly.
    mutating func integer(_ value: UInt64) {
        beginValue()
        writeDigits(value)
    }

    /// Writes an unsigned integer exactly, or `null` when there is none.
    mutating func integer(_ value: UInt64?) {
        if let value { integer(value) } else { null() }
    }

    /// Writes a signed integer exactly.
    mutating func integer(_ value: Int64) {
        beginValue()
        if value < 0 { bytes.append(0x2D) }  // -
        writeDigits(value.magnitude)
    }

    /// Writes a signed integer exactly.
    mutating func integer(_ value: Int) {
        integer(Int64(value))
    }

    /// Writes `true` or `false`.
    mutating func bool(_ value: Bool) {
        beginValue()
        appendASCII(value ? "true" : "false")
    }

    /// Writes `null`.
    mutating func null() {
        beginValue()
        appendASCII("null")
    }

    /// Writes a measurement (milliseconds, tokens per second) rounded half away from zero to 3
    /// decimal places, in its shortest plain form: `12.5`, `3`, `0.125`, `-0.001`; never an
    /// exponent. NaN and infinities, which JSON cannot hold, are written as `null`, and so is nil.
    ///
    /// Values of 10^12 or more (about 31 years in milliseconds) are written as whole numbers.
    mutating func number(_ value: Double?) {
        guard let value, value.isFinite else {
            null()
            return
        }
        beginValue()
        if value.magnitude < 1e12 {
            // Below 1e12, value × 1000 < 2^53, so the rounded thousandths are an exact integer.
            let thousandths = Int64((value * 1000).rounded(.toNearestOrAwayFromZero))
            writeScaledDecimal(thousandths.magnitude, negative: thousandths < 0, fractionDigits: 3)
        } else {
            writeWholeDouble(value.rounded(.toNearestOrAwayFromZero))
        }
    }

    /// Writes a Double exactly: the shortest decimal that reads back as the same Double
    /// (`0.01`, `1.02020202020202`, `1e-05`), for sketch states that must merge exactly; `null`
    /// for NaN and infinities.
    mutating func exactNumber(_ value: Double) {
        guard value.isFinite else {
            null()
            return
        }
        beginValue()
        let text = value == value.rounded() && value.magnitude < 1e15 ? String(Int64(value)) : "\(value)"
        for byte in text.utf8 { bytes.append(byte) }
    }

    /// Writes `numerator / denominator` rounded half up to 6 decimal places, computed with integers
    /// so that the figure does not depend on floating-point rounding (`success_rate`). Writes
    /// `null` when the denominator is 0.
    mutating func ratio(_ numerator: UInt64, _ denominator: UInt64) {
        guard denominator > 0 else {
            null()
            return
        }
        let scale: UInt64 = 1_000_000
        let product = scale.multipliedFullWidth(by: numerator)
        guard product.high < denominator else {
            // The quotient does not fit in 64 bits: only when the numerator exceeds the
            // denominator by a factor of about 10^13, which counts never do.
            number(Double(numerator) / Double(denominator))
            return
        }
        var (quotient, remainder) = denominator.dividingFullWidth(product)
        if remainder >= denominator - remainder { quotient += 1 }
        beginValue()
        writeScaledDecimal(quotient, negative: false, fractionDigits: 6)
    }

    /// Writes an amount held as integer nano-units (nano-dollars for `cost_usd`) as a JSON number
    /// with exactly its decimal value, built from the integer: 51006000 is `0.051006`,
    /// 12345678901 is `12.345678901`, -5 is `-0.000000005`, 0 is `0`.
    mutating func nanoDecimal(_ nanos: Int64) {
        beginValue()
        writeScaledDecimal(nanos.magnitude, negative: nanos < 0, fractionDigits: 9)
    }

    /// Writes a Unix time (whole seconds, UTC) as an RFC 3339 string, `2026-11-28T00:00:00Z`.
    /// Times before year 0 or after year 9999 are clamped to those years' ends.
    mutating func timestamp(epochSeconds: Int64) {
        beginValue()
        bytes.append(0x22)
        JSONWriter.appendRFC3339(epochSeconds: epochSeconds, to: &bytes)
        bytes.append(0x22)
    }

    /// Writes a Unix time as an RFC 3339 string, or `null` when there is none.
    mutating func timestamp(epochSeconds: Int64?) {
        if let epochSeconds { timestamp(epochSeconds: epochSeconds) } else { null() }
    }

    // MARK: Layout

    private var isCompact: Bool { depth >= compactDepth }

    private mutating func beginContainer(_ opener: UInt8, compact: Bool) {
        beginValue()
        bytes.append(opener)
        depth += 1
        if compact && compactDepth == Int.max { compactDepth = depth }
        containerHasMembers = false
    }

    private mutating func endContainer(_ closer: UInt8) {
        if containerHasMembers && !isCompact {
            bytes.append(0x0A)
            writeIndent(depth - 1)
        }
        bytes.append(closer)
        if depth == compactDepth { compactDepth = Int.max }
        depth -= 1
        // The container just closed is a member of the one around it.
        containerHasMembers = true
    }

    /// Called before every value: a value after a key follows it, any other value is a new member.
    private mutating func beginValue() {
        if afterKey {
            afterKey = false
        } else if depth > 0 {
            separateMember()
        }
    }

    private mutating func separateMember() {
        if isCompact {
            if containerHasMembers { appendASCII(", ") }
        } else {
            if containerHasMembers { bytes.append(0x2C) }
            bytes.append(0x0A)
            writeIndent(depth)
        }
        containerHasMembers = true
    }

    private mutating func writeIndent(_ level: Int) {
        bytes.append(contentsOf: repeatElement(0x20, count: 2 * level))
    }

    private mutating func appendASCII(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    // MARK: Strings

    /// Escapes `"` and `\`, writes `\n`, `\t`, `\r`, `\b`, `\f` for those controls and `\u00XX` for
    /// the other characters below U+0020, and `\u2028` / `\u2029` (valid JSON, but line ends in
    /// older JavaScript). Everything else is copied as UTF-8, in runs, without per-byte appends.
    private mutating func writeEscapedString(_ value: String) {
        // A native string's bytes are read in place: copying it to call `withUTF8` retained
        // and released its storage, an atomic write to a line of memory that, for a report's
        // hundreds of thousands of key names, is seldom in the cache.
        if value.utf8.withContiguousStorageIfAvailable({ writeEscaped($0) }) == nil {
            var value = value
            value.withUTF8 { writeEscaped($0) }
        }
    }

    private mutating func writeEscaped(_ utf8: UnsafeBufferPointer<UInt8>) {
        bytes.append(0x22)
        let count = utf8.count
        var runStart = 0
        var index = 0
        let base = UnsafeRawPointer(utf8.baseAddress)
        while index < count {
            // Eight plain bytes at a time (no quote, backslash, control or 0xE2, the lead
            // byte of U+2028 and U+2029): names and request ids rarely hold any other.
            if index &+ 8 <= count, let base {
                let word = UInt64(littleEndian: (base + index).loadUnaligned(as: UInt64.self))
                let lead = word ^ 0xE2E2_E2E2_E2E2_E2E2
                let leadBytes = (lead &- 0x0101_0101_0101_0101) & ~lead & 0x8080_8080_8080_8080
                if JSONText.specialStringBytes(word) | leadBytes == 0 {
                    index &+= 8
                    continue
                }
            }
            let byte = utf8[index]
            if byte >= 0x20 && byte != 0x22 && byte != 0x5C && byte != 0xE2 {
                index += 1
                continue
            }
            var escapeLength = 1
            var separator: UInt8 = 0  // the last hex digit of U+2028 / U+2029, when that is what this is
            if byte == 0xE2 {
                // U+2028 is E2 80 A8 and U+2029 is E2 80 A9; other E2 sequences are plain text.
                guard index + 2 < count, utf8[index + 1] == 0x80,
                    utf8[index + 2] == 0xA8 || utf8[index + 2] == 0xA9
                else {
                    index += 1
                    continue
                }
                escapeLength = 3
                separator = utf8[index + 2] == 0xA8 ? 0x38 : 0x39
            }
            if runStart < index {
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<index]))
            }
            if separator != 0 {
                appendASCII("\\u202")
                bytes.append(separator)
            } else {
                appendEscape(for: byte)
            }
            index += escapeLength
            runStart = index
        }
        if runStart < count {
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<count]))
        }
        bytes.append(0x22)
    }

    /// Appends `value` as an escaped, quoted string, outside of any layout: for `EscapedNames`.
    mutating func appendEscaped(_ value: String) {
        writeEscapedString(value)
    }

    private mutating func appendEscape(for byte: UInt8) {
        bytes.append(0x5C)  // backslash
        switch byte {
        case 0x22: bytes.append(0x22)
        case 0x5C: bytes.append(0x5C)
        case 0x0A: bytes.append(0x6E)  // n
        case 0x09: bytes.append(0x74)  // t
        case 0x0D: bytes.append(0x72)  // r
        case 0x08: bytes.append(0x62)  // b
        case 0x0C: bytes.append(0x66)  // f
        default:
            // Only bytes below 0x20 get here, so the first hex digit is 0 or 1.
            let low = byte & 0x0F
            let lowDigit = low < 10 ? 0x30 &+ low : 0x57 &+ low  // 0-9, a-f
            appendASCII("u00")
            bytes.append(0x30 &+ (byte >> 4))
            bytes.append(lowDigit)
        }
    }

    // MARK: Numbers

    private mutating func writeDigits(_ value: UInt64) {
        writeDigits(value, minimumCount: 1)
    }

    /// Writes `value` in decimal, with leading zeros up to `minimumCount` digits (at most 20).
    private mutating func writeDigits(_ value: UInt64, minimumCount: Int) {
        if value < 10 && minimumCount <= 1 {
            bytes.append(0x30 &+ UInt8(truncatingIfNeeded: value))
            return
        }
        writeText(capacity: 24) { $0.digits(value, minimumCount: minimumCount) }
    }

    /// Writes `magnitude / 10^fractionDigits` exactly, with no trailing zeros after the point and
    /// no point for a whole number; a zero is never written with a minus sign.
    private mutating func writeScaledDecimal(_ magnitude: UInt64, negative: Bool, fractionDigits: Int) {
        writeText(capacity: 48) { $0.scaledDecimal(magnitude, negative: negative, fractionDigits: fractionDigits) }
    }

    /// Appends what `body` writes into scratch memory on the stack, in one append.
    private mutating func writeText(capacity: Int, _ body: (inout RowText) -> Void) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: capacity) { scratch in
            var text = RowText(scratch)
            body(&text)
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: scratch[0..<text.count]))
        }
    }

    /// Writes more members of the compact array the caller has opened and already put a member
    /// in, as text that `body` writes itself (each value after `RowText.separator()`), in one
    /// append: how the numbers of a `series` row are written. At most `capacity` bytes.
    mutating func rawMembers(capacity: Int, _ body: (inout RowText) -> Void) {
        writeText(capacity: capacity, body)
        containerHasMembers = true
    }

    /// Writes a finite whole-valued double in plain digits, however large.
    private mutating func writeWholeDouble(_ value: Double) {
        if value.magnitude < 9.0e18 {
            let whole = Int64(value)
            if whole < 0 { bytes.append(0x2D) }
            writeDigits(whole.magnitude)
            return
        }
        // Swift prints large doubles as the shortest digits that read back to the same value, in
        // exponent form (`1.2345e+20`); moving the point gives the same number in plain form.
        let text = value.magnitude.description
        let parts = text.split(separator: "e")
        let exponent = parts.count > 1 ? Int(parts[1].drop { $0 == "+" }) ?? 0 : 0
        let mantissa = parts[0].split(separator: ".")
        let wholeDigits = Array(mantissa[0].utf8)
        var digits = wholeDigits + (mantissa.count > 1 ? Array(mantissa[1].utf8) : [])
        let pointPosition = wholeDigits.count + exponent
        if digits.count > pointPosition {
            digits.removeLast(digits.count - pointPosition)  // only zeros: the value is whole
        }
        if value < 0 { bytes.append(0x2D) }
        bytes.append(contentsOf: digits)
        bytes.append(contentsOf: repeatElement(0x30, count: pointPosition - digits.count))
    }

    // MARK: Time

    /// Formats a Unix time (whole seconds, UTC) as RFC 3339, `2026-11-28T00:00:00Z`.
    /// Times before year 0 or after year 9999 are clamped to those years' ends.
    public static func rfc3339(epochSeconds: Int64) -> String {
        var text: [UInt8] = []
        text.reserveCapacity(20)
        appendRFC3339(epochSeconds: epochSeconds, to: &text)
        return String(decoding: text, as: UTF8.self)
    }

    /// 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z as Unix times.
    private static let earliestTimestamp: Int64 = -62_167_219_200
    private static let latestTimestamp: Int64 = 253_402_300_799

    private static func appendRFC3339(epochSeconds: Int64, to text: inout [UInt8]) {
        let seconds = min(max(epochSeconds, earliestTimestamp), latestTimestamp)
        var days = seconds / 86_400
        var secondOfDay = seconds % 86_400
        if secondOfDay < 0 {
            secondOfDay += 86_400
            days -= 1
        }
        let (year, month, day) = civilDate(daysSinceEpoch: days)
        appendPadded(year, width: 4, to: &text)
        text.append(0x2D)
        appendPadded(month, width: 2, to: &text)
        text.append(0x2D)
        appendPadded(day, width: 2, to: &text)
        text.append(0x54)  // T
        appendPadded(secondOfDay / 3600, width: 2, to: &text)
        text.append(0x3A)
        appendPadded(secondOfDay / 60 % 60, width: 2, to: &text)
        text.append(0x3A)
        appendPadded(secondOfDay % 60, width: 2, to: &text)
        text.append(0x5A)  // Z
    }

    /// The proleptic Gregorian date of a day counted from 1970-01-01 (`CivilCalendar`).
    static func civilDate(daysSinceEpoch: Int64) -> (year: Int64, month: Int64, day: Int64) {
        CivilCalendar.date(fromDays: daysSinceEpoch)
    }

    private static func appendPadded(_ value: Int64, width: Int, to text: inout [UInt8]) {
        var divisor: Int64 = 1
        for _ in 1..<width { divisor *= 10 }
        var rest = value
        while divisor > 0 {
            text.append(0x30 &+ UInt8(truncatingIfNeeded: rest / divisor % 10))
            rest %= divisor
            divisor /= 10
        }
    }
}

/// JSON text written into scratch memory: numbers, written from their digits, for the rows that
/// a bucket file holds by the hundred thousand. Its capacity is the caller's to size.
struct RowText {
    private let scratch: UnsafeMutableBufferPointer<UInt8>
    private(set) var count = 0

    init(_ scratch: UnsafeMutableBufferPointer<UInt8>) { self.scratch = scratch }

    /// `, ` between two members of a compact container.
    @inline(__always)
    mutating func separator() {
        scratch[count] = 0x2C
        scratch[count + 1] = 0x20
        count += 2
    }

    /// `value` in decimal, with leading zeros up to `minimumCount` digits (at most 20).
    mutating func digits(_ value: UInt64, minimumCount: Int = 1) {
        var width = 1
        var power: UInt64 = 10
        while width < 20 && value >= power {
            width += 1
            power = width < 20 ? power &* 10 : power
        }
        width = max(width, min(minimumCount, 20))
        // Two digits at a time, from the last.
        var position = count + width
        var rest = value
        while rest >= 100 {
            let pair = rest % 100
            rest /= 100
            position -= 2
            scratch[position] = 0x30 &+ UInt8(truncatingIfNeeded: pair / 10)
            scratch[position + 1] = 0x30 &+ UInt8(truncatingIfNeeded: pair % 10)
        }
        if rest >= 10 {
            position -= 2
            scratch[position] = 0x30 &+ UInt8(truncatingIfNeeded: rest / 10)
            scratch[position + 1] = 0x30 &+ UInt8(truncatingIfNeeded: rest % 10)
        } else {
            position -= 1
            scratch[position] = 0x30 &+ UInt8(truncatingIfNeeded: rest)
        }
        while position > count {
            position -= 1
            scratch[position] = 0x30
        }
        count += width
    }

    /// `magnitude / 10^fractionDigits` exactly, with no trailing zeros after the point and no
    /// point for a whole number; a zero is never written with a minus sign.
    mutating func scaledDecimal(_ magnitude: UInt64, negative: Bool, fractionDigits: Int) {
        var divisor: UInt64 = 1
        for _ in 0..<fractionDigits { divisor *= 10 }
        if negative && magnitude != 0 {
            scratch[count] = 0x2D  // -
            count += 1
        }
        digits(magnitude / divisor)
        var fraction = magnitude % divisor
        guard fraction != 0 else { return }
        var places = fractionDigits
        while fraction % 10 == 0 {
            fraction /= 10
            places -= 1
        }
        scratch[count] = 0x2E  // .
        count += 1
        digits(fraction, minimumCount: places)
    }
}

/// Names escaped once as JSON strings, quotes included, for the rows of a report that repeat
/// them: every `series` row names a model and a provider, out of a handful.
final class EscapedNames {
    private let text: UnsafeMutableRawBufferPointer
    /// Where name `i` starts in `text`; it ends where `i + 1` starts.
    private let starts: UnsafeMutableBufferPointer<Int>

    init(_ names: [String]) {
        var json = JSONWriter(capacity: names.count * 24)
        starts = .allocate(capacity: names.count + 1)
        starts[0] = 0
        for (index, name) in names.enumerated() {
            json.appendEscaped(name)
            starts[index + 1] = json.bytes.count
        }
        text = .allocate(byteCount: max(json.bytes.count, 1), alignment: 1)
        json.bytes.withUnsafeBytes { text.copyMemory(from: $0) }
    }

    deinit {
        text.deallocate()
        starts.deallocate()
    }

    /// Name `index`, escaped and quoted.
    subscript(index: Int32) -> UnsafeRawBufferPointer {
        let start = starts[Int(index)]
        return UnsafeRawBufferPointer(rebasing: text[start..<starts[Int(index) + 1]])
    }
}
