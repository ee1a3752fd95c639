import Foundation
import Testing

/// Issue 10: each preset replays records written in its gateway's documented shapes, awkward
/// cases included (Fixtures/presets/*.jsonl), and every counter of every bucket equals the
/// oracle's independent reading of docs/log-format.md's mapping tables.
@Suite("Presets read their gateways' records")
struct PresetFixtureTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/presets")

    /// The zone LiteLLM's offset-less times are read in for the test (the preset's default is
    /// this host's zone, which a test cannot rely on).
    static let naiveZone = "America/New_York"

    @Test(arguments: [LogFormat.litellm, .zenmux, .openrouter, .kong, .envoyAIGateway])
    func aPresetReadsItsGatewaysRecordsExactly(format: LogFormat) throws {
        try withScratchDirectory("preset-\(format)") { root in
            let fixture = Self.fixtures.appendingPathComponent("\(format.rawValue).jsonl")
            var oracle = UsageOracle(format: format, naiveZone: TimeZone(identifier: Self.naiveZone)!)
            try oracle.read(file: fixture)
            let expected = try oracle.result()
            let lines = try String(contentsOf: fixture, encoding: .utf8).split(separator: "\n").count
            // Every documented record is counted: none is rejected, whatever it lacks.
            #expect(expected.linesCounted == lines, "the oracle rejects some: \(expected.rejected)")
            let snapshots = root.appendingPathComponent("snapshots")
            let replay = try TokentallyBinary.replay(
                [fixture.path], snapshotDirectory: snapshots,
                options: ["--format", format.rawValue, "--naive-timezone", Self.naiveZone, "--threads", "0"])
            try #require(replay.status == 0, "\(replay.summary)")
            let actual = try SnapshotDirectory.load(from: snapshots)
            let mismatches = SnapshotComparison.compare(expected, actual)
            #expect(mismatches.isEmpty, "\(SnapshotComparison.report(mismatches))")
        }
    }

    /// The awkward cases, value by value, so that a mapping the oracle shared by mistake would
    /// still be caught.
    @Test func liteLLMsAwkwardCasesCountAsTheProjectDocumentsThem() throws {
        let records = try Self.records(.litellm)
        // Bedrock Claude: the client's model_group, not the ARN; prompt tokens already hold the
        // cache reads and writes (98805 = 10 + 66360 + 32435); one web search.
        #expect(records[0].model == "claude-3-7-sonnet")
        #expect(records[0].inputTokens == 98_805 && records[0].cachedTokens == 66_360)
        #expect(records[0].cacheWriteTokens == 32_435 && records[0].webSearchCalls == 1)
        // A master key (hash null) is counted under the placeholder; model_group "" falls back.
        #expect(records[1].rawAPIKey == noKeyPlaceholder && records[1].model == "gpt-4o")
        // Streamed, but no first token seen (completionStartTime == endTime): no TTFT.
        #expect(records[2].ttftMs == nil && records[2].latencyMs == 2750)
        // Older payload: usage from response.usage.
        #expect(records[3].cachedTokens == 4096 && records[3].cacheWriteTokens == 512 && records[3].webSearchCalls == 2)
        // The total wins over a 5m/1h breakdown that disagrees; alone, the breakdown is summed.
        #expect(records[4].cacheWriteTokens == 500 && records[5].cacheWriteTokens == 500)
        #expect(records[5].cachedTokens == 2000)
        // Offset-less text times are the proxy host's local time.
        let endOfDay = try #require(TimestampText.epochSeconds("2026-11-29T04:59:59.9Z"))
        #expect(abs(records[6].epochSeconds - endOfDay) < 0.001)
        #expect(!records[8].succeeded && records[8].rawAPIKey == noKeyPlaceholder)
    }

    @Test func zenMuxsTwoRecordsAndCancelledOnesCount() throws {
        let records = try Self.records(.zenmux)
        // The management API's record: createAt, the slug in model, cost as a number.
        #expect(records[0].model == "anthropic/claude-sonnet-4.5" && records[0].rawAPIKey == noKeyPlaceholder)
        #expect(records[0].provider == unknownProvider && records[0].costUSD == Decimal(string: "0.020889"))
        #expect(records[0].latencyMs == 8421 && records[0].ttftMs == 612)
        // The console's meta record: modelSlug, not the display name; writes of both TTLs.
        #expect(records[2].model == "anthropic/claude-sonnet-4" && records[2].cacheWriteTokens == 1500)
        // Cancelled: billed and counted, as a failure.
        #expect(!records[3].succeeded && records[3].costUSD == Decimal(string: "0.004512"))
        #expect(records[4].cacheWriteTokens == 1000 && records[4].webSearchCalls == 2)
        #expect(records[5].cacheWriteTokens == 2048 && records[5].webSearchCalls == 1)
    }

    @Test func kongsSectionsOfEveryVersionAndAnonymousTrafficCount() throws {
        let records = try Self.records(.kong)
        #expect(
            records.map(\.rawAPIKey) == [
                "alice", "11111111-2222-3333-4444-555555555555", noKeyPlaceholder, "bob", "alice", "carol",
            ])
        #expect(records.map(\.inputTokens) == [14, 2000, 25, 100, 0, 1200])
        #expect(records[0].ttftMs == 631 && records[0].costUSD == Decimal(string: "0.0000147"))
        #expect(!records[4].succeeded && records[5].model == "o4-mini-2025-04-16")
    }

    static func records(_ format: LogFormat) throws -> [UsageRecord] {
        var oracle = UsageOracle(format: format, naiveZone: TimeZone(identifier: naiveZone)!)
        try oracle.read(file: fixtures.appendingPathComponent("\(format.rawValue).jsonl"))
        return try oracle.result().records
    }
}
