import Testing

@testable import TokentallySystem
@testable import TokentallyReading
@testable import TokentallyCounting
@testable import TokentallyOutput
@testable import TokentallyConfiguration
@testable import TokentallyReplay
@testable import TokentallyDaemon
@testable import TokentallySamples

/// Parses one line with a preset and returns the outcome and the record.
private func parse(_ line: String, _ preset: FormatPreset = .tokentally) -> (RecordParser.Outcome, GatewayRecord) {
    let parser = RecordParser(mapping: preset.mapping)
    var text = line
    let outcome = text.withUTF8 { parser.parse(UnsafeRawBufferPointer($0)) }
    return (outcome, parser.record)
}

private func rejection(_ line: String, _ preset: FormatPreset = .tokentally) -> RejectReason? {
    if case .rejected(let why) = parse(line, preset).0 { return why.reason }
    return nil
}

private func accepted(_ line: String, _ preset: FormatPreset = .tokentally) -> GatewayRecord? {
    let (outcome, record) = parse(line, preset)
    if case .accepted = outcome { return record }
    return nil
}

private let minimal = #""ts":"2026-11-28T10:00:00Z","api_key":"k1","model":"m","provider":"p""#

@Suite struct RecordParserTests {
    @Test func aRecordAheadOfTheClockIsRejectedAsFuture() {
        let parser = RecordParser(mapping: FormatPreset.tokentally.mapping)
        parser.notAfterEpochSeconds = 1_764_400_000
        func outcome(_ ts: String) -> RejectReason? {
            var text = #"{"ts":\#(ts),"api_key":"k","model":"m","provider":"p"}"#
            if case .rejected(let why) = text.withUTF8({ parser.parse(UnsafeRawBufferPointer($0)) }) {
                return why.reason
            }
            return nil
        }
        #expect(outcome("1764400000") == nil)
        #expect(outcome("1764400000.001") == .futureTimestamp)
        #expect(outcome(#""2100-01-01T00:00:00Z""#) == .futureTimestamp)
        #expect(outcome("1764590400000000") == .invalidTimestamp)
        #expect(RejectReason.futureTimestamp.code == "future_timestamp")
        // The reject counts of committed state are indexed by raw value: new reasons go last.
        #expect(RejectReason.allCases.last == .futureTimestamp)
    }

    @Test func canonicalRecordWithEveryFieldIsRead() throws {
        let line =
            #"{"ts":"2026-11-28T10:00:00.5Z","request_id":"req-1","api_key":"k1","model":"anthropic/claude","provider":"bedrock","status":200,"input_tokens":100,"output_tokens":"50","cached_tokens":10,"cache_write_tokens":5,"reasoning_tokens":7,"web_search_calls":2,"latency_ms":1200.5,"ttft_ms":200,"cost_usd":"0.051006"}"#
        let parser = RecordParser(mapping: FormatPreset.tokentally.mapping)
        var text = line
        let outcome = text.withUTF8 { parser.parse(UnsafeRawBufferPointer($0)) }
        guard case .accepted = outcome else {
            Issue.record("rejected: \(outcome)")
            return
        }
        let record = parser.record
        #expect(record.epochSeconds == 1_795_860_000.5)
        #expect(String(decoding: record.model, as: UTF8.self) == "anthropic/claude")
        #expect(String(decoding: record.provider, as: UTF8.self) == "bedrock")
        #expect(String(decoding: record.requestID, as: UTF8.self) == "req-1")
        #expect(record.succeeded)
        #expect(record.inputTokens == 100 && record.outputTokens == 50)
        #expect(record.cachedTokens == 10 && record.cacheWriteTokens == 5 && record.reasoningTokens == 7)
        #expect(record.webSearchCalls == 2)
        #expect(record.latencyMs == 1200.5 && record.ttftMs == 200)
        #expect(record.generationMs == 1000.5)
        #expect(record.costNanoUSD == 51_006_000)
    }

    @Test func fieldsInAnyOrderWithNestedNoiseAndEscapes() {
        let line =
            #"{"extra":{"a":[1,{"model":"wrong"}],"b":"x\"y"},"provider":"p\u00e9","model":"m\ud83d\ude00","arr":[[[]]],"api_key":"k\\1","ts":1795860000}"#
        let record = accepted(line)
        #expect(record != nil)
        if let record {
            #expect(String(decoding: record.model, as: UTF8.self) == "m😀")
            #expect(String(decoding: record.provider, as: UTF8.self) == "pé")
            #expect(String(decoding: record.apiKey, as: UTF8.self) == "k\\1")
            #expect(record.epochSeconds == 1_795_860_000)
        }
    }

    @Test func epochMillisecondsAndExponents() {
        let record = accepted("{\(minimal),\"latency_ms\":1.5e3,\"input_tokens\":1e3,\"cost_usd\":7.335e-05}")
        #expect(record?.latencyMs == 1500)
        #expect(record?.inputTokens == 1000)
        #expect(record?.costNanoUSD == 73_350)
        let millis = accepted(#"{"ts":1795860000123,"api_key":"k","model":"m","provider":"p"}"#)
        #expect(millis?.epochSeconds == 1_795_860_000.123)
    }

    @Test func statusValuesDecideSuccess() {
        #expect(accepted("{\(minimal),\"status\":204}")?.succeeded == true)
        #expect(accepted("{\(minimal),\"status\":429}")?.succeeded == false)
        #expect(accepted("{\(minimal),\"status\":true}")?.succeeded == true)
        #expect(accepted("{\(minimal),\"status\":false}")?.succeeded == false)
        #expect(accepted("{\(minimal),\"status\":\"ok\"}")?.succeeded == true)
        #expect(accepted("{\(minimal),\"status\":\"200\"}")?.succeeded == true)
        #expect(accepted("{\(minimal),\"status\":\"error\"}")?.succeeded == false)
        #expect(accepted("{\(minimal),\"status\":null}")?.succeeded == true)
        #expect(accepted("{\(minimal)}")?.succeeded == true)
    }

    @Test func malformedLinesAreRejectedByReason() {
        #expect(rejection("garbage") == .invalidJSON)
        #expect(rejection("{\"ts\":") == .invalidJSON)
        #expect(rejection("{\(minimal)} trailing") == .invalidJSON)
        #expect(rejection("{\(minimal),}") == .invalidJSON)
        #expect(rejection("{\(minimal),\"x\":01}") == .invalidJSON)
        #expect(rejection("{\(minimal),\"x\":\"tab\there\"}") == .invalidJSON)
        #expect(rejection("{\(minimal),\"x\":\"\\q\"}") == .invalidJSON)
        #expect(rejection("[1,2,3]") == .notObject)
        #expect(rejection("\"just a string\"") == .notObject)
        #expect(rejection(#"{"api_key":"k","model":"m","provider":"p"}"#) == .missingField)
        // A record that names no key is counted under the placeholder, never rejected.
        #expect(rejection(#"{"ts":"2026-11-28T10:00:00Z","api_key":"","model":"m","provider":"p"}"#) == nil)
        #expect(rejection(#"{"ts":"2026-11-28T10:00:00Z","model":"","provider":"p"}"#) == .missingField)
        #expect(rejection(#"{"ts":"2026-11-28T10:00:00Z","api_key":"k","model":7,"provider":"p"}"#) == .wrongType)
        #expect(rejection("{\(minimal),\"input_tokens\":-1}") == .invalidTokenCount)
        #expect(rejection("{\(minimal),\"input_tokens\":1.5}") == .invalidTokenCount)
        #expect(rejection("{\(minimal),\"input_tokens\":1e30}") == .numberOutOfRange)
        #expect(rejection("{\(minimal),\"output_tokens\":99999999999999999999}") == .numberOutOfRange)
        #expect(rejection("{\(minimal),\"input_tokens\":{}}") == .wrongType)
        #expect(rejection(#"{"ts":"yesterday","api_key":"k","model":"m","provider":"p"}"#) == .invalidTimestamp)
        #expect(
            rejection(#"{"ts":"2026-02-30T10:00:00Z","api_key":"k","model":"m","provider":"p"}"#) == .invalidTimestamp)
        #expect(rejection("{\(minimal.replacingOccurrences(of: "\"m\"", with: "\"m\\udc00\""))}") == .invalidUTF8)
    }

    @Test func invalidUTF8InAKeptFieldIsRejectedButIgnoredElsewhere() {
        var bad = Array("{\(minimal),\"note\":\"".utf8) + [0xFF, 0xFE] + Array("\"}".utf8)
        let parser = RecordParser(mapping: FormatPreset.tokentally.mapping)
        let ignored = bad.withUnsafeBytes { parser.parse($0) }
        guard case .accepted = ignored else {
            Issue.record("invalid UTF-8 in an ignored field should not reject: \(ignored)")
            return
        }
        bad =
            Array(#"{"ts":"2026-11-28T10:00:00Z","api_key":"k","provider":"p","model":""#.utf8) + [0xC3, 0x28]
            + Array("\"}".utf8)
        let kept = bad.withUnsafeBytes { parser.parse($0) }
        guard case .rejected(let why) = kept else {
            Issue.record("invalid UTF-8 in model must reject")
            return
        }
        #expect(why.reason == .invalidUTF8)
    }

    @Test func deepNestingIsRejectedWithoutRecursion() {
        let deep = "{\"a\":" + String(repeating: "[", count: 200_000)
        #expect(rejection(deep) == .nestingTooDeep)
        let balanced =
            "{\(minimal),\"a\":" + String(repeating: "[", count: 100) + String(repeating: "]", count: 100) + "}"
        #expect(accepted(balanced) != nil)
    }

    @Test func emptyAndBlankLinesAreSkipped() {
        if case .empty = parse("").0 {} else { Issue.record("empty line not skipped") }
        if case .empty = parse("   \t").0 {} else { Issue.record("blank line not skipped") }
    }

    @Test func liteLLMPresetDerivesDurationsAndStatus() {
        let line =
            #"{"id":"chatcmpl-1","model":"gpt-5","custom_llm_provider":"openai","status":"success","startTime":1764324000.0,"completionStartTime":1764324000.25,"endTime":1764324002.0,"stream":true,"prompt_tokens":10,"completion_tokens":35,"response_cost":0.0012,"metadata":{"user_api_key_hash":"abc123","usage_object":{"prompt_tokens_details":{"cached_tokens":4},"completion_tokens_details":{"reasoning_tokens":9}}}}"#
        let record = accepted(line, .litellm)
        #expect(record != nil)
        guard let record else { return }
        #expect(record.latencyMs == 2000)
        #expect(record.ttftMs == 250)
        #expect(record.generationMs == 1750)
        #expect(record.cachedTokens == 4 && record.reasoningTokens == 9)
        #expect(record.costNanoUSD == 1_200_000)
        #expect(String(decoding: record.apiKey, as: UTF8.self) == "abc123")
        let notStreamed = accepted(line.replacingOccurrences(of: "\"stream\":true", with: "\"stream\":false"), .litellm)
        #expect(notStreamed?.ttftMs.isNaN == true)
        #expect(notStreamed?.generationMs == 2000)
        let failed = accepted(line.replacingOccurrences(of: "\"success\"", with: "\"failure\""), .litellm)
        #expect(failed?.succeeded == false)
        let stringTime = accepted(
            line.replacingOccurrences(
                of: "\"endTime\":1764324002.0", with: "\"endTime\":\"2026-11-28 10:00:02.000000\""),
            .litellm)
        #expect(stringTime?.epochSeconds == 1_795_860_002)
    }

    @Test func zenMuxPresetSumsCacheWritesAndReadsCancelled() {
        let line =
            #"{"generationId":"g1","apiKeyId":"ak-1","modelSlug":"openai/gpt-5","providerSlug":"azure","createdAt":"2026-11-28T10:00:00+08:00","latency":300,"generationTime":1200,"nativeTokens":{"prompt_tokens":100,"completion_tokens":60,"prompt_tokens_details":{"cached_tokens":20},"completion_tokens_details":{"reasoning_tokens":5}},"nativeFeeTokens":{"input_cache_write_5_min":3,"input_cache_write_1_h":4},"billAmount":"0.0123"}"#
        let record = accepted(line, .zenmux)
        #expect(record != nil)
        guard let record else { return }
        #expect(record.epochSeconds == 1_795_831_200)
        #expect(record.ttftMs == 300 && record.generationMs == 1200 && record.latencyMs == 1500)
        #expect(record.cacheWriteTokens == 7)
        #expect(record.succeeded)
        #expect(record.throughputTPS == 50)
        #expect(
            accepted(
                line.replacingOccurrences(of: "\"billAmount\"", with: "\"cancelled\":true,\"billAmount\""), .zenmux)?
                .succeeded == false)
    }
}
