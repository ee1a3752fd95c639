/// Turns one log line into a `GatewayRecord` according to a `FieldMapping`, or says why not.
///
/// The mapping is compiled once into scanner slots; parsing a line is one pass of the scanner
/// plus a few conversions of the watched values. Strings are decoded only when they hold
/// escapes, into buffers reused from line to line, so the common path allocates nothing.
public final class RecordParser {
    public let mapping: FieldMapping
    private let scanner: JSONFieldScanner

    private enum Source {
        case none
        case slot(Int)
        case sum([Int])
        case difference(end: Int, start: Int, unit: TimeUnit)
    }
    private var sources: [Source]
    private var ttftConditionSlot: Int = -1
    private var successIntegers: [ClosedRange<Int64>] = []
    private var successBools: (whenTrue: Bool, whenFalse: Bool) = (false, false)
    private var successStrings: [[UInt8]] = []

    // Decoding buffers for strings with escapes, one per kept string field.
    private var apiKeyBuffer: [UInt8] = []
    private var modelBuffer: [UInt8] = []
    private var providerBuffer: [UInt8] = []
    private var requestIDBuffer: [UInt8] = []
    private var scratch: [UInt8] = []
    private var line = UnsafeRawBufferPointer(start: nil, count: 0)

    /// The record of the last line that `parse` accepted.
    public private(set) var record = GatewayRecord()

    public init(mapping: FieldMapping, maxDepth: Int = 512) {
        self.mapping = mapping
        var paths: [FieldPath] = []
        func slot(_ path: FieldPath) -> Int {
            if let existing = paths.firstIndex(of: path) { return existing }
            paths.append(path)
            return paths.count - 1
        }
        var compiled = [Source](repeating: .none, count: CanonicalField.allCases.count)
        for field in CanonicalField.allCases {
            let index = field.ordinal
            switch mapping.sources[field] {
            case nil: compiled[index] = .none
            case .path(let path): compiled[index] = .slot(slot(path))
            case .sum(let parts): compiled[index] = .sum(parts.map(slot))
            case .difference(let end, let start, let unit):
                compiled[index] = .difference(end: slot(end), start: slot(start), unit: unit)
            }
        }
        if let condition = mapping.ttftOnlyWhen { ttftConditionSlot = slot(condition) }
        self.sources = compiled
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

    /// Parses one line (without its newline). Returns nil when the line was accepted (see
    /// `record`), `.empty` lines are reported as a nil record and `isEmpty`.
    public enum Outcome {
        case accepted
        case empty
        case rejected(Rejection)
    }

    public func parse(_ line: UnsafeRawBufferPointer) -> Outcome {
        switch scanner.scan(line) {
        case .empty: return .empty
        case .rejected(let reason): return .rejected(Rejection(reason))
        case .object: break
        }
        self.line = line
        if let rejection = buildRecord() { return .rejected(rejection) }
        return .accepted
    }

    // MARK: - Building the record

    @inline(__always)
    private func source(_ field: CanonicalField) -> Source { sources[field.ordinal] }

    private func buildRecord() -> Rejection? {
        var r = GatewayRecord()

        // Required: the time.
        switch source(.ts) {
        case .slot(let slot):
            let value = scanner.values[slot]
            switch value.kind {
            case .absent, .null: return Rejection(.missingField, field: .ts)
            case .string:
                guard let seconds = withText(value, { Timestamp.parse(text: $0) }) ?? nil else {
                    return Rejection(.invalidTimestamp, field: .ts)
                }
                r.epochSeconds = seconds
            case .number:
                guard let number = bytes(value).flatMap({ DecimalNumber.parse($0) }),
                    let seconds = Timestamp.fromEpochNumber(number.doubleValue())
                else { return Rejection(.invalidTimestamp, field: .ts) }
                r.epochSeconds = seconds
            default: return Rejection(.wrongType, field: .ts)
            }
        default:
            return Rejection(.missingField, field: .ts)
        }

        // Required: the three dimensions.
        if let rejection = keptString(.apiKey, buffer: &apiKeyBuffer, into: &r.apiKey, required: true) {
            return rejection
        }
        if let rejection = keptString(.model, buffer: &modelBuffer, into: &r.model, required: true) {
            return rejection
        }
        if let rejection = keptString(.provider, buffer: &providerBuffer, into: &r.provider, required: true) {
            return rejection
        }
        if let rejection = keptString(.requestID, buffer: &requestIDBuffer, into: &r.requestID, required: false) {
            return rejection
        }

        // Status.
        switch success() {
        case .failure(let rejection): return rejection
        case .success(let succeeded): r.succeeded = succeeded
        }

        // Token counts.
        switch tokens(.inputTokens) {
        case .failure(let rejection): return rejection
        case .success(let v): r.inputTokens = v
        }
        switch tokens(.outputTokens) {
        case .failure(let rejection): return rejection
        case .success(let v): r.outputTokens = v
        }
        switch tokens(.cachedTokens) {
        case .failure(let rejection): return rejection
        case .success(let v): r.cachedTokens = v
        }
        switch tokens(.cacheWriteTokens) {
        case .failure(let rejection): return rejection
        case .success(let v): r.cacheWriteTokens = v
        }
        switch tokens(.reasoningTokens) {
        case .failure(let rejection): return rejection
        case .success(let v): r.reasoningTokens = v
        }
        switch tokens(.webSearchCalls) {
        case .failure(let rejection): return rejection
        case .success(let v): r.webSearchCalls = v
        }

        // Durations; negative ones (clock skew between start and end) are dropped, not fatal.
        switch duration(.latencyMs) {
        case .failure(let rejection): return rejection
        case .success(let v): r.latencyMs = v
        }
        if ttftConditionSlot < 0 || scanner.values[ttftConditionSlot].kind == .trueLiteral {
            switch duration(.ttftMs) {
            case .failure(let rejection): return rejection
            case .success(let v): r.ttftMs = v
            }
        }
        switch duration(.generationMs) {
        case .failure(let rejection): return rejection
        case .success(let v): r.generationMs = v
        }
        if r.generationMs.isNaN {
            r.generationMs = r.ttftMs.isNaN ? r.latencyMs : r.latencyMs - r.ttftMs
            if r.generationMs < 0 { r.generationMs = .nan }
        }

        // Cost.
        switch cost() {
        case .failure(let rejection): return rejection
        case .success(let v): r.costNanoUSD = v
        }

        record = r
        return nil
    }

    @inline(__always)
    private func bytes(_ value: ScannedValue) -> UnsafeRawBufferPointer? {
        UnsafeRawBufferPointer(rebasing: line[value.start..<value.end])
    }

    /// Calls `body` with the decoded contents of a string value.
    @inline(__always)
    private func withText<T>(_ value: ScannedValue, _ body: (UnsafeRawBufferPointer) -> T) -> T? {
        if !value.hasEscapes { return body(UnsafeRawBufferPointer(rebasing: line[value.start..<value.end])) }
        guard JSONText.unescape(UnsafeRawBufferPointer(rebasing: line[value.start..<value.end]), into: &scratch)
        else { return nil }
        return scratch.withUnsafeBytes(body)
    }

    private func keptString(
        _ field: CanonicalField, buffer: inout [UInt8], into target: inout UnsafeRawBufferPointer, required: Bool
    ) -> Rejection? {
        guard case .slot(let slot) = source(field) else {
            return required ? Rejection(.missingField, field: field) : nil
        }
        let value = scanner.values[slot]
        switch value.kind {
        case .string:
            var text = UnsafeRawBufferPointer(rebasing: line[value.start..<value.end])
            if value.hasEscapes {
                guard JSONText.unescape(text, into: &buffer) else { return Rejection(.invalidUTF8, field: field) }
                // The buffer is a stored property; its storage outlives this line's use.
                text = buffer.withUnsafeBytes { $0 }
            }
            if text.isEmpty { return required ? Rejection(.missingField, field: field) : nil }
            guard JSONText.isValidUTF8(text) else { return Rejection(.invalidUTF8, field: field) }
            target = text
            return nil
        case .number where field == .requestID:
            target = UnsafeRawBufferPointer(rebasing: line[value.start..<value.end])
            return nil
        case .absent, .null:
            return required ? Rejection(.missingField, field: field) : nil
        default:
            return required ? Rejection(.wrongType, field: field) : nil
        }
    }

    private func success() -> Result<Bool, Rejection> {
        guard case .slot(let slot) = source(.status) else { return .success(mapping.successWhenStatusAbsent) }
        let value = scanner.values[slot]
        switch value.kind {
        case .absent, .null:
            return .success(mapping.successWhenStatusAbsent)
        case .trueLiteral:
            return .success(successBools.whenTrue)
        case .falseLiteral:
            return .success(successBools.whenFalse)
        case .number:
            return .success(integerIsSuccess(bytes(value)!))
        case .string:
            let outcome: Bool? = withText(value) { text in
                if !text.isEmpty && text.allSatisfy({ $0 &- UInt8(ascii: "0") < 10 }) {
                    return integerIsSuccess(text)
                }
                return successStrings.contains { $0.elementsEqual(text) }
            }
            return .success(outcome ?? false)
        case .object, .array:
            return .failure(Rejection(.wrongType, field: .status))
        }
    }

    private func integerIsSuccess(_ text: UnsafeRawBufferPointer) -> Bool {
        guard let number = DecimalNumber.parse(text), case .value(let v) = number.wholeNumber(), v <= Int64.max else {
            return false
        }
        return successIntegers.contains { $0.contains(Int64(v)) }
    }

    /// A numeric value from a number or a numeric string; nil if absent or null.
    private func number(_ slot: Int, _ field: CanonicalField) -> Result<DecimalNumber?, Rejection> {
        let value = scanner.values[slot]
        switch value.kind {
        case .absent, .null:
            return .success(nil)
        case .number:
            guard let number = DecimalNumber.parse(bytes(value)!) else {
                return .failure(Rejection(.invalidJSON, field: field))
            }
            return .success(number)
        case .string:
            guard let number = withText(value, { DecimalNumber.parse($0) }) ?? nil else {
                return .failure(Rejection(.wrongType, field: field))
            }
            return .success(number)
        default:
            return .failure(Rejection(.wrongType, field: field))
        }
    }

    private func wholeNumber(_ slot: Int, _ field: CanonicalField) -> Result<UInt64?, Rejection> {
        switch number(slot, field) {
        case .failure(let rejection): return .failure(rejection)
        case .success(nil): return .success(nil)
        case .success(let number?):
            switch number.wholeNumber() {
            case .value(let v): return .success(v)
            case .negative, .fractional: return .failure(Rejection(.invalidTokenCount, field: field))
            case .tooLarge: return .failure(Rejection(.numberOutOfRange, field: field))
            }
        }
    }

    private func tokens(_ field: CanonicalField) -> Result<UInt64, Rejection> {
        switch source(field) {
        case .none, .difference:
            return .success(0)
        case .slot(let slot):
            return wholeNumber(slot, field).map { $0 ?? 0 }
        case .sum(let slots):
            var total: UInt64 = 0
            for slot in slots {
                switch wholeNumber(slot, field) {
                case .failure(let rejection): return .failure(rejection)
                case .success(let v):
                    let (sum, overflow) = total.addingReportingOverflow(v ?? 0)
                    if overflow { return .failure(Rejection(.numberOutOfRange, field: field)) }
                    total = sum
                }
            }
            return .success(total)
        }
    }

    private func real(_ slot: Int, _ field: CanonicalField) -> Result<Double?, Rejection> {
        number(slot, field).map { number in number.map { $0.doubleValue() } }
    }

    /// A time for a difference, in the difference's unit: a number as written, or a timestamp
    /// string converted to that unit. Subtracting before scaling keeps microsecond precision.
    private func time(_ slot: Int, unit: TimeUnit, _ field: CanonicalField) -> Result<Double?, Rejection> {
        let value = scanner.values[slot]
        if value.kind == .string, let seconds = withText(value, { Timestamp.parse(text: $0) }) ?? nil {
            return .success(unit == .seconds ? seconds : seconds * 1000)
        }
        return real(slot, field)
    }

    private func duration(_ field: CanonicalField) -> Result<Double, Rejection> {
        let result: Result<Double?, Rejection>
        switch source(field) {
        case .none:
            return .success(.nan)
        case .slot(let slot):
            result = real(slot, field)
        case .sum(let slots):
            var total: Double? = nil
            for slot in slots {
                switch real(slot, field) {
                case .failure(let rejection): return .failure(rejection)
                case .success(let v?): total = (total ?? 0) + v
                case .success(nil): break
                }
            }
            result = .success(total)
        case .difference(let end, let start, let unit):
            switch (time(end, unit: unit, field), time(start, unit: unit, field)) {
            case (.failure(let rejection), _), (_, .failure(let rejection)): return .failure(rejection)
            case (.success(let e?), .success(let s?)): result = .success(unit == .seconds ? (e - s) * 1000 : e - s)
            default: result = .success(nil)
            }
        }
        switch result {
        case .failure(let rejection): return .failure(rejection)
        case .success(let v?) where v.isFinite && v >= 0: return .success(v)
        case .success: return .success(.nan)
        }
    }

    private func cost() -> Result<Int64, Rejection> {
        let slots: [Int]
        switch source(.costUSD) {
        case .none, .difference: return .success(0)
        case .slot(let slot): slots = [slot]
        case .sum(let parts): slots = parts
        }
        var total: Int64 = 0
        for slot in slots {
            switch number(slot, .costUSD) {
            case .failure(let rejection): return .failure(rejection)
            case .success(nil): continue
            case .success(let number?):
                guard let nanos = number.nanoUnits() else {
                    return .failure(Rejection(.numberOutOfRange, field: .costUSD))
                }
                let (sum, overflow) = total.addingReportingOverflow(nanos)
                if overflow { return .failure(Rejection(.numberOutOfRange, field: .costUSD)) }
                total = sum
            }
        }
        return .success(total)
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
