import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

// What the view tests (ViewTests, PageTests) share: generated logs replayed by the real binary,
// the independent oracle's counts of the same lines, `tokentally serve` on a loopback port, and
// the comparisons of the views' JSON with the oracle.

/// A selection as the tests give it, to the command line and to a query string.
struct ViewSelection: CustomStringConvertible {
    var period: BucketPeriod = .month
    var bucket: String
    var keys: [String] = []
    var models: [String] = []
    var providers: [String] = []

    var arguments: [String] {
        ["--period", period.rawValue, "--bucket", bucket] + keys.flatMap { ["--key", $0] }
            + models.flatMap { ["--model", $0] } + providers.flatMap { ["--provider", $0] }
    }

    var query: String {
        var items = [("period", period.rawValue), ("bucket", bucket)]
        items += keys.map { ("key", $0) } + models.map { ("model", $0) } + providers.map { ("provider", $0) }
        let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-._~"))
        return items.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed)!)" }
            .joined(separator: "&")
    }

    var description: String { "\(period.rawValue) \(bucket) keys \(keys) models \(models) providers \(providers)" }

    func takes(_ series: SeriesKey) -> Bool {
        (keys.isEmpty || keys.contains(series.apiKey)) && (models.isEmpty || models.contains(series.model))
            && (providers.isEmpty || providers.contains(series.provider))
    }
}

/// Generated logs of a few weeks, replayed into a snapshot directory, and the oracle's result
/// over the same files.
struct ViewFixture {
    let root: URL
    let logs: URL
    let snapshots: URL
    let expected: OracleResult

    init(root: URL, lines: Int = 6_000, days: Int = 16, keys: Int = 30) throws {
        self.root = root
        logs = root.appendingPathComponent("logs")
        snapshots = root.appendingPathComponent("snapshots")
        try ReplayExactnessTests.generate(
            into: logs, format: .tokentally, lines: lines, days: days, files: 3, keys: keys)
        let replay = try TokentallyBinary.replay([logs.path], snapshotDirectory: snapshots)
        try #require(replay.status == 0, "replay failed: \(replay.summary)")
        var oracle = UsageOracle(format: .tokentally)
        for file in try rotatedSetOldestFirst(in: logs) { try oracle.read(file: file) }
        expected = try oracle.result()
    }

    /// The month with the most requests, and its busiest key, models and provider.
    var month: ExpectedBucket {
        (expected.buckets[.month] ?? [:]).values.max { $0.totals.counters.requests < $1.totals.counters.requests }!
    }

    func busiest<T: Hashable>(_ values: [T: ExpectedCounters], _ count: Int) -> [T] where T: Comparable {
        Array(values.sorted { ($0.value.requests, $1.key) > ($1.value.requests, $0.key) }.prefix(count).map(\.key))
    }

    /// The selections the tests compare: none, a key, two models, a key with a model, a provider.
    var selections: [ViewSelection] {
        let month = self.month
        let key = busiest(month.byKey, 1)[0]
        let models = busiest(month.byModel.mapValues(\.counters), 2)
        let provider = busiest(month.byProvider.mapValues(\.counters), 1)[0]
        let modelOfKey = busiest(
            Dictionary(
                month.series.filter { $0.key.apiKey == key }.map { ($0.key.model, $0.value.counters) },
                uniquingKeysWith: { $0.adding($1) }), 1)[0]
        let week = (expected.buckets[.week] ?? [:]).values.max {
            $0.totals.counters.requests < $1.totals.counters.requests
        }!
        return [
            ViewSelection(bucket: month.label),
            ViewSelection(bucket: month.label, keys: [key]),
            ViewSelection(bucket: month.label, models: models),
            ViewSelection(bucket: month.label, keys: [key], models: [modelOfKey]),
            ViewSelection(bucket: month.label, providers: [provider]),
            ViewSelection(period: .week, bucket: week.label, models: [models[0]]),
        ]
    }

    /// The oracle's figures for a selection: totals, by model, provider and key, the series rows.
    func expectation(_ selection: ViewSelection) -> ViewExpectation {
        let bucket = expected.buckets[selection.period]![selection.bucket]!
        var result = ViewExpectation()
        func add(_ counters: ExpectedCounters, to table: inout [String: ExpectedCounters], _ name: String) {
            table[name] = table[name, default: ExpectedCounters()].adding(counters)
        }
        for (series, row) in bucket.series where selection.takes(series) {
            result.totals = result.totals.adding(row.counters)
            add(row.counters, to: &result.byModel, series.model)
            add(row.counters, to: &result.byProvider, series.provider)
            add(row.counters, to: &result.byKey, series.apiKey)
            result.series[series] = row.counters
        }
        let days = expected.buckets[.day] ?? [:]
        for (label, day) in days {
            guard day.interval.start >= bucket.interval.start, day.interval.end <= bucket.interval.end else { continue }
            var sum = ExpectedCounters()
            for (series, row) in day.series where selection.takes(series) { sum = sum.adding(row.counters) }
            result.days[label] = sum
        }
        return result
    }
}

struct ViewExpectation {
    var totals = ExpectedCounters()
    var byModel: [String: ExpectedCounters] = [:]
    var byProvider: [String: ExpectedCounters] = [:]
    var byKey: [String: ExpectedCounters] = [:]
    var series: [SeriesKey: ExpectedCounters] = [:]
    var days: [String: ExpectedCounters] = [:]
}

extension ExpectedCounters {
    func adding(_ other: ExpectedCounters) -> ExpectedCounters {
        var sum = self
        sum.requests += other.requests
        sum.succeeded += other.succeeded
        sum.failed += other.failed
        sum.inputTokens += other.inputTokens
        sum.outputTokens += other.outputTokens
        sum.cachedTokens += other.cachedTokens
        sum.cacheWriteTokens += other.cacheWriteTokens
        sum.reasoningTokens += other.reasoningTokens
        sum.webSearchRequests += other.webSearchRequests
        sum.webSearchCalls += other.webSearchCalls
        sum.webSearchInputTokens += other.webSearchInputTokens
        sum.webSearchOutputTokens += other.webSearchOutputTokens
        sum.costUSD += other.costUSD
        return sum
    }

    /// `succeeded / requests` rounded half up to 6 decimals, as text without trailing zeros.
    var successRateText: String {
        let millionths = (succeeded * 2_000_000 + requests) / (requests * 2)
        var text = "\(millionths / 1_000_000)"
        var fraction = millionths % 1_000_000
        guard fraction > 0 else { return text }
        var digits = 6
        while fraction % 10 == 0 {
            fraction /= 10
            digits -= 1
        }
        let shown = String(fraction)
        text += "." + String(repeating: "0", count: digits - shown.count) + shown
        return text
    }
}

/// Compares a COUNTERS object of the report JSON with the oracle's counters: every integer
/// exactly, `cost_usd` as a decimal. Returns the differences.
func counterMismatches(_ actual: JSONValue?, _ expected: ExpectedCounters, _ place: String) -> [String] {
    guard let actual, case .object = actual else { return ["\(place): missing"] }
    var mismatches: [String] = []
    for (name, value) in expected.integerFields where actual[name]?.numberText != String(value) {
        mismatches.append("\(place).\(name): \(actual[name]?.numberText ?? "nil"), expected \(value)")
    }
    let cost = actual["cost_usd"]?.numberText.flatMap { Decimal(string: $0) }
    if cost != expected.costUSD {
        mismatches.append("\(place).cost_usd: \(cost.map { "\($0)" } ?? "nil"), expected \(expected.costUSD)")
    }
    return mismatches
}

/// Compares a whole report document (`report --format json`, `/api/v1/report`) with the oracle.
func reportMismatches(_ text: String, _ expected: ViewExpectation, _ selection: ViewSelection) throws -> [String] {
    let report = try JSONReader.parse(Array(text.utf8))
    var mismatches: [String] = []
    if report["schema"]?.stringValue != "tokentally.report/v1" { mismatches.append("schema") }
    if report["bucket"]?.stringValue != selection.bucket { mismatches.append("bucket") }
    mismatches += counterMismatches(report["totals"], expected.totals, "totals")
    if expected.totals.requests > 0, report["totals"]?["success_rate"]?.numberText != expected.totals.successRateText {
        mismatches.append("totals.success_rate \(report["totals"]?["success_rate"]?.numberText ?? "nil")")
    }
    for (name, table) in [
        ("by_model", expected.byModel), ("by_provider", expected.byProvider), ("by_key", expected.byKey),
    ] {
        let actual = report[name]?.objectValue ?? [:]
        if Set(actual.keys) != Set(table.keys) {
            mismatches.append("\(name) names \(actual.keys.sorted()), expected \(table.keys.sorted())")
        }
        for (row, counters) in table { mismatches += counterMismatches(actual[row], counters, "\(name).\(row)") }
    }
    for day in report["days"]?.arrayValue ?? [] {
        guard let label = day["bucket"]?.stringValue else { continue }
        mismatches += counterMismatches(day, expected.days[label] ?? ExpectedCounters(), "days.\(label)")
    }
    let listedDays = Set((report["days"]?.arrayValue ?? []).compactMap { $0["bucket"]?.stringValue })
    for label in expected.days.keys where !listedDays.contains(label) { mismatches.append("days lacks \(label)") }
    return mismatches
}

/// Compares the CSV of a selection with the oracle's series rows.
func csvMismatches(_ text: String, _ expected: ViewExpectation) -> [String] {
    var lines = text.components(separatedBy: "\r\n")
    if lines.last == "" { lines.removeLast() }
    guard let header = lines.first?.split(separator: ",").map(String.init) else { return ["no header"] }
    let names = ["api_key", "model", "provider"] + ExpectedCounters().integerFields.map(\.name) + ["cost_usd"]
    var mismatches: [String] = []
    // The header names every counter, as the snapshot does (cost last).
    if Set(header) != Set(names) { mismatches.append("header \(header)") }
    var seen = Set<SeriesKey>()
    for line in lines.dropFirst() {
        // The generated names hold no comma or quote, so a plain split reads every field.
        let fields = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        guard fields.count == header.count else {
            mismatches.append("row \(line) has \(fields.count) fields")
            continue
        }
        let row = Dictionary(uniqueKeysWithValues: zip(header, fields))
        let series = SeriesKey(apiKey: row["api_key"]!, model: row["model"]!, provider: row["provider"]!)
        seen.insert(series)
        guard let counters = expected.series[series] else {
            mismatches.append("unexpected row \(series)")
            continue
        }
        for (name, value) in counters.integerFields where row[name] != String(value) {
            mismatches.append("\(series).\(name) \(row[name] ?? "nil"), expected \(value)")
        }
        if Decimal(string: row["cost_usd"] ?? "") != counters.costUSD { mismatches.append("\(series).cost_usd") }
    }
    if seen.count != expected.series.count {
        mismatches.append("\(seen.count) rows, expected \(expected.series.count)")
    }
    return mismatches
}

// MARK: - Servers

/// A loopback port that was free a moment ago (bound to port 0, then released).
func freeLoopbackPort() throws -> Int {
    let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard socket >= 0 else { throw ScenarioAbort("socket: \(errno)") }
    defer { close(socket) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }
    guard bound == 0 else { throw ScenarioAbort("bind: \(errno)") }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket, $0, &length) }
    }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// `tokentally serve` on a port the system picks; stopped by `stop()`.
final class ServeProcess {
    let process: BackgroundProcess
    let base: String

    init(snapshots: URL, outputDirectory: URL) throws {
        process = try BackgroundProcess(
            name: "serve", executable: TokentallyBinary.url,
            arguments: ["serve", "--snapshot-dir", snapshots.path, "--listen", "127.0.0.1:0"],
            outputDirectory: outputDirectory)
        let deadline = Date().addingTimeInterval(30)
        var found: String?
        while found == nil {
            let text = (try? String(contentsOf: process.stdoutURL, encoding: .utf8)) ?? ""
            found = text.firstMatch(of: /listening on (http:\/\/127\.0\.0\.1:[0-9]+)\//).map { String($0.1) }
            if found != nil { break }
            guard process.isRunning, Date() < deadline else {
                process.killAndReap()
                throw ScenarioAbort("serve did not start: \(process.stderrTail())")
            }
            usleep(50_000)
        }
        base = found!
    }

    func stop() {
        process.send(SIGTERM)
        if !process.waitForExit(seconds: 10) { process.killAndReap() }
    }
}

/// `curl`: the status and the body of a GET.
func httpGet(_ url: String) throws -> (status: Int, body: String) {
    let outcome = try ProcessLauncher.run(
        URL(fileURLWithPath: "/usr/bin/curl"), ["-s", "-S", "-g", "-w", "\n%{http_code}", url], timeoutSeconds: 60)
    guard outcome.status == 0 else { throw ScenarioAbort("curl \(url): \(outcome.summary)") }
    var text = outcome.stdoutText
    guard let newline = text.lastIndex(of: "\n") else { throw ScenarioAbort("curl gave no status") }
    let status = Int(text[text.index(after: newline)...]) ?? 0
    text = String(text[..<newline])
    return (status, text)
}
