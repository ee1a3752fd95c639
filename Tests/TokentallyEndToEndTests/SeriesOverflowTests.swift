import Foundation
import Testing

/// A series limit folds new (key, model, provider) series into `__overflow__` without losing a count.
@Suite("Series overflow")
struct SeriesOverflowTests {
    enum LimitSource: String, CaseIterable, CustomTestStringConvertible {
        case configurationFile, environment
        var testDescription: String { rawValue }
    }

    @Test(arguments: LimitSource.allCases)
    func totalsStayExactBeyondTheSeriesLimit(source: LimitSource) throws {
        try withScratchDirectory("overflow-\(source.rawValue)") { root in
            var lines: [String] = []
            for key in 0..<100 {
                for request in 0..<3 {
                    lines.append(
                        canonicalLine(
                            ts: "\"2026-11-20T\(10 + request):\(10 + key % 50):00Z\"", apiKey: "team-\(key)",
                            model: request == 2 ? "acme/model-b" : "acme/model-a",
                            fields: [
                                "input_tokens": "\(key * 7 + request)", "output_tokens": "\(key + 1)",
                                "latency_ms": "\(100 + key)", "cost_usd": "0.00\(1000 + key)",
                                "status": key % 9 == 0 ? "500" : "200",
                            ]))
                }
            }
            let logFile = root.appendingPathComponent("many-keys.log")
            try logBytes(lines).write(to: logFile)
            let snapshots = root.appendingPathComponent("snapshots")

            let outcome: ProcessOutcome
            switch source {
            case .configurationFile:
                let configuration = root.appendingPathComponent("limits.yaml")
                try Data("limits:\n  max_series: 10\njournal:\n  enabled: false\n".utf8).write(to: configuration)
                outcome = try TokentallyBinary.replay(
                    [logFile.path], snapshotDirectory: snapshots, options: ["--config", configuration.path])
            case .environment:
                outcome = try TokentallyBinary.run(
                    ["replay", "--no-journal", "--snapshot-dir", snapshots.path, logFile.path],
                    environment: ["TOKENTALLY_LIMITS_MAX_SERIES": "10"])
            }
            try #require(outcome.status == 0, "replay failed: \(outcome.summary)")
            let actual = try SnapshotDirectory.load(from: snapshots)

            var oracle = UsageOracle(format: .tokentally)
            oracle.read(bytes: [UInt8](try Data(contentsOf: logFile)))
            let expected = try oracle.result()
            let totals = SnapshotComparison.compare(
                expected, actual, scope: ComparisonScope(status: false, keysAndSeries: false, dimensions: false))
            #expect(totals.isEmpty, "totals: \(SnapshotComparison.report(totals))")
            // The limit is on (key, model, provider) series: models and providers are few, and
            // folding keys must not turn `__overflow__` into a model or a provider.
            let dimensions = SnapshotComparison.compare(
                expected, actual, scope: ComparisonScope(status: false, keysAndSeries: false))
            #expect(dimensions.isEmpty, "by_model/by_provider: \(SnapshotComparison.report(dimensions, limit: 12))")

            #expect(actual.statusInteger("lines_counted") == 300)
            #expect(actual.statusInteger("series", "limit") == 10)
            let overflowRecords = actual.statusInteger("series", "overflow_records") ?? 0
            #expect(overflowRecords > 0 && overflowRecords < 300, "overflow_records = \(overflowRecords)")

            for (period, files) in actual.buckets {
                for (label, bucket) in files {
                    let rows = bucket["series"]?.arrayValue ?? []
                    let overflowRows = rows.filter { $0["api_key"]?.stringValue == "__overflow__" }
                    #expect(!overflowRows.isEmpty, "\(period.rawValue)/\(label) has no __overflow__ series")
                    let named = Set(
                        rows.compactMap { row -> String? in
                            guard let key = row["api_key"]?.stringValue, key != "__overflow__" else { return nil }
                            return key + "|" + (row["model"]?.stringValue ?? "") + "|"
                                + (row["provider"]?.stringValue ?? "")
                        })
                    #expect(named.count <= 10, "\(period.rawValue)/\(label) keeps \(named.count) named series")
                    // The series rows still add up to the totals, counter by counter.
                    let totals = try #require(expected.buckets[period]?[label]?.totals.counters)
                    for (name, value) in totals.integerFields {
                        let sum = rows.compactMap { $0[name]?.numberText.flatMap { UInt64($0) } }.reduce(0, +)
                        #expect(sum == value, "\(period.rawValue)/\(label) Σ series.\(name)")
                    }
                    let costSum = rows.compactMap {
                        $0["cost_usd"]?.numberText.flatMap {
                            Decimal(string: $0, locale: Locale(identifier: "en_US_POSIX"))
                        }
                    }.reduce(Decimal(0), +)
                    #expect(costSum == totals.costUSD, "\(period.rawValue)/\(label) Σ series.cost_usd")
                }
            }
        }
    }
}
