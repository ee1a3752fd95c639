import Foundation

// The oracle's reading of one line (UsageOracle.swift): each format's mapping as
// docs/log-format.md states it, and its timestamps.

// MARK: - Reading one line

/// Turns one line (without its line end) into a record or a reject reason, following the format's
/// mapping as docs/log-format.md's preset table states it.
struct RecordInterpreter: Sendable {
    var format: LogFormat
    /// Deeper nesting than this is `nesting_too_deep`.
    var maxDepth = 128
    /// The zone of LiteLLM's timestamps written without an offset (the test says which; the
    /// preset's default is the host's zone).
    var naiveZone = TimeZone(identifier: "UTC")!

    func interpret(_ line: some Collection<UInt8>) -> LineOutcome {
        if line.isEmpty { return .empty }
        let value: JSONValue
        do {
            value = try JSONReader.parse(line, maxDepth: maxDepth)
        } catch .tooDeep {
            return .rejected(.nestingTooDeep)
        } catch {
            return .rejected(.invalidJSON)
        }
        guard case .object = value else { return .rejected(.notObject) }
        do {
            switch format {
            case .tokentally: return .record(try canonical(value))
            case .litellm: return .record(try liteLLM(value))
            case .zenmux: return .record(try zenMux(value))
            case .openrouter: return .record(try openRouter(value))
            case .kong: return .record(try kong(value))
            case .envoyAIGateway: return .record(try envoy(value))
            }
        } catch let reason as RejectReason {
            return .rejected(reason)
        } catch {
            fatalError("unexpected error \(error)")
        }
    }

    // MARK: formats

    private func canonical(_ record: JSONValue) throws -> UsageRecord {
        var result = UsageRecord(
            epochSeconds: try Self.timestamp(record["ts"]),
            requestID: record["request_id"]?.stringValue,
            rawAPIKey: try Self.text(record["api_key"], fallback: noKeyPlaceholder),
            model: try Self.requiredText(record["model"]),
            provider: try Self.requiredText(record["provider"]),
            succeeded: Self.canonicalSuccess(record["status"])
        )
        result.inputTokens = try Self.tokens(record["input_tokens"])
        result.outputTokens = try Self.tokens(record["output_tokens"])
        result.cachedTokens = try Self.tokens(record["cached_tokens"])
        result.cacheWriteTokens = try Self.tokens(record["cache_write_tokens"])
        result.reasoningTokens = try Self.tokens(record["reasoning_tokens"])
        result.webSearchCalls = try Self.tokens(record["web_search_calls"])
        result.latencyMs = try Self.duration(record["latency_ms"])
        result.ttftMs = try Self.duration(record["ttft_ms"])
        result.generationMs = try Self.duration(record["generation_ms"])
        result.costUSD = try Self.cost(record["cost_usd"])
        Self.deriveGeneration(&result)
        return result
    }

    /// The first of `values` that is present: not absent, not null, not `""`.
    private static func firstPresent(_ values: [JSONValue?], absent: Set<String> = []) -> JSONValue? {
        values.first { value in
            switch value {
            case nil, .null?: false
            case .string(let text)?: !text.isEmpty && !absent.contains(text)
            default: true
            }
        } ?? nil
    }

    /// A kept text that may be missing: its fallback then (nil: rejected as missing).
    private static func text(_ value: JSONValue?, fallback: String?) throws -> String {
        switch value {
        case nil, .null?:
            if let fallback { return fallback }
            throw RejectReason.missingField
        case .string(let text)? where text.isEmpty:
            if let fallback { return fallback }
            throw RejectReason.missingField
        default:
            return try requiredText(value)
        }
    }

    /// LiteLLM's `StandardLoggingPayload`, read as docs/log-format.md's litellm table says.
    private func liteLLM(_ record: JSONValue) throws -> UsageRecord {
        let succeeded: Bool
        switch record["status"] {
        case nil, .null?: succeeded = true
        case .string("success")?: succeeded = true
        default: succeeded = false
        }
        var result = UsageRecord(
            epochSeconds: try liteLLMTime(record["endTime"]),
            requestID: record["id"]?.stringValue,
            rawAPIKey: try Self.text(record.value(at: ["metadata", "user_api_key_hash"]), fallback: noKeyPlaceholder),
            model: try Self.requiredText(Self.firstPresent([record["model_group"], record["model"]])),
            provider: try Self.requiredText(record["custom_llm_provider"]),
            succeeded: succeeded
        )
        // metadata.usage_object, else (older payloads) response.usage.
        let usages = [record.value(at: ["metadata", "usage_object"]), record.value(at: ["response", "usage"])]
        func inUsage(_ paths: [[String]]) -> JSONValue? {
            Self.firstPresent(usages.flatMap { usage in paths.map { usage?.value(at: $0) } })
        }
        result.inputTokens = try Self.tokens(record["prompt_tokens"])
        result.outputTokens = try Self.tokens(record["completion_tokens"])
        result.cachedTokens = try Self.tokens(
            inUsage([["prompt_tokens_details", "cached_tokens"], ["cache_read_input_tokens"]]))
        // A total wins over its 5-minute / 1-hour breakdown.
        var cacheWrites: UInt64? = nil
        for usage in usages where cacheWrites == nil {
            if let total = Self.firstPresent([
                usage?.value(at: ["prompt_tokens_details", "cache_creation_tokens"]),
                usage?.value(at: ["cache_creation_input_tokens"]),
            ]) {
                cacheWrites = try Self.tokens(total)
                continue
            }
            let details = usage?.value(at: ["prompt_tokens_details", "cache_creation_token_details"])
            let fiveMinutes = details?["ephemeral_5m_input_tokens"]
            let oneHour = details?["ephemeral_1h_input_tokens"]
            if Self.firstPresent([fiveMinutes, oneHour]) != nil {
                cacheWrites = try Self.tokens(fiveMinutes) + Self.tokens(oneHour)
            }
        }
        result.cacheWriteTokens = cacheWrites ?? 0
        result.reasoningTokens = try Self.tokens(inUsage([["completion_tokens_details", "reasoning_tokens"]]))
        result.webSearchCalls = try Self.tokens(
            inUsage([["server_tool_use", "web_search_requests"], ["prompt_tokens_details", "web_search_requests"]]))
        result.latencyMs = try Self.secondsDifferenceMs(end: record["endTime"], start: record["startTime"])
        if record["stream"] == .bool(true) {
            result.ttftMs = try Self.secondsDifferenceMs(end: record["completionStartTime"], start: record["startTime"])
            // The end time written as the first token's: no first token was seen.
            if let ttft = result.ttftMs, let latency = result.latencyMs, ttft >= latency { result.ttftMs = nil }
        }
        result.costUSD = try Self.cost(record["response_cost"])
        result.durationSlackMs = 0.002
        Self.deriveGeneration(&result)
        return result
    }

    /// A LiteLLM time: epoch seconds, or text; text without an offset is in `naiveZone`.
    private func liteLLMTime(_ value: JSONValue?) throws -> Double {
        if case .string(let text)? = value, let naive = Self.naiveSeconds(text, in: naiveZone) { return naive }
        return try Self.timestamp(value)
    }

    /// Epoch seconds of `YYYY-MM-DD HH:MM:SS(.f)` with no offset, read in `zone` by Foundation's
    /// calendar; nil for text with an offset (or not of that form).
    private static func naiveSeconds(_ text: String, in zone: TimeZone) -> Double? {
        guard let asUTC = TimestampText.exactEpochSeconds(text), !TimestampText.hasOffset(text) else { return nil }
        let whole = NSDecimalNumber(decimal: asUTC).doubleValue.rounded(.down)
        let fraction = NSDecimalNumber(decimal: asUTC).doubleValue - whole
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        var components = calendar.dateComponents(
            [.year, .month, .day, .hour, .minute, .second], from: Date(timeIntervalSince1970: whole))
        components.timeZone = zone
        calendar.timeZone = zone
        guard let date = calendar.date(from: components) else { return nil }
        return date.timeIntervalSince1970 + fraction
    }

    /// `end - start` of two durations in ms; nil when either is missing or it is negative.
    private func differenceOfDurations(_ end: JSONValue?, _ start: JSONValue?) throws -> Double? {
        guard let end = try Self.rawDuration(end), let start = try Self.rawDuration(start) else { return nil }
        let difference = end - start
        return difference >= 0 ? difference : nil
    }

    /// ZenMux's two records: the management API's generation record and the console's meta record.
    private func zenMux(_ record: JSONValue) throws -> UsageRecord {
        var result = UsageRecord(
            epochSeconds: try Self.timestamp(Self.firstPresent([record["createdAt"], record["createAt"]])),
            requestID: record["generationId"]?.stringValue,
            rawAPIKey: try Self.text(record["apiKeyId"], fallback: noKeyPlaceholder),
            model: try Self.requiredText(Self.firstPresent([record["modelSlug"], record["model"]])),
            provider: try Self.text(record["providerSlug"], fallback: unknownProvider),
            succeeded: record["cancelled"] != .bool(true)
        )
        result.inputTokens = try Self.tokens(record.value(at: ["nativeTokens", "prompt_tokens"]))
        result.outputTokens = try Self.tokens(record.value(at: ["nativeTokens", "completion_tokens"]))
        result.cachedTokens = try Self.tokens(
            record.value(at: ["nativeTokens", "prompt_tokens_details", "cached_tokens"]))
        let fee = ["input_cache_write_5_min", "input_cache_write_1_h", "input_cache_write"].map {
            record.value(at: ["nativeFeeTokens", $0])
        }
        let ephemeral = ["ephemeral_5m_input_tokens", "ephemeral_1h_input_tokens"].map {
            record.value(at: ["nativeTokens", "prompt_tokens_details", $0])
        }
        if Self.firstPresent(fee) != nil {
            result.cacheWriteTokens = try fee.reduce(0) { $0 + (try Self.tokens($1)) }
        } else {
            result.cacheWriteTokens = try ephemeral.reduce(0) { $0 + (try Self.tokens($1)) }
        }
        result.reasoningTokens = try Self.tokens(
            record.value(at: ["nativeTokens", "completion_tokens_details", "reasoning_tokens"]))
        result.webSearchCalls = try Self.tokens(
            Self.firstPresent([
                record.value(at: ["nativeFeeTokens", "web_search"]),
                record.value(at: ["nativeTokens", "prompt_tokens_details", "web_search"]),
            ]))
        // `latency` is the first-token latency and `generationTime` the rest, both in ms.
        let firstToken = try Self.rawDuration(record["latency"])
        let generation = try Self.rawDuration(record["generationTime"])
        if firstToken != nil || generation != nil {
            let sum = (firstToken ?? 0) + (generation ?? 0)
            result.latencyMs = sum >= 0 ? sum : nil
        }
        result.ttftMs = firstToken.flatMap { $0 >= 0 ? $0 : nil }
        result.generationMs = generation.flatMap { $0 >= 0 ? $0 : nil }
        result.costUSD = try Self.cost(
            Self.firstPresent([
                record["billAmount"], record.value(at: ["ratingResponses", "billAmount"]), record["usage"],
            ]))
        Self.deriveGeneration(&result)
        return result
    }

    /// OpenRouter's generation record, `{"data": {...}}`: no key; `latency` is the time to the
    /// first token and `generation_time` the whole generation.
    private func openRouter(_ record: JSONValue) throws -> UsageRecord {
        let data = record["data"]
        var result = UsageRecord(
            epochSeconds: try Self.timestamp(data?["created_at"]),
            requestID: data?["id"]?.stringValue,
            rawAPIKey: noKeyPlaceholder,
            model: try Self.requiredText(data?["model"]),
            provider: try Self.text(data?["provider_name"], fallback: unknownProvider),
            succeeded: data?["cancelled"] != .bool(true)
        )
        result.inputTokens = try Self.tokens(
            Self.firstPresent([data?["native_tokens_prompt"], data?["tokens_prompt"]]))
        result.outputTokens = try Self.tokens(
            Self.firstPresent([data?["native_tokens_completion"], data?["tokens_completion"]]))
        result.cachedTokens = try Self.tokens(data?["native_tokens_cached"])
        result.reasoningTokens = try Self.tokens(data?["native_tokens_reasoning"])
        result.latencyMs = try Self.duration(data?["generation_time"])
        result.ttftMs = try Self.duration(data?["latency"])
        result.generationMs = try differenceOfDurations(data?["generation_time"], data?["latency"])
        result.costUSD = try Self.cost(data?["total_cost"])
        Self.deriveGeneration(&result)
        return result
    }

    /// Kong's log entry: the AI Proxy statistics under `ai.proxy`, `ai["ai-proxy"]` or `ai`;
    /// `started_at` in epoch ms; the consumer's username or id as the key.
    private func kong(_ record: JSONValue) throws -> UsageRecord {
        let sections = [record.value(at: ["ai", "proxy"]), record.value(at: ["ai", "ai-proxy"]), record["ai"]]
        func ai(_ paths: [[String]]) -> JSONValue? {
            Self.firstPresent(
                sections.flatMap { section in paths.map { section?.value(at: $0) } }, absent: ["UNSPECIFIED"])
        }
        let status = record.value(at: ["response", "status"])
        var result = UsageRecord(
            epochSeconds: try Self.epochTimestamp(record["started_at"], secondsPerUnit: 0.001),
            requestID: record.value(at: ["request", "id"])?.stringValue,
            rawAPIKey: try Self.text(
                Self.firstPresent([record.value(at: ["consumer", "username"]), record.value(at: ["consumer", "id"])]),
                fallback: noKeyPlaceholder),
            model: try Self.requiredText(ai([["meta", "request_model"], ["meta", "response_model"]])),
            provider: try Self.requiredText(ai([["meta", "provider_name"]])),
            succeeded: Self.httpSuccess(status)
        )
        result.inputTokens = try Self.tokens(ai([["usage", "prompt_tokens"], ["usage", "prompt_token"]]))
        result.outputTokens = try Self.tokens(ai([["usage", "completion_tokens"], ["usage", "completion_token"]]))
        result.cachedTokens = try Self.tokens(ai([["usage", "prompt_tokens_details", "cached_tokens"]]))
        result.reasoningTokens = try Self.tokens(ai([["usage", "completion_tokens_details", "reasoning_tokens"]]))
        result.latencyMs = try Self.duration(record.value(at: ["latencies", "request"]))
        result.ttftMs = try Self.duration(ai([["usage", "time_to_first_token"]]))
        result.costUSD = try Self.cost(ai([["usage", "cost"]]))
        Self.deriveGeneration(&result)
        return result
    }

    /// Envoy AI Gateway's access log: top-level keys with dots in them; `"-"` is no value.
    private func envoy(_ record: JSONValue) throws -> UsageRecord {
        func field(_ key: String) -> JSONValue? {
            let value = record[key]
            return value == .string("-") ? nil : value
        }
        var result = UsageRecord(
            epochSeconds: try Self.timestamp(field("start_time")),
            requestID: field("x-request-id")?.stringValue,
            rawAPIKey: try Self.text(
                Self.firstPresent([field("x-tenant-id"), field("x-client-id")]), fallback: noKeyPlaceholder),
            model: try Self.requiredText(
                Self.firstPresent([field("gen_ai.request.model"), field("gen_ai.response.model")])),
            provider: try Self.requiredText(field("gen_ai.provider.name")),
            succeeded: Self.httpSuccess(field("response_code"))
        )
        result.inputTokens = try Self.tokens(field("gen_ai.usage.input_tokens"))
        result.outputTokens = try Self.tokens(field("gen_ai.usage.output_tokens"))
        result.cachedTokens = try Self.tokens(field("gen_ai.usage.cache_read.input_tokens"))
        result.cacheWriteTokens = try Self.tokens(field("gen_ai.usage.cache_creation.input_tokens"))
        result.reasoningTokens = try Self.tokens(field("gen_ai.usage.reasoning_tokens"))
        result.latencyMs = try Self.duration(field("duration"))
        result.ttftMs = try Self.duration(field("token_latency_ttft"))
        Self.deriveGeneration(&result)
        return result
    }

    /// An HTTP status (a number, or digits in a string; `200.0` is 200) of 2xx; absent is success.
    private static func httpSuccess(_ value: JSONValue?) -> Bool {
        switch value {
        case nil, .null?: return true
        case .number(let text)?:
            guard let number = Decimal(string: text), isWhole(number) else { return false }
            return number >= 200 && number <= 299
        case .string(let text)?:
            guard let code = Int(text) else { return false }
            return (200...299).contains(code)
        default: return false
        }
    }

    /// An epoch number in a fixed unit, in seconds.
    private static func epochTimestamp(_ value: JSONValue?, secondsPerUnit: Double) throws -> Double {
        switch value {
        case nil, .null?: throw RejectReason.missingField
        case .number(let text)?:
            guard let number = Double(text), number.isFinite, number >= 0 else { throw RejectReason.invalidTimestamp }
            return number * secondsPerUnit
        default: return try timestamp(value)
        }
    }

    /// Without a generation time: `latency - ttft` when both exist, else the latency.
    private static func deriveGeneration(_ record: inout UsageRecord) {
        guard record.generationMs == nil else { return }
        if let latency = record.latencyMs, let ttft = record.ttftMs {
            let generation = latency - ttft
            record.generationMs = generation >= 0 ? generation : nil
        } else {
            record.generationMs = record.latencyMs
        }
    }

    // MARK: fields

    private static func requiredText(_ value: JSONValue?) throws -> String {
        switch value {
        case nil, .null?: throw RejectReason.missingField
        case .string(let text)?:
            if text.isEmpty { throw RejectReason.missingField }
            return text
        case .invalidUTF8String?: throw RejectReason.invalidUTF8
        default: throw RejectReason.wrongType
        }
    }

    /// Status of the canonical format: integer 2xx (a string of digits counts as its integer),
    /// `true`, `"success"`, `"ok"` and absence are success; anything else is failure.
    private static func canonicalSuccess(_ value: JSONValue?) -> Bool {
        switch value {
        case nil, .null?: return true
        case .bool(let flag)?: return flag
        case .number(let text)?:
            guard let number = Decimal(string: text), isWhole(number) else { return false }
            return number >= 200 && number <= 299
        case .string(let text)?:
            if text == "success" || text == "ok" { return true }
            guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let code = Int(text) else {
                return false
            }
            return (200...299).contains(code)
        default: return false
        }
    }

    private static func isWhole(_ value: Decimal) -> Bool {
        var input = value
        var rounded = Decimal()
        NSDecimalRound(&rounded, &input, 0, .plain)
        return rounded == value
    }

    /// The text of a JSON number or of a string holding one; nil when absent or null.
    private static func numericText(_ value: JSONValue?) throws -> String? {
        switch value {
        case nil, .null?: return nil
        case .number(let text)?: return text
        case .string(let text)?:
            guard JSONReader.isNumberText(Array(text.utf8)) else { throw RejectReason.wrongType }
            return text
        default: throw RejectReason.wrongType
        }
    }

    private static let int64Max = Decimal(string: "9223372036854775807")!

    /// A token count: whole and ≥ 0 (3.0 and 1e3 are whole), at most a signed 64-bit integer.
    private static func tokens(_ value: JSONValue?) throws -> UInt64 {
        guard let text = try numericText(value) else { return 0 }
        guard let number = Decimal(string: text, locale: Locale(identifier: "en_US_POSIX")) else {
            throw RejectReason.numberOutOfRange  // beyond Decimal's exponent range, e.g. 1e400
        }
        if number < 0 || !isWhole(number) { throw RejectReason.invalidTokenCount }
        if number > int64Max { throw RejectReason.numberOutOfRange }
        return UInt64("\(number)")!
    }

    /// A duration in ms as written; negative values are returned (callers drop them).
    private static func rawDuration(_ value: JSONValue?) throws -> Double? {
        guard let text = try numericText(value) else { return nil }
        guard let number = Double(text), number.isFinite else { throw RejectReason.numberOutOfRange }
        return number
    }

    /// A duration in ms; negative counts as absent.
    private static func duration(_ value: JSONValue?) throws -> Double? {
        guard let number = try rawDuration(value) else { return nil }
        return number >= 0 ? number : nil
    }

    private static let nanoDollarLimit = Decimal(string: "9223372036.854775807")!

    /// Cost in USD, exactly, rounded to 9 decimals (nano-dollars).
    private static func cost(_ value: JSONValue?) throws -> Decimal {
        guard let text = try numericText(value) else { return 0 }
        guard var number = Decimal(string: text, locale: Locale(identifier: "en_US_POSIX")) else {
            throw RejectReason.numberOutOfRange
        }
        if number > nanoDollarLimit || number < -nanoDollarLimit { throw RejectReason.numberOutOfRange }
        var rounded = Decimal()
        NSDecimalRound(&rounded, &number, 9, .plain)
        return rounded
    }

    /// A required timestamp: RFC 3339 text, or an epoch number (seconds below 1e11, else ms).
    private static func timestamp(_ value: JSONValue?) throws -> Double {
        switch value {
        case nil, .null?: throw RejectReason.missingField
        case .string(let text)?:
            if text.isEmpty { throw RejectReason.missingField }
            guard let seconds = TimestampText.epochSeconds(text) else { throw RejectReason.invalidTimestamp }
            return seconds
        case .number(let text)?:
            guard let number = Double(text), number.isFinite else { throw RejectReason.invalidTimestamp }
            return number < 1e11 ? number : number / 1000
        case .invalidUTF8String?: throw RejectReason.invalidUTF8
        default: throw RejectReason.wrongType
        }
    }

    /// A point in time for a `difference` in seconds, exactly: an epoch number in seconds, or
    /// timestamp text. Exact because two epoch floats such as 1795176000.123456 subtract in
    /// `Double` with an error of a quarter microsecond, which shows in a throughput's 6th digit.
    private static func epochSecondsForDifference(_ value: JSONValue?) -> Decimal? {
        let posix = Locale(identifier: "en_US_POSIX")
        switch value {
        case .number(let text)?: return Decimal(string: text, locale: posix)
        case .string(let text)?:
            if JSONReader.isNumberText(Array(text.utf8)) { return Decimal(string: text, locale: posix) }
            return TimestampText.exactEpochSeconds(text)
        default: return nil
        }
    }

    /// `(end - start) * 1000` for two times in seconds; nil when either is missing or it is negative.
    private static func secondsDifferenceMs(end: JSONValue?, start: JSONValue?) throws -> Double? {
        guard let endSeconds = epochSecondsForDifference(end), let startSeconds = epochSecondsForDifference(start)
        else { return nil }
        let milliseconds = NSDecimalNumber(decimal: (endSeconds - startSeconds) * 1000).doubleValue
        return milliseconds >= 0 ? milliseconds : nil
    }
}

/// RFC 3339 timestamps (and LiteLLM's `YYYY-MM-DD HH:MM:SS.ffffff`), parsed by hand.
enum TimestampText {
    /// Epoch seconds of `YYYY-MM-DD(T|t| )HH:MM:SS(.fraction)?(Z|z|±HH:MM)?`; no offset means UTC.
    static func epochSeconds(_ text: String) -> Double? {
        exactEpochSeconds(text).map { NSDecimalNumber(decimal: $0).doubleValue }
    }

    /// Whether the text ends in an offset (`Z`, `+05:30`): without one it is a wall-clock time.
    static func hasOffset(_ text: String) -> Bool {
        guard text.utf8.count > 19 else { return false }
        if text.hasSuffix("Z") || text.hasSuffix("z") { return true }
        let tail = Array(text.utf8.suffix(6))
        return tail.count == 6 && (tail[0] == 0x2B || tail[0] == 0x2D) && tail[3] == 0x3A
    }

    /// The same, as an exact decimal (the fraction keeps every digit written).
    static func exactEpochSeconds(_ text: String) -> Decimal? {
        let bytes = Array(text.utf8)
        var index = 0
        func digits(_ count: Int) -> Int? {
            guard index + count <= bytes.count else { return nil }
            var value = 0
            for _ in 0..<count {
                let byte = bytes[index]
                guard byte >= 0x30, byte <= 0x39 else { return nil }
                value = value * 10 + Int(byte - 0x30)
                index += 1
            }
            return value
        }
        func literal(_ allowed: [UInt8]) -> Bool {
            guard index < bytes.count, allowed.contains(bytes[index]) else { return false }
            index += 1
            return true
        }
        guard let year = digits(4), literal([0x2D]), let month = digits(2), literal([0x2D]), let day = digits(2),
            literal([0x54, 0x74, 0x20]), let hour = digits(2), literal([0x3A]), let minute = digits(2),
            literal([0x3A]), let second = digits(2)
        else { return nil }
        guard (1...12).contains(month), day >= 1, day <= daysInMonth(year: year, month: month), hour <= 23,
            minute <= 59, second <= 59
        else { return nil }
        var fraction = Decimal(0)
        if index < bytes.count, bytes[index] == 0x2E {
            index += 1
            let start = index
            while index < bytes.count, bytes[index] >= 0x30, bytes[index] <= 0x39 { index += 1 }
            if index == start { return nil }
            fraction = Decimal(string: "0." + String(decoding: bytes[start..<index], as: UTF8.self))!
        }
        var offsetSeconds = 0
        if index < bytes.count {
            switch bytes[index] {
            case 0x5A, 0x7A:  // Z z
                index += 1
            case 0x2B, 0x2D:  // + -
                let sign = bytes[index] == 0x2B ? 1 : -1
                index += 1
                guard let offsetHours = digits(2), literal([0x3A]), let offsetMinutes = digits(2),
                    offsetHours <= 23, offsetMinutes <= 59
                else { return nil }
                offsetSeconds = sign * (offsetHours * 3600 + offsetMinutes * 60)
            default:
                return nil
            }
        }
        guard index == bytes.count else { return nil }
        let days = daysFromCivil(year: year, month: month, day: day)
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offsetSeconds
        return Decimal(seconds) + fraction
    }

    static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days since 1970-01-01 in the proleptic Gregorian calendar.
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let shiftedYear = month <= 2 ? year - 1 : year
        let era = (shiftedYear >= 0 ? shiftedYear : shiftedYear - 399) / 400
        let yearOfEra = shiftedYear - era * 400
        let shiftedMonth = (month + 9) % 12
        let dayOfYear = (153 * shiftedMonth + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}
