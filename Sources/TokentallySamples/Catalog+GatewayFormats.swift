#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
import TokentallySystem
import TokentallyReading

extension Catalog {
    /// OpenRouter's generation record, `{"data": {...}}`: no key; `latency` the time to the first
    /// token and `generation_time` the whole generation (docs/log-format.md); cost in USD.
    func renderOpenRouter(_ record: SampleRecord, into line: inout LineBuffer) {
        line.text("{\"data\":{\"id\":\"gen-")
        line.integer(record.completedMicros / 1_000_000)
        line.byte(0x2D)
        line.hex(record.uniqueID, digits: 16)
        line.text("\",\"created_at\":\"")
        line.rfc3339(micros: record.completedMicros, openRouterStyle: true)
        line.text("\",\"model\":")
        modelNames.write(record.model, into: &line)
        line.text(",\"provider_name\":")
        providerNames.write(record.provider, into: &line)
        line.text(",\"streamed\":")
        line.text(record.stream ? "true" : "false")
        line.text(",\"cancelled\":")
        line.text(record.failed ? "true" : "false")
        line.text(",\"latency\":")
        line.integer((record.failed ? record.latencyMicros : record.ttftMicros) / 1000)
        line.text(",\"generation_time\":")
        line.integer(record.latencyMicros / 1000)
        line.text(",\"tokens_prompt\":")
        line.integer(record.inputTokens)
        line.text(",\"tokens_completion\":")
        line.integer(record.outputTokens)
        line.text(",\"native_tokens_prompt\":")
        line.integer(record.inputTokens)
        line.text(",\"native_tokens_completion\":")
        line.integer(record.outputTokens)
        line.text(",\"native_tokens_cached\":")
        line.integer(record.cachedTokens)
        line.text(",\"native_tokens_reasoning\":")
        line.integer(record.reasoningTokens)
        line.text(",\"total_cost\":")
        line.pythonFloat(record.costNanos, scale: 9)
        line.text(",\"usage\":")
        line.pythonFloat(record.costNanos, scale: 9)
        line.text(",\"finish_reason\":")
        if record.failed { line.text("\"error\"") } else { finishReasons.write(record.finishReason, into: &line) }
        line.text("}}")
    }

    /// Kong's file-log entry with the AI Proxy plugin's statistics under `ai.proxy`; the
    /// consumer is the key (left out for a tenth of the requests: anonymous traffic).
    func renderKong(_ record: SampleRecord, into line: inout LineBuffer) {
        let started = max(record.completedMicros - record.latencyMicros, 0)
        line.text("{\"started_at\":")
        line.integer(started / 1000)
        line.text(",\"request\":{\"id\":\"")
        line.hex(record.uniqueID, digits: 16)
        line.hex(record.randomID, digits: 16)
        line.text("\",\"method\":\"POST\",\"uri\":\"/v1/chat/completions\"},\"response\":{\"status\":")
        line.integer(Int64(record.status))
        line.text("},\"latencies\":{\"request\":")
        line.integer(record.latencyMicros / 1000)
        line.text(",\"kong\":1,\"proxy\":")
        line.integer(max(record.latencyMicros / 1000 - 1, 0))
        line.byte(0x7D)
        if record.uniqueID % 10 != 0 {
            line.text(",\"consumer\":{\"username\":")
            keyValues.write(record.key, into: &line)
            line.byte(0x7D)
        }
        line.text(",\"ai\":{\"proxy\":{\"meta\":{\"provider_name\":")
        providerNames.write(record.provider, into: &line)
        line.text(",\"request_model\":")
        modelNames.write(record.model, into: &line)
        line.text(",\"response_model\":")
        modelNames.write(record.model, into: &line)
        line.text(",\"llm_latency\":")
        line.integer(record.latencyMicros / 1000)
        line.text("},\"usage\":{\"prompt_tokens\":")
        line.integer(record.inputTokens)
        line.text(",\"completion_tokens\":")
        line.integer(record.outputTokens)
        line.text(",\"total_tokens\":")
        line.integer(record.inputTokens + record.outputTokens)
        if record.stream && !record.failed {
            line.text(",\"time_to_first_token\":")
            line.integer(record.ttftMicros / 1000)
        }
        line.text(",\"cost\":")
        line.pythonFloat(record.costNanos, scale: 9)
        line.text(",\"prompt_tokens_details\":{\"cached_tokens\":")
        line.integer(record.cachedTokens)
        line.text("},\"completion_tokens_details\":{\"reasoning_tokens\":")
        line.integer(record.reasoningTokens)
        line.text("}}}}}")
    }

    /// Envoy AI Gateway's JSON access log as its documentation writes it (dotted top-level keys);
    /// the tenant header names the key.
    func renderEnvoy(_ record: SampleRecord, into line: inout LineBuffer) {
        let started = max(record.completedMicros - record.latencyMicros, 0)
        line.text("{\"start_time\":\"")
        line.rfc3339(micros: started)
        line.text("\",\"duration\":")
        line.integer(record.latencyMicros / 1000)
        line.text(",\"response_code\":")
        line.integer(Int64(record.status))
        line.text(",\"x-request-id\":\"")
        line.hex(record.uniqueID, digits: 16)
        line.text("\",\"x-tenant-id\":")
        keyValues.write(record.key, into: &line)
        line.text(",\"gen_ai.request.model\":")
        modelNames.write(record.model, into: &line)
        line.text(",\"gen_ai.provider.name\":")
        providerNames.write(record.provider, into: &line)
        if record.failed {
            line.text(",\"gen_ai.usage.input_tokens\":null,\"gen_ai.usage.output_tokens\":null}")
            return
        }
        line.text(",\"gen_ai.usage.input_tokens\":")
        line.integer(record.inputTokens)
        line.text(",\"gen_ai.usage.output_tokens\":")
        line.integer(record.outputTokens)
        line.text(",\"gen_ai.usage.cache_read.input_tokens\":")
        line.integer(record.cachedTokens)
        line.text(",\"gen_ai.usage.reasoning_tokens\":")
        line.integer(record.reasoningTokens)
        line.byte(0x7D)
    }
}
