import TokentallySystem

/// Byte-level helpers for JSON text.
package enum JSONText {
    /// The value of a hex digit, or -1.
    @inline(__always)
    static func hexValue(_ c: UInt8) -> Int {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): Int(c &- UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): Int(c &- UInt8(ascii: "a")) + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): Int(c &- UInt8(ascii: "A")) + 10
        default: -1
        }
    }

    /// A mask with the high bit set in each byte of `bytes` (eight bytes of text, the first in
    /// the lowest byte) that is a quote, a backslash or a control character; the lowest set bit
    /// marks the first such byte exactly (bits above it may be false alarms, from borrows).
    @inline(__always)
    package static func specialStringBytes(_ bytes: UInt64) -> UInt64 {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highBits: UInt64 = 0x8080_8080_8080_8080
        let quotes = bytes ^ (ones &* UInt64(UInt8(ascii: "\"")))
        let backslashes = bytes ^ (ones &* UInt64(UInt8(ascii: "\\")))
        // `x - 0x01…` borrows into the high bit of each zero byte; `- 0x20…` of each byte < 0x20.
        let zeroQuote = (quotes &- ones) & ~quotes
        let zeroBackslash = (backslashes &- ones) & ~backslashes
        let control = (bytes &- ones &* 0x20) & ~bytes
        return (zeroQuote | zeroBackslash | control) & highBits
    }

    /// Decodes a JSON string's contents (already validated by the scanner) into UTF-8 bytes,
    /// reusing `output`'s storage. Returns false for a lone UTF-16 surrogate, which has no UTF-8
    /// form.
    static func unescape(_ text: UnsafeRawBufferPointer, into output: inout [UInt8]) -> Bool {
        output.removeAll(keepingCapacity: true)
        var p = 0
        let count = text.count
        while p < count {
            let c = text[p]
            guard c == UInt8(ascii: "\\") else {
                output.append(c)
                p += 1
                continue
            }
            let e = text[p + 1]
            p += 2
            switch e {
            case UInt8(ascii: "b"): output.append(0x08)
            case UInt8(ascii: "f"): output.append(0x0C)
            case UInt8(ascii: "n"): output.append(0x0A)
            case UInt8(ascii: "r"): output.append(0x0D)
            case UInt8(ascii: "t"): output.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = hex4(text, p)
                p += 4
                if scalar >= 0xD800 && scalar <= 0xDBFF {
                    guard p + 6 <= count, text[p] == UInt8(ascii: "\\"), text[p + 1] == UInt8(ascii: "u") else {
                        return false
                    }
                    let low = hex4(text, p + 2)
                    guard low >= 0xDC00 && low <= 0xDFFF else { return false }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    p += 6
                } else if scalar >= 0xDC00 && scalar <= 0xDFFF {
                    return false
                }
                appendUTF8(UInt32(scalar), to: &output)
            default: output.append(e)  // `"`, `\`, `/`
            }
        }
        return true
    }

    @inline(__always)
    private static func hex4(_ text: UnsafeRawBufferPointer, _ p: Int) -> Int {
        (hexValue(text[p]) << 12) | (hexValue(text[p + 1]) << 8) | (hexValue(text[p + 2]) << 4)
            | hexValue(text[p + 3])
    }

    private static func appendUTF8(_ scalar: UInt32, to output: inout [UInt8]) {
        switch scalar {
        case 0..<0x80:
            output.append(UInt8(scalar))
        case 0x80..<0x800:
            output.append(UInt8(0xC0 | (scalar >> 6)))
            output.append(UInt8(0x80 | (scalar & 0x3F)))
        case 0x800..<0x10000:
            output.append(UInt8(0xE0 | (scalar >> 12)))
            output.append(UInt8(0x80 | ((scalar >> 6) & 0x3F)))
            output.append(UInt8(0x80 | (scalar & 0x3F)))
        default:
            output.append(UInt8(0xF0 | (scalar >> 18)))
            output.append(UInt8(0x80 | ((scalar >> 12) & 0x3F)))
            output.append(UInt8(0x80 | ((scalar >> 6) & 0x3F)))
            output.append(UInt8(0x80 | (scalar & 0x3F)))
        }
    }

    /// Whether `bytes` are well-formed UTF-8 (no overlongs, surrogates or values past U+10FFFF).
    @inline(__always)
    static func isValidUTF8(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var p = 0
        let count = bytes.count
        // Fast path: ASCII, eight bytes at a time.
        while p + 8 <= count {
            if bytes.loadUnaligned(fromByteOffset: p, as: UInt64.self) & 0x8080_8080_8080_8080 != 0 { break }
            p += 8
        }
        while p < count {
            let c = bytes[p]
            if c < 0x80 {
                p += 1
                continue
            }
            let need: Int
            var minimum: UInt32
            var scalar: UInt32
            switch c {
            case 0xC2...0xDF: need = 1; minimum = 0x80; scalar = UInt32(c & 0x1F)
            case 0xE0...0xEF: need = 2; minimum = 0x800; scalar = UInt32(c & 0x0F)
            case 0xF0...0xF4: need = 3; minimum = 0x10000; scalar = UInt32(c & 0x07)
            default: return false
            }
            for i in 1...need {
                guard p + i < count else { return false }
                let continuation = bytes[p + i]
                guard continuation & 0xC0 == 0x80 else { return false }
                scalar = (scalar << 6) | UInt32(continuation & 0x3F)
            }
            if scalar < minimum || scalar > 0x10FFFF || (scalar >= 0xD800 && scalar <= 0xDFFF) { return false }
            p += need + 1
        }
        return true
    }
}
