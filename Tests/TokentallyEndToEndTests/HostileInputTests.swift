import Foundation
import Testing

/// A file of good lines mixed with every kind of bad line, and a cut-short gzip file.
@Suite("Hostile input")
struct HostileInputTests {
    /// One line of the corpus and what must become of it.
    enum CorpusLine {
        case good([UInt8])
        /// Rejected under `reason`; `alsoAccepted` lists other codes that are a fair reading too.
        case bad([UInt8], RejectReason, alsoAccepted: Set<RejectReason> = [])
        case empty

        var bytes: [UInt8] {
            switch self {
            case .good(let bytes), .bad(let bytes, _, _): bytes
            case .empty: []
            }
        }
    }

    /// A small deterministic generator, so the corpus is the same on every run.
    struct SplitMix {
        var state: UInt64
        mutating func next(_ bound: Int) -> Int {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return Int((z ^ (z >> 31)) % UInt64(bound))
        }
    }

    static let day = "2026-11-20"

    static func line(_ text: String) -> [UInt8] { Array(text.utf8) }

    /// Good lines that use the format's freedoms: numeric strings, whole floats, exponents, every
    /// status form, every timestamp form, escapes, unknown nested fields, any field order.
    static func goodLines() -> [[UInt8]] {
        var lines: [String] = []
        let ts = "\"\(day)T10:00:00Z\""
        lines.append(
            canonicalLine(
                ts: ts,
                fields: [
                    "request_id": "\"r-1\"", "input_tokens": "100", "output_tokens": "50", "status": "200",
                    "latency_ms": "1200.5", "ttft_ms": "300", "cost_usd": "0.0125",
                ]))
        lines.append(
            canonicalLine(
                ts: ts, apiKey: "team-beta",
                fields: [
                    "input_tokens": "\"123\"", "output_tokens": "\"45\"", "cost_usd": "\"0.051006\"",
                    "latency_ms": "\"950\"",
                ]))
        lines.append(
            canonicalLine(
                ts: ts, model: "acme/model-b",
                fields: [
                    "input_tokens": "3.0", "output_tokens": "1e3", "cost_usd": "7.335e-05", "latency_ms": "2000",
                    "generation_ms": "1500",
                ]))
        for (number, status) in [
            "503", "\"ok\"", "\"success\"", "true", "false", "\"200\"", "\"error\"", "null", "299", "300", "\"404\"",
        ].enumerated() {
            lines.append(
                canonicalLine(
                    ts: ts, apiKey: "team-status",
                    fields: [
                        "status": status, "input_tokens": "\(10 + number)", "output_tokens": "7",
                        "latency_ms": "\(400 + number)",
                    ]))
        }
        for (number, stamp) in [
            "\"\(day)T10:00:00.123456Z\"", "\"\(day)T15:30:00+05:30\"", "\"\(day)T10:00:00-08:00\"",
            "1795176000", "1795176000250", "\"\(day)T23:59:59.999999Z\"",
        ].enumerated() {
            lines.append(canonicalLine(ts: stamp, apiKey: "team-time", fields: ["input_tokens": "\(1000 + number)"]))
        }
        lines.append(
            canonicalLine(ts: ts, apiKey: "team-\u{1F600}", model: "acme/caf\u{E9}", provider: "prov\"quote"))
        lines.append(
            "{\"ts\":\(ts),\"api_key\":\"team-\\ud83d\\ude00\",\"model\":\"acme/caf\\u00e9\","
                + "\"provider\":\"prov\\\"quote\","
                + "\"input_tokens\":5,\"extra\":{\"a\":[1,{\"b\":null}],\"c\":\"x\"},\"tags\":[\"x\",\"y\"]}")
        lines.append(
            canonicalLine(
                ts: ts, model: "acme/模型", provider: "acme",
                fields: [
                    "deep": "[[[[[[[[[[1]]]]]]]]]]", "output_tokens": "12", "latency_ms": "80",
                ]))
        lines.append(
            "{\"cost_usd\":0.5,\"provider\":\"acme\",\"output_tokens\":9,\"model\":\"acme/model-b\","
                + "\"api_key\":\"team-beta\",\"ts\":\"2026-11-21T01:02:03Z\"}")
        lines.append(
            canonicalLine(
                ts: ts,
                fields: [
                    "input_tokens": "400", "output_tokens": "80", "web_search_calls": "2", "cached_tokens": "100",
                    "cache_write_tokens": "50", "reasoning_tokens": "30", "latency_ms": "3000", "ttft_ms": "500",
                ]))
        lines.append(canonicalLine(ts: ts, fields: ["web_search_calls": "0", "input_tokens": "1"]))
        // Durations: ttft above latency (no generation time), negative latency (absent), zero output.
        lines.append(canonicalLine(ts: ts, fields: ["output_tokens": "10", "latency_ms": "100", "ttft_ms": "150"]))
        lines.append(canonicalLine(ts: ts, fields: ["output_tokens": "10", "latency_ms": "-5"]))
        lines.append(
            canonicalLine(ts: ts, fields: ["output_tokens": "0", "latency_ms": "250", "cost_usd": "0.000000001"]))
        var random = SplitMix(state: 42)
        for number in 0..<60 {
            let hour = random.next(24)
            lines.append(
                canonicalLine(
                    ts: "\"\(day)T\(hour < 10 ? "0" : "")\(hour):\(10 + random.next(50)):00Z\"",
                    apiKey: "team-\(random.next(5))", model: "acme/model-\(["a", "b", "c"][random.next(3)])",
                    provider: ["acme", "bedrock"][random.next(2)],
                    fields: [
                        "request_id": "\"gen-\(number)\"", "input_tokens": "\(random.next(5000))",
                        "output_tokens": "\(random.next(900))", "status": random.next(10) == 0 ? "500" : "200",
                        "latency_ms": "\(200 + random.next(4000)).\(random.next(1000))",
                        "ttft_ms": "\(50 + random.next(150))",
                        "cost_usd": "0.\(100_000_000 + random.next(899_999_999))",
                    ]))
        }
        var bytes = lines.map(line)
        // Invalid UTF-8 in a field that is not kept does not reject the record.
        bytes.append(
            line("{\"ts\":\(ts),\"api_key\":\"team-beta\",\"model\":\"acme/model-a\",\"provider\":\"acme\",\"note\":\"")
                + [0xFF, 0xFE] + line("\",\"input_tokens\":77}"))
        return bytes
    }

    static func badLines() -> [CorpusLine] {
        let ts = "\"\(day)T12:00:00Z\""
        func bad(_ text: String, _ reason: RejectReason, also: Set<RejectReason> = []) -> CorpusLine {
            .bad(line(text), reason, alsoAccepted: also)
        }
        var lines: [CorpusLine] = [
            bad("this is not json", .invalidJSON),
            bad("{\"ts\":\(ts),\"api_key\":\"team-alpha\",\"model\":\"m\"", .invalidJSON),
            bad("{\"ts\":\(ts),,}", .invalidJSON),
            bad("[1,2,3]", .notObject),
            bad("\"just a string\"", .notObject),
            bad("42", .notObject),
            bad(canonicalLine(ts: ts, fields: ["input_tokens": "1e30"]), .numberOutOfRange),
            bad(canonicalLine(ts: ts, fields: ["output_tokens": "99999999999999999999"]), .numberOutOfRange),
            bad(canonicalLine(ts: ts, fields: ["output_tokens": "-5"]), .invalidTokenCount),
            bad(canonicalLine(ts: ts, fields: ["cached_tokens": "2.5"]), .invalidTokenCount),
            bad(canonicalLine(ts: ts, fields: ["input_tokens": "\"-7\""]), .invalidTokenCount),
            bad(canonicalLine(ts: "\"2026-13-45T99:00:00Z\""), .invalidTimestamp),
            bad(canonicalLine(ts: "\"not a time\""), .invalidTimestamp),
            // No key: counted under __no_key__ (issue 10), not rejected.
            .good(line("{\"ts\":\(ts),\"model\":\"m\",\"provider\":\"p\"}")),
            bad("{\"api_key\":\"k\",\"model\":\"m\",\"provider\":\"p\"}", .missingField),
            bad(canonicalLine(ts: ts, model: ""), .missingField),
            bad("{\"ts\":\(ts),\"api_key\":\"k\",\"model\":\"m\",\"provider\":null}", .missingField),
            bad("{\"ts\":\(ts),\"api_key\":\"k\",\"model\":42,\"provider\":\"p\"}", .wrongType),
            bad("{\"ts\":\(ts),\"api_key\":{\"id\":\"k\"},\"model\":\"m\",\"provider\":\"p\"}", .wrongType),
        ]
        lines.append(
            .bad(
                line("{\"ts\":\(ts),\"api_key\":\"k\",\"model\":\"m") + [0xFF, 0xFE] + line("\",\"provider\":\"p\"}"),
                .invalidUTF8))
        lines.append(
            .bad(
                line("{\"ts\":\(ts),\"api_key\":\"k") + [0xC3, 0x28] + line("\",\"model\":\"m\",\"provider\":\"p\"}"),
                .invalidUTF8))
        // 200 000 `[`: deeper than any parser should follow; it is not valid JSON either.
        lines.append(
            .bad(
                [UInt8](repeating: UInt8(ascii: "["), count: 200_000), .nestingTooDeep,
                alsoAccepted: [.invalidJSON, .notObject]))
        // 3 MiB: spaces, then a valid record. Were the reader to restart inside the line after the
        // 1 MiB limit, it would read `   {…}` as a good line and count "smuggled-model".
        lines.append(
            .bad(
                [UInt8](repeating: UInt8(ascii: " "), count: 3 * 1024 * 1024)
                    + line(canonicalLine(ts: ts, model: "smuggled-model", fields: ["input_tokens": "1000000"])),
                .lineTooLong))
        return lines
    }

    /// Good and bad lines interleaved, two empty lines, some `\r\n` ends.
    static func corpus() -> [CorpusLine] {
        var good = goodLines().map(CorpusLine.good)
        var bad = badLines()
        var result: [CorpusLine] = []
        var random = SplitMix(state: 7)
        while !good.isEmpty || !bad.isEmpty {
            if !bad.isEmpty && (good.isEmpty || random.next(4) == 0) {
                result.append(bad.removeFirst())
            } else {
                result.append(good.removeFirst())
            }
            if result.count == 10 || result.count == 40 { result.append(.empty) }
        }
        return result
    }

    static func encode(_ corpus: [CorpusLine]) -> [UInt8] {
        var bytes: [UInt8] = []
        for (number, line) in corpus.enumerated() {
            bytes += line.bytes
            bytes += number % 3 == 0 ? [0x0D, 0x0A] : [0x0A]
        }
        return bytes
    }

    /// Whether the rejected counts can be explained: the fixed lines exactly, each open line by one
    /// of its allowed codes (or by nothing, where `nil` is allowed).
    static func rejectsAreExplained(
        actual: [String: Int], fixed: [String: Int], open: [Set<String?>]
    ) -> Bool {
        func explain(_ remaining: [String: Int], _ rest: ArraySlice<Set<String?>>) -> Bool {
            guard let first = rest.first else { return remaining.values.allSatisfy { $0 == 0 } }
            for choice in first {
                var next = remaining
                if let reason = choice {
                    guard next[reason, default: 0] > 0 else { continue }
                    next[reason]! -= 1
                }
                if explain(next, rest.dropFirst()) { return true }
            }
            return false
        }
        var remaining = actual
        for (reason, count) in fixed {
            remaining[reason, default: 0] -= count
            if remaining[reason]! < 0 { return false }
        }
        return explain(remaining, open[...])
    }

    @Test
    func hostileCorpusAndCutGzipAreCountedExactly() throws {
        try withScratchDirectory("hostile") { root in
            let corpus = Self.corpus()
            let hostileBytes = Self.encode(corpus)
            let hostileFile = root.appendingPathComponent("hostile.log")
            try Data(hostileBytes).write(to: hostileFile)

            // The oracle must agree with how the corpus was built, line by line.
            var corpusOracle = UsageOracle(format: .tokentally)
            corpusOracle.read(bytes: hostileBytes)
            #expect(corpusOracle.outcomes.count == corpus.count)
            for (number, (line, outcome)) in zip(corpus, corpusOracle.outcomes).enumerated() {
                switch (line, outcome) {
                case (.good, .record), (.empty, .empty): continue
                case (.bad(_, let reason, _), .rejected(let found)) where found == reason: continue
                default: Issue.record("oracle reads corpus line \(number) as \(outcome), built as \(line)")
                }
            }

            // A gzip file of good lines, cut after 70% of its bytes.
            var random = SplitMix(state: 3)
            let gzipLines = (0..<3_000).map { number in
                canonicalLine(
                    ts: "\"2026-11-21T\(10 + number % 10):\(10 + number % 50):00Z\"", apiKey: "team-\(random.next(7))",
                    model: "gz-model",
                    fields: [
                        "input_tokens": "\(random.next(10_000))", "output_tokens": "\(random.next(2_000))",
                        "latency_ms": "\(100 + random.next(5_000))", "cost_usd": "0.00\(random.next(10_000_000))",
                        "pad": jsonString(String(repeating: "x", count: random.next(120))),
                    ])
            }
            let whole = try HostTools.gzip(logBytes(gzipLines))
            let cut = whole.prefix(whole.count * 7 / 10)
            let cutFile = root.appendingPathComponent("cut.log.gz")
            try Data(cut).write(to: cutFile)
            let (recovered, complete) = try HostTools.gunzip(Data(cut))
            #expect(!complete, "gzip -dc should find the cut file damaged")
            let recoveredLines = recovered.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
            #expect(recoveredLines > 1_000 && recoveredLines < 3_000, "gzip -dc recovered \(recoveredLines) lines")

            var oracle = UsageOracle(format: .tokentally)
            oracle.read(bytes: hostileBytes)
            oracle.read(bytes: [UInt8](recovered), countUnterminatedLastLine: false)
            let expected = try oracle.result()

            let snapshots = root.appendingPathComponent("snapshots")
            let outcome = try TokentallyBinary.replay(
                [hostileFile.path, cutFile.path], snapshotDirectory: snapshots)
            try #require(outcome.status == 0, "replay failed: \(outcome.summary)")
            let actual = try SnapshotDirectory.load(from: snapshots)

            let mismatches = SnapshotComparison.compare(expected, actual, scope: ComparisonScope(status: false))
            #expect(mismatches.isEmpty, "\(SnapshotComparison.report(mismatches))")

            var gzipCounted = 0
            for bucket in (actual.buckets[.day] ?? [:]).values {
                let requests: JSONValue? = bucket.value(at: ["by_model", "gz-model", "requests"])
                gzipCounted += requests?.numberText.flatMap { Int($0) } ?? 0
            }
            #expect(
                gzipCounted == recoveredLines, "lines counted from the cut gzip vs complete lines gzip -dc recovers")
            let smuggled = (actual.buckets[.day] ?? [:]).filter {
                $0.value.value(at: ["by_model", "smuggled-model"]) != nil
            }
            #expect(smuggled.isEmpty, "the tail of the 3 MiB line was read as a line")

            #expect(actual.statusInteger("lines_counted") == expected.linesCounted)
            #expect(actual.statusInteger("lines_empty") == 2)
            var fixed: [String: Int] = [:]
            var open: [Set<String?>] = []
            for line in corpus {
                guard case .bad(_, let reason, let also) = line else { continue }
                if also.isEmpty {
                    fixed[reason.rawValue, default: 0] += 1
                } else {
                    open.append(Set(([reason] + Array(also)).map { Optional($0.rawValue) }))
                }
            }
            // The partial last line of the cut gzip may be dropped silently or rejected as invalid JSON.
            open.append([nil, RejectReason.invalidJSON.rawValue])
            let rejected = (actual.index.value(at: ["status", "rejected"])?.objectValue ?? [:]).compactMapValues {
                $0.numberText.flatMap { Int($0) }
            }
            let built = "fixed \(fixed.sorted { $0.key < $1.key }), open \(open)"
            #expect(
                Self.rejectsAreExplained(actual: rejected, fixed: fixed, open: open),
                "status.rejected \(rejected.sorted { $0.key < $1.key }); built: \(built)")
            let totalRejected = actual.statusInteger("lines_rejected")
            #expect(totalRejected == rejected.values.reduce(0, +), "lines_rejected vs the sum of status.rejected")
            for period in BucketPeriod.allCases {
                #expect(actual.statusInteger("late_dropped", period.rawValue) == 0)
            }
        }
    }
}
