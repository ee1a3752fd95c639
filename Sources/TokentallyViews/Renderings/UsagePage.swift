/// `GET /`: the usage page, drawn by the server. Three tabs (usage, provider, performance) as
/// links, the filters as a GET form, so that it all works without JavaScript; charts as inline
/// SVG. Every KPI figure carries its exact value for machines:
/// `data-metric="<counter name>" data-value="<exact number>"` (distributions as
/// `latency_ms.p50` and so on, names of the provider tab as their text).
public enum UsagePage {
    /// Above this many keys, the key filter is a text field instead of a list.
    static let keyListLimit = 500

    public static func render(_ report: Report) -> String {
        var html = HTML()
        let selection = report.selection
        let tab = selection.tab == .all ? .usage : selection.tab
        html.raw(
            """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>tokentally · \(HTML.escape(report.period)) \(HTML.escape(report.bucket))</title>
            <style>\(style)</style></head><body>
            <header><h1>tokentally</h1><p class="where">\(HTML.escape(report.period)) <b>\(HTML.escape(report.bucket))</b>
            · \(HTML.escape(report.start)) – \(HTML.escape(report.end)) (\(HTML.escape(report.timezone)))
            · host\(report.hosts.count == 1 ? "" : "s") \(HTML.escape(report.hosts.map(\.name).joined(separator: ", ")))</p></header>
            """)
        filters(report, tab: tab, &html)
        html.raw("<nav class=\"tabs\">")
        for each in [Selection.Tab.usage, .provider, .performance] {
            var target = selection
            target.tab = each
            let current = each == tab ? " class=\"current\" aria-current=\"page\"" : ""
            html.raw("<a href=\"/?\(Query.encode(target.query))\"\(current)>\(each.rawValue.capitalized)</a>")
        }
        html.raw("</nav><main>")
        switch tab {
        case .provider: provider(report, &html)
        case .performance: performance(report, &html)
        default: usage(report, &html)
        }
        html.raw(
            "</main><footer>Counters are exact sums of the snapshot's series rows; quantiles are within 1% (docs/snapshot-format.md). JSON: <a href=\"/api/v1/report?\(Query.encode(selection.query))\">/api/v1/report</a> · CSV: <a href=\"/api/v1/report.csv?\(Query.encode(selection.query))\">/api/v1/report.csv</a></footer></body></html>\n"
        )
        return html.text
    }

    // MARK: - Filters

    private static func filters(_ report: Report, tab: Selection.Tab, _ html: inout HTML) {
        let selection = report.selection
        html.raw("<form class=\"filters\" method=\"get\" action=\"/\"><label>Period <select name=\"period\">")
        for period in SnapshotIndex.periods {
            html.raw("<option\(period == report.period ? " selected" : "")>\(period)</option>")
        }
        html.raw("</select></label><label>Bucket <select name=\"bucket\">")
        for label in report.buckets.reversed() {
            html.raw(
                "<option value=\"\(HTML.escape(label))\"\(label == report.bucket ? " selected" : "")>\(HTML.escape(label))</option>"
            )
        }
        html.raw("</select></label>")
        if report.keyNames.count > keyListLimit {
            html.raw(
                "<label>API key <input name=\"key\" value=\"\(HTML.escape(selection.keys.first ?? ""))\" placeholder=\"all \(report.keyNames.count) keys\"></label>"
            )
        } else {
            multiple("key", "API keys", report.keyNames, selected: selection.keys, &html)
        }
        multiple("model", "Models", report.modelNames, selected: selection.models, &html)
        multiple("provider", "Providers", report.providerNames, selected: selection.providers, &html)
        html.raw(
            "<input type=\"hidden\" name=\"tab\" value=\"\(tab.rawValue)\"><button type=\"submit\">Show</button> <a href=\"/?period=\(report.period)&amp;tab=\(tab.rawValue)\">clear</a></form>"
        )
        if selection.isFiltered {
            let shown = selection.query.filter { ["key", "model", "provider"].contains($0.name) }
                .map { "\($0.name) = \(HTML.escape($0.value))" }.joined(separator: ", ")
            html.raw("<p class=\"filtered\">Filtered: \(shown)</p>")
        }
    }

    private static func multiple(
        _ name: String, _ title: String, _ options: [String], selected: [String], _ html: inout HTML
    ) {
        let chosen = Set(selected)
        html.raw("<label>\(title) <select name=\"\(name)\" multiple size=\"\(min(4, max(2, options.count)))\">")
        for option in options {
            html.raw(
                "<option value=\"\(HTML.escape(option))\"\(chosen.contains(option) ? " selected" : "")>\(HTML.escape(option))</option>"
            )
        }
        html.raw("</select></label>")
    }

    // MARK: - Tabs

    private static func usage(_ report: Report, _ html: inout HTML) {
        let t = report.totals
        html.raw("<section class=\"kpis\">")
        kpi("Total tokens", "total_tokens", t, &html)
        kpi("Input tokens", "input_tokens", t, &html)
        kpi("Output tokens", "output_tokens", t, &html)
        kpi("Requests", "requests", t, &html)
        kpi("Cost", "cost_usd", t, &html)
        html.raw("</section><h2>Web search</h2><section class=\"kpis small\">")
        kpi("Requests with web search", "web_search_requests", t, &html)
        kpi("Web search calls", "web_search_calls", t, &html)
        kpi("Their input tokens", "web_search_input_tokens", t, &html)
        kpi("Their output tokens", "web_search_output_tokens", t, &html)
        html.raw("</section>")
        if report.days.count > 1 {
            html.raw("<h2>Day by day</h2>")
            html.raw(
                Chart.columns(
                    report.days.map { ($0.bucket, Double($0.counters.totalTokens), $0.present) }, unit: "tokens"))
        }
        html.raw("<h2>By token type</h2><section class=\"kpis small\">")
        kpi("Cached", "cached_tokens", t, &html)
        kpi("Cache write", "cache_write_tokens", t, &html)
        kpi("Reasoning", "reasoning_tokens", t, &html)
        html.raw("</section>")
        html.raw(
            Chart.bars([
                ("input", Double(t.inputTokens)), ("output", Double(t.outputTokens)), ("cached", Double(t.integers[6])),
                ("cache write", Double(t.integers[7])), ("reasoning", Double(t.integers[8])),
            ]))
        html.raw("<h2>By model</h2>")
        html.raw(
            Chart.bars(
                report.byModel.sorted { $0.counters.totalTokens > $1.counters.totalTokens }.prefix(20).map {
                    ($0.name, Double($0.counters.totalTokens))
                }))
        table(report.byModel, title: "model", &html)
        html.raw("<h2>By API key</h2>")
        let keys = report.byKey.sorted { $0.counters.totalTokens > $1.counters.totalTokens }
        if keys.count > 100 { html.raw("<p class=\"note\">The 100 keys with the most tokens of \(keys.count).</p>") }
        table(Array(keys.prefix(100)), title: "API key", &html)
    }

    private static func provider(_ report: Report, _ html: inout HTML) {
        html.raw("<section class=\"kpis\">")
        named("Primary provider", "primary_provider", report.primaryProvider, &html)
        figure("Providers", "provider_count", String(report.providerCount), String(report.providerCount), &html)
        figure(
            "Success rate", "success_rate", report.totals.successRateText ?? "",
            Format.percent(report.totals.successRate),
            &html)
        named("Fastest provider", "fastest_provider", report.fastestProvider, &html)
        html.raw("</section>")
        html.raw("<h2>Tokens by provider</h2>")
        html.raw(Chart.bars(report.byProvider.map { ($0.name, Double($0.counters.totalTokens)) }))
        html.raw("<h2>Requests by provider</h2>")
        html.raw(Chart.bars(report.byProvider.map { ($0.name, Double($0.counters.requests)) }))
        table(report.byProvider, title: "provider", &html)
    }

    private static func performance(_ report: Report, _ html: inout HTML) {
        let view = report.performance
        if let note = view.note { html.raw("<p class=\"note\" data-note=\"performance\">\(HTML.escape(note))</p>") }
        guard view.available else { return }
        if let totals = view.totals {
            for (name, distribution) in totals.all {
                html.raw("<h2>\(title(name))</h2><section class=\"kpis small\">")
                for figureName in ["mean", "p50", "p90", "p99"] {
                    let text = distribution.text(figureName)
                    figure(
                        figureName, "\(name).\(figureName)", text ?? "", Format.measure(text.flatMap { Double($0) }),
                        &html)
                }
                html.raw("</section>")
            }
        }
        html.raw("<section class=\"kpis small\">")
        named("Highest throughput model", "highest_throughput_model", view.highestThroughputModel, &html)
        named("Lowest throughput model", "lowest_throughput_model", view.lowestThroughputModel, &html)
        named("Fastest model", "fastest_model", view.fastestModel, &html)
        named("Slowest model", "slowest_model", view.slowestModel, &html)
        html.raw("</section><section class=\"kpis small\">")
        for (label, metric, request) in [
            ("Fastest request", "fastest_request.latency_ms", view.fastestRequest),
            ("Slowest request", "slowest_request.latency_ms", view.slowestRequest),
        ] {
            figure(
                label, metric, request?.latencyText ?? "", request.map { Format.measure($0.latencyMs) + " ms" } ?? "–",
                &html, detail: request.map { "\($0.model) via \($0.provider)" })
        }
        html.raw("</section>")
        let rows: [(String, Performance)] =
            view.byModel.isEmpty
            ? view.byModelProvider.map { ("\($0.model) · \($0.provider)", $0.performance) }
            : view.byModel.map { ($0.name, $0.performance) }
        html.raw("<h2>Latency p50 by model (ms)</h2>")
        html.raw(Chart.bars(rows.compactMap { row in row.1.latencyMs.value("p50").map { (row.0, $0) } }))
        html.raw("<table><thead><tr><th>model</th>")
        for name in Performance.names {
            let short = name == "latency_ms" ? "latency ms" : name == "ttft_ms" ? "TTFT ms" : "tok/s"
            for figureName in ["mean", "p50", "p90", "p99"] { html.raw("<th>\(short) \(figureName)</th>") }
        }
        html.raw("</tr></thead><tbody>")
        for (name, performance) in rows {
            html.raw("<tr><td>\(HTML.escape(name))</td>")
            for (_, distribution) in performance.all {
                for figureName in ["mean", "p50", "p90", "p99"] {
                    html.raw("<td class=\"n\">\(Format.measure(distribution.value(figureName)))</td>")
                }
            }
            html.raw("</tr>")
        }
        html.raw(
            "</tbody></table><p class=\"note\">Models are compared with at least \(view.minRequests) requests.</p>")
    }

    private static func title(_ distribution: String) -> String {
        switch distribution {
        case "latency_ms": "Latency (ms)"
        case "ttft_ms": "Time to first token (ms)"
        default: "Throughput (tokens/s)"
        }
    }

    // MARK: - Parts

    private static func kpi(_ label: String, _ metric: String, _ counters: Counters, _ html: inout HTML) {
        let index = Counters.names.firstIndex(of: metric)!
        let exact = counters.text(index)
        let shown =
            index < Counters.integerCount ? Format.count(counters.integers[index]) : Format.dollars(counters.costNanos)
        figure(label, metric, exact, shown, &html)
    }

    private static func figure(
        _ label: String, _ metric: String, _ exact: String, _ shown: String, _ html: inout HTML, detail: String? = nil
    ) {
        html.raw(
            "<div class=\"kpi\"><span class=\"label\">\(HTML.escape(label))</span><span class=\"value\" data-metric=\"\(metric)\" data-value=\"\(HTML.escape(exact))\" title=\"\(HTML.escape(exact))\">\(HTML.escape(shown))</span>"
        )
        if let detail { html.raw("<span class=\"detail\">\(HTML.escape(detail))</span>") }
        html.raw("</div>")
    }

    private static func named(_ label: String, _ metric: String, _ name: String?, _ html: inout HTML) {
        figure(label, metric, name ?? "", name ?? "–", &html)
    }

    private static func table(_ rows: [(name: String, counters: Counters)], title: String, _ html: inout HTML) {
        html.raw(
            "<table><thead><tr><th>\(HTML.escape(title))</th><th>tokens</th><th>input</th><th>output</th><th>cached</th><th>requests</th><th>success</th><th>cost</th></tr></thead><tbody>"
        )
        for row in rows {
            let c = row.counters
            html.raw(
                "<tr><td>\(HTML.escape(row.name))</td><td class=\"n\">\(Format.count(c.totalTokens))</td><td class=\"n\">\(Format.count(c.inputTokens))</td><td class=\"n\">\(Format.count(c.outputTokens))</td><td class=\"n\">\(Format.count(c.integers[6]))</td><td class=\"n\">\(Format.grouped(c.requests))</td><td class=\"n\">\(Format.percent(c.successRate))</td><td class=\"n\">\(Format.dollars(c.costNanos))</td></tr>"
            )
        }
        html.raw("</tbody></table>")
    }

    static let style = """
        body{font:14px/1.4 system-ui,sans-serif;margin:0 auto;max-width:1100px;padding:0 16px;color:#1d2430}\
        header h1{font-size:20px;margin:16px 0 0}.where{color:#5b6472;margin:4px 0 12px}\
        .filters{display:flex;flex-wrap:wrap;gap:10px;align-items:flex-end;background:#f4f6f9;padding:10px;border-radius:6px}\
        .filters label{display:flex;flex-direction:column;font-size:12px;color:#5b6472}\
        .tabs{display:flex;gap:4px;margin:14px 0;border-bottom:1px solid #d5dae1}\
        .tabs a{padding:6px 14px;text-decoration:none;color:#1d2430;border-radius:6px 6px 0 0}\
        .tabs a.current{background:#1d2430;color:#fff}\
        .kpis{display:flex;flex-wrap:wrap;gap:10px;margin:10px 0}\
        .kpi{border:1px solid #d5dae1;border-radius:6px;padding:10px 14px;min-width:150px}\
        .kpi .label{display:block;font-size:12px;color:#5b6472}.kpi .value{font-size:22px;font-weight:600}\
        .small .kpi .value{font-size:17px}.kpi .detail{display:block;font-size:12px;color:#5b6472}\
        h2{font-size:15px;margin:18px 0 6px}table{border-collapse:collapse;width:100%;margin:8px 0}\
        th,td{padding:4px 8px;border-bottom:1px solid #e6e9ee;text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}\
        .note,.filtered{color:#8a5a00;background:#fff7e6;padding:6px 10px;border-radius:4px}\
        footer{color:#5b6472;font-size:12px;margin:24px 0}svg text{font-size:11px;fill:#1d2430}
        """
}

/// Text of an HTML document, with escaping.
struct HTML {
    private(set) var text = ""

    mutating func raw(_ value: String) { text += value }

    static func escape(_ value: String) -> String {
        var out = ""
        out.reserveCapacity(value.utf8.count)
        for character in value {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }
}

/// Inline SVG charts, drawn on the server.
enum Chart {
    /// Horizontal bars, one per name, longest first as given.
    static func bars(_ rows: [(String, Double)]) -> String {
        guard !rows.isEmpty else { return "<p class=\"note\">Nothing to show.</p>" }
        let largest = max(rows.map(\.1).max() ?? 0, 1)
        let height = rows.count * 22 + 4
        var svg =
            "<svg role=\"img\" width=\"100%\" viewBox=\"0 0 900 \(height)\" preserveAspectRatio=\"xMinYMin meet\">"
        for (index, row) in rows.enumerated() {
            let y = index * 22 + 2
            let width = max(1, Int(row.1 / largest * 560))
            let label = row.0.count > 40 ? String(row.0.prefix(39)) + "…" : row.0
            svg +=
                "<text x=\"0\" y=\"\(y + 14)\">\(HTML.escape(label))</text><rect x=\"260\" y=\"\(y + 3)\" width=\"\(width)\" height=\"15\" fill=\"#3b7dd8\"><title>\(HTML.escape(row.0)): \(Format.measure(row.1))</title></rect><text x=\"\(266 + width)\" y=\"\(y + 14)\">\(Format.count(UInt64(max(0, row.1.rounded()))))</text>"
        }
        return svg + "</svg>"
    }

    /// Vertical columns, one per day; a day without a file is drawn as a gap.
    static func columns(_ days: [(String, Double, Bool)], unit: String) -> String {
        let largest = max(days.map(\.1).max() ?? 0, 1)
        let step = 900.0 / Double(max(days.count, 1))
        var svg = "<svg role=\"img\" width=\"100%\" viewBox=\"0 0 900 180\" preserveAspectRatio=\"xMinYMin meet\">"
        for (index, day) in days.enumerated() {
            let height = day.1 / largest * 140
            let x = Double(index) * step
            svg +=
                "<rect x=\"\(Format.fixed(x + 2, 1))\" y=\"\(Format.fixed(150 - height, 1))\" width=\"\(Format.fixed(max(step - 4, 1), 1))\" height=\"\(Format.fixed(height, 1))\" fill=\"\(day.2 ? "#3b7dd8" : "#d5dae1")\"><title>\(HTML.escape(day.0)): \(day.2 ? Format.count(UInt64(day.1)) + " " + unit : "no file")</title></rect>"
            if days.count <= 10 || index % max(1, days.count / 10) == 0 {
                svg += "<text x=\"\(Format.fixed(x + 2, 1))\" y=\"170\">\(HTML.escape(String(day.0.suffix(5))))</text>"
            }
        }
        return svg + "</svg>"
    }
}

/// Query strings: percent-encoding of names and values (application/x-www-form-urlencoded).
public enum Query {
    public static func encode(_ items: [(name: String, value: String)]) -> String {
        items.map { escape($0.name) + "=" + escape($0.value) }.joined(separator: "&amp;")
    }

    static func escape(_ value: String) -> String {
        var out = ""
        for byte in value.utf8 {
            switch byte {
            case 0x30...0x39, 0x41...0x5A, 0x61...0x7A, UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = String(byte, radix: 16, uppercase: true)
                out += "%" + (hex.count == 1 ? "0" : "") + hex
            }
        }
        return out
    }

    /// Decodes a query string (`a=1&b=x%20y`, `+` as a space) into its items, in order; nil
    /// when an escape is malformed or the text is not UTF-8.
    public static func decode(_ query: String) -> [(name: String, value: String)]? {
        var items: [(String, String)] = []
        for part in query.split(separator: "&", omittingEmptySubsequences: true) {
            let pieces = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = unescape(pieces[0]), let value = unescape(pieces.count > 1 ? pieces[1] : "") else {
                return nil
            }
            items.append((name, value))
        }
        return items
    }

    private static func unescape(_ text: Substring) -> String? {
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8).makeIterator()
        while let byte = iterator.next() {
            switch byte {
            case UInt8(ascii: "+"): bytes.append(0x20)
            case UInt8(ascii: "%"):
                guard let high = iterator.next(), let low = iterator.next(),
                    let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16)
                else { return nil }
                bytes.append(value)
            default: bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }
}
