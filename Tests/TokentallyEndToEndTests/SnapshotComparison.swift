import Foundation

/// A snapshot directory as tokentally left it: index.json and every bucket file, parsed losslessly.
struct SnapshotDirectory {
    var url: URL
    var index: JSONValue
    /// Bucket files by period, then by label (the file name without `.json`).
    var buckets: [BucketPeriod: [String: JSONValue]]
    /// Files in `day/`, `week/`, `month/` that are not `<label>.json` (a leftover temporary file).
    var strayFiles: [String]

    static func load(from url: URL) throws -> SnapshotDirectory {
        let index = try JSONReader.parse(try Data(contentsOf: url.appendingPathComponent("index.json")))
        var buckets: [BucketPeriod: [String: JSONValue]] = [:]
        var stray: [String] = []
        for period in BucketPeriod.allCases {
            let folder = url.appendingPathComponent(period.rawValue)
            let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
            for name in names {
                guard name.hasSuffix(".json"), !name.hasPrefix(".") else {
                    stray.append("\(period.rawValue)/\(name)")
                    continue
                }
                let label = String(name.dropLast(5))
                buckets[period, default: [:]][label] = try BucketLayout.asV1(
                    try JSONReader.parse(try Data(contentsOf: folder.appendingPathComponent(name))))
            }
        }
        return SnapshotDirectory(url: url, index: index, buckets: buckets, strayFiles: stray)
    }

    /// Every byte of every file under the directory, by relative path.
    func allFileContents() throws -> [String: Data] {
        var result: [String: Data] = [:]
        guard let walker = FileManager.default.enumerator(atPath: url.path) else { return result }
        while let relative = walker.nextObject() as? String {
            let full = url.appendingPathComponent(relative)
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: full.path, isDirectory: &isDirectory), !isDirectory.boolValue {
                result[relative] = try Data(contentsOf: full)
            }
        }
        return result
    }

    /// The written key names (by_key and series) across every bucket file.
    var writtenKeys: Set<String> {
        var keys: Set<String> = []
        for files in buckets.values {
            for bucket in files.values {
                keys.formUnion(bucket["by_key"]?.objectValue?.keys ?? [:].keys)
                for row in bucket["series"]?.arrayValue ?? [] {
                    if let key = row["api_key"]?.stringValue { keys.insert(key) }
                }
            }
        }
        return keys
    }

    /// A status figure of index.json as an integer.
    func statusInteger(_ path: String...) -> Int? {
        index.value(at: ["status"] + path)?.numberText.flatMap { Int($0) }
    }

    /// Every counter and every count/min/max figure of every bucket file, flattened to
    /// `path → number text`, plus the retained labels and the counted-lines figure. Two replays of
    /// the same lines must give equal projections.
    func counterProjection() -> [String: String] {
        var result: [String: String] = [:]
        let counterNames: Set<String> = [
            "requests", "succeeded", "failed", "input_tokens", "output_tokens", "total_tokens", "cached_tokens",
            "cache_write_tokens", "reasoning_tokens", "web_search_requests", "web_search_calls",
            "web_search_input_tokens", "web_search_output_tokens", "cost_usd", "latency_ms_mean",
        ]
        func addRow(_ row: JSONValue?, _ path: String) {
            guard let members = row?.objectValue else { return }
            for (name, value) in members where counterNames.contains(name) {
                result["\(path).\(name)"] = value.numberText.map { normalizedDecimal($0) } ?? "\(value)"
            }
            for measure in ["latency_ms", "ttft_ms", "throughput_tps"] {
                for figure in ["count", "min", "max"] {
                    if let value = members[measure]?[figure] {
                        result["\(path).\(measure).\(figure)"] = value.numberText ?? "\(value)"
                    }
                }
            }
        }
        for (period, files) in buckets {
            for (label, bucket) in files {
                let base = "\(period.rawValue)/\(label)"
                addRow(bucket["totals"], "\(base).totals")
                for group in ["by_model", "by_provider", "by_key"] {
                    for (name, row) in bucket[group]?.objectValue ?? [:] { addRow(row, "\(base).\(group)[\(name)]") }
                }
                for row in bucket["by_model_provider"]?.arrayValue ?? [] {
                    let name = "\(row["model"]?.stringValue ?? "?")|\(row["provider"]?.stringValue ?? "?")"
                    addRow(row, "\(base).by_model_provider[\(name)]")
                }
                for row in bucket["series"]?.arrayValue ?? [] {
                    let name = [row["api_key"], row["model"], row["provider"]].map { $0?.stringValue ?? "?" }
                        .joined(separator: "|")
                    addRow(row, "\(base).series[\(name)]")
                }
            }
        }
        for period in BucketPeriod.allCases {
            let labels = index.value(at: ["buckets", period.rawValue])?.arrayValue?.compactMap(\.stringValue) ?? []
            result["index.buckets.\(period.rawValue)"] = labels.joined(separator: ",")
        }
        result["index.status.lines_counted"] = index.value(at: ["status", "lines_counted"])?.numberText ?? "absent"
        return result
    }
}

/// A decimal number's text in one form, so `0.10` and `0.1` compare equal.
func normalizedDecimal(_ text: String) -> String {
    Decimal(string: text, locale: Locale(identifier: "en_US_POSIX")).map { "\($0)" } ?? text
}

/// The differences between two projections, as readable lines.
func projectionDifferences(_ left: [String: String], _ right: [String: String], limit: Int = 30) -> [String] {
    var lines: [String] = []
    for key in Set(left.keys).union(right.keys).sorted() where left[key] != right[key] {
        lines.append("\(key): \(left[key] ?? "absent") vs \(right[key] ?? "absent")")
        if lines.count >= limit { break }
    }
    return lines
}

/// Which parts of a snapshot to hold to the oracle.
struct ComparisonScope {
    /// index.json's line counts, rejects, late drops and `overflow_records == 0`.
    var status = true
    /// `by_key` and `series` (off where a series limit folds rows into `__overflow__`).
    var keysAndSeries = true
    /// `by_model`, `by_provider`, `by_model_provider` and the highlights.
    var dimensions = true
    /// Extra slack for series rows' `latency_ms_mean`: a fleet's merged rows are the weighted
    /// means of the hosts' rounded means, so within 0.001 of the exact one.
    var seriesMeanSlack = 0.0
}

/// Compares a snapshot directory with the oracle, figure by figure, and lists every difference.
struct SnapshotComparison {
    private(set) var mismatches: [String] = []

    static func compare(
        _ expected: OracleResult, _ actual: SnapshotDirectory, scope: ComparisonScope = ComparisonScope()
    ) -> [String] {
        var comparison = SnapshotComparison()
        comparison.compareAll(expected, actual, scope: scope)
        return comparison.mismatches
    }

    /// A message for `#expect`: how many differences, and the first few.
    static func report(_ mismatches: [String], limit: Int = 40) -> String {
        "\(mismatches.count) difference(s):\n" + mismatches.prefix(limit).joined(separator: "\n")
    }

    private mutating func note(_ message: String) {
        mismatches.append(message)
    }

    private mutating func compareAll(_ expected: OracleResult, _ actual: SnapshotDirectory, scope: ComparisonScope) {
        for stray in actual.strayFiles { note("unexpected file \(stray)") }
        for period in BucketPeriod.allCases {
            let expectedLabels = (expected.buckets[period] ?? [:]).keys.sorted()
            let fileLabels = (actual.buckets[period] ?? [:]).keys.sorted()
            let indexLabels = actual.index.value(at: ["buckets", period.rawValue])?.arrayValue?.map {
                $0.stringValue ?? "\($0)"
            }
            if fileLabels != expectedLabels {
                note("\(period.rawValue) files: expected \(expectedLabels), found \(fileLabels)")
            }
            if indexLabels != expectedLabels {
                note("index.buckets.\(period.rawValue): expected \(expectedLabels), found \(indexLabels ?? [])")
            }
            for label in expectedLabels {
                guard let file = actual.buckets[period]?[label] else { continue }
                compareBucket(expected.buckets[period]![label]!, file, scope: scope)
            }
        }
        if scope.status { compareStatus(expected, actual.index) }
    }

    private mutating func compareStatus(_ expected: OracleResult, _ index: JSONValue) {
        func expectInteger(_ path: [String], _ value: Int) {
            let found = index.value(at: ["status"] + path)
            if found?.numberText.flatMap({ Int($0) }) != value {
                note("status.\(path.joined(separator: ".")): expected \(value), found \(shown(found))")
            }
        }
        expectInteger(["lines_counted"], expected.linesCounted)
        expectInteger(["lines_empty"], expected.linesEmpty)
        expectInteger(["lines_rejected"], expected.linesRejected)
        let actualRejected = index.value(at: ["status", "rejected"])?.objectValue ?? [:]
        for reason in Set(actualRejected.keys).union(expected.rejected.keys).sorted() {
            let found = actualRejected[reason]?.numberText.flatMap { Int($0) } ?? 0
            if found != expected.rejected[reason, default: 0] {
                note("status.rejected.\(reason): expected \(expected.rejected[reason, default: 0]), found \(found)")
            }
        }
        for period in BucketPeriod.allCases {
            expectInteger(["late_dropped", period.rawValue], expected.lateDropped[period, default: 0])
        }
        expectInteger(["series", "overflow_records"], 0)
    }

    /// A found value as a message shows it: a number's text, a string, or `absent`.
    private func shown(_ value: JSONValue?) -> String {
        guard let value else { return "absent" }
        return value.numberText ?? value.stringValue ?? "\(value)"
    }

    private func describe(_ value: JSONValue, _ path: [String]) -> String {
        guard let found = value.value(at: path) else { return "absent" }
        return found.numberText ?? found.stringValue ?? "\(found)"
    }

    private mutating func compareBucket(_ expected: ExpectedBucket, _ file: JSONValue, scope: ComparisonScope) {
        let bucketPath = "\(expected.period.rawValue)/\(expected.label)"
        if file["period"]?.stringValue != expected.period.rawValue {
            note("\(bucketPath).period: found \(describe(file, ["period"]))")
        }
        if file["bucket"]?.stringValue != expected.label {
            note("\(bucketPath).bucket: found \(describe(file, ["bucket"]))")
        }
        for (name, date) in [("start", expected.interval.start), ("end", expected.interval.end)] {
            let text = file[name]?.stringValue ?? ""
            let seconds = TimestampText.epochSeconds(text)
            if seconds != date.timeIntervalSince1970 || !(text.hasSuffix("Z") || text.hasSuffix("+00:00")) {
                note("\(bucketPath).\(name): expected \(date) (UTC), found \(text)")
            }
        }
        compareRollup(expected.totals, file["totals"], "\(bucketPath).totals")
        if scope.dimensions {
            compareNamedRollups(expected.byModel, file["by_model"], "\(bucketPath).by_model")
            compareNamedRollups(expected.byProvider, file["by_provider"], "\(bucketPath).by_provider")
            comparePairs(expected.byModelProvider, file["by_model_provider"], "\(bucketPath).by_model_provider")
            compareHighlights(expected, file["highlights"], "\(bucketPath).highlights")
        }
        if scope.keysAndSeries {
            compareKeys(expected.byKey, file["by_key"], "\(bucketPath).by_key")
            compareSeries(expected.series, file["series"], "\(bucketPath).series", meanSlack: scope.seriesMeanSlack)
        }
    }

    private mutating func compareNamedRollups(
        _ expected: [String: ExpectedRollup], _ actual: JSONValue?, _ path: String
    ) {
        guard let members = actual?.objectValue else {
            note("\(path): not an object")
            return
        }
        compareNameSets(Set(expected.keys), Set(members.keys), path)
        for (name, rollup) in expected {
            if let row = members[name] { compareRollup(rollup, row, "\(path)[\(name)]") }
        }
    }

    private mutating func compareNameSets<Name: Hashable & CustomStringConvertible>(
        _ expected: Set<Name>, _ actual: Set<Name>, _ path: String
    ) {
        let missing = expected.subtracting(actual).map(\.description).sorted()
        let extra = actual.subtracting(expected).map(\.description).sorted()
        if !missing.isEmpty { note("\(path): missing \(missing.prefix(10)) (\(missing.count))") }
        if !extra.isEmpty { note("\(path): unexpected \(extra.prefix(10)) (\(extra.count))") }
    }

    private mutating func comparePairs(
        _ expected: [ModelProvider: ExpectedRollup], _ actual: JSONValue?, _ path: String
    ) {
        guard let rows = actual?.arrayValue else {
            note("\(path): not an array")
            return
        }
        var found: [ModelProvider: JSONValue] = [:]
        for row in rows {
            let pair = ModelProvider(
                model: row["model"]?.stringValue ?? "?", provider: row["provider"]?.stringValue ?? "?")
            if found.updateValue(row, forKey: pair) != nil { note("\(path): \(pair) listed twice") }
        }
        compareNameSets(Set(expected.keys), Set(found.keys), path)
        for (pair, rollup) in expected {
            if let row = found[pair] { compareRollup(rollup, row, "\(path)\(pair)") }
        }
    }

    private mutating func compareKeys(_ expected: [String: ExpectedCounters], _ actual: JSONValue?, _ path: String) {
        guard let members = actual?.objectValue else {
            note("\(path): not an object")
            return
        }
        compareNameSets(Set(expected.keys), Set(members.keys), path)
        for (name, counters) in expected {
            if let row = members[name] { compareCounters(counters, row, "\(path)[\(name)]") }
        }
    }

    private mutating func compareSeries(
        _ expected: [SeriesKey: ExpectedSeriesRow], _ actual: JSONValue?, _ path: String, meanSlack: Double = 0
    ) {
        guard let rows = actual?.arrayValue else {
            note("\(path): not an array")
            return
        }
        var found: [SeriesKey: JSONValue] = [:]
        for row in rows {
            let key = SeriesKey(
                apiKey: row["api_key"]?.stringValue ?? "?", model: row["model"]?.stringValue ?? "?",
                provider: row["provider"]?.stringValue ?? "?")
            if found.updateValue(row, forKey: key) != nil { note("\(path): \(key) listed twice") }
        }
        compareNameSets(Set(expected.keys), Set(found.keys), path)
        for (key, series) in expected {
            guard let row = found[key] else { continue }
            compareCounters(series.counters, row, "\(path)\(key)")
            compareOptionalFigure(
                series.latencyMean, row["latency_ms_mean"], "\(path)\(key).latency_ms_mean",
                slack: series.latencySlack + meanSlack)
        }
    }

    private mutating func compareCounters(_ expected: ExpectedCounters, _ actual: JSONValue, _ path: String) {
        for (name, value) in expected.integerFields {
            let text = actual[name]?.numberText
            if text.flatMap({ UInt64($0) }) != value {
                note("\(path).\(name): expected \(value), found \(shown(actual[name]))")
            }
        }
        var expectedCost = expected.costUSD
        var roundedCost = Decimal()
        NSDecimalRound(&roundedCost, &expectedCost, 9, .plain)
        let costText = actual["cost_usd"]?.numberText
        let foundCost = costText.flatMap { Decimal(string: $0, locale: Locale(identifier: "en_US_POSIX")) }
        if foundCost != roundedCost {
            note("\(path).cost_usd: expected \(roundedCost), found \(shown(actual["cost_usd"]))")
        }
    }

    private mutating func compareRollup(_ expected: ExpectedRollup, _ actual: JSONValue?, _ path: String) {
        guard let actual, case .object = actual else {
            note("\(path): not an object")
            return
        }
        compareCounters(expected.counters, actual, path)
        let counters = expected.counters
        let rate = counters.requests > 0 ? Double(counters.succeeded) / Double(counters.requests) : nil
        if let rate {
            let found = actual["success_rate"]?.doubleValue
            if found == nil || abs(found! - rate) > 1e-6 {
                note("\(path).success_rate: expected \(rate), found \(describe(actual, ["success_rate"]))")
            }
        }
        compareDistribution(expected.latency, actual["latency_ms"], "\(path).latency_ms")
        compareDistribution(expected.ttft, actual["ttft_ms"], "\(path).ttft_ms")
        compareDistribution(expected.throughput, actual["throughput_tps"], "\(path).throughput_tps")
        compareOptionalFigure(
            expected.aggregateThroughput, actual.value(at: ["throughput_tps", "aggregate"]),
            "\(path).throughput_tps.aggregate", slack: expected.aggregateThroughputSlack)
    }

    /// Figures are written rounded to 3 decimals: they compare within half a thousandth, plus a
    /// relative 1e-9 for floating-point sums taken in another order (a tie such as 2404.0715 may
    /// round either way).
    /// `slack` widens it where the log's own resolution leaves the exact figure open.
    static func close(_ found: Double, _ expected: Double, slack: Double = 0) -> Bool {
        abs(found - expected) <= 0.0005 + max(abs(expected), 1) * 1e-9 + slack
    }

    private mutating func compareOptionalFigure(
        _ expected: Double?, _ actual: JSONValue?, _ path: String, slack: Double = 0
    ) {
        switch (expected, actual) {
        case (nil, .null?), (nil, nil):
            return
        case (let value?, let found?):
            if let number = found.doubleValue, Self.close(number, value, slack: slack) { return }
            note("\(path): expected \(value), found \(found.numberText ?? "\(found)")")
        default:
            note("\(path): expected \(expected.map { "\($0)" } ?? "null"), found \(shown(actual))")
        }
    }

    private mutating func compareDistribution(_ sample: ValueSample, _ actual: JSONValue?, _ path: String) {
        guard let actual, case .object = actual else {
            note("\(path): not an object")
            return
        }
        let values = sample.sorted
        if actual["count"]?.numberText.flatMap({ Int($0) }) != values.count {
            note("\(path).count: expected \(values.count), found \(describe(actual, ["count"]))")
        }
        let figures = ["mean", "min", "max", "p50", "p90", "p99"]
        guard !values.isEmpty else {
            for figure in figures where actual[figure] != .null {
                note("\(path).\(figure): expected null (count 0), found \(describe(actual, [figure]))")
            }
            return
        }
        compareOptionalFigure(sample.mean, actual["mean"], "\(path).mean", slack: sample.slack)
        compareOptionalFigure(values.first, actual["min"], "\(path).min", slack: sample.slack)
        compareOptionalFigure(values.last, actual["max"], "\(path).max", slack: sample.slack)
        for (figure, percent) in [("p50", 50), ("p90", 90), ("p99", 99)] {
            // The exact order statistic has rank ceil(q·n) (1-based); its neighbours are allowed
            // too, and the sketch may be 1% off relative to them.
            let rank = (percent * values.count + 99) / 100
            let low = values[max(rank - 2, 0)]
            let high = values[min(rank, values.count - 1)]
            let allowedLow = low - abs(low) * 0.01 - 0.0005 - sample.slack
            let allowedHigh = high + abs(high) * 0.01 + 0.0005 + sample.slack
            guard let found = actual[figure]?.doubleValue, found >= allowedLow, found <= allowedHigh else {
                note(
                    "\(path).\(figure): found \(describe(actual, [figure])), allowed [\(allowedLow), \(allowedHigh)]"
                        + " (exact rank \(rank) of \(values.count) = \(values[max(rank - 1, 0)]))")
                continue
            }
        }
    }

    private mutating func compareHighlights(_ expected: ExpectedBucket, _ actual: JSONValue?, _ path: String) {
        guard let actual, case .object = actual else {
            note("\(path): not an object")
            return
        }
        let providerCount = actual["provider_count"]
        if providerCount?.numberText.flatMap({ Int($0) }) != expected.byProvider.count {
            note("\(path).provider_count: expected \(expected.byProvider.count), found \(shown(providerCount))")
        }
        let ranked = expected.byProvider.map { ($0.key, $0.value.counters.requests) }.sorted { $0.1 > $1.1 }
        if let first = ranked.first, ranked.count == 1 || ranked[1].1 < first.1,
            actual["primary_provider"]?.stringValue != first.0
        {
            note("\(path).primary_provider: expected \(first.0), found \(describe(actual, ["primary_provider"]))")
        }
        let latencies = expected.totals.latency.sorted
        for (name, value) in [("fastest_request", latencies.first), ("slowest_request", latencies.last)] {
            if let value {
                compareOptionalFigure(
                    value, actual.value(at: [name, "latency_ms"]), "\(path).\(name).latency_ms",
                    slack: expected.totals.latency.slack)
            } else if let found = actual[name], found != .null {
                note("\(path).\(name): expected null (no latency), found \(found)")
            }
        }
    }
}

/// Bucket files of `tokentally.bucket/v2` read as v1: the rows of `by_key` and `series` are
/// arrays in the order of `columns`; this turns them back into objects, so that one comparison
/// reads both layouts. The columns must be exactly those docs/snapshot-format.md lists.
enum BucketLayout {
    static let counterNames = [
        "requests", "succeeded", "failed", "input_tokens", "output_tokens", "total_tokens", "cached_tokens",
        "cache_write_tokens", "reasoning_tokens", "web_search_requests", "web_search_calls",
        "web_search_input_tokens", "web_search_output_tokens", "cost_usd",
    ]
    static let seriesNames = ["api_key", "model", "provider"] + counterNames + ["latency_ms_mean"]

    struct Mismatch: Error, CustomStringConvertible {
        var description: String
    }

    static func asV1(_ bucket: JSONValue) throws -> JSONValue {
        guard bucket["schema"]?.stringValue == "tokentally.bucket/v2", var members = bucket.objectValue else {
            return bucket
        }
        let columns = members.removeValue(forKey: "columns")
        let keyColumns = columns?["by_key"]?.arrayValue?.compactMap(\.stringValue)
        let seriesColumns = columns?["series"]?.arrayValue?.compactMap(\.stringValue)
        guard keyColumns == counterNames, seriesColumns == seriesNames else {
            throw Mismatch(description: "v2 columns are not the documented ones: \(String(describing: columns))")
        }
        func object(_ row: JSONValue, _ names: [String]) throws -> JSONValue {
            guard let values = row.arrayValue, values.count == names.count else {
                throw Mismatch(description: "a v2 row does not have \(names.count) values: \(row)")
            }
            return .object(Dictionary(uniqueKeysWithValues: zip(names, values)))
        }
        var byKey: [String: JSONValue] = [:]
        for (key, row) in members["by_key"]?.objectValue ?? [:] { byKey[key] = try object(row, counterNames) }
        members["by_key"] = .object(byKey)
        members["series"] = .array(try (members["series"]?.arrayValue ?? []).map { try object($0, seriesNames) })
        return .object(members)
    }
}
