#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
import TokentallySystem
import TokentallyReading

extension Catalog {
    // MARK: Formats

    /// The canonical record under its own field names, with `stream`, user agent, region and a
    /// nested `metadata` object as extras. Optional token fields appear only when not zero.
    func renderTokentally(_ record: SampleRecord, into line: inout LineBuffer) {
        let key = keys[record.key]
        line.text("{\"ts\":")
        if record.timestampAsEpoch {
            line.integer(record.completedMicros / 1000)
        } else {
            line.byte(0x22)
            line.rfc3339(micros: record.completedMicros)
            line.byte(0x22)
        }
        line.text(",\"request_id\":\"req_")
        line.hex(record.uniqueID, digits: 16)
        line.hex(record.randomID, digits: 4)
        line.text("\",\"api_key\":")
        keyValues.write(record.key, into: &line)
        line.text(",\"model\":")
        modelNames.write(record.model, into: &line)
        line.text(",\"provider\":")
        providerNames.write(record.provider, into: &line)
        line.text(",\"status\":")
        if record.failed || record.statusSpelling == 0 {
            line.integer(Int64(record.status))
        } else if record.statusSpelling == 1 {
            line.text("true")
        } else {
            line.text("\"ok\"")
        }
        line.text(",\"stream\":")
        line.text(record.stream ? "true" : "false")
        if !record.failed {
            line.text(",\"input_tokens\":")
            line.integer(record.inputTokens)
            line.text(",\"output_tokens\":")
            line.integer(record.outputTokens)
            if record.cachedTokens > 0 {
                line.text(",\"cached_tokens\":")
                line.integer(record.cachedTokens)
            }
            if record.cacheWriteTokens > 0 {
                line.text(",\"cache_write_tokens\":")
                line.integer(record.cacheWriteTokens)
            }
            if record.reasoningTokens > 0 {
                line.text(",\"reasoning_tokens\":")
                line.integer(record.reasoningTokens)
            }
            if record.webSearchCalls > 0 {
                line.text(",\"web_search_calls\":")
                line.integer(record.webSearchCalls)
            }
        }
        line.text(",\"latency_ms\":")
        line.milliseconds(record.latencyMicros, fractional: record.fractionalMillis)
        if !record.failed {
            if record.stream {
                line.text(",\"ttft_ms\":")
                line.milliseconds(record.ttftMicros, fractional: record.fractionalMillis)
            }
            if record.writesGenerationTime {
                line.text(",\"generation_ms\":")
                line.milliseconds(record.generationMicros, fractional: record.fractionalMillis)
            }
        }
        line.text(",\"cost_usd\":")
        switch record.costSpelling {
        case 0: line.fixed(record.costNanos, scale: 9, minimumFractionDigits: 0)
        case 1:
            line.byte(0x22)
            line.fixed(record.costNanos, scale: 9, minimumFractionDigits: 0)
            line.byte(0x22)
        case 2: line.scientific(record.costNanos, scale: 9)
        default:
            line.byte(0x22)
            line.scientific(record.costNanos, scale: 9)
            line.byte(0x22)
        }
        line.text(",\"user_agent\":")
        userAgents.write(key.userAgent, into: &line)
        line.text(",\"region\":")
        regions.write(key.region, into: &line)
        line.text(",\"metadata\":{\"app\":")
        writeApp(record, into: &line)
        line.text(",\"env\":")
        environments.write(key.environment, into: &line)
        line.text(",\"tags\":")
        writeTags(record, into: &line)
        line.byte(0x7D)
        if record.failed {
            line.text(",\"error\":{\"type\":")
            switch record.status {
            case 429: line.text("\"rate_limit_error\",\"message\":\"Too many requests, retry after 2s\"")
            case 400: line.text("\"invalid_request_error\",\"message\":\"max_tokens: must be at most 32000\"")
            case 502: line.text("\"upstream_error\",\"message\":\"Bad gateway: upstream closed the stream\"")
            default: line.text("\"api_error\",\"message\":\"Internal server error\"")
            }
            line.byte(0x7D)
        }
        line.byte(0x7D)
    }

    /// LiteLLM's `StandardLoggingPayload`: epoch-second floats for the times, the key hash and
    /// usage details under `metadata`, `"status":"success"` or `"failure"`.
    func renderLiteLLM(_ record: SampleRecord, into line: inout LineBuffer) {
        let started = max(record.completedMicros - record.latencyMicros, 0)
        line.text("{\"id\":\"chatcmpl-")
        line.hex(record.uniqueID >> 32, digits: 8)
        line.byte(0x2D)
        line.hex(record.uniqueID >> 16, digits: 4)
        line.byte(0x2D)
        line.hex(record.uniqueID, digits: 4)
        line.text("-4")
        line.hex(record.randomID >> 48, digits: 3)
        line.byte(0x2D)
        line.hex(record.randomID, digits: 12)
        line.text("\",\"stream\":")
        line.text(record.stream ? "true" : "false")
        line.text(",\"status\":")
        line.text(record.failed ? "\"failure\"" : "\"success\"")
        line.text(",\"startTime\":")
        line.fixed(started, scale: 6, minimumFractionDigits: 1)
        line.text(",\"endTime\":")
        line.fixed(record.completedMicros, scale: 6, minimumFractionDigits: 1)
        // LiteLLM sets it to the end time when nothing was streamed. A failed request never had
        // a first token: the field is left out, so no time to first token is derived from it.
        if !record.failed {
            line.text(",\"completionStartTime\":")
            line.fixed(
                record.stream ? started + record.ttftMicros : record.completedMicros, scale: 6, minimumFractionDigits: 1
            )
        }
        line.text(",\"model\":")
        modelNames.write(record.model, into: &line)
        line.text(",\"custom_llm_provider\":")
        providerNames.write(record.provider, into: &line)
        line.text(",\"prompt_tokens\":")
        line.integer(record.inputTokens)
        line.text(",\"completion_tokens\":")
        line.integer(record.outputTokens)
        line.text(",\"total_tokens\":")
        line.integer(record.inputTokens + record.outputTokens)
        line.text(",\"response_cost\":")
        line.pythonFloat(record.costNanos, scale: 9)
        line.text(",\"metadata\":{\"user_api_key_hash\":")
        keyValues.write(record.key, into: &line)
        line.text(",\"user_api_key_alias\":")
        writeApp(record, into: &line)
        line.text(",\"tags\":")
        writeTags(record, into: &line)
        line.text(",\"usage_object\":{\"prompt_tokens_details\":{\"cached_tokens\":")
        line.integer(record.cachedTokens)
        line.text("},\"completion_tokens_details\":{\"reasoning_tokens\":")
        line.integer(record.reasoningTokens)
        line.text("}}},\"error_str\":")
        switch record.status {
        case 200: line.text("null")
        case 429: line.text("\"litellm.RateLimitError: Rate limit reached, retry in 2s\"")
        case 400: line.text("\"litellm.BadRequestError: max_tokens is too large\"")
        case 502: line.text("\"litellm.APIConnectionError: upstream closed the connection\"")
        default: line.text("\"litellm.InternalServerError: upstream returned 500\"")
        }
        line.byte(0x7D)
    }

    /// ZenMux's generation record: camelCase names, token counts under `nativeTokens`, cache
    /// writes under `nativeFeeTokens` (models that bill them), the bill as a decimal string, and
    /// `cancelled` instead of a status.
    func renderZenMux(_ record: SampleRecord, into line: inout LineBuffer) {
        line.text("{\"generationId\":\"gen-")
        line.integer(record.completedMicros / 1_000_000)
        line.byte(0x2D)
        line.hex(record.uniqueID, digits: 16)
        line.hex(record.randomID, digits: 4)
        line.text("\",\"createdAt\":\"")
        line.rfc3339(micros: record.completedMicros)
        line.text("\",\"apiKeyId\":")
        keyValues.write(record.key, into: &line)
        line.text(",\"modelSlug\":")
        modelNames.write(record.model, into: &line)
        line.text(",\"providerSlug\":")
        providerNames.write(record.provider, into: &line)
        line.text(",\"streaming\":")
        line.text(record.stream ? "true" : "false")
        line.text(",\"latency\":")
        // Time to first token; a failed request never had one, so the whole time is reported.
        line.integer((record.failed ? record.latencyMicros : record.ttftMicros) / 1000)
        line.text(",\"generationTime\":")
        line.integer(record.failed ? 0 : record.generationMicros / 1000)
        line.text(",\"nativeTokens\":{\"prompt_tokens\":")
        line.integer(record.inputTokens)
        line.text(",\"completion_tokens\":")
        line.integer(record.outputTokens)
        line.text(",\"prompt_tokens_details\":{\"cached_tokens\":")
        line.integer(record.cachedTokens)
        line.text("},\"completion_tokens_details\":{\"reasoning_tokens\":")
        line.integer(record.reasoningTokens)
        line.text("}}")
        if models[record.model].caching == .explicit {
            line.text(",\"nativeFeeTokens\":{\"input_cache_write_5_min\":")
            line.integer(record.cacheWrite5mTokens)
            line.text(",\"input_cache_write_1_h\":")
            line.integer(record.cacheWrite1hTokens)
            line.byte(0x7D)
        }
        line.text(",\"billAmount\":\"")
        line.fixed(record.costNanos, scale: 9, minimumFractionDigits: 0)
        line.text("\",\"cancelled\":")
        line.text(record.failed ? "true" : "false")
        line.text(",\"finishReason\":")
        if record.failed {
            line.text("null")
        } else {
            finishReasons.write(record.finishReason, into: &line)
        }
        line.text(",\"appName\":")
        writeApp(record, into: &line)
        line.byte(0x7D)
    }
}
