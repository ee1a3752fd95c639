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

/// The generator's files, kept in memory: each sink appends to its entry here.
private final class MemoryFiles {
    struct File {
        var path: String
        var gzip: Bool
        var bytes: [UInt8] = []
        /// Byte offsets where `startNewMember()` was called.
        var memberStarts: [Int] = []
        var closed = false
    }

    var files: [File] = []

    func open(path: String, gzip: Bool) -> any LogFileSink {
        files.append(File(path: path, gzip: gzip))
        return MemorySink(store: self, index: files.count - 1)
    }

    /// Each file's lines, split on `\n`; every file must end with one.
    func lines() -> [[String]] {
        files.map { file in
            #expect(file.bytes.isEmpty || file.bytes.last == 0x0A, "\(file.path) ends without a line end")
            return String(decoding: file.bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
                .dropLast().map(String.init)
        }
    }
}

private struct MemorySink: LogFileSink {
    let store: MemoryFiles
    let index: Int

    mutating func write(_ bytes: UnsafeRawBufferPointer) throws {
        #expect(!store.files[index].closed, "write after close")
        store.files[index].bytes.append(contentsOf: bytes)
    }

    mutating func startNewMember() throws {
        store.files[index].memberStarts.append(store.files[index].bytes.count)
    }

    mutating func close() throws {
        store.files[index].closed = true
    }
}

private func generate(_ options: SampleLogOptions) throws -> (SampleLogSummary, MemoryFiles) {
    let store = MemoryFiles()
    let summary = try SampleLogGenerator(options: options).write(into: "/logs") { path, gzip in
        store.open(path: path, gzip: gzip)
    }
    return (summary, store)
}

private func parse(_ line: String) -> [String: Any]? {
    (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
}

/// The value at a dotted path, or nil; a top-level key that holds dots (Envoy's
/// `gen_ai.usage.input_tokens`) is looked up whole first.
private func value(_ object: [String: Any], _ path: String) -> Any? {
    if let whole = object[path] { return whole }
    var current: Any? = object
    for component in path.split(separator: ".") {
        current = (current as? [String: Any])?[String(component)]
    }
    return current
}

/// Whether a JSON value is an integer ≥ 0 (not a boolean, not a float).
private func isWholeAndNonNegative(_ value: Any) -> Bool {
    guard let number = value as? NSNumber else { return false }
    let type = String(cString: number.objCType)
    return ["i", "q", "l", "s"].contains(type) && number.int64Value >= 0
}

/// The paths each format's preset reads, written out from docs/log-format.md (not from the code).
private struct FormatPaths {
    var timestamp: String
    var requestID: String
    var required: [String]
    var tokens: [String]
    /// A duration in ms to add to `timestamp` for the completion time (formats that log the start).
    var duration: String? = nil

    static func of(_ format: FormatPreset) -> FormatPaths {
        switch format {
        case .tokentally:
            FormatPaths(
                timestamp: "ts", requestID: "request_id", required: ["ts", "api_key", "model", "provider"],
                tokens: [
                    "input_tokens", "output_tokens", "cached_tokens", "cache_write_tokens", "reasoning_tokens",
                    "web_search_calls",
                ])
        case .litellm:
            FormatPaths(
                timestamp: "endTime", requestID: "id",
                required: ["endTime", "metadata.user_api_key_hash", "model", "custom_llm_provider"],
                tokens: [
                    "prompt_tokens", "completion_tokens", "metadata.usage_object.prompt_tokens_details.cached_tokens",
                    "metadata.usage_object.completion_tokens_details.reasoning_tokens",
                ])
        case .zenmux:
            FormatPaths(
                timestamp: "createdAt", requestID: "generationId",
                required: ["createdAt", "apiKeyId", "modelSlug", "providerSlug"],
                tokens: [
                    "nativeTokens.prompt_tokens", "nativeTokens.completion_tokens",
                    "nativeTokens.prompt_tokens_details.cached_tokens",
                    "nativeTokens.completion_tokens_details.reasoning_tokens",
                    "nativeFeeTokens.input_cache_write_5_min", "nativeFeeTokens.input_cache_write_1_h",
                ])
        case .openrouter:
            FormatPaths(
                timestamp: "data.created_at", requestID: "data.id",
                required: ["data.created_at", "data.model", "data.provider_name"],
                tokens: [
                    "data.native_tokens_prompt", "data.native_tokens_completion", "data.native_tokens_cached",
                    "data.native_tokens_reasoning", "data.tokens_prompt", "data.tokens_completion",
                ])
        case .kong:
            FormatPaths(
                timestamp: "started_at", requestID: "request.id",
                required: ["started_at", "ai.proxy.meta.request_model", "ai.proxy.meta.provider_name"],
                tokens: [
                    "ai.proxy.usage.prompt_tokens", "ai.proxy.usage.completion_tokens",
                    "ai.proxy.usage.prompt_tokens_details.cached_tokens",
                    "ai.proxy.usage.completion_tokens_details.reasoning_tokens",
                ], duration: "latencies.request")
        case .envoyAIGateway:
            FormatPaths(
                timestamp: "start_time", requestID: "x-request-id",
                required: ["start_time", "gen_ai.request.model", "gen_ai.provider.name"],
                tokens: [
                    "gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens",
                    "gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.reasoning_tokens",
                ], duration: "duration")
        }
    }
}

/// A record's time in epoch milliseconds, read the way the spec says: RFC 3339 strings, epoch
/// numbers in seconds below 1e11 and in milliseconds above.
private func epochMilliseconds(_ value: Any?) -> Double? {
    if let text = value as? String {
        guard let date = try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text) else { return nil }
        return (date.timeIntervalSince1970 * 1000).rounded()
    }
    if let number = value as? NSNumber, String(cString: number.objCType) != "c" {
        let raw = number.doubleValue
        return raw < 1e11 ? raw * 1000 : raw
    }
    return nil
}

/// Whether a record is a success by its format's rule.
private func succeeded(_ object: [String: Any], _ format: FormatPreset) -> Bool {
    switch format {
    case .tokentally:
        switch object["status"] {
        case nil: return true
        case let text as String: return text == "success" || text == "ok"
        case let number as NSNumber:
            if String(cString: number.objCType) == "c" { return number.boolValue }
            return (200...299).contains(number.intValue)
        default: return false
        }
    case .litellm: return object["status"] as? String == "success"
    case .zenmux: return (object["cancelled"] as? NSNumber)?.boolValue != true
    case .openrouter: return (value(object, "data.cancelled") as? NSNumber)?.boolValue != true
    case .kong: return (200...299).contains((value(object, "response.status") as? NSNumber)?.intValue ?? 0)
    case .envoyAIGateway: return (200...299).contains((object["response_code"] as? NSNumber)?.intValue ?? 0)
    }
}

@Suite("SampleLogGenerator")
struct SampleLogGeneratorTests {
    @Test(arguments: FormatPreset.allCases)
    func sameSeedWritesTheSameBytes(format: FormatPreset) throws {
        let options = SampleLogOptions(lines: 3000, days: 2, files: 4, seed: 7, format: format)
        let (firstSummary, first) = try generate(options)
        let (secondSummary, second) = try generate(options)
        #expect(firstSummary == secondSummary)
        // Compared as one Bool: a failure message with all the bytes would help no one.
        let sameBytes = first.files.map(\.bytes) == second.files.map(\.bytes)
        #expect(sameBytes)
        #expect(first.files.map(\.bytes).allSatisfy { !$0.isEmpty })
    }

    @Test(arguments: FormatPreset.allCases)
    func differentSeedsWriteDifferentLines(format: FormatPreset) throws {
        let (_, first) = try generate(SampleLogOptions(lines: 2000, files: 1, seed: 1, format: format))
        let (_, second) = try generate(SampleLogOptions(lines: 2000, files: 1, seed: 2, format: format))
        let firstLines = first.lines()[0]
        let secondLines = Set(second.lines()[0])
        #expect(firstLines.count == 2000 && secondLines.count == 2000)
        #expect(firstLines.filter { secondLines.contains($0) }.isEmpty)
    }

    @Test(arguments: FormatPreset.allCases)
    func everyLineIsJSONWithTheFormatsFields(format: FormatPreset) throws {
        let lineCount = 6000
        let (summary, store) = try generate(SampleLogOptions(lines: lineCount, files: 3, format: format))
        let paths = FormatPaths.of(format)
        var requestIDs = Set<String>()
        var failures = 0
        var parsed = 0
        for (fileLines, file) in zip(store.lines(), summary.files) {
            #expect(fileLines.count == file.lines)
            for line in fileLines {
                guard let object = parse(line) else {
                    Issue.record("not a JSON object: \(line)")
                    continue
                }
                parsed += 1
                for path in paths.required where value(object, path) == nil {
                    Issue.record("missing \(path): \(line)")
                }
                for path in paths.required.dropFirst() where !(value(object, path) is String) {
                    Issue.record("\(path) is not a string: \(line)")
                }
                for path in paths.tokens {
                    if let count = value(object, path), !(count is NSNull), !isWholeAndNonNegative(count) {
                        Issue.record("\(path) is not a whole number ≥ 0: \(line)")
                    }
                }
                if let id = value(object, paths.requestID) as? String {
                    requestIDs.insert(id)
                }
                if !succeeded(object, format) { failures += 1 }
            }
        }
        #expect(parsed == lineCount)
        #expect(requestIDs.count == lineCount, "request ids must be unique")
        // About 3% fail; a wide band, since the count is drawn.
        #expect((lineCount / 100...lineCount * 6 / 100).contains(failures))
    }

    @Test func everyLineIsAcceptedByTheRecordParserAndTheFormatsAgree() throws {
        // The three formats describe the same requests, so the parsed totals must be equal.
        var totals: [FormatPreset: [Int64]] = [:]
        for format in FormatPreset.allCases {
            let (_, store) = try generate(SampleLogOptions(lines: 4000, files: 3, format: format))
            let parser = RecordParser(mapping: format.mapping)
            var sums: [Int64] = [0, 0, 0, 0, 0, 0]
            for file in store.files {
                file.bytes.withUnsafeBytes { content in
                    var start = 0
                    for index in content.indices where content[index] == 0x0A {
                        let line = UnsafeRawBufferPointer(rebasing: content[start..<index])
                        start = index + 1
                        guard case .accepted = parser.parse(line) else {
                            Issue.record("rejected: \(String(decoding: line, as: UTF8.self))")
                            continue
                        }
                        let record = parser.record
                        sums[0] += 1
                        sums[1] += record.succeeded ? 0 : 1
                        sums[2] += Int64(record.inputTokens)
                        sums[3] += Int64(record.outputTokens)
                        sums[4] += Int64(record.cachedTokens + record.reasoningTokens)
                        sums[5] += record.costNanoUSD
                    }
                }
            }
            totals[format] = sums
        }
        #expect(totals[.tokentally]?.first == 4000)
        for format in FormatPreset.allCases where format != .envoyAIGateway {
            #expect(totals[.tokentally] == totals[format], "\(format)")
        }
        // Envoy AI Gateway's access log has no cost.
        #expect(totals[.tokentally]?.dropLast() == totals[.envoyAIGateway]?.dropLast())
    }

    @Test(arguments: FormatPreset.allCases)
    func timestampsLieInTheRangeAndRiseFromFileToFile(format: FormatPreset) throws {
        // Dense enough (a few seconds apart) that a line logged seconds late would land before
        // its predecessor.
        let options = SampleLogOptions(lines: 20_000, days: 1, files: 4, format: format, end: 1_800_000_000)
        let (_, store) = try generate(options)
        let start = Double(options.end - 86_400) * 1000
        let end = Double(options.end) * 1000
        let paths = FormatPaths.of(format)
        let field = paths.timestamp
        var previousFileLatest = -Double.infinity
        var perHour = [Int](repeating: 0, count: 24)
        for fileLines in store.lines() {
            var earliest = Double.infinity
            var latest = -Double.infinity
            for line in fileLines {
                guard let object = parse(line), let logged = epochMilliseconds(value(object, field)) else {
                    Issue.record("no readable \(field): \(line)")
                    continue
                }
                // Lines are written as requests complete: a format that logs the start is in order
                // by its start plus its duration.
                let time = logged + (paths.duration.flatMap { (value(object, $0) as? NSNumber)?.doubleValue } ?? 0)
                #expect(time >= start && time < end, "\(field) out of range: \(line)")
                // Inside a file, a line may be logged a little late, never seconds late.
                #expect(time > latest - 1000, "more than a second out of order: \(line)")
                earliest = min(earliest, time)
                latest = max(latest, time)
                perHour[Int(time / 3_600_000) % 24] += 1
            }
            #expect(earliest >= previousFileLatest, "a file starts before the previous one ends")
            previousFileLatest = latest
        }
        // Busier by day than by night (UTC).
        #expect(perHour[14] > 2 * perHour[6])
    }

    @Test func rotatedSetIsLaidOutLikeLogrotateWithDelaycompress() throws {
        let (summary, store) = try generate(SampleLogOptions(lines: 1001, files: 4))
        #expect(
            store.files.map(\.path) == [
                "/logs/access.log.3.gz", "/logs/access.log.2.gz", "/logs/access.log.1", "/logs/access.log",
            ])
        #expect(store.files.map(\.gzip) == [true, true, false, false])
        #expect(store.files.allSatisfy { $0.closed })
        #expect(summary.files.map(\.name) == ["access.log.3.gz", "access.log.2.gz", "access.log.1", "access.log"])
        #expect(summary.files.map(\.isGzip) == [true, true, false, false])
        #expect(summary.files.map(\.lines) == [251, 250, 250, 250])
        #expect(summary.totalLines == 1001)
        // `access.log.2.gz` holds two members, split at a line end.
        #expect(summary.files.map(\.gzipMembers) == [1, 2, 0, 0])
        #expect(store.files.map(\.memberStarts.count) == [0, 1, 0, 0])
        let split = store.files[1].memberStarts[0]
        #expect(split > 0 && split < store.files[1].bytes.count && store.files[1].bytes[split - 1] == 0x0A)
        #expect(summary.files.map(\.bytes) == store.files.map(\.bytes.count))
    }

    @Test func fewerFilesAndOtherNamesKeepTheLayout() throws {
        let (one, _) = try generate(SampleLogOptions(lines: 10, files: 1))
        #expect(one.files.map(\.name) == ["access.log"])
        let (two, _) = try generate(SampleLogOptions(lines: 10, files: 2, baseName: "gateway.jsonl"))
        #expect(two.files.map(\.name) == ["gateway.jsonl.1", "gateway.jsonl"])
        #expect(two.files.map(\.isGzip) == [false, false])
        let (six, store) = try generate(SampleLogOptions(lines: 3, files: 6))
        #expect(
            six.files.map(\.name) == [
                "access.log.5.gz", "access.log.4.gz", "access.log.3.gz", "access.log.2.gz", "access.log.1",
                "access.log",
            ])
        #expect(six.files.map(\.lines) == [1, 1, 1, 0, 0, 0])
        #expect(store.files[3].memberStarts.count == 1, "an empty file still gets its two members")
    }

    @Test func trafficIsSkewedOverKeysModelsAndProviders() throws {
        let lineCount = 20_000
        let (_, store) = try generate(SampleLogOptions(lines: lineCount, files: 1, keys: 200))
        var keys: [String: Int] = [:]
        var models: [String: Set<String>] = [:]
        for line in store.lines()[0] {
            guard let object = parse(line), let key = object["api_key"] as? String,
                let model = object["model"] as? String, let provider = object["provider"] as? String
            else { continue }
            keys[key, default: 0] += 1
            models[model, default: []].insert(provider)
        }
        let secret = try Regex("^(sk|pk|rk)[-_]")
        let secrets = keys.keys.filter { $0.contains(secret) }.count
        #expect(keys.count > 100 && keys.count <= 200)
        #expect((0.2...0.5).contains(Double(secrets) / Double(keys.count)), "about a third of the keys look secret")
        #expect(keys.values.max()! > lineCount / 20, "the busiest key makes more than 5% of the traffic")
        #expect(models.count >= 10)
        #expect(models.values.allSatisfy { (2...4).contains($0.count) }, "\(models)")
    }

    @Test func tokentallyLinesUseEverySpellingTheSpecAllows() throws {
        let (_, store) = try generate(SampleLogOptions(lines: 5000, files: 1))
        let lines = store.lines()[0]
        let objects = lines.compactMap(parse)
        #expect(objects.contains { $0["ts"] is String } && objects.contains { $0["ts"] is NSNumber })
        #expect(objects.contains { $0["cost_usd"] is String })
        #expect(
            lines.contains {
                $0.contains(#""cost_usd":"#)
                    && $0.range(of: #""cost_usd":"?[0-9.]+e-[0-9]+"#, options: .regularExpression) != nil
            })
        #expect(objects.contains { ($0["web_search_calls"] as? Int ?? 0) > 0 })
        #expect(objects.contains { ($0["cache_write_tokens"] as? Int ?? 0) > 0 })
        #expect(objects.contains { ($0["reasoning_tokens"] as? Int ?? 0) > 0 })
        #expect(objects.contains { $0["ttft_ms"] != nil } && objects.contains { $0["generation_ms"] == nil })
        #expect(lines.contains { $0.contains(#"\u"#) } && lines.contains { $0.contains(#"\""#) })
        let average = Double(lines.reduce(0) { $0 + $1.utf8.count + 1 }) / Double(lines.count)
        #expect((350...600).contains(average), "average line \(average) bytes")
    }

    @Test func badOptionsAreRejectedBeforeAnyFileIsOpened() throws {
        for options in [
            SampleLogOptions(days: 0), SampleLogOptions(files: 0), SampleLogOptions(lines: -1),
            SampleLogOptions(keys: 0), SampleLogOptions(baseName: "logs/access.log"),
            SampleLogOptions(days: 30, end: 86_400),
        ] {
            let store = MemoryFiles()
            #expect {
                _ = try SampleLogGenerator(options: options).write(into: "/logs") { store.open(path: $0, gzip: $1) }
            } throws: { error in
                (error as? SampleLogError)?.code == .invalidOptions
            }
            #expect(store.files.isEmpty)
        }
    }
}
