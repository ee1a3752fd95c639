/// A JSON value of a snapshot file, as the views read it. Numbers keep their text, so that a
/// counter stays an exact integer and `cost_usd` an exact decimal (docs/snapshot-format.md,
/// "Number formats"); nothing goes through a Double unless a figure is a measurement.
public indirect enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case number(String)
    case string(String)
    case array([JSONValue])
    /// Members in file order.
    case object([(String, JSONValue)])

    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): true
        case (.bool(let a), .bool(let b)): a == b
        case (.number(let a), .number(let b)): a == b
        case (.string(let a), .string(let b)): a == b
        case (.array(let a), .array(let b)): a == b
        case (.object(let a), .object(let b)): a.map(\.0) == b.map(\.0) && a.map(\.1) == b.map(\.1)
        default: false
        }
    }

    /// The member `name` of an object (the first one), or nil.
    public subscript(_ name: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.first { $0.0 == name }?.1
    }

    public var string: String? {
        if case .string(let text) = self { return text }
        return nil
    }

    public var members: [(String, JSONValue)] {
        if case .object(let members) = self { return members }
        return []
    }

    public var elements: [JSONValue] {
        if case .array(let elements) = self { return elements }
        return []
    }

    /// A counter: a JSON integer ≥ 0.
    public var unsigned: UInt64? {
        if case .number(let text) = self { return UInt64(text) }
        return nil
    }

    /// A measurement; nil for `null`.
    public var double: Double? {
        if case .number(let text) = self { return Double(text) }
        return nil
    }
}

/// Why a snapshot file could not be read as JSON: where, and what was expected.
public struct SnapshotJSONError: Error, CustomStringConvertible, Sendable {
    public var offset: Int
    public var expected: String
    public var description: String { "not valid JSON at byte \(offset): expected \(expected)" }
}

/// A recursive-descent JSON reader over the bytes of one file. Snapshot files are written by
/// tokentally, but read as any JSON: escapes, any whitespace, any member order.
///
/// `series` and `by_key` rows, nearly the whole of a high-cardinality bucket, are read by the
/// bucket decoder itself through `readArray`/`readObject` with a callback per element, so that
/// they never become a tree of `JSONValue`s.
struct JSONReader {
    let bytes: [UInt8]
    var position = 0
    /// How deep objects and arrays nest, against a bound (a snapshot nests five deep).
    private var depth = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    mutating func skipWhitespace() {
        while position < bytes.count {
            switch bytes[position] {
            case 0x20, 0x09, 0x0A, 0x0D: position += 1
            default: return
            }
        }
    }

    func fail(_ expected: String) -> SnapshotJSONError { SnapshotJSONError(offset: position, expected: expected) }

    mutating func peek() throws(SnapshotJSONError) -> UInt8 {
        skipWhitespace()
        guard position < bytes.count else { throw fail("a value") }
        return bytes[position]
    }

    mutating func expect(_ byte: UInt8, _ what: String) throws(SnapshotJSONError) {
        guard try peek() == byte else { throw fail(what) }
        position += 1
    }

    /// Whether the next byte is `byte`; consumes it when it is.
    mutating func take(_ byte: UInt8) throws(SnapshotJSONError) -> Bool {
        guard try peek() == byte else { return false }
        position += 1
        return true
    }

    /// The whole document's value, with nothing but whitespace after it.
    mutating func readDocument() throws(SnapshotJSONError) -> JSONValue {
        let value = try readValue()
        skipWhitespace()
        guard position == bytes.count else { throw fail("the end of the file") }
        return value
    }

    mutating func readValue() throws(SnapshotJSONError) -> JSONValue {
        switch try peek() {
        case UInt8(ascii: "{"):
            var members: [(String, JSONValue)] = []
            try readObject { (reader, name) throws(SnapshotJSONError) in members.append((name, try reader.readValue()))
            }
            return .object(members)
        case UInt8(ascii: "["):
            var elements: [JSONValue] = []
            try readArray { (reader) throws(SnapshotJSONError) in elements.append(try reader.readValue()) }
            return .array(elements)
        case UInt8(ascii: "\""): return .string(try readString())
        case UInt8(ascii: "t"):
            try literal("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try literal("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try literal("null")
            return .null
        default: return .number(try readNumberText())
        }
    }

    /// Reads an object, calling `member` with each name; `member` must read the value.
    mutating func readObject(
        _ member: (inout JSONReader, String) throws(SnapshotJSONError) -> Void
    ) throws(SnapshotJSONError) {
        try expect(UInt8(ascii: "{"), "{")
        try enter()
        defer { depth -= 1 }
        if try take(UInt8(ascii: "}")) { return }
        repeat {
            guard try peek() == UInt8(ascii: "\"") else { throw fail("a member name") }
            let name = try readString()
            try expect(UInt8(ascii: ":"), ":")
            try member(&self, name)
        } while try take(UInt8(ascii: ","))
        try expect(UInt8(ascii: "}"), ", or }")
    }

    /// Reads an array, calling `element` for each element; `element` must read it.
    mutating func readArray(_ element: (inout JSONReader) throws(SnapshotJSONError) -> Void) throws(SnapshotJSONError) {
        try expect(UInt8(ascii: "["), "[")
        try enter()
        defer { depth -= 1 }
        if try take(UInt8(ascii: "]")) { return }
        repeat { try element(&self) } while try take(UInt8(ascii: ","))
        try expect(UInt8(ascii: "]"), ", or ]")
    }

    /// Passes over one value without building it (`by_key`, which the views derive from the
    /// series rows). Checks only that strings end and brackets balance.
    mutating func skipValue() throws(SnapshotJSONError) {
        switch try peek() {
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            var open = 0
            while position < bytes.count {
                let byte = bytes[position]
                switch byte {
                case UInt8(ascii: "\""):
                    _ = try readString()
                    continue
                case UInt8(ascii: "{"), UInt8(ascii: "["): open += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    open -= 1
                    if open == 0 {
                        position += 1
                        return
                    }
                default: break
                }
                position += 1
            }
            throw fail("the end of an object or array")
        default: _ = try readValue()
        }
    }

    private mutating func enter() throws(SnapshotJSONError) {
        depth += 1
        if depth > 64 { throw fail("at most 64 levels of nesting") }
    }

    private mutating func literal(_ word: StaticString) throws(SnapshotJSONError) {
        let count = word.utf8CodeUnitCount
        guard position + count <= bytes.count else { throw fail("\(word)") }
        for index in 0..<count where bytes[position + index] != word.utf8Start[index] { throw fail("\(word)") }
        position += count
    }

    /// A number's text, checked against JSON's grammar.
    mutating func readNumberText() throws(SnapshotJSONError) -> String {
        skipWhitespace()
        let start = position
        func digits(_ reader: inout JSONReader) -> Int {
            let first = reader.position
            while reader.position < reader.bytes.count, (0x30...0x39).contains(reader.bytes[reader.position]) {
                reader.position += 1
            }
            return reader.position - first
        }
        if position < bytes.count, bytes[position] == UInt8(ascii: "-") { position += 1 }
        guard digits(&self) > 0 else { throw fail("a value") }
        if position < bytes.count, bytes[position] == UInt8(ascii: ".") {
            position += 1
            guard digits(&self) > 0 else { throw fail("a digit") }
        }
        if position < bytes.count, bytes[position] | 0x20 == UInt8(ascii: "e") {
            position += 1
            if position < bytes.count, bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-") {
                position += 1
            }
            guard digits(&self) > 0 else { throw fail("a digit") }
        }
        return String(decoding: bytes[start..<position], as: UTF8.self)
    }

    /// A counter (a JSON integer ≥ 0) without making a String.
    mutating func readUnsigned() throws(SnapshotJSONError) -> UInt64 {
        skipWhitespace()
        var value: UInt64 = 0
        let start = position
        while position < bytes.count, (0x30...0x39).contains(bytes[position]) {
            let (times, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times.addingReportingOverflow(UInt64(bytes[position] - 0x30))
            guard !overflow1, !overflow2 else { throw fail("a counter below 2^64") }
            value = sum
            position += 1
        }
        guard position > start else { throw fail("a counter (an integer ≥ 0)") }
        if position < bytes.count, [UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E")].contains(bytes[position]) {
            throw fail("a counter (an integer ≥ 0)")
        }
        return value
    }

    mutating func readString() throws(SnapshotJSONError) -> String {
        try expect(UInt8(ascii: "\""), "a string")
        let start = position
        // The common case: no escape, so the bytes are the string.
        while position < bytes.count {
            let byte = bytes[position]
            if byte == UInt8(ascii: "\"") {
                let text = String(decoding: bytes[start..<position], as: UTF8.self)
                position += 1
                return text
            }
            if byte == UInt8(ascii: "\\") { break }
            if byte < 0x20 { throw fail("no control character in a string") }
            position += 1
        }
        var scalars = Array(bytes[start..<position])
        while position < bytes.count {
            let byte = bytes[position]
            position += 1
            switch byte {
            case UInt8(ascii: "\""): return String(decoding: scalars, as: UTF8.self)
            case UInt8(ascii: "\\"):
                guard position < bytes.count else { throw fail("an escape") }
                let escape = bytes[position]
                position += 1
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): scalars.append(escape)
                case UInt8(ascii: "b"): scalars.append(0x08)
                case UInt8(ascii: "f"): scalars.append(0x0C)
                case UInt8(ascii: "n"): scalars.append(0x0A)
                case UInt8(ascii: "r"): scalars.append(0x0D)
                case UInt8(ascii: "t"): scalars.append(0x09)
                case UInt8(ascii: "u"):
                    var code = try hex4()
                    if (0xD800..<0xDC00).contains(code), position + 1 < bytes.count, bytes[position] == 0x5C,
                        bytes[position + 1] == UInt8(ascii: "u")
                    {
                        position += 2
                        let low = try hex4()
                        guard (0xDC00..<0xE000).contains(low) else { throw fail("a low surrogate") }
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    }
                    let scalar = Unicode.Scalar(code) ?? "\u{FFFD}"
                    scalars.append(contentsOf: Array(String(Character(scalar)).utf8))
                default: throw fail("a valid escape")
                }
            default:
                if byte < 0x20 { throw fail("no control character in a string") }
                scalars.append(byte)
            }
        }
        throw fail("the end of a string")
    }

    private mutating func hex4() throws(SnapshotJSONError) -> UInt32 {
        guard position + 4 <= bytes.count else { throw fail("four hex digits") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[position]
            let digit: UInt32
            switch byte {
            case 0x30...0x39: digit = UInt32(byte - 0x30)
            case 0x41...0x46: digit = UInt32(byte - 0x41 + 10)
            case 0x61...0x66: digit = UInt32(byte - 0x61 + 10)
            default: throw fail("four hex digits")
            }
            value = value << 4 | digit
            position += 1
        }
        return value
    }
}
