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

/// Issue 10's mapping features, through the real parser: alternatives, defaults, dotted keys,
/// units, absent values, the time zone of offset-less times, and the key placeholder.
@Suite struct MappingFeatureTests {
    /// A parsed record with its text fields read while the parser (which owns their bytes) lives.
    private struct Parsed {
        var record: GatewayRecord
        var apiKey: String
        var model: String
        var provider: String
    }

    private func parse(_ line: String, _ mapping: FieldMapping, zone: String? = nil) -> (RejectReason?, Parsed) {
        let parser = RecordParser(mapping: mapping, naiveTimezone: zone)
        var text = line
        return text.withUTF8 { bytes in
            let outcome = parser.parse(UnsafeRawBufferPointer(bytes))
            let record = parser.record
            let parsed = Parsed(
                record: record, apiKey: String(decoding: record.apiKey, as: UTF8.self),
                model: String(decoding: record.model, as: UTF8.self),
                provider: String(decoding: record.provider, as: UTF8.self))
            if case .rejected(let why) = outcome { return (why.reason, parsed) }
            return (nil, parsed)
        }
    }

    private func path(_ dotted: String) -> FieldPath { FieldPath(dotted: dotted)! }

    private var base: [CanonicalField: FieldSource] {
        [.ts: .path(path("ts")), .model: .path(path("m")), .provider: .path(path("p"))]
    }

    @Test func theFirstPresentAlternativeWins() {
        var sources = base
        sources[.model] = .firstOf([.path(path("group")), .path(path("m"))])
        sources[.inputTokens] = .firstOf([.path(path("total")), .sum([path("a"), path("b")])])
        let mapping = FieldMapping(sources: sources, successValues: [])
        let (_, first) = parse(#"{"ts":1,"group":"g","m":"x","p":"p","total":7,"a":1,"b":2}"#, mapping)
        #expect(first.model == "g" && first.record.inputTokens == 7)
        // Null, absent and "" are not present; the next one is taken.
        let (_, second) = parse(#"{"ts":1,"group":"","m":"x","p":"p","total":null,"b":2}"#, mapping)
        #expect(second.model == "x" && second.record.inputTokens == 2)
    }

    @Test func aRecordWithoutAKeyIsCountedUnderThePlaceholderOrTheDefault() {
        let mapping = FieldMapping(sources: base.merging([.apiKey: .path(path("k"))]) { $1 }, successValues: [])
        for line in [
            #"{"ts":1,"m":"m","p":"p"}"#, #"{"ts":1,"m":"m","p":"p","k":null}"#, #"{"ts":1,"m":"m","p":"p","k":""}"#,
        ] {
            let (reason, record) = parse(line, mapping)
            #expect(reason == nil && record.apiKey == CanonicalField.noKeyPlaceholder)
        }
        var withDefaults = mapping
        withDefaults.defaults = [.apiKey: "prod-key", .provider: "openrouter"]
        let (reason, record) = parse(#"{"ts":1,"m":"m"}"#, withDefaults)
        #expect(reason == nil && record.apiKey == "prod-key" && record.provider == "openrouter")
        // A model is still required: no default, no record.
        #expect(parse(#"{"ts":1,"p":"p"}"#, withDefaults).0 == .missingField)
    }

    @Test func keysWithDotsAreOneComponent() throws {
        #expect(FieldPath(dotted: #"gen_ai\.usage\.input_tokens"#)?.components == ["gen_ai.usage.input_tokens"])
        #expect(FieldPath(dotted: #"a.b\.c.d"#)?.components == ["a", "b.c", "d"])
        #expect(FieldPath(dotted: #"a\\.b"#)?.components == [#"a\"#, "b"])
        #expect(FieldPath(dotted: #"a\b"#) == nil && FieldPath(dotted: #"a\"#) == nil)
        #expect(FieldPath(["x.y", "z"]).description == #"x\.y.z"#)
        var sources = base
        sources[.outputTokens] = .path(path(#"gen_ai\.usage\.output_tokens"#))
        let (_, record) = parse(
            #"{"ts":1,"m":"m","p":"p","gen_ai.usage.output_tokens":5,"gen_ai":{"usage":{"output_tokens":9}}}"#,
            FieldMapping(sources: sources, successValues: []))
        #expect(record.record.outputTokens == 5)
    }

    @Test func unitsScaleTimesDurationsAndCosts() {
        var sources = base
        sources[.latencyMs] = .path(path("seconds"))
        sources[.ttftMs] = .path(path("micros"))
        sources[.costUSD] = .path(path("cents"))
        let mapping = FieldMapping(
            sources: sources,
            units: [
                .ts: .time(.milliseconds), .latencyMs: .time(.seconds), .ttftMs: .time(.microseconds),
                .costUSD: .cost(.cents),
            ],
            successValues: [])
        let (_, record) = parse(
            #"{"ts":1795873201719,"m":"m","p":"p","seconds":2.5,"micros":1500,"cents":"12.5"}"#, mapping)
        #expect(record.record.epochSeconds == 1_795_873_201.719)
        #expect(record.record.latencyMs == 2500 && record.record.ttftMs == 1.5)
        #expect(record.record.costNanoUSD == 125_000_000)
        // A time in ms below 1e11 is still milliseconds when the unit says so (no guessing).
        #expect(parse(#"{"ts":86400000,"m":"m","p":"p"}"#, mapping).1.record.epochSeconds == 86_400)
        var nano = mapping
        nano.units[.costUSD] = .cost(.nanoUSD)
        #expect(parse(#"{"ts":1,"m":"m","p":"p","cents":51006000}"#, nano).1.record.costNanoUSD == 51_006_000)
    }

    @Test func absentValuesReadAsNoValue() {
        var sources = base
        sources[.inputTokens] = .path(path("in"))
        sources[.model] = .firstOf([.path(path("m")), .path(path("m2"))])
        let mapping = FieldMapping(sources: sources, successValues: [], absentValues: ["-"])
        let (reason, record) = parse(#"{"ts":1,"m":"-","m2":"real","p":"p","in":"-"}"#, mapping)
        #expect(reason == nil && record.model == "real" && record.record.inputTokens == 0)
        // Without the option, "-" is a wrong type for a token count.
        var strict = mapping
        strict.absentValues = []
        #expect(parse(#"{"ts":1,"m":"x","p":"p","in":"-"}"#, strict).0 == .wrongType)
    }

    @Test func offsetLessTimesAreReadInTheNaiveZone() {
        let mapping = FieldMapping(sources: base, successValues: [])
        // 2026-11-28 23:59:59.9 in New York is 04:59:59.9 UTC the next day (EST, UTC−5).
        let (_, local) = parse(
            #"{"ts":"2026-11-28 23:59:59.900000","m":"m","p":"p"}"#, mapping, zone: "America/New_York")
        #expect(abs(local.record.epochSeconds - 1_795_928_399.9) < 1e-6)
        // In July (EDT, UTC−4), and a time with its offset is left as it is.
        #expect(
            parse(#"{"ts":"2026-07-01 12:00:00","m":"m","p":"p"}"#, mapping, zone: "America/New_York").1.record
                .epochSeconds == 1_782_921_600)
        #expect(
            parse(#"{"ts":"2026-07-01 12:00:00+00:00","m":"m","p":"p"}"#, mapping, zone: "America/New_York").1.record
                .epochSeconds == 1_782_907_200)
        // UTC by default.
        #expect(parse(#"{"ts":"2026-07-01 12:00:00","m":"m","p":"p"}"#, mapping).1.record.epochSeconds == 1_782_907_200)
    }

    @Test func aFirstTokenAtTheEndIsNoFirstToken() {
        let preset = FormatPreset.litellm.mapping
        let line =
            #"{"model":"m","custom_llm_provider":"p","stream":true,"startTime":100.0,"endTime":103.25,"completionStartTime":103.25}"#
        let (_, record) = parse(line, preset, zone: "UTC")
        #expect(record.record.ttftMs.isNaN && record.record.latencyMs == 3250 && record.record.generationMs == 3250)
        let streamed = line.replacingOccurrences(
            of: #""completionStartTime":103.25"#, with: #""completionStartTime":100.5"#)
        #expect(parse(streamed, preset, zone: "UTC").1.record.ttftMs == 500)
    }

    @Test func everyPresetNamesTheRequiredFieldsOrDefaultsThem() {
        for preset in FormatPreset.allCases {
            #expect(preset.mapping.missingRequiredFields.isEmpty, "\(preset)")
        }
    }
}
