import Foundation
import TokentallyReading

// A libFuzzer target (scripts/fuzz): the JSON field scanner and the record parser of every
// preset, on arbitrary bytes. A crash, a hang (libFuzzer's -timeout), or a line that the
// scanner and Foundation's JSONSerialization, an independent JSON parser, disagree about is a
// failure: the scanner must call a line valid exactly when it is, and a record it accepts must
// hold the values that JSONSerialization finds at the mapping's paths.
//
// Built only with TOKENTALLY_FUZZ set, with `-sanitize=fuzzer` (libFuzzer supplies `main`).

nonisolated(unsafe) private let parsers: [(name: String, parser: RecordParser)] = FormatPreset.allCases.map {
    ($0.rawValue, RecordParser(mapping: $0.mapping))
}
/// A scanner that watches nothing: only its verdict on the line matters. (libFuzzer calls the
/// target from one thread, so these globals are never shared.)
nonisolated(unsafe) private let validator = JSONFieldScanner(paths: [])

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    // LineReader never hands the parser a line with a newline in it.
    let line = UnsafeRawBufferPointer(start: data, count: size)
    if line.contains(0x0A) { return 0 }
    let bytes = Data(bytes: data, count: size)
    let reference = try? JSONSerialization.jsonObject(with: bytes, options: [.fragmentsAllowed])
    checkValidity(validator.scan(line), reference: reference, bytes: [UInt8](bytes))
    for (name, parser) in parsers {
        let outcome = parser.parse(line)
        guard case .accepted = outcome else { continue }
        // JSON that Foundation refuses for reasons of its own (invalid UTF-8 in a string no
        // kept field holds, a lone surrogate, ...) has no reference to compare the record with.
        if reference == nil && foundationRefusesFor([UInt8](bytes)) { continue }
        guard let object = reference as? [String: Any] else {
            fail("\(name) accepted a line JSONSerialization does not read as an object", [UInt8](bytes))
        }
        checkRecord(parser.record, mapping: parser.mapping, object: object, format: name, bytes: [UInt8](bytes))
    }
    return 0
}

private func fail(_ message: String, _ bytes: [UInt8]) -> Never {
    let shown = String(decoding: bytes.prefix(300), as: UTF8.self).debugDescription
    let hex = bytes.prefix(64).map { String($0, radix: 16) }.joined(separator: " ")
    fatalError("\(message): \(shown) [\(hex)]")
}

/// The scanner's verdict against JSONSerialization's, where the two are meant to agree.
private func checkValidity(_ verdict: ScanOutcome, reference: Any?, bytes: [UInt8]) {
    switch verdict {
    case .empty:
        guard bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) else { fail("empty, but not blank", bytes) }
    case .rejected(.nestingTooDeep):
        return  // a limit of ours; JSONSerialization's is its own
    case .rejected(.invalidJSON):
        // JSONSerialization skips a leading byte-order mark, and takes text with NUL bytes for
        // UTF-16 or UTF-32; log lines are UTF-8 (RFC 8259 §8.1), where both are invalid.
        // It also accepts a comma before a closing bracket (`[1,]`), which JSON does not.
        if reference != nil && !bytes.starts(with: [0xEF, 0xBB, 0xBF]) && !bytes.contains(0)
            && !hasTrailingComma(bytes)
        {
            fail("scanner rejects valid JSON", bytes)
        }
    case .object, .rejected(.notObject):
        if reference == nil && !foundationRefusesFor(bytes) { fail("scanner accepts invalid JSON", bytes) }
        if case .object = verdict, reference != nil, !(reference is [String: Any]) { fail("not an object", bytes) }
    case .rejected(let reason):
        fail("the scanner alone gave \(reason)", bytes)
    }
}

/// Valid JSON that JSONSerialization refuses for reasons of its own: invalid UTF-8 inside a
/// string (the scanner checks UTF-8 only in the fields it keeps), a lone surrogate escape, a
/// number beyond a Double's range, or nesting past its depth limit.
private func foundationRefusesFor(_ bytes: [UInt8]) -> Bool {
    if String(validating: bytes, as: UTF8.self) == nil { return true }
    let text = String(decoding: bytes, as: UTF8.self)
    if text.range(of: #"\\u[dD][89a-fA-F]"#, options: .regularExpression) != nil { return true }
    var depth = 0
    var deepest = 0
    var inString = false
    var escaped = false
    var number: [UInt8] = []
    func endNumber() -> Bool {
        defer { number.removeAll() }
        guard !number.isEmpty, let value = Double(String(decoding: number, as: UTF8.self)) else { return false }
        return !value.isFinite
    }
    for byte in bytes {
        if inString {
            if escaped {
                escaped = false
            } else if byte == 0x5C {
                escaped = true
            } else if byte == 0x22 {
                inString = false
            }
            continue
        }
        if (0x30...0x39).contains(byte) || byte == 0x2D || byte == 0x2B || byte == 0x2E || byte == 0x65 || byte == 0x45
        {
            number.append(byte)
            continue
        }
        if endNumber() { return true }
        switch byte {
        case 0x22: inString = true
        case 0x7B, 0x5B:
            depth += 1
            deepest = max(deepest, depth)
        case 0x7D, 0x5D: depth -= 1
        default: break
        }
    }
    return endNumber() || deepest >= 500
}

/// Whether a comma outside strings is followed, after whitespace, by `]` or `}`.
private func hasTrailingComma(_ bytes: [UInt8]) -> Bool {
    var inString = false
    var escaped = false
    var afterComma = false
    for byte in bytes {
        if inString {
            if escaped {
                escaped = false
            } else if byte == 0x5C {
                escaped = true
            } else if byte == 0x22 {
                inString = false
            }
            continue
        }
        switch byte {
        case 0x20, 0x09, 0x0A, 0x0D: continue
        case 0x5D, 0x7D: if afterComma { return true }
        case 0x22: inString = true
        default: break
        }
        afterComma = byte == 0x2C
    }
    return false
}

/// The value at a dotted path, or nil when absent; NSNull for null.
private func value(at path: FieldPath, in object: [String: Any]) -> Any? {
    var current: Any? = object
    for component in path.components {
        guard let dictionary = current as? [String: Any] else { return nil }
        current = dictionary[component]
    }
    return current
}

private func checkRecord(
    _ record: GatewayRecord, mapping: FieldMapping, object: [String: Any], format: String, bytes: [UInt8]
) {
    func text(_ buffer: UnsafeRawBufferPointer) -> String { String(decoding: buffer, as: UTF8.self) }
    let kept: [(CanonicalField, UnsafeRawBufferPointer)] = [
        (.apiKey, record.apiKey), (.model, record.model), (.provider, record.provider),
    ]
    for (field, buffer) in kept {
        guard case .path(let path) = mapping.sources[field] else { continue }
        let found = value(at: path, in: object)
        // A record without the field (absent, null or "") takes the format's default; a record
        // without a key is counted under the placeholder (CanonicalField.noKeyPlaceholder).
        let fallback = mapping.defaults[field] ?? (field == .apiKey ? CanonicalField.noKeyPlaceholder : nil)
        if found == nil || found is NSNull || (found as? String)?.isEmpty == true, let fallback {
            if text(buffer) != fallback {
                fail("\(format): \(field.rawValue) is \(text(buffer)), not \(fallback)", bytes)
            }
            continue
        }
        guard let expected = found as? String, !expected.isEmpty else {
            fail("\(format) accepted a record whose \(field.rawValue) is not a non-empty string", bytes)
        }
        if text(buffer) != expected { fail("\(format): \(field.rawValue) is \(text(buffer)), not \(expected)", bytes) }
    }
    let tokens: [(CanonicalField, UInt64)] = [
        (.inputTokens, record.inputTokens), (.outputTokens, record.outputTokens),
        (.cachedTokens, record.cachedTokens), (.reasoningTokens, record.reasoningTokens),
        (.webSearchCalls, record.webSearchCalls),
    ]
    for (field, count) in tokens {
        guard case .path(let path) = mapping.sources[field] else { continue }
        switch value(at: path, in: object) {
        case nil, is NSNull:
            if count != 0 { fail("\(format): \(field.rawValue) is \(count) but absent", bytes) }
        case let number as NSNumber:
            // Accepted means whole and not negative (3.0 and 1e3 are whole); below 2^53 the
            // Double JSONSerialization holds is exact, and must be what was counted.
            let double = number.doubleValue
            guard double >= 0, double.rounded() == double else {
                fail("\(format): accepted \(field.rawValue) \(number), which is not a whole count", bytes)
            }
            if double < 9_007_199_254_740_992, UInt64(double) != count {
                fail("\(format): \(field.rawValue) is \(count), not \(number)", bytes)
            }
        default:
            break  // decimal strings, fractions written as 3.0, exponents: DecimalNumber's own tests
        }
    }
}

// SwiftPM links an executable target's entry point as `<module>_main`; hand it to libFuzzer's
// driver, which parses libFuzzer's flags and calls the target above.
@_silgen_name("LLVMFuzzerRunDriver")
private func runFuzzerDriver(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> Int32
) -> Int32

@_cdecl("TokentallyFuzz_main")
public func fuzzerMain(
    _ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
) -> Int32 {
    var count = argc
    var arguments = argv
    return runFuzzerDriver(&count, &arguments) { fuzzOneInput($0, $1) }
}
