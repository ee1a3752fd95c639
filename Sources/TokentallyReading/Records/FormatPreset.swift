import TokentallySystem
/// The log formats shipped with tokentally (docs/log-format.md, "Presets"), each read as its
/// gateway's project documents its records.
///
/// One token convention holds for all of them: `input_tokens` are all prompt tokens, cache
/// reads and cache writes included (OpenAI's convention), and `cached_tokens` and
/// `cache_write_tokens` are parts of it. Every gateway here already counts that way; a source
/// that counts input without its cache (Anthropic's own API) gets a mapping that adds them.
public enum FormatPreset: String, CaseIterable, Sendable {
    /// The canonical record: every field under its own name.
    case tokentally
    /// LiteLLM proxy's `StandardLoggingPayload`, one object per line.
    case litellm
    /// ZenMux: the management API's generation record and the console's "meta" record.
    case zenmux
    /// OpenRouter's generation records (`GET /api/v1/generation`), each `{"data": {...}}`.
    case openrouter
    /// Kong AI Gateway's file-log / http-log entries with the AI Proxy plugin's statistics.
    case kong
    /// Envoy AI Gateway's JSON access log (top-level keys with dots in them).
    case envoyAIGateway = "envoy-ai-gateway"

    public var mapping: FieldMapping {
        switch self {
        case .tokentally: Self.canonical
        case .litellm: Self.liteLLM
        case .zenmux: Self.zenMux
        case .openrouter: Self.openRouter
        case .kong: Self.kongMapping
        case .envoyAIGateway: Self.envoy
        }
    }

    /// The placeholder provider of records whose source never names one.
    static let unknownProvider = "__unknown__"

    private static func path(_ dotted: String) -> FieldPath { FieldPath(dotted: dotted)! }
    private static func first(_ dotted: String...) -> FieldSource { .firstOf(dotted.map { .path(path($0)) }) }

    private static let canonical: FieldMapping = {
        var sources: [CanonicalField: FieldSource] = [:]
        for field in CanonicalField.allCases {
            sources[field] = .path(FieldPath([field.rawValue]))
        }
        return FieldMapping(
            sources: sources,
            successValues: [.integerRange(200...299), .bool(true), .string("success"), .string("ok")],
            successWhenStatusAbsent: true
        )
    }()

    /// `StandardLoggingPayload`. `prompt_tokens` already holds cache reads and writes; the cache
    /// and web-search counts are in `metadata.usage_object` (older payloads: `response.usage`),
    /// and a total wins over its 5-minute/1-hour breakdown. Times are epoch seconds, or, in
    /// older versions, strings without an offset in the proxy host's zone.
    private static let liteLLM: FieldMapping = {
        let usage = ["metadata.usage_object", "response.usage"]
        func inUsage(_ tails: String...) -> FieldSource {
            .firstOf(usage.flatMap { base in tails.map { FieldSource.path(path(base + "." + $0)) } })
        }
        let cacheWrites: FieldSource = .firstOf(
            usage.flatMap { base -> [FieldSource] in
                [
                    .path(path(base + ".prompt_tokens_details.cache_creation_tokens")),
                    .path(path(base + ".cache_creation_input_tokens")),
                    .sum([
                        path(base + ".prompt_tokens_details.cache_creation_token_details.ephemeral_5m_input_tokens"),
                        path(base + ".prompt_tokens_details.cache_creation_token_details.ephemeral_1h_input_tokens"),
                    ]),
                ]
            })
        return FieldMapping(
            sources: [
                .ts: .path(path("endTime")),
                .requestID: .path(path("id")),
                .apiKey: .path(path("metadata.user_api_key_hash")),
                .model: first("model_group", "model"),
                .provider: .path(path("custom_llm_provider")),
                .status: .path(path("status")),
                .inputTokens: .path(path("prompt_tokens")),
                .outputTokens: .path(path("completion_tokens")),
                .cachedTokens: inUsage("prompt_tokens_details.cached_tokens", "cache_read_input_tokens"),
                .cacheWriteTokens: cacheWrites,
                .reasoningTokens: inUsage("completion_tokens_details.reasoning_tokens"),
                .webSearchCalls: inUsage(
                    "server_tool_use.web_search_requests", "prompt_tokens_details.web_search_requests"),
                .latencyMs: .difference(end: path("endTime"), start: path("startTime"), unit: .seconds),
                .ttftMs: .difference(end: path("completionStartTime"), start: path("startTime"), unit: .seconds),
                .costUSD: .path(path("response_cost")),
            ],
            successValues: [.string("success")],
            successWhenStatusAbsent: true,
            ttftOnlyWhen: path("stream"),
            ttftAtLatencyIsAbsent: true,
            naiveTimezone: NaiveTimeZone.localName
        )
    }()

    /// Both ZenMux records: the management API's (`createAt`, `model` a slug, cost as numbers
    /// in `ratingResponses.billAmount` and `usage`, no key and no provider) and the console's
    /// "meta" record (`createdAt`, `apiKeyId`, `modelSlug`, `providerSlug`, amounts as decimal
    /// strings). `latency` is the time to the first token and `generationTime` the rest.
    private static let zenMux = FieldMapping(
        sources: [
            .ts: first("createdAt", "createAt"),
            .requestID: .path(path("generationId")),
            .apiKey: .path(path("apiKeyId")),
            .model: first("modelSlug", "model"),
            .provider: .path(path("providerSlug")),
            // No status field: a record is a success unless `cancelled` is true. Cancelled
            // records are billed, and counted, as failures.
            .status: .path(path("cancelled")),
            .inputTokens: .path(path("nativeTokens.prompt_tokens")),
            .outputTokens: .path(path("nativeTokens.completion_tokens")),
            .cachedTokens: .path(path("nativeTokens.prompt_tokens_details.cached_tokens")),
            .cacheWriteTokens: .firstOf([
                .sum([
                    path("nativeFeeTokens.input_cache_write_5_min"), path("nativeFeeTokens.input_cache_write_1_h"),
                    path("nativeFeeTokens.input_cache_write"),
                ]),
                .sum([
                    path("nativeTokens.prompt_tokens_details.ephemeral_5m_input_tokens"),
                    path("nativeTokens.prompt_tokens_details.ephemeral_1h_input_tokens"),
                ]),
            ]),
            .reasoningTokens: .path(path("nativeTokens.completion_tokens_details.reasoning_tokens")),
            .webSearchCalls: first("nativeFeeTokens.web_search", "nativeTokens.prompt_tokens_details.web_search"),
            .ttftMs: .path(path("latency")),
            .generationMs: .path(path("generationTime")),
            .latencyMs: .sum([path("latency"), path("generationTime")]),
            .costUSD: first("billAmount", "ratingResponses.billAmount", "usage"),
        ],
        defaults: [.provider: unknownProvider],
        successValues: [.bool(false)],
        successWhenStatusAbsent: true
    )

    /// OpenRouter's generation record. It names no key: the records belong to the key they were
    /// fetched with (give it with a format whose `base:` is this one). `latency` is read as the
    /// time to the first token and `generation_time` as the whole generation, which includes it
    /// (docs/log-format.md says why).
    private static let openRouter = FieldMapping(
        sources: [
            .ts: .path(path("data.created_at")),
            .requestID: .path(path("data.id")),
            .model: .path(path("data.model")),
            .provider: .path(path("data.provider_name")),
            .status: .path(path("data.cancelled")),
            .inputTokens: first("data.native_tokens_prompt", "data.tokens_prompt"),
            .outputTokens: first("data.native_tokens_completion", "data.tokens_completion"),
            .cachedTokens: .path(path("data.native_tokens_cached")),
            .reasoningTokens: .path(path("data.native_tokens_reasoning")),
            .latencyMs: .path(path("data.generation_time")),
            .ttftMs: .path(path("data.latency")),
            .generationMs: .difference(
                end: path("data.generation_time"), start: path("data.latency"), unit: .milliseconds),
            .costUSD: .path(path("data.total_cost")),
        ],
        defaults: [.provider: unknownProvider],
        successValues: [.bool(false)],
        successWhenStatusAbsent: true
    )

    /// Kong's log serializer with the AI Proxy plugin's statistics, under `ai.proxy` (3.10 and
    /// the 3.9 code), `ai["ai-proxy"]` (3.7, 3.8; 3.7 with singular token names) or `ai` itself
    /// (3.6). `started_at` is epoch milliseconds; the consumer is absent for anonymous traffic.
    private static let kongMapping: FieldMapping = {
        let sections = ["ai.proxy", "ai.ai-proxy", "ai"]
        func ai(_ tails: String...) -> FieldSource {
            .firstOf(sections.flatMap { base in tails.map { FieldSource.path(path(base + "." + $0)) } })
        }
        return FieldMapping(
            sources: [
                .ts: .path(path("started_at")),
                .requestID: .path(path("request.id")),
                .apiKey: first("consumer.username", "consumer.id"),
                .model: ai("meta.request_model", "meta.response_model"),
                .provider: ai("meta.provider_name"),
                .status: .path(path("response.status")),
                .inputTokens: ai("usage.prompt_tokens", "usage.prompt_token"),
                .outputTokens: ai("usage.completion_tokens", "usage.completion_token"),
                .cachedTokens: ai("usage.prompt_tokens_details.cached_tokens"),
                .reasoningTokens: ai("usage.completion_tokens_details.reasoning_tokens"),
                .latencyMs: .path(path("latencies.request")),
                .ttftMs: ai("usage.time_to_first_token"),
                .costUSD: ai("usage.cost"),
            ],
            units: [.ts: .time(.milliseconds)],
            successValues: [.integerRange(200...299)],
            successWhenStatusAbsent: true,
            // What Kong writes for a model or provider it does not know.
            absentValues: ["UNSPECIFIED"]
        )
    }()

    /// Envoy AI Gateway's JSON access log as its documentation writes it: the `gen_ai.*` keys are
    /// top-level keys with dots in their names. Untyped formats write `"-"` for no value.
    private static let envoy = FieldMapping(
        sources: [
            .ts: .path(path("start_time")),
            .requestID: .path(path("x-request-id")),
            .apiKey: first("x-tenant-id", "x-client-id"),
            .model: first(#"gen_ai\.request\.model"#, #"gen_ai\.response\.model"#),
            .provider: .path(path(#"gen_ai\.provider\.name"#)),
            .status: .path(path("response_code")),
            .inputTokens: .path(path(#"gen_ai\.usage\.input_tokens"#)),
            .outputTokens: .path(path(#"gen_ai\.usage\.output_tokens"#)),
            .cachedTokens: .path(path(#"gen_ai\.usage\.cache_read\.input_tokens"#)),
            .cacheWriteTokens: .path(path(#"gen_ai\.usage\.cache_creation\.input_tokens"#)),
            .reasoningTokens: .path(path(#"gen_ai\.usage\.reasoning_tokens"#)),
            .latencyMs: .path(path("duration")),
            .ttftMs: .path(path("token_latency_ttft")),
        ],
        successValues: [.integerRange(200...299)],
        successWhenStatusAbsent: true,
        absentValues: ["-"]
    )
}
