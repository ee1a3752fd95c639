/// `tokentally report` in the terminal: aligned tables of the tabs asked for, readable numbers
/// (`1.23M`, `$4.56`), bars for distributions, and colour only when asked (`colour`: the
/// command gives it on a terminal without `NO_COLOR`).
public enum ReportTable {
    public static func render(_ report: Report, colour: Bool, width: Int = 100) -> String {
        var out = Output(colour: colour)
        let hosts = report.hosts.map(\.name).joined(separator: ", ")
        out.line(
            out.bold("\(report.period) \(report.bucket)") + "  \(report.start) – \(report.end) (\(report.timezone))")
        out.line(out.dim("host\(report.hosts.count == 1 ? "" : "s"): \(hosts)"))
        let filters = report.selection.query.filter { ["key", "model", "provider"].contains($0.name) }
        if !filters.isEmpty {
            out.line(out.dim("filters: " + filters.map { "\($0.name)=\($0.value)" }.joined(separator: " ")))
        }
        let tab = report.selection.tab
        if tab == .usage || tab == .all { usage(report, &out) }
        if tab == .provider || tab == .all { provider(report, &out) }
        if tab == .performance || tab == .all { performance(report, &out) }
        return out.text
    }

    private static func usage(_ report: Report, _ out: inout Output) {
        let t = report.totals
        out.heading("Usage")
        out.table(
            [
                ["Total tokens", "Input tokens", "Output tokens", "Requests", "Cost"],
                [
                    Format.count(t.totalTokens), Format.count(t.inputTokens), Format.count(t.outputTokens),
                    Format.grouped(t.requests), Format.dollars(t.costNanos),
                ],
            ], header: true)
        let w = t.integers
        out.line(
            "Web search: \(Format.grouped(w[9])) requests, \(Format.grouped(w[10])) calls, "
                + "\(Format.count(w[11])) input and \(Format.count(w[12])) output tokens")

        out.subheading("By model")
        rows(report.byModel, &out)
        out.subheading("By token type")
        let types: [(String, UInt64)] = [
            ("input", t.inputTokens), ("output", t.outputTokens), ("cached", w[6]), ("cache write", w[7]),
            ("reasoning", w[8]),
        ]
        let largest = types.map(\.1).max() ?? 0
        out.table(
            types.map { [$0.0, Format.count($0.1), out.bar($0.1, of: largest)] }, header: false, rightAligned: [1])
        out.subheading(
            "By API key" + (report.byKey.count > 20 ? " (the 20 with the most tokens of \(report.byKey.count))" : ""))
        rows(Array(report.byKey.sorted { $0.counters.totalTokens > $1.counters.totalTokens }.prefix(20)), &out)
        if report.days.count > 1 {
            out.subheading("Day by day")
            let most = report.days.map(\.counters.totalTokens).max() ?? 0
            out.table(
                [["day", "requests", "tokens", "cost", ""]]
                    + report.days.map { day in
                        day.present
                            ? [
                                day.bucket, Format.grouped(day.counters.requests),
                                Format.count(day.counters.totalTokens),
                                Format.dollars(day.counters.costNanos), out.bar(day.counters.totalTokens, of: most),
                            ]
                            : [day.bucket, "–", "–", "–", ""]
                    }, header: true, rightAligned: [1, 2, 3])
        }
    }

    private static func rows(_ rows: [(name: String, counters: Counters)], _ out: inout Output) {
        let most = rows.map(\.counters.totalTokens).max() ?? 0
        out.table(
            [["", "tokens", "input", "output", "requests", "cost", ""]]
                + rows.map { row in
                    [
                        row.name, Format.count(row.counters.totalTokens), Format.count(row.counters.inputTokens),
                        Format.count(row.counters.outputTokens), Format.grouped(row.counters.requests),
                        Format.dollars(row.counters.costNanos), out.bar(row.counters.totalTokens, of: most),
                    ]
                }, header: true, rightAligned: [1, 2, 3, 4, 5])
    }

    private static func provider(_ report: Report, _ out: inout Output) {
        out.heading("Provider")
        out.table(
            [
                ["Primary provider", "Providers", "Success rate", "Fastest provider"],
                [
                    report.primaryProvider ?? "–", String(report.providerCount),
                    Format.percent(report.totals.successRate),
                    report.fastestProvider ?? "–",
                ],
            ], header: true)
        let tokens = report.byProvider.map(\.counters.totalTokens).reduce(0, +)
        let requests = report.byProvider.map(\.counters.requests).reduce(0, +)
        out.table(
            [["", "tokens", "share", "", "requests", "share", "success"]]
                + report.byProvider.map { row in
                    [
                        row.name, Format.count(row.counters.totalTokens),
                        Format.share(row.counters.totalTokens, of: tokens),
                        out.bar(row.counters.totalTokens, of: tokens),
                        Format.grouped(row.counters.requests), Format.share(row.counters.requests, of: requests),
                        Format.percent(row.counters.successRate),
                    ]
                }, header: true, rightAligned: [1, 2, 4, 5, 6])
    }

    private static func performance(_ report: Report, _ out: inout Output) {
        out.heading("Performance")
        let view = report.performance
        if let note = view.note { out.line(out.dim(note)) }
        guard view.available else { return }
        func cells(_ performance: Performance) -> [String] {
            [("latency_ms", 1.0), ("ttft_ms", 1.0), ("throughput_tps", 1.0)].flatMap { name, _ in
                let distribution = performance.all.first { $0.name == name }!.distribution
                return ["mean", "p50", "p90", "p99"].map { Format.measure(distribution.value($0)) }
            }
        }
        let header = [
            "", "latency ms mean", "p50", "p90", "p99", "TTFT ms mean", "p50", "p90", "p99", "tok/s mean",
            "p50", "p90", "p99",
        ]
        var table = [header]
        if let totals = view.totals { table.append(["selection"] + cells(totals)) }
        let perModel =
            view.byModel.isEmpty
            ? view.byModelProvider.map { ("\($0.model) · \($0.provider)", $0.performance) }
            : view.byModel.map { ($0.name, $0.performance) }
        table += perModel.map { [$0.0] + cells($0.1) }
        out.table(table, header: true, rightAligned: Set(1..<13))
        func request(_ label: String, _ request: HighlightedRequest?) {
            guard let request else { return out.line("\(label): –") }
            out.line(
                "\(label): \(Format.measure(request.latencyMs)) ms, \(request.model) via \(request.provider)"
                    + (request.requestID.map { " (request \($0))" } ?? ""))
        }
        request("Fastest request", view.fastestRequest)
        request("Slowest request", view.slowestRequest)
        out.line(
            "Highest throughput model: \(view.highestThroughputModel ?? "–")   Lowest: \(view.lowestThroughputModel ?? "–")"
                + out.dim("   (models with at least \(view.minRequests) requests)"))
    }

    /// Lines with optional ANSI colour.
    struct Output {
        let colour: Bool
        var text = ""

        mutating func line(_ value: String = "") { text += value + "\n" }

        func bold(_ value: String) -> String { colour ? "\u{1B}[1m\(value)\u{1B}[0m" : value }
        func dim(_ value: String) -> String { colour ? "\u{1B}[2m\(value)\u{1B}[0m" : value }

        mutating func heading(_ title: String) {
            line()
            line(colour ? "\u{1B}[1;36m\(title.uppercased())\u{1B}[0m" : title.uppercased())
        }

        mutating func subheading(_ title: String) {
            line()
            line(bold(title))
        }

        /// A bar of up to 24 cells for `value` out of `total`.
        func bar(_ value: UInt64, of total: UInt64) -> String {
            guard total > 0 else { return "" }
            let eighths = Int((Double(value) / Double(total) * 24 * 8).rounded())
            let blocks = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"]
            let bar = String(repeating: "█", count: eighths / 8) + blocks[eighths % 8]
            return colour ? "\u{1B}[32m\(bar)\u{1B}[0m" : bar
        }

        /// Aligned columns: the first left-aligned, `rightAligned` ones to the right.
        mutating func table(_ rows: [[String]], header: Bool, rightAligned: Set<Int> = []) {
            guard let columns = rows.map(\.count).max() else { return }
            var widths = [Int](repeating: 0, count: columns)
            for row in rows {
                for (index, cell) in row.enumerated() { widths[index] = max(widths[index], visible(cell)) }
            }
            for (number, row) in rows.enumerated() {
                var cells: [String] = []
                for (index, cell) in row.enumerated() {
                    let padding = String(repeating: " ", count: widths[index] - visible(cell))
                    cells.append(rightAligned.contains(index) ? padding + cell : cell + padding)
                }
                let joined = cells.joined(separator: "  ")
                let trimmed = String(joined.reversed().drop { $0 == " " }.reversed())
                line("  " + (header && number == 0 ? dim(trimmed) : trimmed))
            }
        }

        /// Characters shown, without ANSI escapes.
        private func visible(_ cell: String) -> Int {
            var count = 0
            var inEscape = false
            for character in cell {
                if character == "\u{1B}" {
                    inEscape = true
                } else if inEscape {
                    if character == "m" { inEscape = false }
                } else {
                    count += 1
                }
            }
            return count
        }
    }
}

/// Readable numbers for people (the table and the page); machines read the exact values.
public enum Format {
    /// `950`, `12.3k`, `1.23M`, `4.56B`, `7.89T`: three significant digits.
    public static func count(_ value: UInt64) -> String {
        let units: [(Double, String)] = [(1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")]
        let number = Double(value)
        for (size, suffix) in units where number >= size {
            return significant(number / size) + suffix
        }
        return String(value)
    }

    private static func significant(_ value: Double) -> String {
        let decimals = value >= 100 ? 0 : value >= 10 ? 1 : 2
        return fixed(value, decimals)
    }

    /// `value` with exactly `decimals` decimals, rounded half away from zero.
    static func fixed(_ value: Double, _ decimals: Int) -> String {
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        let scaled = (abs(value) * scale).rounded(.toNearestOrAwayFromZero)
        let whole = UInt64(scaled / scale)
        let fraction = UInt64(scaled - Double(whole) * scale)
        var text = (value < 0 && scaled > 0 ? "-" : "") + String(whole)
        if decimals > 0 {
            let digits = String(fraction)
            text += "." + String(repeating: "0", count: decimals - digits.count) + digits
        }
        return text
    }

    /// `1,234,567`.
    public static func grouped(_ value: UInt64) -> String {
        let digits = Array(String(value))
        var out = ""
        for (index, digit) in digits.enumerated() {
            if index > 0, (digits.count - index) % 3 == 0 { out += "," }
            out.append(digit)
        }
        return out
    }

    /// `$4.56`; below a cent, four significant decimals (`$0.0012`); credits with a minus.
    public static func dollars(_ nanos: Int64) -> String {
        let dollars = Money.dollars(nanos)
        let magnitude = abs(dollars)
        let sign = dollars < 0 ? "-" : ""
        if magnitude == 0 { return "$0" }
        if magnitude < 0.01 { return sign + "$" + fixed(magnitude, 6).replacingTrailingZeros() }
        if magnitude >= 1e6 { return sign + "$" + significant(magnitude / 1e6) + "M" }
        let cents = fixed(magnitude, 2)
        let parts = cents.split(separator: ".")
        return sign + "$" + grouped(UInt64(parts[0]) ?? 0) + "." + parts[1]
    }

    /// `98.5%`; `–` when there is no rate.
    public static func percent(_ rate: Double?) -> String {
        guard let rate else { return "–" }
        return fixed(rate * 100, 1) + "%"
    }

    public static func share(_ value: UInt64, of total: UInt64) -> String {
        total == 0 ? "–" : percent(Double(value) / Double(total))
    }

    /// A measurement for people: `1,234`, `56.7`, `0.123`; `–` when absent.
    public static func measure(_ value: Double?) -> String {
        guard let value else { return "–" }
        if value >= 1000 { return grouped(UInt64(value.rounded())) }
        if value >= 100 { return fixed(value, 0) }
        if value >= 10 { return fixed(value, 1) }
        return fixed(value, value >= 1 ? 2 : 3)
    }
}

extension String {
    fileprivate func replacingTrailingZeros() -> String {
        guard contains(".") else { return self }
        var text = self
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return text
    }
}
