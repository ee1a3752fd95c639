import TokentallySystem
/// Turns one log line into a `GatewayRecord` according to a `FieldMapping`, or says why not.
///
/// The mapping is compiled once into scanner slots; parsing a line is one pass of the scanner
/// plus a few conversions of the watched values. Strings are decoded only when they hold
/// escapes, into buffers reused from line to line, so the common path allocates nothing.
public final class RecordParser {
    public let mapping: FieldMapping
    private let scanner: JSONFieldScanner

    /// Where one canonical field's value comes from, compiled to scanner slots: plain values,
    /// so that reading it on the hot path copies no enum payload and touches no reference count.
    /// A `.first` source lists its alternatives, each a source of one of the other kinds, as a
    /// range of `alternatives`.
    private struct CompiledSource {
        enum Kind { case none, slot, sum, difference, first }
        var kind = Kind.none
        /// The slot of `.slot`, or the end time of `.difference`.
        var slot = -1
        /// The start time of `.difference`.
        var startSlot = -1
        var unit = TimeUnit.milliseconds
        /// The slots of `.sum`, as a range of `sumSlots`; the alternatives of `.first`.
        var sumRange = 0..<0
    }
    private let sources: [CompiledSource]
    private let alternatives: [CompiledSource]
    private let sumSlots: [Int]
    @exclusivity(unchecked) private var ttftConditionSlot: Int = -1
    @exclusivity(unchecked) private var successIntegers: [ClosedRange<Int64>] = []
    @exclusivity(unchecked) private var successBools: (whenTrue: Bool, whenFalse: Bool) = (false, false)
    @exclusivity(unchecked) private var successStrings: [[UInt8]] = []
    /// Per field (by ordinal): text used when the record has no value (`FieldMapping.defaults`;
    /// the key's placeholder), as bytes that live as long as the parser.
    private let defaultText: [[UInt8]?]
    /// Milliseconds in one of each duration field's units; the time unit of `ts` numbers (nil:
    /// the seconds-or-milliseconds rule); the power of ten that turns the cost into dollars.
    private let durationScale: [Double]
    private let timestampUnit: TimeUnit?
    private let costPowerOfTen: Int
    private let ttftAtLatencyIsAbsent: Bool
    /// `FieldMapping.absentValues`, as bytes; empty for most formats (then nothing is compared).
    private let absentValues: [[UInt8]]
    /// The zone of timestamps without an offset; nil for UTC.
    private let naiveZone: NaiveTimeZone?

    // Decoding buffers for strings with escapes, one per kept string field.
    @exclusivity(unchecked) private var apiKeyBuffer: [UInt8] = []
    @exclusivity(unchecked) private var modelBuffer: [UInt8] = []
    @exclusivity(unchecked) private var providerBuffer: [UInt8] = []
    @exclusivity(unchecked) private var requestIDBuffer: [UInt8] = []
    @exclusivity(unchecked) private var scratch: [UInt8] = []
    @exclusivity(unchecked) private var line = UnsafeRawBufferPointer(start: nil, count: 0)

    /// The record of the last line that `parse` accepted.
    @exclusivity(unchecked) public private(set) var record = GatewayRecord()

    /// Records dated after this (Unix seconds) are rejected as `future_timestamp`: the daemon
    /// sets it to its wall clock plus `limits.max_future_seconds` as time goes by, so that one
    /// line from the year 2100 cannot count in a bucket no real line reaches. Infinity (the
    /// default, and `replay`'s: docs/log-format.md) checks nothing.
    @exclusivity(unchecked) public var notAfterEpochSeconds: Double = .infinity

    /// - Parameter naiveTimezone: the zone of timestamps written without an offset, overriding the
    ///   mapping's (an input's `naive_timezone`); it must be a zone the system knows (validated
    ///   with the configuration), else UTC is used.
    public init(mapping: FieldMapping, maxDepth: Int = 512, naiveTimezone: String? = nil) {
        self.mapping = mapping
        var paths: [FieldPath] = []
        func slot(_ path: FieldPath) -> Int {
            if let existing = paths.firstIndex(of: path) { return existing }
            paths.append(path)
            return paths.count - 1
        }
        var sumSlots: [Int] = []
        var alternatives: [CompiledSource] = []
        func compile(_ source: FieldSource) -> CompiledSource {
            var compiled = CompiledSource()
            switch source {
            case .path(let path):
                compiled.kind = .slot
                compiled.slot = slot(path)
            case .sum(let parts):
                compiled.kind = .sum
                let first = sumSlots.count
                sumSlots.append(contentsOf: parts.map(slot))
                compiled.sumRange = first..<sumSlots.count
            case .difference(let end, let start, let unit):
                compiled.kind = .difference
                compiled.slot = slot(end)
                compiled.startSlot = slot(start)
                compiled.unit = unit
            case .firstOf(let options):
                // Nested alternatives are flattened: the first present of all of them.
                let flat = options.flatMap { option -> [FieldSource] in
                    if case .firstOf(let inner) = option { return inner }
                    return [option]
                }
                let terms = flat.map(compile)
                compiled.kind = .first
                let first = alternatives.count
                alternatives.append(contentsOf: terms)
                compiled.sumRange = first..<alternatives.count
            }
            return compiled
        }
        var compiled = [CompiledSource](repeating: CompiledSource(), count: CanonicalField.allCases.count)
        var defaults = [[UInt8]?](repeating: nil, count: CanonicalField.allCases.count)
        var scales = [Double](repeating: 1, count: CanonicalField.allCases.count)
        for field in CanonicalField.allCases {
            if let source = mapping.sources[field] { compiled[field.ordinal] = compile(source) }
            if let text = mapping.defaults[field] { defaults[field.ordinal] = Array(text.utf8) }
            if case .time(let unit)? = mapping.units[field] { scales[field.ordinal] = unit.seconds * 1000 }
        }
        if defaults[CanonicalField.apiKey.ordinal] == nil {
            defaults[CanonicalField.apiKey.ordinal] = Array(CanonicalField.noKeyPlaceholder.utf8)
        }
        if let condition = mapping.ttftOnlyWhen { ttftConditionSlot = slot(condition) }
        self.sources = compiled
        self.alternatives = alternatives
        self.sumSlots = sumSlots
        self.defaultText = defaults
        self.durationScale = scales
        if case .time(let unit)? = mapping.units[.ts] { timestampUnit = unit } else { timestampUnit = nil }
        if case .cost(let unit)? = mapping.units[.costUSD] {
            costPowerOfTen = unit.powerOfTen
        } else {
            costPowerOfTen = 0
        }
        self.ttftAtLatencyIsAbsent = mapping.ttftAtLatencyIsAbsent
        self.absentValues = mapping.absentValues.map { Array($0.utf8) }
        let zone = NaiveTimeZone(identifier: naiveTimezone ?? mapping.naiveTimezone)
        self.naiveZone = zone?.isUTC == false ? zone : nil
        self.scanner = JSONFieldScanner(paths: paths, maxDepth: maxDepth)
        for value in mapping.successValues {
            switch value {
            case .integer(let v): successIntegers.append(v...v)
            case .integerRange(let range): successIntegers.append(range)
            case .bool(true): successBools.whenTrue = true
            case .bool(false): successBools.whenFalse = true
            case .string(let s): successStrings.append(Array(s.utf8))
            }
        }
    }

    /// What `parse` made of a line.
    public enum Outcome {
        /// The line is a record: see `record`.
        case accepted
        /// The line is empty (or only whitespace): skipped, not rejected.
        case empty
        case rejected(Rejection)
    }

    /// Parses one line (without its newline). On `.accepted`, `record` holds the result; its
    /// strings are valid until the next call.
    public func parse(_ line: UnsafeRawBufferPointer) -> Outcome {
        switch scanner.scan(line) {
        case .empty: return .empty
        case .rejected(let reason): return .rejected(Rejection(reason))
        case .object: break
        }
        self.line = line
        do {
            record = try buildRecord()
        } catch {
            return .rejected(error)
        }
        return .accepted
    }

    // MARK: - Building the record

    @inline(__always)
    private func source(_ field: CanonicalField) -> CompiledSource { sources[field.ordinal] }

    private func buildRecord() throws(Rejection) -> GatewayRecord {
        var r = GatewayRecord()
        r.epochSeconds = try timestamp()
        if r.epochSeconds > notAfterEpochSeconds { throw Rejection(.futureTimestamp, field: .ts) }

        // The three dimensions: a missing key is counted under its placeholder, never rejected.
        try keptString(.apiKey, buffer: &apiKeyBuffer, into: &r.apiKey, required: true)
        try keptString(.model, buffer: &modelBuffer, into: &r.model, required: true)
        try keptString(.provider, buffer: &providerBuffer, into: &r.provider, required: true)
        try keptString(.requestID, buffer: &requestIDBuffer, into: &r.requestID, required: false)

        r.succeeded = try success()

        r.inputTokens = try tokens(.inputTokens)
        r.outputTokens = try tokens(.outputTokens)
        r.cachedTokens = try tokens(.cachedTokens)
        r.cacheWriteTokens = try tokens(.cacheWriteTokens)
        r.reasoningTokens = try tokens(.reasoningTokens)
        r.webSearchCalls = try tokens(.webSearchCalls)

        // Durations; negative ones (clock skew between start and end) are dropped, not fatal.
        r.latencyMs = try duration(.latencyMs)
        if ttftConditionSlot < 0 || scanner.values[ttftConditionSlot].kind == .trueLiteral {
            r.ttftMs = try duration(.ttftMs)
            // A gateway that saw no first token may write the end as its time (LiteLLM).
            if ttftAtLatencyIsAbsent && r.ttftMs >= r.latencyMs { r.ttftMs = .nan }
        }
        r.generationMs = try duration(.generationMs)
        if r.generationMs.isNaN {
            r.generationMs = r.ttftMs.isNaN ? r.latencyMs : r.latencyMs - r.ttftMs
            if r.generationMs < 0 { r.generationMs = .nan }
        }

        r.costNanoUSD = try cost()
        return r
    }

    // MARK: Presence and alternatives

    /// Whether a scanned value stands for "no value": absent, null, or one of the format's
    /// `absent_values` (Envoy writes `"-"`).
    @inline(__always)
    private func isAbsent(_ value: ScannedValue) -> Bool {
        switch value.kind {
        case .absent, .null: return true
        case .string: return !absentValues.isEmpty && isAbsentText(value)
        default: return false
        }
    }

    private func isAbsentText(_ value: ScannedValue) -> Bool {
        let text = bytes(value)
        return absentValues.contains { $0.elementsEqual(text) }
    }

    /// Whether an alternative has a value: a path with a value that is not absent and not `""`,
    /// a sum with any part present, a difference with both ends present.
    private func isPresent(_ term: CompiledSource) -> Bool {
        func present(_ slot: Int) -> Bool {
            let value = scanner.values[slot]
            return !isAbsent(value) && !(value.kind == .string && value.start == value.end)
        }
        switch term.kind {
        case .none, .first: return false
        case .slot: return present(term.slot)
        case .sum: return term.sumRange.contains { present(sumSlots[$0]) }
        case .difference: return present(term.slot) && present(term.startSlot)
        }
    }

    /// The source itself, or for alternatives the first present one (or the last, when none is,
    /// so that the field reads as absent).
    @inline(__always)
    private func resolved(_ source: CompiledSource) -> CompiledSource {
        guard source.kind == .first else { return source }
        for index in source.sumRange where isPresent(alternatives[index]) { return alternatives[index] }
        return CompiledSource()
    }

    /// Required: the time.
    private func timestamp() throws(Rejection) -> Double {
        let source = resolved(source(.ts))
        guard source.kind == .slot else { throw Rejection(.missingField, field: .ts) }
        let value = scanner.values[source.slot]
        if isAbsent(value) { throw Rejection(.missingField, field: .ts) }
        switch value.kind {
        case .string:
            let zone = naiveZone
            guard let seconds = withText(value, { Timestamp.parse(text: $0, naiveZone: zone) }) ?? nil else {
                throw Rejection(.invalidTimestamp, field: .ts)
            }
            return seconds
        case .number:
            guard let number = DecimalNumber.parse(bytes(value)) else { throw Rejection(.invalidTimestamp, field: .ts) }
            let seconds =
                timestampUnit.map { Timestamp.fromEpochNumber(number.doubleValue(), unit: $0) }
                ?? Timestamp.fromEpochNumber(number.doubleValue())
            guard let seconds else { throw Rejection(.invalidTimestamp, field: .ts) }
            return seconds
        default:
            throw Rejection(.wrongType, field: .ts)
        }
    }

    @inline(__always)
    private func bytes(_ value: ScannedValue) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: line[value.start..<value.end])
    }

    /// Calls `body` with the decoded contents of a string value.
    @inline(__always)
    private func withText<T>(_ value: ScannedValue, _ body: (UnsafeRawBufferPointer) -> T) -> T? {
        if !value.hasEscapes { return body(bytes(value)) }
        guard JSONText.unescape(bytes(value), into: &scratch) else { return nil }
        return scratch.withUnsafeBytes(body)
    }

    private func keptString(
        _ field: CanonicalField, buffer: inout [UInt8], into target: inout UnsafeRawBufferPointer, required: Bool
    ) throws(Rejection) {
        let source = resolved(source(field))
        guard source.kind == .slot else { return try missingString(field, into: &target, required: required) }
        let value = scanner.values[source.slot]
        if isAbsent(value) { return try missingString(field, into: &target, required: required) }
        switch value.kind {
        case .string:
            var text = bytes(value)
            if value.hasEscapes {
                guard JSONText.unescape(text, into: &buffer) else { throw Rejection(.invalidUTF8, field: field) }
                // The buffer is a stored property; its storage outlives this line's use.
                text = buffer.withUnsafeBytes { $0 }
            }
            if text.isEmpty { return try missingString(field, into: &target, required: required) }
            guard JSONText.isValidUTF8(text) else { throw Rejection(.invalidUTF8, field: field) }
            target = text
        case .number where field == .requestID:
            target = bytes(value)
        default:
            if required { throw Rejection(.wrongType, field: field) }
        }
    }

    /// A kept string the record lacks: its default when the format has one (the key always has
    /// its placeholder), else rejected when required.
    private func missingString(
        _ field: CanonicalField, into target: inout UnsafeRawBufferPointer, required: Bool
    ) throws(Rejection) {
        if let text = defaultText[field.ordinal] {
            // The array is a stored, immutable property: its storage lives as long as the parser.
            target = text.withUnsafeBytes { $0 }
            return
        }
        if required { throw Rejection(.missingField, field: field) }
    }

    private func success() throws(Rejection) -> Bool {
        let source = resolved(source(.status))
        guard source.kind == .slot else { return mapping.successWhenStatusAbsent }
        let value = scanner.values[source.slot]
        if isAbsent(value) { return mapping.successWhenStatusAbsent }
        switch value.kind {
        case .absent, .null:
            return mapping.successWhenStatusAbsent
        case .trueLiteral:
            return successBools.whenTrue
        case .falseLiteral:
            return successBools.whenFalse
        case .number:
            return integerIsSuccess(bytes(value))
        case .string:
            let outcome: Bool? = withText(value) { text in
                if !text.isEmpty && text.allSatisfy({ $0 &- UInt8(ascii: "0") < 10 }) {
                    return integerIsSuccess(text)
                }
                return successStrings.contains { $0.elementsEqual(text) }
            }
            return outcome ?? false
        case .object, .array:
            throw Rejection(.wrongType, field: .status)
        }
    }

    private func integerIsSuccess(_ text: UnsafeRawBufferPointer) -> Bool {
        // Fast path: digits only, without a leading zero (which strict JSON grammar refuses).
        if text.count <= 18, text.count == 1 || text.first != UInt8(ascii: "0"), let status = Self.plainDigits(text) {
            return successIntegers.contains { $0.contains(Int64(status)) }
        }
        guard let number = DecimalNumber.parse(text), case .value(let v) = number.wholeNumber(), v <= Int64.max else {
            return false
        }
        return successIntegers.contains { $0.contains(Int64(v)) }
    }

    /// A numeric value from a number or a numeric string; nil if absent or null.
    private func number(_ slot: Int, _ field: CanonicalField) throws(Rejection) -> DecimalNumber? {
        let value = scanner.values[slot]
        if isAbsent(value) { return nil }
        switch value.kind {
        case .number:
            guard let number = DecimalNumber.parse(bytes(value)) else { throw Rejection(.invalidJSON, field: field) }
            return number
        case .string:
            guard let number = withText(value, { DecimalNumber.parse($0) }) ?? nil else {
                throw Rejection(.wrongType, field: field)
            }
            return number
        default:
            throw Rejection(.wrongType, field: field)
        }
    }

    /// A token count at `slot`: nil if absent or null.
    @inline(__always)
    private func wholeNumber(_ slot: Int, _ field: CanonicalField) throws(Rejection) -> UInt64? {
        let value = scanner.values[slot]
        // Fast path: a plain JSON integer of at most 19 digits. The scanner validated its
        // grammar, so it has no sign, no fraction, no exponent and no leading zero.
        if value.kind == .number, value.end - value.start <= 19, let whole = Self.plainDigits(bytes(value)) {
            return whole
        }
        guard let number = try number(slot, field) else { return nil }
        switch number.wholeNumber() {
        case .value(let v): return v
        case .negative, .fractional: throw Rejection(.invalidTokenCount, field: field)
        case .tooLarge: throw Rejection(.numberOutOfRange, field: field)
        }
    }

    /// 10^(9 − k): the nano-dollars of one unit in the k-th decimal place.
    private static let nanoScale: [Int64] = [
        1_000_000_000, 100_000_000, 10_000_000, 1_000_000, 100_000, 10_000, 1_000, 100, 10, 1,
    ]

    /// The value of text made only of decimal digits (at most 19 of them), or nil.
    @inline(__always)
    private static func plainDigits(_ text: UnsafeRawBufferPointer) -> UInt64? {
        var value: UInt64 = 0
        for byte in text {
            let digit = byte &- UInt8(ascii: "0")
            guard digit < 10 else { return nil }
            value = value &* 10 &+ UInt64(digit)
        }
        return value
    }

    private func tokens(_ field: CanonicalField) throws(Rejection) -> UInt64 {
        let source = resolved(source(field))
        switch source.kind {
        case .none, .difference, .first:
            return 0
        case .slot:
            return try wholeNumber(source.slot, field) ?? 0
        case .sum:
            var total: UInt64 = 0
            for index in source.sumRange {
                let (sum, overflow) = total.addingReportingOverflow(try wholeNumber(sumSlots[index], field) ?? 0)
                if overflow { throw Rejection(.numberOutOfRange, field: field) }
                total = sum
            }
            return total
        }
    }

    private func real(_ slot: Int, _ field: CanonicalField) throws(Rejection) -> Double? {
        let value = scanner.values[slot]
        // Fast path: a JSON number such as `2739.196`, exactly `significand / 10^k` (Clinger's
        // fast path), which `DecimalNumber.doubleValue` would also give.
        if value.kind == .number, let plain = Self.plainDecimal(bytes(value)) {
            return Double(plain.significand) / DecimalNumber.exactPowersOfTen[plain.fractionDigits]
        }
        return try number(slot, field)?.doubleValue()
    }

    /// The digits of a JSON number made only of digits and at most one dot (no sign, no
    /// exponent), with at most 15 digits in all so that the significand is exact in a Double.
    @inline(__always)
    private static func plainDecimal(_ text: UnsafeRawBufferPointer) -> (significand: UInt64, fractionDigits: Int)? {
        guard text.count <= 16 else { return nil }
        var significand: UInt64 = 0
        var digits = 0
        var dot = -1
        for (index, byte) in text.enumerated() {
            let digit = byte &- UInt8(ascii: "0")
            if digit < 10 {
                significand = significand &* 10 &+ UInt64(digit)
                digits += 1
            } else if byte == UInt8(ascii: ".") && dot < 0 {
                dot = index
            } else {
                return nil
            }
        }
        guard digits <= 15 else { return nil }
        return (significand, dot < 0 ? 0 : text.count - dot - 1)
    }

    /// A time for a difference, in the difference's unit: a number as written, or a timestamp
    /// string converted to that unit. Subtracting before scaling keeps microsecond precision.
    private func time(_ slot: Int, unit: TimeUnit, _ field: CanonicalField) throws(Rejection) -> Double? {
        let value = scanner.values[slot]
        if value.kind == .string, !isAbsent(value) {
            let zone = naiveZone
            if let seconds = withText(value, { Timestamp.parse(text: $0, naiveZone: zone) }) ?? nil {
                return unit == .seconds ? seconds : seconds / unit.seconds
            }
        }
        return try real(slot, field)
    }

    private func duration(_ field: CanonicalField) throws(Rejection) -> Double {
        let source = resolved(source(field))
        let result: Double?
        switch source.kind {
        case .none, .first:
            return .nan
        case .slot:
            let scale = durationScale[field.ordinal]
            result = try real(source.slot, field).map { $0 * scale }
        case .sum:
            let scale = durationScale[field.ordinal]
            var total: Double? = nil
            for index in source.sumRange {
                if let v = try real(sumSlots[index], field) { total = (total ?? 0) + v * scale }
            }
            result = total
        case .difference:
            let end = try time(source.slot, unit: source.unit, field)
            let start = try time(source.startSlot, unit: source.unit, field)
            if let end, let start {
                result = source.unit == .milliseconds ? end - start : (end - start) * source.unit.seconds * 1000
            } else {
                result = nil
            }
        }
        guard let v = result, v.isFinite, v >= 0 else { return .nan }
        return v
    }

    private func cost() throws(Rejection) -> Int64 {
        let source = resolved(source(.costUSD))
        switch source.kind {
        case .none, .difference, .first:
            return 0
        case .slot:
            return try nanoUSD(source.slot, adding: 0)
        case .sum:
            var total: Int64 = 0
            for index in source.sumRange { total = try nanoUSD(sumSlots[index], adding: total) }
            return total
        }
    }

    /// `total` plus the cost at `slot` in nano-dollars (nothing when it is absent).
    @inline(__always)
    private func nanoUSD(_ slot: Int, adding total: Int64) throws(Rejection) -> Int64 {
        // Fast path: a JSON number in dollars with at most nine decimals is a whole number of
        // nano-dollars.
        let value = scanner.values[slot]
        if costPowerOfTen == 0, value.kind == .number, let plain = Self.plainDecimal(bytes(value)),
            plain.fractionDigits <= 9
        {
            let (nanos, tooLarge) = Int64(plain.significand).multipliedReportingOverflow(
                by: Self.nanoScale[plain.fractionDigits])
            let (sum, overflow) = total.addingReportingOverflow(nanos)
            if !tooLarge && !overflow { return sum }
        }
        guard let number = try number(slot, .costUSD) else { return total }
        guard let nanos = number.shifted(byPowerOfTen: costPowerOfTen).nanoUnits() else {
            throw Rejection(.numberOutOfRange, field: .costUSD)
        }
        let (sum, overflow) = total.addingReportingOverflow(nanos)
        if overflow { throw Rejection(.numberOutOfRange, field: .costUSD) }
        return sum
    }
}

extension CanonicalField {
    /// The field's position in `allCases`, without searching.
    @inline(__always)
    var ordinal: Int {
        switch self {
        case .ts: 0
        case .requestID: 1
        case .apiKey: 2
        case .model: 3
        case .provider: 4
        case .status: 5
        case .inputTokens: 6
        case .outputTokens: 7
        case .cachedTokens: 8
        case .cacheWriteTokens: 9
        case .reasoningTokens: 10
        case .webSearchCalls: 11
        case .latencyMs: 12
        case .ttftMs: 13
        case .generationMs: 14
        case .costUSD: 15
        }
    }
}
