import Foundation
import TokentallyCounting
import TokentallyReading
import TokentallySystem
import Yams

// MARK: - Value parsing shared by the file and the environment

/// A node is null when it is an unquoted `null`, `~` or nothing at all: the key is there, its
/// value is not, and the default stays.
func isNull(_ node: Node) -> Bool {
    guard case .scalar(let scalar) = node, scalar.style == .plain || scalar.style == .any else { return false }
    return ["", "~", "null", "Null", "NULL"].contains(scalar.string)
}

/// How a node reads in a message: its text quoted, or what kind of node it is.
func describe(_ node: Node) -> String {
    switch node {
    case .scalar(let scalar): isNull(node) ? "nothing" : quoted(scalar.string)
    case .mapping: "a mapping"
    case .sequence: "a list"
    case .alias: "an alias"
    }
}

/// A user's value in double quotes, shortened, with control characters escaped.
func quoted(_ text: String) -> String {
    let limit = 60
    let shown = text.count > limit ? String(text.prefix(limit)) + "..." : text
    let escaped = shown.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
    return "\"" + ConfigurationError.singleLine(escaped) + "\""
}

func firstLine(of error: any Error) -> String {
    let text = String(describing: error)
    return String(text.split(whereSeparator: \.isNewline).first ?? Substring(text))
}

enum WholeNumber: Equatable {
    case value(Int)
    case tooLarge
    case notWhole
}

/// Reads a decimal whole number: an optional sign, then digits, with single `_` between digits
/// (`1_000_000`) as YAML and Swift allow.
func parseWholeNumber(_ raw: String) -> WholeNumber {
    var text = Substring(raw.trimmingCharacters(in: .whitespaces))
    var negative = false
    if let sign = text.first, sign == "+" || sign == "-" {
        negative = sign == "-"
        text = text.dropFirst()
    }
    guard let first = text.first, first.isASCII, first.isNumber, text.last?.isNumber == true,
        !text.contains("__")
    else { return .notWhole }
    var value = 0
    var overflowed = false
    for character in text where character != "_" {
        guard character.isASCII, let digit = character.wholeNumberValue else { return .notWhole }
        if overflowed { continue }
        let (shifted, overflow1) = value.multipliedReportingOverflow(by: 10)
        let (sum, overflow2) = shifted.addingReportingOverflow(digit)
        if overflow1 || overflow2 { overflowed = true } else { value = sum }
    }
    if overflowed { return .tooLarge }
    return .value(negative ? -value : value)
}

/// Reads a boolean as YAML users and environment variables write it.
func parseFlag(_ raw: String) -> Bool? {
    switch raw.trimmingCharacters(in: .whitespaces).lowercased() {
    case "true", "yes", "on", "1": true
    case "false", "no", "off", "0": false
    default: nil
    }
}

/// Reads a file mode as `chmod` does: its digits are octal whether or not it starts with `0`
/// (`640`, `0640`, `"0640"` and `0o640` are the same mode). Nil when it is not octal digits.
func parseFileMode(_ raw: String) -> Int? {
    var text = Substring(raw.trimmingCharacters(in: .whitespaces))
    if text.hasPrefix("0o") || text.hasPrefix("0O") { text = text.dropFirst(2) }
    guard !text.isEmpty, text.count <= 6, text.allSatisfy({ ("0"..."7").contains($0) }) else { return nil }
    return Int(text, radix: 8)
}

/// `0640` for mode 0o640.
func octalFileMode(_ mode: UInt16) -> String {
    let digits = String(mode, radix: 8)
    return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
}

/// Reads `200-299` as a range of status codes.
func parseStatusRange(_ raw: String) -> (lower: Int64, upper: Int64)? {
    let parts = raw.split(separator: "-", omittingEmptySubsequences: false)
    guard parts.count == 2,
        let lower = Int64(parts[0].trimmingCharacters(in: .whitespaces)),
        let upper = Int64(parts[1].trimmingCharacters(in: .whitespaces))
    else { return nil }
    return (lower, upper)
}

/// The candidate a mistyped name most likely meant: within a third of its length in edits (at
/// least one). Nil when nothing is that close.
func closest(to name: String, among candidates: [String]) -> String? {
    let target = Array(name.lowercased())
    var best: (candidate: String, distance: Int)?
    for candidate in candidates {
        let distance = editDistance(target, Array(candidate.lowercased()))
        if distance < (best?.distance ?? Int.max) { best = (candidate, distance) }
    }
    guard let best, best.distance <= max(1, target.count / 3) else { return nil }
    return best.candidate
}

/// Levenshtein distance, one row at a time.
func editDistance(_ a: [Character], _ b: [Character]) -> Int {
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var previous = Array(0...b.count)
    var current = [Int](repeating: 0, count: b.count + 1)
    for i in 1...a.count {
        current[0] = i
        for j in 1...b.count {
            let substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)
            current[j] = min(previous[j] + 1, current[j - 1] + 1, substitution)
        }
        swap(&previous, &current)
    }
    return previous[b.count]
}
