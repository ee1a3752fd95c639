/// `tokentally report --format json` and `GET /api/v1/report`: one document, described by
/// docs/schemas/report.schema.json (`tokentally.report/v1`). COUNTERS carry the snapshot's
/// names and number formats; distributions are the snapshot's own figures.
public enum ReportJSON {
    public static let schema = "tokentally.report/v1"

    /// `text` as a JSON string (quotes, backslashes, control characters and U+2028/U+2029
    /// escaped).
    public static func quoted(_ text: String) -> String { JSONText.quoted(text) }

    public static func render(_ report: Report) -> String {
        var out = JSONText()
        out.open("{")
        out.member("schema", string: schema)
        out.member("period", string: report.period)
        out.member("bucket", string: report.bucket)
        out.member("start", string: report.start)
        out.member("end", string: report.end)
        out.member("timezone", string: report.timezone)
        out.key("hosts")
        out.open("[")
        for host in report.hosts {
            out.item()
            out.open("{")
            out.member("host", string: host.name)
            out.member("generated_at", string: host.generatedAt)
            out.close("}")
        }
        out.close("]")
        out.key("filters")
        out.open("{")
        for (name, values) in [
            ("keys", report.selection.keys), ("models", report.selection.models),
            ("providers", report.selection.providers),
        ] {
            out.key(name)
            out.open("[")
            for value in values {
                out.item()
                out.string(value)
            }
            out.close("]")
        }
        out.close("}")
        out.key("totals")
        counters(report.totals, into: &out, successRate: true)
        for (name, rows) in [
            ("by_model", report.byModel), ("by_provider", report.byProvider), ("by_key", report.byKey),
        ] {
            out.key(name)
            out.open("{")
            for row in rows {
                out.key(row.name)
                counters(row.counters, into: &out, successRate: true)
            }
            out.close("}")
        }
        out.key("days")
        out.open("[")
        for day in report.days {
            out.item()
            out.open("{")
            out.member("bucket", string: day.bucket)
            out.key("present")
            out.raw(day.present ? "true" : "false")
            counterMembers(day.counters, into: &out)
            out.close("}")
        }
        out.close("]")
        out.key("highlights")
        out.open("{")
        out.member("primary_provider", string: report.primaryProvider)
        out.key("provider_count")
        out.raw(String(report.providerCount))
        out.member("fastest_provider", string: report.fastestProvider)
        out.close("}")
        performance(report.performance, into: &out)
        out.close("}")
        return out.text + "\n"
    }

    /// `GET /api/v1/buckets`: the time zone and the labels of each period, oldest first.
    public static func buckets(_ index: SnapshotIndex) -> String {
        var out = JSONText()
        out.open("{")
        out.member("timezone", string: index.timezone)
        out.key("buckets")
        out.open("{")
        for period in SnapshotIndex.periods {
            out.key(period)
            out.open("[")
            for label in index.buckets[period] ?? [] {
                out.item()
                out.string(label)
            }
            out.close("]")
        }
        out.close("}")
        out.close("}")
        return out.text + "\n"
    }

    private static func performance(_ view: Report.PerformanceView, into out: inout JSONText) {
        out.key("performance")
        out.open("{")
        out.key("available")
        out.raw(view.available ? "true" : "false")
        out.member("note", string: view.note)
        out.key("totals")
        if let totals = view.totals { distributions(totals, into: &out) } else { out.raw("null") }
        out.key("by_model")
        out.open("{")
        for row in view.byModel {
            out.key(row.name)
            distributions(row.performance, requests: row.requests, into: &out)
        }
        out.close("}")
        out.key("by_model_provider")
        out.open("[")
        for row in view.byModelProvider {
            out.item()
            distributions(row.performance, requests: row.requests, model: row.model, provider: row.provider, into: &out)
        }
        out.close("]")
        for (name, request) in [("fastest_request", view.fastestRequest), ("slowest_request", view.slowestRequest)] {
            out.key(name)
            guard let request else {
                out.raw("null")
                continue
            }
            out.open("{")
            out.member("request_id", string: request.requestID)
            out.member("model", string: request.model)
            out.member("provider", string: request.provider)
            out.key("latency_ms")
            out.raw(request.latencyText)
            out.close("}")
        }
        out.member("fastest_model", string: view.fastestModel)
        out.member("slowest_model", string: view.slowestModel)
        out.member("highest_throughput_model", string: view.highestThroughputModel)
        out.member("lowest_throughput_model", string: view.lowestThroughputModel)
        out.key("min_requests")
        out.raw(String(view.minRequests))
        out.close("}")
    }

    private static func distributions(
        _ performance: Performance, requests: UInt64? = nil, model: String? = nil, provider: String? = nil,
        into out: inout JSONText
    ) {
        out.open("{")
        if let model { out.member("model", string: model) }
        if let provider { out.member("provider", string: provider) }
        if let requests {
            out.key("requests")
            out.raw(String(requests))
        }
        for (name, distribution) in performance.all {
            out.key(name)
            out.open("{")
            for figure in distribution.figures {
                out.key(figure.name)
                out.raw(figure.text ?? "null")
            }
            out.close("}")
        }
        out.close("}")
    }

    static func counters(_ counters: Counters, into out: inout JSONText, successRate: Bool) {
        out.open("{")
        counterMembers(counters, into: &out)
        if successRate {
            out.key("success_rate")
            out.raw(counters.successRateText ?? "null")
        }
        out.close("}")
    }

    /// The counters' names as JSON keys, quoted once.
    private static let counterKeys = Counters.names.map { JSONText.quoted($0) + ": " }

    private static func counterMembers(_ counters: Counters, into out: inout JSONText) {
        for (index, key) in counterKeys.enumerated() {
            out.quotedKey(key)
            out.raw(counters.text(index))
        }
    }
}

/// A small JSON text builder: two-space indentation, members and items separated as they come.
struct JSONText {
    private(set) var text = ""
    private var first = [true]
    /// "\n" and the indentation of each depth, made once.
    private var breaks = ["\n"]

    private mutating func newline(depth: Int) {
        while breaks.count <= depth { breaks.append(breaks[breaks.count - 1] + "  ") }
        text += breaks[depth]
    }

    private mutating func separate() {
        if first[first.count - 1] {
            first[first.count - 1] = false
        } else {
            text += ","
        }
        newline(depth: first.count - 1)
    }

    mutating func open(_ bracket: Character) {
        text.append(bracket)
        first.append(true)
    }

    mutating func close(_ bracket: Character) {
        let empty = first.removeLast()
        if !empty { newline(depth: first.count - 1) }
        text.append(bracket)
    }

    mutating func key(_ name: String) {
        separate()
        string(name)
        text += ": "
    }

    /// A key already quoted and followed by `: `.
    mutating func quotedKey(_ text: String) {
        separate()
        self.text += text
    }

    /// Before an array element.
    mutating func item() { separate() }

    mutating func raw(_ value: String) { text += value }

    mutating func member(_ name: String, string value: String?) {
        key(name)
        if let value { string(value) } else { text += "null" }
    }

    mutating func string(_ value: String) { text += Self.quoted(value) }

    /// `value` as a JSON string: `"`, `\`, control characters and U+2028/U+2029 escaped.
    static func quoted(_ value: String) -> String {
        // Most names need no escape at all.
        if !value.utf8.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C || $0 == 0xE2 }) {
            return "\"" + value + "\""
        }
        var out = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{2028}": out += "\\u2028"
            case "\u{2029}": out += "\\u2029"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
