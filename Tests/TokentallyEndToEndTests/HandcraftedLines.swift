import Foundation

/// A JSON string literal for `text` (quotes, backslashes and control characters escaped).
func jsonString(_ text: String) -> String {
    var result = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": result += "\\\""
        case "\\": result += "\\\\"
        case "\n": result += "\\n"
        case "\r": result += "\\r"
        case "\t": result += "\\t"
        case _ where scalar.value < 0x20:
            let hex = String(scalar.value, radix: 16)
            result += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        default: result.unicodeScalars.append(scalar)
        }
    }
    return result + "\""
}

/// One line in the canonical (`tokentally`) format. `ts` and every value in `fields` are raw
/// JSON text (`"\"2026-11-20T00:00:00Z\""`, `"1798761600"`, `"\"0.05\""`), written in the order given.
func canonicalLine(
    ts: String, apiKey: String = "team-alpha", model: String = "acme/model-a", provider: String = "acme",
    fields: KeyValuePairs<String, String> = [:]
) -> String {
    var members = [
        "\"ts\":\(ts)", "\"api_key\":\(jsonString(apiKey))", "\"model\":\(jsonString(model))",
        "\"provider\":\(jsonString(provider))",
    ]
    for (name, value) in fields { members.append("\(jsonString(name)):\(value)") }
    return "{" + members.joined(separator: ",") + "}"
}

/// Lines joined with `\n`, with a final `\n`.
func logBytes(_ lines: [String]) -> Data {
    Data((lines.joined(separator: "\n") + "\n").utf8)
}
