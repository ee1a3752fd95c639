import Foundation
import Testing

@testable import TokentallySystem
@testable import TokentallyReading
@testable import TokentallyCounting
@testable import TokentallyOutput
@testable import TokentallyConfiguration
@testable import TokentallyReplay
@testable import TokentallyDaemon
@testable import TokentallySamples

// MARK: - Fixtures shared with SnapshotWriterTests

/// Reports with known values, and the schema check through python3's `jsonschema`.
enum SnapshotFixtures {
    static let day: Int64 = 1_795_824_000  // 2026-11-28T00:00:00Z

    static func counters(_ seed: UInt64) -> CounterValues {
        var counters = CounterValues()
        counters.requests = 10 + seed
        counters.succeeded = 9 + seed
        counters.failed = 1
        counters.inputTokens = 1000 * seed + 7
        counters.outputTokens = 500 * seed + 3
        counters.cachedTokens = 100 * seed
        counters.cacheWriteTokens = 20 * seed
        counters.reasoningTokens = 30 * seed
        counters.webSearchRequests = seed % 3
        counters.webSearchCalls = seed % 5
        counters.webSearchInputTokens = 40 * seed
        counters.webSearchOutputTokens = 50 * seed
        counters.costNanoUSD = 51_006_000 * Int64(seed) + 1
        counters.latencySumMs = 1234.5 * Double(seed + 1)
        counters.latencyCount = seed + 1
        return counters
    }

    static func distribution(_ base: Double) -> DistributionSummary {
        DistributionSummary(
            count: 12, mean: base * 1.5, min: base / 2, max: base * 10, p50: base, p90: base * 3, p99: base * 8)
    }

    static func rollup(_ seed: UInt64) -> RollupReport {
        RollupReport(
            counters: counters(seed),
            performance: PerformanceSummary(
                latencyMs: distribution(812.25 + Double(seed)), ttftMs: distribution(120.125),
                throughputTPS: distribution(55.5), aggregateThroughputTPS: 61.0625))
    }

    static let emptyRollup = RollupReport(
        counters: CounterValues(),
        performance: PerformanceSummary(
            latencyMs: .empty, ttftMs: .empty, throughputTPS: .empty, aggregateThroughputTPS: nil))

    static func report(seriesCount: Int = 3, models: [String] = ["gpt-4o", "claude-sonnet-4.5"]) -> BucketReport {
        let series = (0..<seriesCount).map { index in
            SeriesReport(
                apiKey: "key_\(index % 97)", model: models[index % models.count], provider: "provider-\(index % 7)",
                counters: counters(UInt64(index)))
        }
        return BucketReport(
            period: .day, label: "2026-11-28", startEpochSeconds: day, endEpochSeconds: day + 86_400, timezone: "UTC",
            host: "gw-1", generatedAtEpochSeconds: day + 3_723, totals: rollup(100),
            byModel: models.enumerated().map { ($0.element, rollup(UInt64($0.offset))) },
            byProvider: [("openai", rollup(5)), ("amazon-bedrock", emptyRollup)],
            byModelProvider: [
                (models[0], "openai", rollup(6)), (models[models.count - 1], "amazon-bedrock", rollup(7)),
            ],
            byKey: [("key_0", counters(8)), ("key_1", CounterValues())],
            series: series,
            highlights: HighlightsReport(
                primaryProvider: "openai", providerCount: 2, fastestProvider: "openai", fastestModel: models[0],
                slowestModel: nil, highestThroughputModel: models[0], lowestThroughputModel: nil,
                fastestRequest: RequestHighlight(
                    requestID: "req-1", model: models[0], provider: "openai", latencyMs: 12.5),
                slowestRequest: RequestHighlight(
                    requestID: nil, model: models[0], provider: "openai", latencyMs: 90_000),
                minRequests: 20))
    }

    static func index() -> IndexReport {
        var status = IngestStatus()
        status.linesRead = 1_000_010
        status.linesCounted = 999_990
        status.linesEmpty = 3
        status.rejected = ["missing_field": 5, "invalid_json": 12, "bad_timestamp": 0]
        status.lateDropped = [.week: 4]
        status.overflowRecords = 17
        status.seriesLimit = 1_000_000
        status.seriesCount = 4242
        status.linesPerSecond = 18_500.4567
        status.lastCommitEpochSeconds = day + 60
        status.files = [
            FileStatus(
                path: "/var/log/gateway/access.log", device: 2049, inode: 131_077, fingerprint: "9f86d081884c7d65",
                compressed: false, offset: 123_456_789, lagBytes: 512, finished: false),
            FileStatus(
                path: "/var/log/gateway/access.log.2.gz", compressed: true, offset: 99, lagBytes: 0, finished: true,
                damage: "gzip member cut short at byte 4096"),
        ]
        return IndexReport(
            generatedAtEpochSeconds: day + 61, host: "gw-1", timezone: "America/New_York",
            buckets: [.day: ["2026-11-27", "2026-11-28"], .month: ["2026-11"]], status: status)
    }

    /// `docs/schemas/<name>`, found from this file's path.
    static func schemaPath(_ name: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/schemas/\(name)").path
    }

    /// Validates a JSON file against a schema with python3's `jsonschema` (draft 2020-12); returns
    /// whether it is valid and what the validator said.
    static func validate(file: String, schema: String) throws -> (valid: Bool, output: String) {
        let script = """
            import json, sys, jsonschema
            schema = json.load(open(sys.argv[2]))
            jsonschema.Draft202012Validator.check_schema(schema)
            try:
                jsonschema.Draft202012Validator(schema).validate(json.load(open(sys.argv[1])))
            except jsonschema.ValidationError as error:
                print("INVALID:", error.message)
                sys.exit(3)
            print("VALID")
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, file, schema]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        // Exit 3 is "invalid"; anything else but 0 (no python3, no jsonschema, a bad schema) fails the test.
        #expect(process.terminationStatus == 0 || process.terminationStatus == 3, "validator failed: \(output)")
        return (process.terminationStatus == 0 && output.contains("VALID"), output)
    }

    /// A new empty directory under the system's temporary directory.
    static func temporaryDirectory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tokentally-snap-\(UUID().uuidString)")
            .path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func parse(_ bytes: [UInt8]) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
    }
}

/// What one JSON value encodes to, written alone.
private func encodeValue(_ write: (inout JSONWriter) -> Void) -> String {
    var json = JSONWriter()
    write(&json)
    return String(decoding: json.bytes, as: UTF8.self)
}

private func object(_ value: Any?) throws -> [String: Any] { try #require(value as? [String: Any]) }
private func array(_ value: Any?) throws -> [Any] { try #require(value as? [Any]) }
private func integer(_ value: Any?) throws -> Int64 { try #require((value as? NSNumber)?.int64Value) }
private func double(_ value: Any?) throws -> Double { try #require((value as? NSNumber)?.doubleValue) }
private func isNull(_ value: Any?) -> Bool { value is NSNull }

/// The UTF-8 bytes of a parsed string, so that comparisons are exact, not up to canonical equivalence.
private func utf8(_ value: Any?) throws -> [UInt8] { Array(try #require(value as? String).utf8) }

// MARK: - Bucket files

/// v2 holds the values v1 holds: each `by_key` and `series` row, read by the names in
/// `columns`, is the v1 row's object; every other member is the same.
@Test func v2RowsAreV1RowsInTheOrderOfColumns() throws {
    let report = SnapshotFixtures.report(seriesCount: 40)
    var v1 = try SnapshotFixtures.parse(SnapshotEncoder.encode(report, schema: .v1))
    var v2 = try SnapshotFixtures.parse(SnapshotEncoder.encode(report))
    #expect(v2["schema"] as? String == "tokentally.bucket/v2")
    let columns = try object(v2.removeValue(forKey: "columns"))
    let keyColumns = try #require(columns["by_key"] as? [String])
    let seriesColumns = try #require(columns["series"] as? [String])
    #expect(seriesColumns == ["api_key", "model", "provider"] + keyColumns + ["latency_ms_mean"])
    let v1Series = try #require(v1.removeValue(forKey: "series") as? [[String: Any]])
    let v2Series = try #require(v2.removeValue(forKey: "series") as? [[Any]])
    #expect(v1Series.count == 40 && v2Series.count == 40)
    for (old, new) in zip(v1Series, v2Series) {
        #expect(Set(old.keys) == Set(seriesColumns))
        let named = NSDictionary(dictionary: Dictionary(uniqueKeysWithValues: zip(seriesColumns, new)))
        #expect(named.isEqual(to: old), "\(new) is not \(old)")
    }
    let v1Keys = try object(v1.removeValue(forKey: "by_key"))
    let v2Keys = try object(v2.removeValue(forKey: "by_key"))
    #expect(Set(v1Keys.keys) == Set(v2Keys.keys) && !v1Keys.isEmpty)
    for (key, old) in v1Keys {
        let row = try array(v2Keys[key])
        let named = NSDictionary(dictionary: Dictionary(uniqueKeysWithValues: zip(keyColumns, row)))
        #expect(named.isEqual(to: try object(old)), "by_key[\(key)]")
    }
    v1.removeValue(forKey: "schema")
    v2.removeValue(forKey: "schema")
    #expect(NSDictionary(dictionary: v1).isEqual(to: v2), "members other than the rows differ")
}

@Test func bucketFileParsesAndCarriesEveryValue() throws {
    let report = SnapshotFixtures.report()
    let document = try SnapshotFixtures.parse(SnapshotEncoder.encode(report, schema: .v1))

    #expect(document["schema"] as? String == "tokentally.bucket/v1")
    #expect(document["period"] as? String == "day")
    #expect(document["bucket"] as? String == "2026-11-28")
    #expect(document["start"] as? String == "2026-11-28T00:00:00Z")
    #expect(document["end"] as? String == "2026-11-29T00:00:00Z")
    #expect(document["generated_at"] as? String == "2026-11-28T01:02:03Z")
    #expect(document["timezone"] as? String == "UTC")
    #expect(document["host"] as? String == "gw-1")

    let totals = try object(document["totals"])
    let expected = SnapshotFixtures.counters(100)
    #expect(try integer(totals["requests"]) == 110)
    #expect(try integer(totals["succeeded"]) == 109)
    #expect(try integer(totals["failed"]) == 1)
    #expect(try integer(totals["input_tokens"]) == 100_007)
    #expect(try integer(totals["output_tokens"]) == 50_003)
    #expect(try integer(totals["total_tokens"]) == 150_010)
    #expect(try integer(totals["cached_tokens"]) == 10_000)
    #expect(try integer(totals["cache_write_tokens"]) == 2_000)
    #expect(try integer(totals["reasoning_tokens"]) == 3_000)
    #expect(try integer(totals["web_search_requests"]) == 1)
    #expect(try integer(totals["web_search_calls"]) == 0)
    #expect(try integer(totals["web_search_input_tokens"]) == 4_000)
    #expect(try integer(totals["web_search_output_tokens"]) == 5_000)
    #expect(expected.costNanoUSD == 5_100_600_001)
    #expect(try double(totals["cost_usd"]) == 5.100600001)
    #expect(try double(totals["success_rate"]) == 0.990909)  // 109 / 110 = 0.9909090...

    let latency = try object(totals["latency_ms"])
    #expect(try integer(latency["count"]) == 12)
    #expect(try double(latency["mean"]) == 1368.375)  // 912.25 × 1.5
    #expect(try double(latency["min"]) == 456.125)
    #expect(try double(latency["max"]) == 9122.5)
    #expect(try double(latency["p50"]) == 912.25)
    #expect(try double(latency["p90"]) == 2736.75)
    #expect(try double(latency["p99"]) == 7298)
    #expect(latency["aggregate"] == nil)
    let ttft = try object(totals["ttft_ms"])
    #expect(try double(ttft["p50"]) == 120.125)
    #expect(try double(ttft["min"]) == 60.063)  // 60.0625 rounded half away from zero to 3 decimals
    let throughput = try object(totals["throughput_tps"])
    #expect(try double(throughput["aggregate"]) == 61.063)  // 61.0625
    #expect(try double(throughput["p50"]) == 55.5)

    let byModel = try object(document["by_model"])
    #expect(Set(byModel.keys) == ["gpt-4o", "claude-sonnet-4.5"])
    #expect(try integer(object(byModel["claude-sonnet-4.5"])["requests"]) == 11)
    let byProvider = try object(document["by_provider"])
    let bedrock = try object(byProvider["amazon-bedrock"])
    #expect(try integer(bedrock["requests"]) == 0)
    #expect(isNull(bedrock["success_rate"]))

    let pairs = try array(document["by_model_provider"])
    #expect(pairs.count == 2)
    let firstPair = try object(pairs[0])
    #expect(firstPair["model"] as? String == "gpt-4o")
    #expect(firstPair["provider"] as? String == "openai")
    #expect(try integer(firstPair["requests"]) == 16)
    #expect(try object(firstPair["throughput_tps"])["aggregate"] != nil)

    let byKey = try object(document["by_key"])
    let key0 = try object(byKey["key_0"])
    #expect(key0.count == 14)  // COUNTERS only
    #expect(try integer(key0["input_tokens"]) == 8007)
    #expect(try double(key0["cost_usd"]) == 0.408048001)

    let series = try array(document["series"])
    #expect(series.count == 3)
    let row = try object(series[2])
    #expect(row["api_key"] as? String == "key_2")
    #expect(row["model"] as? String == "gpt-4o")
    #expect(row["provider"] as? String == "provider-2")
    #expect(row.count == 18)
    #expect(try integer(row["requests"]) == 12)
    #expect(try double(row["latency_ms_mean"]) == 1234.5)

    let highlights = try object(document["highlights"])
    #expect(highlights["primary_provider"] as? String == "openai")
    #expect(try integer(highlights["provider_count"]) == 2)
    #expect(highlights["fastest_model"] as? String == "gpt-4o")
    #expect(isNull(highlights["slowest_model"]))
    #expect(isNull(highlights["lowest_throughput_model"]))
    #expect(try integer(highlights["min_requests"]) == 20)
    let fastest = try object(highlights["fastest_request"])
    #expect(fastest["request_id"] as? String == "req-1")
    #expect(try double(fastest["latency_ms"]) == 12.5)
    #expect(isNull(try object(highlights["slowest_request"])["request_id"]))
}

@Test func membersAreWrittenInTheDocumentedOrderWithOneSeriesRowPerLine() throws {
    var report = SnapshotFixtures.report(seriesCount: 2)
    report.series[1].counters.latencyCount = 0
    let text = String(decoding: SnapshotEncoder.encode(report, schema: .v1), as: UTF8.self)

    // The whole row, exactly: COUNTERS in order, then latency_ms_mean.
    let row =
        #"    {"api_key": "key_1", "model": "claude-sonnet-4.5", "provider": "provider-1", "requests": 11, "#
        + #""succeeded": 10, "failed": 1, "input_tokens": 1007, "output_tokens": 503, "total_tokens": 1510, "#
        + #""cached_tokens": 100, "cache_write_tokens": 20, "reasoning_tokens": 30, "web_search_requests": 1, "#
        + #""web_search_calls": 1, "web_search_input_tokens": 40, "web_search_output_tokens": 50, "#
        + #""cost_usd": 0.051006001, "latency_ms_mean": null}"#
    #expect(text.split(separator: "\n").contains { $0 == row })

    let topLevel = [
        "schema", "period", "bucket", "start", "end", "timezone", "host", "generated_at", "totals", "by_model",
        "by_provider", "by_model_provider", "by_key", "series", "highlights",
    ]
    let positions = topLevel.map { text.range(of: "\n  \"\($0)\": ")?.lowerBound }
    #expect(!positions.contains(nil))
    #expect(positions.compactMap { $0 } == positions.compactMap { $0 }.sorted())

    let rollupOrder = [
        "requests", "succeeded", "failed", "input_tokens", "output_tokens", "total_tokens", "cached_tokens",
        "cache_write_tokens", "reasoning_tokens", "web_search_requests", "web_search_calls", "web_search_input_tokens",
        "web_search_output_tokens", "cost_usd", "success_rate", "latency_ms", "ttft_ms", "throughput_tps",
    ]
    let totals = try #require(text.range(of: "\"totals\": {")).upperBound
    let rollupPositions = try rollupOrder.map {
        try #require(text.range(of: "\"\($0)\": ", range: totals..<text.endIndex)).lowerBound
    }
    #expect(rollupPositions == rollupPositions.sorted())
    #expect(
        text.contains(
            #""throughput_tps": {"count": 12, "mean": 83.25, "min": 27.75, "max": 555, "p50": 55.5, "p90": 166.5, "#
                + #""p99": 444, "aggregate": 61.063}"#))
    #expect(text.hasSuffix("}\n"))
}

@Test func hostileStringsRoundTripExactly() throws {
    let controls = String(decoding: (0..<0x20).map { UInt8($0) }, as: UTF8.self)
    let hostile = [
        controls,
        #"quote " backslash \ slash / \u0041 \" \\"#,
        "emoji 🧮👩🏽‍💻 flags 🇩🇪 é e\u{301} 中文 \u{10FFFF}",
        "line separators \u{2028} and \u{2029} and their neighbour \u{2027}\u{202A} and € (E2 82 AC)",
        "\u{7F} DEL and \u{FEFF} BOM",
        "",
        "ends with backslash \\",
        "\u{2028}",
    ]
    var report = SnapshotFixtures.report(seriesCount: 0, models: hostile)
    report.host = hostile.joined()
    report.series = hostile.map { SeriesReport(apiKey: $0, model: $0, provider: $0, counters: CounterValues()) }
    let bytes = SnapshotEncoder.encode(report, schema: .v1)

    // No raw control byte but the layout's newlines, and no raw U+2028 / U+2029.
    #expect(!bytes.contains { $0 < 0x20 && $0 != 0x0A })
    let text = String(decoding: bytes, as: UTF8.self)
    #expect(!text.unicodeScalars.contains { $0 == "\u{2028}" || $0 == "\u{2029}" })
    #expect(text.contains(#"\u2028"#) && text.contains(#"\u2029"#))

    let document = try SnapshotFixtures.parse(bytes)
    #expect(try utf8(document["host"]) == Array(hostile.joined().utf8))
    let byModel = try object(document["by_model"])
    for name in hostile {
        // Dictionary lookup matches canonically equivalent keys, so compare the key's bytes too.
        let key = try #require(byModel.keys.first { Array($0.utf8) == Array(name.utf8) })
        #expect(try integer(object(byModel[key])["requests"]) >= 10)
    }
    let series = try array(document["series"])
    #expect(series.count == hostile.count)
    for (row, name) in zip(series, hostile) {
        let row = try object(row)
        #expect(try utf8(row["api_key"]) == Array(name.utf8))
        #expect(try utf8(row["model"]) == Array(name.utf8))
        #expect(try utf8(row["provider"]) == Array(name.utf8))
    }
}

/// Rows that share one name table (a report built from counters) are written through names
/// escaped once per report; rows made one by one, each with its own, are written row by row.
/// Both give the same bytes, hostile names included.
@Test func rowsSharingANameTableAreWrittenAsRowsMadeOneByOne() throws {
    let names = ["key \u{2028} \"quoted\"", "emoji 🧮", "plain-key", "\u{1F}control", "", "gpt-4o", "ends \\"]
    let entries = (0..<40).map { index in
        (
            key: names[index % names.count], model: names[(index / 3) % names.count],
            provider: names[(index / 5) % names.count], counters: SnapshotFixtures.counters(UInt64(index))
        )
    }
    var shared = SnapshotFixtures.report(seriesCount: 0)
    shared.series = SeriesReport.rows(entries)
    #expect(shared.sharedSeriesNames != nil)
    var separate = shared
    separate.series = shared.series.map {
        SeriesReport(apiKey: $0.apiKey, model: $0.model, provider: $0.provider, counters: $0.counters)
    }
    #expect(separate.sharedSeriesNames == nil)
    let bytes = SnapshotEncoder.encode(shared, schema: .v2)
    #expect(bytes == SnapshotEncoder.encode(separate, schema: .v2))
    let series = try array(SnapshotFixtures.parse(bytes)["series"])
    #expect(series.count == entries.count)
    for (row, expected) in zip(series, shared.series) {
        let values = try array(row)
        #expect(try utf8(values[0]) == Array(expected.apiKey.utf8))
        #expect(try utf8(values[1]) == Array(expected.model.utf8))
        #expect(try utf8(values[2]) == Array(expected.provider.utf8))
    }
}

/// The writer skips plain text eight bytes at a time: a character to escape is found at every
/// offset of the word, and in the bytes after the last whole word.
@Test func escapesAreFoundAtEveryOffset() {
    let escapes: [(String, String)] = [
        ("\"", #"\""#), ("\\", #"\\"#), ("\n", #"\n"#), ("\u{1}", #"\u0001"#), ("\u{2028}", #"\u2028"#),
    ]
    for (raw, escaped) in escapes {
        for length in [7, 8, 9, 16, 17, 23] {
            for offset in 0..<length {
                let before = String(repeating: "a", count: offset)
                let after =
                    String(repeating: "€", count: (length - offset) / 3)
                    + String(repeating: "b", count: (length - offset) % 3)
                #expect(encodeValue { $0.string(before + raw + after) } == "\"" + before + escaped + after + "\"")
            }
        }
    }
}

@Test func controlCharactersUseTheShortEscapesOrHexEscapes() {
    #expect(encodeValue { $0.string("\n\t\r\u{8}\u{C}") } == #""\n\t\r\b\f""#)
    #expect(encodeValue { $0.string("\u{0}\u{1}\u{1F}\u{1B}") } == #""\u0000\u0001\u001f\u001b""#)
    #expect(encodeValue { $0.string(#"a"b\c"#) } == #""a\"b\\c""#)
    #expect(encodeValue { $0.string("x\u{2028}y\u{2029}z") } == #""x\u2028y\u2029z""#)
    #expect(encodeValue { $0.string("é€🧮") } == "\"é€🧮\"")
    #expect(encodeValue { $0.string(nil as String?) } == "null")
}

@Test(
    arguments: [
        (51_006_000, "0.051006"), (12_345_678_901, "12.345678901"), (-5, "-0.000000005"), (0, "0"),
        (1_000_000_000, "1"), (-1_500_000_000, "-1.5"), (100, "0.0000001"), (1, "0.000000001"),
        (Int64.max, "9223372036.854775807"), (Int64.min, "-9223372036.854775808"),
    ] as [(Int64, String)])
func costIsWrittenExactlyFromNanoDollars(nanos: Int64, expected: String) throws {
    #expect(encodeValue { $0.nanoDecimal(nanos) } == expected)
    // The written number is the same decimal that the integer holds.
    let decimal = try #require(Decimal(string: expected))
    #expect(decimal == Decimal(nanos) / Decimal(1_000_000_000))
}

@Test(
    arguments: [
        (12.5, "12.5"), (3, "3"), (0.125, "0.125"), (0.0625, "0.063"), (1.23449, "1.234"), (1.2345678, "1.235"),
        (0.0004, "0"), (-0.0004, "0"), (-0.0, "0"), (-2.5, "-2.5"), (0.001, "0.001"), (123_456.789, "123456.789"),
        (999.9996, "1000"), (1e-300, "0"), (1e15, "1000000000000000"), (1e20, "100000000000000000000"),
        (-1.5e19, "-15000000000000000000"), (.nan, "null"), (.infinity, "null"), (-.infinity, "null"),
    ] as [(Double, String)])
func measurementsAreRoundedToThreeDecimalsWithoutExponent(value: Double, expected: String) {
    #expect(encodeValue { $0.number(value) } == expected)
}

@Test(
    arguments: [
        (2, 3, "0.666667"), (1, 3, "0.333333"), (0, 0, "null"), (5, 5, "1"), (0, 7, "0"), (1, 8, "0.125"),
        (999_999_999, 1_000_000_000, "1"), (1, 2_000_000, "0.000001"), (1, 2_000_001, "0"),
        (UInt64.max - 1, UInt64.max, "1"),
    ] as [(UInt64, UInt64, String)])
func successRateIsRoundedToSixDecimals(succeeded: UInt64, requests: UInt64, expected: String) {
    #expect(encodeValue { $0.ratio(succeeded, requests) } == expected)
}

@Test func emptyDistributionsAndMissingFiguresAreNull() throws {
    var report = SnapshotFixtures.report(seriesCount: 1)
    report.totals = SnapshotFixtures.emptyRollup
    report.series[0].counters.latencyCount = 0
    report.highlights = HighlightsReport()
    let document = try SnapshotFixtures.parse(SnapshotEncoder.encode(report, schema: .v1))

    let totals = try object(document["totals"])
    #expect(isNull(totals["success_rate"]))
    #expect(try integer(totals["cost_usd"]) == 0)
    for name in ["latency_ms", "ttft_ms", "throughput_tps"] {
        let distribution = try object(totals[name])
        #expect(try integer(distribution["count"]) == 0)
        for figure in ["mean", "min", "max", "p50", "p90", "p99"] {
            #expect(isNull(distribution[figure]), "\(name).\(figure)")
        }
    }
    #expect(isNull(try object(totals["throughput_tps"])["aggregate"]))
    #expect(isNull(try object(array(document["series"])[0])["latency_ms_mean"]))
    let highlights = try object(document["highlights"])
    for name in [
        "primary_provider", "fastest_provider", "fastest_model", "slowest_model", "highest_throughput_model",
        "lowest_throughput_model", "fastest_request", "slowest_request",
    ] {
        #expect(isNull(highlights[name]), "\(name)")
    }
    #expect(try integer(highlights["provider_count"]) == 0)
}

@Test func emptyBucketHasEmptyContainers() throws {
    var report = SnapshotFixtures.report(seriesCount: 0)
    report.byModel = []
    report.byProvider = []
    report.byModelProvider = []
    report.byKey = []
    let text = String(decoding: SnapshotEncoder.encode(report, schema: .v1), as: UTF8.self)
    #expect(text.contains(#""by_model": {},"#))
    #expect(text.contains(#""by_model_provider": [],"#))
    #expect(text.contains(#""series": [],"#))
    let document = try SnapshotFixtures.parse(Array(text.utf8))
    #expect(try array(document["series"]).isEmpty)
}

@Test func timestampsAgreeWithFoundationsRFC3339Formatter() {
    let formatter = ISO8601DateFormatter()
    formatter.timeZone = TimeZone(identifier: "UTC")
    formatter.formatOptions = [.withInternetDateTime]
    var generator = SystemRandomNumberGenerator()
    let edges: [Int64] = [
        0, -1, 86_399, 86_400, 951_782_400, 951_868_799,  // 2000-02-29
        -2_203_891_200,  // 1900-03-01, after a non-leap February
        4_107_542_400,  // 2100-03-01
        253_402_300_799,  // 9999-12-31T23:59:59Z
        SnapshotFixtures.day,
    ]
    let randoms = (0..<2000).map { _ in Int64.random(in: -11_676_096_000...253_402_300_799, using: &generator) }
    for seconds in edges + randoms {
        let expected = formatter.string(from: Date(timeIntervalSince1970: TimeInterval(seconds)))
        #expect(JSONWriter.rfc3339(epochSeconds: seconds) == expected, "\(seconds)")
    }
    #expect(JSONWriter.rfc3339(epochSeconds: .max) == "9999-12-31T23:59:59Z")
    #expect(JSONWriter.rfc3339(epochSeconds: .min) == "0000-01-01T00:00:00Z")
}

@Test func writerBufferCanBeReusedForAnotherDocument() {
    let report = SnapshotFixtures.report()
    var json = JSONWriter()
    SnapshotEncoder.encode(SnapshotFixtures.index(), into: &json)
    json.reset()
    SnapshotEncoder.encode(report, into: &json)
    #expect(json.bytes == SnapshotEncoder.encode(report))
}

// MARK: - index.json

@Test func indexFileCarriesBucketsAndStatus() throws {
    let document = try SnapshotFixtures.parse(SnapshotEncoder.encode(SnapshotFixtures.index()))
    #expect(document["schema"] as? String == "tokentally.index/v1")
    #expect(document["generated_at"] as? String == "2026-11-28T00:01:01Z")
    #expect(document["timezone"] as? String == "America/New_York")
    let buckets = try object(document["buckets"])
    #expect(buckets["day"] as? [String] == ["2026-11-27", "2026-11-28"])
    #expect(buckets["week"] as? [String] == [])
    #expect(buckets["month"] as? [String] == ["2026-11"])

    let status = try object(document["status"])
    #expect(try integer(status["lines_read"]) == 1_000_010)
    #expect(try integer(status["lines_counted"]) == 999_990)
    #expect(try integer(status["lines_empty"]) == 3)
    #expect(try integer(status["lines_rejected"]) == 17)
    let rejected = try object(status["rejected"])
    #expect(try integer(rejected["invalid_json"]) == 12)
    #expect(try integer(rejected["bad_timestamp"]) == 0)
    let late = try object(status["late_dropped"])
    #expect(try [integer(late["day"]), integer(late["week"]), integer(late["month"])] == [0, 4, 0])
    let series = try object(status["series"])
    #expect(
        try [integer(series["count"]), integer(series["limit"]), integer(series["overflow_records"])] == [
            4242, 1_000_000, 17,
        ])
    #expect(try double(status["lines_per_second"]) == 18_500.457)
    #expect(status["last_commit"] as? String == "2026-11-28T00:01:00Z")

    let files = try array(status["files"])
    let live = try object(files[0])
    #expect(live["path"] as? String == "/var/log/gateway/access.log")
    #expect(try integer(live["device"]) == 2049)
    #expect(try integer(live["inode"]) == 131_077)
    #expect(live["fingerprint"] as? String == "9f86d081884c7d65")
    #expect((live["compressed"] as? NSNumber)?.boolValue == false)
    #expect(try integer(live["offset"]) == 123_456_789)
    #expect(try integer(live["lag_bytes"]) == 512)
    #expect(isNull(live["damage"]))
    let rotated = try object(files[1])
    #expect(isNull(rotated["device"]) && isNull(rotated["inode"]) && isNull(rotated["fingerprint"]))
    #expect((rotated["finished"] as? NSNumber)?.boolValue == true)
    #expect(rotated["damage"] as? String == "gzip member cut short at byte 4096")

    // Reasons are written sorted, whatever order the dictionary holds them in.
    let text = String(decoding: SnapshotEncoder.encode(SnapshotFixtures.index()), as: UTF8.self)
    let reasons = ["bad_timestamp", "invalid_json", "missing_field"].map { text.range(of: "\"\($0)\"")!.lowerBound }
    #expect(reasons == reasons.sorted())
}

@Test func indexWithNothingYetHasNullsAndZeros() throws {
    let index = IndexReport(generatedAtEpochSeconds: 0, host: "", timezone: "UTC", buckets: [:], status: IngestStatus())
    let document = try SnapshotFixtures.parse(SnapshotEncoder.encode(index))
    let status = try object(document["status"])
    #expect(isNull(status["lines_per_second"]))
    #expect(isNull(status["last_commit"]))
    #expect(try integer(status["lines_rejected"]) == 0)
    #expect(try object(status["rejected"]).isEmpty)
    #expect(try object(status["late_dropped"]).count == 3)
    #expect(try object(document["buckets"]).count == 3)
}

// MARK: - Schemas

@Test func encodedFilesValidateAgainstTheirSchemas() throws {
    let directory = try SnapshotFixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    var empty = SnapshotFixtures.report(seriesCount: 1)
    empty.totals = SnapshotFixtures.emptyRollup
    empty.series[0].counters.latencyCount = 0
    empty.highlights = HighlightsReport()
    var week = SnapshotFixtures.report()
    week.period = .week
    week.label = "2026-W48"
    let documents: [(name: String, bytes: [UInt8], schema: String)] = [
        (
            "bucket.json", SnapshotEncoder.encode(SnapshotFixtures.report(seriesCount: 50), schema: .v1),
            "bucket.schema.json"
        ),
        ("empty.json", SnapshotEncoder.encode(empty, schema: .v1), "bucket.schema.json"),
        ("week.json", SnapshotEncoder.encode(week, schema: .v1), "bucket.schema.json"),
        ("bucket-v2.json", SnapshotEncoder.encode(SnapshotFixtures.report(seriesCount: 50)), "bucket-v2.schema.json"),
        ("empty-v2.json", SnapshotEncoder.encode(empty), "bucket-v2.schema.json"),
        ("week-v2.json", SnapshotEncoder.encode(week), "bucket-v2.schema.json"),
        ("index.json", SnapshotEncoder.encode(SnapshotFixtures.index()), "index.schema.json"),
        (
            "index-empty.json",
            SnapshotEncoder.encode(
                IndexReport(
                    generatedAtEpochSeconds: 0, host: "h", timezone: "UTC", buckets: [:], status: IngestStatus())),
            "index.schema.json"
        ),
    ]
    for document in documents {
        let path = directory + "/" + document.name
        try Data(document.bytes).write(to: URL(fileURLWithPath: path))
        let result = try SnapshotFixtures.validate(file: path, schema: SnapshotFixtures.schemaPath(document.schema))
        #expect(result.valid, "\(document.name): \(result.output)")
    }
}

/// Changes that each break one rule of a schema.
enum SchemaBreakage: String, CaseIterable, Sendable {
    case counterAsString, negativeCounter, fractionalCounter, missingRequiredField, unknownTopLevelField
    case unknownFieldInSeriesRow, performanceInByKeyEntry, figureInEmptyDistribution
    case nullFigureInMeasuredDistribution, weekLabelOnDayBucket, timeWithOffset, successRateAboveOne
    case lateDroppedMissingAPeriod, unknownFileField, impossibleBucketLabel
    case v2RowTooShort, v2CounterAsString, v2ColumnsReordered

    var schema: String {
        switch self {
        case .lateDroppedMissingAPeriod, .unknownFileField, .impossibleBucketLabel: "index.schema.json"
        case .v2RowTooShort, .v2CounterAsString, .v2ColumnsReordered: "bucket-v2.schema.json"
        default: "bucket.schema.json"
        }
    }

    var validDocument: [UInt8] {
        schema == "index.schema.json"
            ? SnapshotEncoder.encode(SnapshotFixtures.index())
            : SnapshotEncoder.encode(SnapshotFixtures.report(), schema: schema == "bucket-v2.schema.json" ? .v2 : .v1)
    }

    func apply(to document: inout [String: Any]) {
        func change(_ key: String, _ edit: (inout [String: Any]) -> Void) {
            var member = document[key] as! [String: Any]
            edit(&member)
            document[key] = member
        }
        switch self {
        case .counterAsString: change("totals") { $0["requests"] = "110" }
        case .negativeCounter: change("totals") { $0["input_tokens"] = -1 }
        case .fractionalCounter: change("totals") { $0["output_tokens"] = 1.5 }
        case .missingRequiredField: document.removeValue(forKey: "highlights")
        case .unknownTopLevelField: document["extra"] = 1
        case .unknownFieldInSeriesRow:
            var series = document["series"] as! [[String: Any]]
            series[0]["surprise"] = 0
            document["series"] = series
        case .performanceInByKeyEntry:
            change("by_key") { byKey in
                var entry = byKey["key_0"] as! [String: Any]
                entry["success_rate"] = 1
                byKey["key_0"] = entry
            }
        case .figureInEmptyDistribution:
            change("totals") { totals in
                var latency = totals["latency_ms"] as! [String: Any]
                for figure in ["min", "max", "p50", "p90", "p99"] { latency[figure] = NSNull() }
                latency["count"] = 0
                latency["mean"] = 1
                totals["latency_ms"] = latency
            }
        case .nullFigureInMeasuredDistribution:
            change("totals") { totals in
                var latency = totals["latency_ms"] as! [String: Any]
                latency["p99"] = NSNull()
                totals["latency_ms"] = latency
            }
        case .weekLabelOnDayBucket: document["bucket"] = "2026-W48"
        case .timeWithOffset: document["start"] = "2026-11-28T00:00:00+01:00"
        case .successRateAboveOne: change("totals") { $0["success_rate"] = 1.5 }
        case .lateDroppedMissingAPeriod: change("status") { $0["late_dropped"] = ["day": 0, "week": 0] }
        case .unknownFileField:
            change("status") { status in
                var files = status["files"] as! [[String: Any]]
                files[0]["mtime"] = 0
                status["files"] = files
            }
        case .impossibleBucketLabel: document["buckets"] = ["day": ["2026-13-01"], "week": [], "month": []]
        case .v2RowTooShort:
            var series = document["series"] as! [[Any]]
            series[0].removeLast()
            document["series"] = series
        case .v2CounterAsString:
            change("by_key") { byKey in
                var row = byKey["key_0"] as! [Any]
                row[0] = "18"
                byKey["key_0"] = row
            }
        case .v2ColumnsReordered:
            change("columns") { columns in
                var names = columns["by_key"] as! [String]
                names.swapAt(0, 1)
                columns["by_key"] = names
            }
        }
    }
}

/// The validator must reject every broken document, so a schema that accepted anything fails here.
@Test(arguments: SchemaBreakage.allCases)
func schemaRejectsABrokenDocument(breakage: SchemaBreakage) throws {
    let directory = try SnapshotFixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let schema = SnapshotFixtures.schemaPath(breakage.schema)

    // The unchanged document is valid, so the rejection below is due to the change.
    let validPath = directory + "/valid.json"
    try Data(breakage.validDocument).write(to: URL(fileURLWithPath: validPath))
    #expect(try SnapshotFixtures.validate(file: validPath, schema: schema).valid)

    var document = try SnapshotFixtures.parse(breakage.validDocument)
    breakage.apply(to: &document)
    let brokenPath = directory + "/broken.json"
    try JSONSerialization.data(withJSONObject: document).write(to: URL(fileURLWithPath: brokenPath))
    let result = try SnapshotFixtures.validate(file: brokenPath, schema: schema)
    #expect(!result.valid, "\(breakage) was accepted")
}

// MARK: - Size

@Test func encodingAHundredThousandSeriesFinishes() throws {
    let report = SnapshotFixtures.report(seriesCount: 100_000)
    let clock = ContinuousClock()
    var bytes: [UInt8] = []
    let elapsed = clock.measure { bytes = SnapshotEncoder.encode(report) }
    print("encoded a bucket with 100000 series, \(bytes.count) bytes, in \(elapsed)")
    let text = String(decoding: bytes, as: UTF8.self)
    #expect(text.split(separator: "\n").filter { $0.hasPrefix("    [\"key_") }.count == 100_000)
    let document = try SnapshotFixtures.parse(bytes)
    #expect(try array(document["series"]).count == 100_000)
}
