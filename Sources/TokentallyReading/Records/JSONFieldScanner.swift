import TokentallySystem
/// The kind of JSON value found at a watched path.
enum JSONValueKind: UInt8, Sendable {
    case absent, string, number, trueLiteral, falseLiteral, null, object, array
}

/// Where a watched path's value lies in the current line.
struct ScannedValue {
    var kind: JSONValueKind = .absent
    /// Byte range in the line: for a string, the contents between the quotes; for a number, its
    /// text; for an object or array, its opening bracket only.
    var start: Int = 0
    var end: Int = 0
    /// A string that holds backslash escapes (its bytes must be decoded before use).
    var hasEscapes = false
}

/// What one scan of a line found.
public enum ScanOutcome: Equatable {
    case object
    case empty
    case rejected(RejectReason)
}

/// A single-pass, validating JSON scanner that records where a fixed set of dotted paths lie.
///
/// This is the hot path of the whole program. It walks each line once, byte by byte, checks the
/// whole line is valid JSON (strings, escapes, numbers, literals and nesting), and notes the
/// byte range of each watched path's value; everything else is skipped without being decoded.
/// It keeps its own container stack of bounded depth, so hostile nesting cannot overflow the
/// call stack, and it allocates nothing per line: all of its memory is allocated in `init`.
public final class JSONFieldScanner {
    /// The deepest nesting accepted; deeper lines are rejected as `nesting_too_deep`.
    let maxDepth: Int

    // The path trie. Node 0 is the root object. A key is looked up among its parent's children
    // in `keyTable`, open addressing on (parent, length, first eight bytes as one word): one
    // multiply and usually one probe, with no hashing of the key's bytes one by one.
    private struct TrieNode {
        var slot: Int32 = -1
        var children: [(key: [UInt8], node: Int32)] = []
    }
    private let nodeSlot: UnsafeMutableBufferPointer<Int32>
    private let nodeChildStart: UnsafeMutableBufferPointer<Int32>
    private let nodeChildCount: UnsafeMutableBufferPointer<Int32>
    private let childKeyOffset: UnsafeMutableBufferPointer<Int32>
    private let childKeyLength: UnsafeMutableBufferPointer<Int32>
    private let childNode: UnsafeMutableBufferPointer<Int32>
    private let keyBytes: UnsafeMutableBufferPointer<UInt8>
    private let childKeyPrefix: UnsafeMutableBufferPointer<UInt64>
    private let childParent: UnsafeMutableBufferPointer<Int32>
    /// Child index + 1 per slot (0: empty); its size is a power of two, at least four times the
    /// number of children, so that a key that is not watched usually meets an empty slot at once.
    private let keyTable: UnsafeMutableBufferPointer<Int32>
    private let keyTableShift: UInt64
    private let longestKey: Int

    /// The values found by the last scan, one per watched path, in the order given to `init`.
    let values: UnsafeMutableBufferPointer<ScannedValue>
    var slotCount: Int { values.count }

    private let containerIsObject: UnsafeMutableBufferPointer<Bool>
    private let containerNode: UnsafeMutableBufferPointer<Int32>
    @exclusivity(unchecked) private var keyScratch: [UInt8] = []

    /// Builds a scanner that watches `paths`; slot `i` of `values` holds `paths[i]`'s value.
    public init(paths: [FieldPath], maxDepth: Int = 512) {
        self.maxDepth = maxDepth
        var nodes = [TrieNode()]
        for (slot, path) in paths.enumerated() {
            var current = 0
            for component in path.components {
                let key = Array(component.utf8)
                if let existing = nodes[current].children.first(where: { $0.key == key }) {
                    current = Int(existing.node)
                } else {
                    nodes.append(TrieNode())
                    nodes[current].children.append((key, Int32(nodes.count - 1)))
                    current = nodes.count - 1
                }
            }
            nodes[current].slot = Int32(slot)
        }
        nodeSlot = .allocate(capacity: nodes.count)
        nodeChildStart = .allocate(capacity: nodes.count)
        nodeChildCount = .allocate(capacity: nodes.count)
        let childTotal = nodes.reduce(0) { $0 + $1.children.count }
        childKeyOffset = .allocate(capacity: max(childTotal, 1))
        childKeyLength = .allocate(capacity: max(childTotal, 1))
        childNode = .allocate(capacity: max(childTotal, 1))
        let keyTotal = nodes.reduce(0) { $0 + $1.children.reduce(0) { $0 + $1.key.count } }
        keyBytes = .allocate(capacity: max(keyTotal, 1))
        var childIndex = 0
        var keyOffset = 0
        var longest = 0
        for (index, node) in nodes.enumerated() {
            nodeSlot[index] = node.slot
            nodeChildStart[index] = Int32(childIndex)
            nodeChildCount[index] = Int32(node.children.count)
            for child in node.children.sorted(by: { $0.key.count < $1.key.count }) {
                childKeyOffset[childIndex] = Int32(keyOffset)
                childKeyLength[childIndex] = Int32(child.key.count)
                childNode[childIndex] = child.node
                for byte in child.key {
                    keyBytes[keyOffset] = byte
                    keyOffset += 1
                }
                longest = max(longest, child.key.count)
                childIndex += 1
            }
        }
        longestKey = longest
        childKeyPrefix = .allocate(capacity: max(childTotal, 1))
        for index in 0..<childTotal {
            let start = keyBytes.baseAddress! + Int(childKeyOffset[index])
            let length = Int(childKeyLength[index])
            childKeyPrefix[index] = Self.prefixWord(start, length, readable: length)
        }
        childParent = .allocate(capacity: max(childTotal, 1))
        for node in nodes.indices {
            let first = Int(nodeChildStart[node])
            for child in first..<(first + Int(nodeChildCount[node])) { childParent[child] = Int32(node) }
        }
        var bits = 6
        while (1 << bits) < childTotal * 4 { bits += 1 }
        keyTableShift = UInt64(64 - bits)
        keyTable = .allocate(capacity: 1 << bits)
        keyTable.initialize(repeating: 0)
        for child in 0..<childTotal {
            var slot = Self.keySlot(
                parent: childParent[child], length: Int(childKeyLength[child]), prefix: childKeyPrefix[child],
                shift: keyTableShift)
            while keyTable[slot] != 0 { slot = (slot + 1) & (keyTable.count - 1) }
            keyTable[slot] = Int32(child + 1)
        }
        values = .allocate(capacity: max(paths.count, 1))
        values.initialize(repeating: ScannedValue())
        containerIsObject = .allocate(capacity: maxDepth + 1)
        containerIsObject.initialize(repeating: false)
        containerNode = .allocate(capacity: maxDepth + 1)
        containerNode.initialize(repeating: -1)
    }

    deinit {
        nodeSlot.deallocate()
        nodeChildStart.deallocate()
        nodeChildCount.deallocate()
        childKeyOffset.deallocate()
        childKeyLength.deallocate()
        childNode.deallocate()
        keyBytes.deallocate()
        childKeyPrefix.deallocate()
        childParent.deallocate()
        keyTable.deallocate()
        values.deallocate()
        containerIsObject.deallocate()
        containerNode.deallocate()
    }

    private enum State {
        case objectStart, key, arrayStart, value, afterValue
    }

    /// Scans one line. On `.object`, `values` holds each watched path's value (or `.absent`).
    public func scan(_ line: UnsafeRawBufferPointer) -> ScanOutcome {
        for index in 0..<values.count { values[index].kind = .absent }
        guard let base = line.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return .empty }
        let count = line.count
        var p = skipWhitespace(base, 0, count)
        if p == count { return .empty }
        let rootIsObject = base[p] == UInt8(ascii: "{")

        var depth = 0
        var state = State.value
        // The trie node and slot of the value about to be scanned (-1: not watched).
        var pendingNode: Int32 = rootIsObject ? 0 : -1
        var pendingSlot: Int32 = -1

        while true {
            switch state {
            case .value:
                p = skipWhitespace(base, p, count)
                guard p < count else { return .rejected(.invalidJSON) }
                let c = base[p]
                switch c {
                case UInt8(ascii: "{"):
                    guard depth < maxDepth else { return .rejected(.nestingTooDeep) }
                    record(pendingSlot, .object, p, p + 1, false)
                    containerIsObject[depth] = true
                    containerNode[depth] = pendingNode
                    depth += 1
                    p += 1
                    state = .objectStart
                case UInt8(ascii: "["):
                    guard depth < maxDepth else { return .rejected(.nestingTooDeep) }
                    record(pendingSlot, .array, p, p + 1, false)
                    containerIsObject[depth] = false
                    containerNode[depth] = -1
                    depth += 1
                    p += 1
                    state = .arrayStart
                case UInt8(ascii: "\""):
                    let contentStart = p + 1
                    guard let (close, escaped) = scanString(base, contentStart, count) else {
                        return .rejected(.invalidJSON)
                    }
                    record(pendingSlot, .string, contentStart, close, escaped)
                    p = close + 1
                    state = .afterValue
                case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                    guard let numberEnd = scanNumber(base, p, count) else { return .rejected(.invalidJSON) }
                    record(pendingSlot, .number, p, numberEnd, false)
                    p = numberEnd
                    state = .afterValue
                case UInt8(ascii: "t"):
                    guard matches(base, p, count, "true") else { return .rejected(.invalidJSON) }
                    record(pendingSlot, .trueLiteral, p, p + 4, false)
                    p += 4
                    state = .afterValue
                case UInt8(ascii: "f"):
                    guard matches(base, p, count, "false") else { return .rejected(.invalidJSON) }
                    record(pendingSlot, .falseLiteral, p, p + 5, false)
                    p += 5
                    state = .afterValue
                case UInt8(ascii: "n"):
                    guard matches(base, p, count, "null") else { return .rejected(.invalidJSON) }
                    record(pendingSlot, .null, p, p + 4, false)
                    p += 4
                    state = .afterValue
                default:
                    return .rejected(.invalidJSON)
                }

            case .objectStart:
                p = skipWhitespace(base, p, count)
                guard p < count else { return .rejected(.invalidJSON) }
                if base[p] == UInt8(ascii: "}") {
                    p += 1
                    depth -= 1
                    state = .afterValue
                } else {
                    state = .key
                }

            case .key:
                p = skipWhitespace(base, p, count)
                guard p < count, base[p] == UInt8(ascii: "\"") else { return .rejected(.invalidJSON) }
                let keyStart = p + 1
                guard let (close, escaped) = scanString(base, keyStart, count) else {
                    return .rejected(.invalidJSON)
                }
                let parent = containerNode[depth - 1]
                if parent >= 0 {
                    let child =
                        escaped
                        ? matchEscapedKey(parent, base, keyStart, close)
                        : matchKey(parent, base + keyStart, close - keyStart, readable: count - keyStart)
                    pendingNode = child
                    pendingSlot = child >= 0 ? nodeSlot[Int(child)] : -1
                } else {
                    pendingNode = -1
                    pendingSlot = -1
                }
                p = skipWhitespace(base, close + 1, count)
                guard p < count, base[p] == UInt8(ascii: ":") else { return .rejected(.invalidJSON) }
                p += 1
                state = .value

            case .arrayStart:
                p = skipWhitespace(base, p, count)
                guard p < count else { return .rejected(.invalidJSON) }
                if base[p] == UInt8(ascii: "]") {
                    p += 1
                    depth -= 1
                    state = .afterValue
                } else {
                    pendingNode = -1
                    pendingSlot = -1
                    state = .value
                }

            case .afterValue:
                p = skipWhitespace(base, p, count)
                if depth == 0 {
                    guard p == count else { return .rejected(.invalidJSON) }
                    return rootIsObject ? .object : .rejected(.notObject)
                }
                guard p < count else { return .rejected(.invalidJSON) }
                let c = base[p]
                let inObject = containerIsObject[depth - 1]
                if c == UInt8(ascii: ",") {
                    p += 1
                    if inObject {
                        state = .key
                    } else {
                        pendingNode = -1
                        pendingSlot = -1
                        state = .value
                    }
                } else if c == (inObject ? UInt8(ascii: "}") : UInt8(ascii: "]")) {
                    p += 1
                    depth -= 1
                } else {
                    return .rejected(.invalidJSON)
                }
            }
        }
    }

    @inline(__always)
    private func record(_ slot: Int32, _ kind: JSONValueKind, _ start: Int, _ end: Int, _ escaped: Bool) {
        guard slot >= 0 else { return }
        // A repeated key: the last occurrence wins, as in most JSON readers.
        values[Int(slot)] = ScannedValue(kind: kind, start: start, end: end, hasEscapes: escaped)
    }

    @inline(__always)
    private func skipWhitespace(_ base: UnsafePointer<UInt8>, _ from: Int, _ count: Int) -> Int {
        var p = from
        while p < count {
            let c = base[p]
            // One compare for the usual case, a byte that is not whitespace.
            guard c <= 0x20, c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D else { break }
            p += 1
        }
        return p
    }

    @inline(__always)
    private func matches(_ base: UnsafePointer<UInt8>, _ p: Int, _ count: Int, _ literal: StaticString) -> Bool {
        let length = literal.utf8CodeUnitCount
        guard p + length <= count else { return false }
        let expected = literal.utf8Start
        for i in 1..<length where base[p + i] != expected[i] { return false }
        return true
    }

    /// Scans a string's contents from `from` (just after the opening quote). Returns the index
    /// of the closing quote and whether escapes occur, or nil when the string is invalid JSON
    /// (an unescaped control character, a bad escape, or no closing quote).
    @inline(__always)
    private func scanString(_ base: UnsafePointer<UInt8>, _ from: Int, _ count: Int) -> (Int, Bool)? {
        var p = from
        var escaped = false
        while p < count {
            // Most string bytes are plain: skip them eight at a time, up to the first byte that
            // needs a look (a quote, a backslash or a control character).
            while p &+ 8 <= count {
                let word = UInt64(littleEndian: UnsafeRawPointer(base + p).loadUnaligned(as: UInt64.self))
                let special = JSONText.specialStringBytes(word)
                if special != 0 {
                    let offset = special.trailingZeroBitCount >> 3
                    p &+= offset
                    // Usually the closing quote: done without reading the byte again.
                    if UInt8(truncatingIfNeeded: word >> (UInt64(offset) << 3)) == UInt8(ascii: "\"") {
                        return (p, escaped)
                    }
                    break
                }
                p &+= 8
            }
            guard p < count else { return nil }
            let c = base[p]
            if c == UInt8(ascii: "\"") { return (p, escaped) }
            if c == UInt8(ascii: "\\") {
                escaped = true
                guard p + 1 < count else { return nil }
                switch base[p + 1] {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
                    UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    p += 2
                case UInt8(ascii: "u"):
                    guard p + 5 < count, JSONText.hexValue(base[p + 2]) >= 0, JSONText.hexValue(base[p + 3]) >= 0,
                        JSONText.hexValue(base[p + 4]) >= 0, JSONText.hexValue(base[p + 5]) >= 0
                    else { return nil }
                    p += 6
                default:
                    return nil
                }
                continue
            }
            if c < 0x20 { return nil }
            p += 1
        }
        return nil
    }

    /// Scans a JSON number starting at `from`; returns the index after it, or nil if invalid.
    @inline(__always)
    private func scanNumber(_ base: UnsafePointer<UInt8>, _ from: Int, _ count: Int) -> Int? {
        var p = from
        if base[p] == UInt8(ascii: "-") { p += 1 }
        guard p < count else { return nil }
        if base[p] == UInt8(ascii: "0") {
            p += 1
        } else if base[p] >= UInt8(ascii: "1") && base[p] <= UInt8(ascii: "9") {
            p += 1
            while p < count && base[p] &- UInt8(ascii: "0") < 10 { p += 1 }
        } else {
            return nil
        }
        if p < count && base[p] == UInt8(ascii: ".") {
            p += 1
            let digits = p
            while p < count && base[p] &- UInt8(ascii: "0") < 10 { p += 1 }
            guard p > digits else { return nil }
        }
        if p < count && (base[p] | 0x20) == UInt8(ascii: "e") {
            p += 1
            if p < count && (base[p] == UInt8(ascii: "+") || base[p] == UInt8(ascii: "-")) { p += 1 }
            let digits = p
            while p < count && base[p] &- UInt8(ascii: "0") < 10 { p += 1 }
            guard p > digits else { return nil }
        }
        return p
    }

    /// The child of `node` named by the raw key bytes, or -1. `readable` bytes from `key` on may
    /// be read (at least `length`).
    @inline(__always)
    private func matchKey(_ node: Int32, _ key: UnsafePointer<UInt8>, _ length: Int, readable: Int) -> Int32 {
        guard length <= longestKey else { return -1 }
        let prefix = Self.prefixWord(key, length, readable: readable)
        var slot = Self.keySlot(parent: node, length: length, prefix: prefix, shift: keyTableShift)
        while true {
            let entry = keyTable[slot]
            if entry == 0 { return -1 }
            let child = Int(entry - 1)
            if childKeyPrefix[child] == prefix && Int(childKeyLength[child]) == length && childParent[child] == node {
                if length <= 8 { return childNode[child] }
                let stored = keyBytes.baseAddress! + Int(childKeyOffset[child])
                var same = true
                for i in 8..<length where stored[i] != key[i] {
                    same = false
                    break
                }
                if same { return childNode[child] }
            }
            slot = (slot + 1) & (keyTable.count - 1)
        }
    }

    @inline(__always)
    private static func keySlot(parent: Int32, length: Int, prefix: UInt64, shift: UInt64) -> Int {
        let mixed = (prefix ^ UInt64(length) << 56 ^ UInt64(UInt32(bitPattern: parent)) << 40) &* 0x9E37_79B9_7F4A_7C15
        return Int(truncatingIfNeeded: mixed >> shift)
    }

    /// The first `min(length, 8)` bytes of a key as one little-endian word, zero-padded.
    @inline(__always)
    private static func prefixWord(_ key: UnsafePointer<UInt8>, _ length: Int, readable: Int) -> UInt64 {
        if readable >= 8 {
            let word = UInt64(littleEndian: UnsafeRawPointer(key).loadUnaligned(as: UInt64.self))
            return length >= 8 ? word : word & ((1 << (UInt64(length) &* 8)) &- 1)
        }
        var word: UInt64 = 0
        for i in 0..<min(length, 8) { word |= UInt64(key[i]) << (UInt64(i) &* 8) }
        return word
    }

    /// Rare path: a key written with escapes (`"mod\u0065l"`) is decoded before matching.
    private func matchEscapedKey(_ node: Int32, _ base: UnsafePointer<UInt8>, _ start: Int, _ end: Int) -> Int32 {
        guard JSONText.unescape(UnsafeRawBufferPointer(start: base + start, count: end - start), into: &keyScratch)
        else { return -1 }
        return keyScratch.withUnsafeBufferPointer { decoded in
            matchKey(node, decoded.baseAddress ?? UnsafePointer(bitPattern: 1)!, decoded.count, readable: decoded.count)
        }
    }
}
