/// A JSON value that keeps every number as its source text.
///
/// The end-to-end tests compare costs exactly as decimals; `JSONSerialization` would turn them
/// into `Double`s first and lose digits. This reader is the tests' own, written from RFC 8259,
/// so that what the oracle reads does not depend on the code under test.
enum JSONValue: Equatable, Sendable {
    case null
    case bool(Bool)
    /// The number exactly as written (`0.051006`, `7.335e-05`, `12`).
    case number(String)
    case string(String)
    /// A string whose bytes (after unescaping) are not valid UTF-8. Kept apart because a record
    /// is rejected for it only when the string sits in a field the record keeps.
    case invalidUTF8String
    case array([JSONValue])
    case object([String: JSONValue])

    subscript(key: String) -> JSONValue? {
        if case .object(let members) = self { return members[key] }
        return nil
    }

    /// The value at a dotted path of object keys; nil when a key is absent or a step is not an object.
    func value(at path: [String]) -> JSONValue? {
        var current: JSONValue = self
        for key in path {
            guard let next = current[key] else { return nil }
            current = next
        }
        return current
    }

    var stringValue: String? {
        if case .string(let text) = self { return text }
        return nil
    }

    var objectValue: [String: JSONValue]? {
        if case .object(let members) = self { return members }
        return nil
    }

    var arrayValue: [JSONValue]? {
        if case .array(let elements) = self { return elements }
        return nil
    }

    var numberText: String? {
        if case .number(let text) = self { return text }
        return nil
    }

    var doubleValue: Double? { numberText.flatMap { Double($0) } }

    var isNull: Bool { self == .null }
}

/// Why a text is not a JSON value the tests accept.
enum JSONReadFailure: Error, Equatable {
    case invalid
    case tooDeep
}

/// A strict RFC 8259 reader over bytes: one value, surrounded only by whitespace.
struct JSONReader {
    private let bytes: [UInt8]
    private var index: Int
    private let maxDepth: Int

    private init(bytes: [UInt8], maxDepth: Int) {
        self.bytes = bytes
        self.index = 0
        self.maxDepth = maxDepth
    }

    /// Reads one JSON document. Nesting deeper than `maxDepth` arrays/objects fails with `.tooDeep`
    /// before the reader recurses further, so a line of 200 000 `[` cannot exhaust the stack.
    static func parse(_ bytes: some Sequence<UInt8>, maxDepth: Int = 128) throws(JSONReadFailure) -> JSONValue {
        var reader = JSONReader(bytes: Array(bytes), maxDepth: maxDepth)
        reader.skipWhitespace()
        let value = try reader.readValue(depth: 0)
        reader.skipWhitespace()
        guard reader.index == reader.bytes.count else { throw .invalid }
        return value
    }

    static func parse(_ text: String, maxDepth: Int = 128) throws(JSONReadFailure) -> JSONValue {
        try parse(Array(text.utf8), maxDepth: maxDepth)
    }

    /// Whether `text` is a JSON number (the grammar, not just something `Double` accepts).
    static func isNumberText(_ text: some Collection<UInt8>) -> Bool {
        var reader = JSONReader(bytes: Array(text), maxDepth: 1)
        guard (try? reader.readNumber()) != nil else { return false }
        return reader.index == reader.bytes.count
    }

    private var current: UInt8? { index < bytes.count ? bytes[index] : nil }

    private mutating func skipWhitespace() {
        while let byte = current, byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D {
            index += 1
        }
    }

    private mutating func expect(_ literal: StaticString) throws(JSONReadFailure) {
        let count = literal.utf8CodeUnitCount
        guard index + count <= bytes.count else { throw .invalid }
        let start = literal.utf8Start
        for offset in 0..<count where bytes[index + offset] != start[offset] {
            throw .invalid
        }
        index += count
    }

    private mutating func readValue(depth: Int) throws(JSONReadFailure) -> JSONValue {
        guard let byte = current else { throw .invalid }
        switch byte {
        case UInt8(ascii: "{"):
            guard depth < maxDepth else { throw .tooDeep }
            return try readObject(depth: depth + 1)
        case UInt8(ascii: "["):
            guard depth < maxDepth else { throw .tooDeep }
            return try readArray(depth: depth + 1)
        case UInt8(ascii: "\""):
            return try readString()
        case UInt8(ascii: "t"):
            try expect("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try expect("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try expect("null")
            return .null
        default:
            return .number(try readNumber())
        }
    }

    private mutating func readObject(depth: Int) throws(JSONReadFailure) -> JSONValue {
        index += 1  // {
        var members: [String: JSONValue] = [:]
        skipWhitespace()
        if current == UInt8(ascii: "}") {
            index += 1
            return .object(members)
        }
        while true {
            skipWhitespace()
            guard current == UInt8(ascii: "\"") else { throw .invalid }
            let keyValue = try readString()
            skipWhitespace()
            guard current == UInt8(ascii: ":") else { throw .invalid }
            index += 1
            skipWhitespace()
            let value = try readValue(depth: depth)
            // A key that is not valid UTF-8 cannot name a kept field; keep it under a name no
            // field has, so the value still counts as present for nothing.
            let key: String
            switch keyValue {
            case .string(let text): key = text
            default: key = "\u{FFFF}invalid-key-\(members.count)"
            }
            members[key] = value
            skipWhitespace()
            switch current {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "}"):
                index += 1
                return .object(members)
            default: throw .invalid
            }
        }
    }

    private mutating func readArray(depth: Int) throws(JSONReadFailure) -> JSONValue {
        index += 1  // [
        var elements: [JSONValue] = []
        skipWhitespace()
        if current == UInt8(ascii: "]") {
            index += 1
            return .array(elements)
        }
        while true {
            skipWhitespace()
            elements.append(try readValue(depth: depth))
            skipWhitespace()
            switch current {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "]"):
                index += 1
                return .array(elements)
            default: throw .invalid
            }
        }
    }

    private mutating func readHex4() throws(JSONReadFailure) -> UInt32 {
        guard index + 4 <= bytes.count else { throw .invalid }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt32
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
            default: throw .invalid
            }
            value = value << 4 | digit
            index += 1
        }
        return value
    }

    private static func appendUTF8(_ scalar: UInt32, to buffer: inout [UInt8]) {
        switch scalar {
        case 0..<0x80:
            buffer.append(UInt8(scalar))
        case 0x80..<0x800:
            buffer.append(UInt8(0xC0 | (scalar >> 6)))
            buffer.append(UInt8(0x80 | (scalar & 0x3F)))
        case 0x800..<0x10000:
            buffer.append(UInt8(0xE0 | (scalar >> 12)))
            buffer.append(UInt8(0x80 | ((scalar >> 6) & 0x3F)))
            buffer.append(UInt8(0x80 | (scalar & 0x3F)))
        default:
            buffer.append(UInt8(0xF0 | (scalar >> 18)))
            buffer.append(UInt8(0x80 | ((scalar >> 12) & 0x3F)))
            buffer.append(UInt8(0x80 | ((scalar >> 6) & 0x3F)))
            buffer.append(UInt8(0x80 | (scalar & 0x3F)))
        }
    }

    private mutating func readString() throws(JSONReadFailure) -> JSONValue {
        index += 1  // opening quote
        var buffer: [UInt8] = []
        var validEscapes = true
        while true {
            guard let byte = current else { throw .invalid }
            index += 1
            switch byte {
            case UInt8(ascii: "\""):
                guard validEscapes, let text = String(validating: buffer, as: UTF8.self) else {
                    return .invalidUTF8String
                }
                return .string(text)
            case UInt8(ascii: "\\"):
                guard let escaped = current else { throw .invalid }
                index += 1
                switch escaped {
                case UInt8(ascii: "\""): buffer.append(0x22)
                case UInt8(ascii: "\\"): buffer.append(0x5C)
                case UInt8(ascii: "/"): buffer.append(0x2F)
                case UInt8(ascii: "b"): buffer.append(0x08)
                case UInt8(ascii: "f"): buffer.append(0x0C)
                case UInt8(ascii: "n"): buffer.append(0x0A)
                case UInt8(ascii: "r"): buffer.append(0x0D)
                case UInt8(ascii: "t"): buffer.append(0x09)
                case UInt8(ascii: "u"):
                    let unit = try readHex4()
                    if (0xD800..<0xDC00).contains(unit) {
                        // A high surrogate must be followed by an escaped low surrogate.
                        if index + 6 <= bytes.count, bytes[index] == UInt8(ascii: "\\"),
                            bytes[index + 1] == UInt8(ascii: "u")
                        {
                            index += 2
                            let low = try readHex4()
                            if (0xDC00..<0xE000).contains(low) {
                                Self.appendUTF8(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00), to: &buffer)
                            } else {
                                validEscapes = false
                            }
                        } else {
                            validEscapes = false
                        }
                    } else if (0xDC00..<0xE000).contains(unit) {
                        validEscapes = false
                    } else {
                        Self.appendUTF8(unit, to: &buffer)
                    }
                default:
                    throw .invalid
                }
            case 0x00..<0x20:
                throw .invalid  // raw control characters are not allowed in JSON strings
            default:
                buffer.append(byte)
            }
        }
    }

    private mutating func readDigits() -> Int {
        let start = index
        while let byte = current, byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") { index += 1 }
        return index - start
    }

    private mutating func readNumber() throws(JSONReadFailure) -> String {
        let start = index
        if current == UInt8(ascii: "-") { index += 1 }
        if current == UInt8(ascii: "0") {
            index += 1
        } else {
            guard readDigits() > 0 else { throw .invalid }
        }
        if current == UInt8(ascii: ".") {
            index += 1
            guard readDigits() > 0 else { throw .invalid }
        }
        if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
            index += 1
            if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { index += 1 }
            guard readDigits() > 0 else { throw .invalid }
        }
        return String(decoding: bytes[start..<index], as: UTF8.self)
    }
}
