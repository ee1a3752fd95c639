/// A secret pattern simple enough to match byte by byte: literal ASCII characters, character
/// classes of them (`[-_]`, `[a-z0-9]`) and groups of literal alternatives (`(sk|pk|rk)`,
/// `(?:sk|pk)`), optionally anchored with a leading `^`. The default `^(sk|pk|rk)[-_]` is one.
///
/// At high cardinality every new key is checked once, and a `Regex` check costs a few
/// microseconds where this costs tens of nanoseconds. It answers only where its answer is the
/// `Regex`'s for certain, and nil elsewhere, so the caller asks the `Regex`:
/// - The key must be all ASCII. A `Regex` compares characters by canonical equivalence (K and
///   U+212A KELVIN SIGN are the same character), and a combining mark after an ASCII letter
///   makes one character of the two.
/// - Every byte of the pattern's subset is a printable ASCII character, so no match can start
///   or end inside a character (only CR LF is one character of two ASCII bytes).
/// Anything outside the subset (quantifiers, `.`, `$`, `\d`, negated classes, nesting, set
/// operations) makes `init` fail, and the `Regex` alone decides.
struct LiteralSecretPattern: Sendable {
    /// One position of the pattern: the bytes any of whose alternatives matches there. A literal
    /// is one alternative of one byte; a class is one alternative per byte it holds.
    private enum Item: Sendable {
        case alternatives([[UInt8]])
        case byteSet(ByteSet)
    }

    /// The 128 ASCII bytes as two words of bits.
    struct ByteSet: Sendable {
        var low: UInt64 = 0
        var high: UInt64 = 0
        mutating func insert(_ byte: UInt8) {
            if byte < 64 { low |= 1 << UInt64(byte) } else { high |= 1 << UInt64(byte - 64) }
        }
        func contains(_ byte: UInt8) -> Bool {
            if byte < 64 { return low & (1 << UInt64(byte)) != 0 }
            return byte < 128 && high & (1 << UInt64(byte - 64)) != 0
        }
    }

    private let anchored: Bool
    private let items: [Item]

    /// Characters with a meaning of their own in a Swift `Regex`, outside a class.
    private static let metacharacters = Set("\\^$.|?*+()[]{}".utf8)

    /// The byte matcher of `pattern`, or nil when the pattern is outside the subset.
    init?(_ pattern: String) {
        var bytes = Array(pattern.utf8)[...]
        anchored = bytes.first == UInt8(ascii: "^")
        if anchored { bytes = bytes.dropFirst() }
        var items: [Item] = []
        while let byte = bytes.first {
            switch byte {
            case UInt8(ascii: "("):
                bytes = bytes.dropFirst()
                if bytes.starts(with: "?:".utf8) { bytes = bytes.dropFirst(2) }
                var alternatives: [[UInt8]] = [[]]
                while true {
                    guard let next = bytes.first else { return nil }
                    if next == UInt8(ascii: ")") {
                        bytes = bytes.dropFirst()
                        break
                    }
                    if next == UInt8(ascii: "|") {
                        alternatives.append([])
                        bytes = bytes.dropFirst()
                        continue
                    }
                    guard let literal = Self.literal(&bytes) else { return nil }
                    alternatives[alternatives.count - 1].append(literal)
                }
                items.append(.alternatives(alternatives))
            case UInt8(ascii: "["):
                bytes = bytes.dropFirst()
                guard let set = Self.characterClass(&bytes) else { return nil }
                items.append(.byteSet(set))
            default:
                guard let literal = Self.literal(&bytes) else { return nil }
                items.append(.alternatives([[literal]]))
            }
        }
        self.items = items
    }

    /// One literal character: a printable ASCII byte that is not a metacharacter, or a
    /// metacharacter or other punctuation escaped with a backslash.
    private static func literal(_ bytes: inout ArraySlice<UInt8>) -> UInt8? {
        guard let byte = bytes.first, isPrintable(byte) else { return nil }
        if byte == UInt8(ascii: "\\") {
            guard bytes.count >= 2 else { return nil }
            let escaped = bytes[bytes.startIndex + 1]
            // `\d`, `\w`, `\b`, `\1`, `\<`... are classes, anchors or references, not literals.
            guard isEscapable(escaped) else { return nil }
            bytes = bytes.dropFirst(2)
            return escaped
        }
        guard !metacharacters.contains(byte) else { return nil }
        bytes = bytes.dropFirst()
        return byte
    }

    /// A class's members up to its `]`: literal bytes and ranges between two plain members, a
    /// `-` first or last taken as itself. Negation, nested classes, escapes other than
    /// punctuation, the set operators `--`, `&&`, `~~`, and dashes anywhere else (where engines
    /// read them differently) are outside the subset.
    private static func characterClass(_ bytes: inout ArraySlice<UInt8>) -> ByteSet? {
        var set = ByteSet()
        var members: [UInt8] = []
        var first = true
        guard bytes.first != UInt8(ascii: "^") else { return nil }
        while true {
            guard let byte = bytes.first, isPrintable(byte) else { return nil }
            if byte == UInt8(ascii: "]") {
                bytes = bytes.dropFirst()
                break
            }
            // A nested class, or a POSIX one (`[:alpha:]`).
            if byte == UInt8(ascii: "[") || byte == UInt8(ascii: ":") { return nil }
            if bytes.count >= 2, bytes[bytes.startIndex + 1] == byte,
                byte == UInt8(ascii: "-") || byte == UInt8(ascii: "&") || byte == UInt8(ascii: "~")
            {
                return nil
            }
            var member = byte
            let escaped = byte == UInt8(ascii: "\\")
            if escaped {
                guard bytes.count >= 2 else { return nil }
                member = bytes[bytes.startIndex + 1]
                guard isEscapable(member) else { return nil }
                bytes = bytes.dropFirst(2)
            } else {
                bytes = bytes.dropFirst()
            }
            // A range `a-z`: a `-` between two plain members, not before the closing `]`.
            let dashFollows = bytes.first == UInt8(ascii: "-")
            if dashFollows, bytes.count >= 2, bytes[bytes.startIndex + 1] != UInt8(ascii: "]") {
                // `[\--/]`, `[--/]`: engines differ on what such a range holds.
                guard !escaped, member != UInt8(ascii: "-") else { return nil }
                let upper = bytes[bytes.startIndex + 1]
                guard isPrintable(upper), upper != UInt8(ascii: "\\"), upper != UInt8(ascii: "["), upper >= member
                else { return nil }
                bytes = bytes.dropFirst(2)
                for value in member...upper { set.insert(value) }
                // `[a-b-c]`: a dash right after a range, unless it is the last member.
                if bytes.first == UInt8(ascii: "-"), bytes.count >= 2, bytes[bytes.startIndex + 1] != UInt8(ascii: "]")
                {
                    return nil
                }
                first = false
                continue
            }
            // A dash as itself only first or last, as everyone reads it.
            if !escaped, member == UInt8(ascii: "-"), !first, bytes.first != UInt8(ascii: "]") { return nil }
            members.append(member)
            first = false
        }
        for member in members { set.insert(member) }
        // `[]` and `[]a]` are read differently by different engines: leave them to the `Regex`.
        guard set.low != 0 || set.high != 0 else { return nil }
        return set
    }

    private static func isPrintable(_ byte: UInt8) -> Bool { byte >= 0x20 && byte < 0x7F }

    /// What a backslash makes a literal: a metacharacter, or `-`.
    private static func isEscapable(_ byte: UInt8) -> Bool {
        metacharacters.contains(byte) || byte == UInt8(ascii: "-")
    }

    /// Whether the pattern matches `key` somewhere (at its start when anchored); nil when only
    /// the `Regex` can tell (a key that is not all ASCII).
    func matches(_ key: UnsafeBufferPointer<UInt8>) -> Bool? {
        for byte in key where byte >= 0x80 { return nil }
        let lastStart = anchored ? 0 : key.count
        var start = 0
        while start <= lastStart {
            if matches(key, at: start, item: 0) { return true }
            start += 1
        }
        return false
    }

    /// Whether items from `item` on match `key` from `position` (alternatives tried in turn).
    private func matches(_ key: UnsafeBufferPointer<UInt8>, at position: Int, item: Int) -> Bool {
        guard item < items.count else { return true }
        switch items[item] {
        case .byteSet(let set):
            return position < key.count && set.contains(key[position])
                && matches(key, at: position + 1, item: item + 1)
        case .alternatives(let alternatives):
            for alternative in alternatives
            where position + alternative.count <= key.count
                && alternative.indices.allSatisfy({ key[position + $0] == alternative[$0] })
            {
                if matches(key, at: position + alternative.count, item: item + 1) { return true }
            }
            return false
        }
    }
}
