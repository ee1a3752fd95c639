/// The log formats shipped with tokentally (gateway-log.md, "Field mapping and presets").
public enum FormatPreset: String, CaseIterable, Sendable {
    /// The canonical record: every field under its own name.
    case tokentally
    /// LiteLLM proxy's `StandardLoggingPayload`, one object per line.
    case litellm
    /// ZenMux generation records.
    case zenmux

    public var mapping: FieldMapping {
        switch self {
        case .tokentally: Self.canonical
        case .litellm: Self.liteLLM
        case .zenmux: Self.zenMux
        }
    }

    private static func path(_ dotted: String) -> FieldPath { FieldPath(dotted: dotted)! }

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

    private static let liteLLM = FieldMapping(
        sources: [
            .ts: .path(path("endTime")),
            .requestID: .path(path("id")),
            .apiKey: .path(path("metadata.user_api_key_hash")),
            .model: .path(path("model")),
            .provider: .path(path("custom_llm_provider")),
            .status: .path(path("status")),
            .inputTokens: .path(path("prompt_tokens")),
            .outputTokens: .path(path("completion_tokens")),
            .cachedTokens: .path(path("metadata.usage_object.prompt_tokens_details.cached_tokens")),
            .reasoningTokens: .path(path("metadata.usage_object.completion_tokens_details.reasoning_tokens")),
            .latencyMs: .difference(end: path("endTime"), start: path("startTime"), unit: .seconds),
            .ttftMs: .difference(end: path("completionStartTime"), start: path("startTime"), unit: .seconds),
            .costUSD: .path(path("response_cost")),
        ],
        successValues: [.string("success")],
        successWhenStatusAbsent: true,
        ttftOnlyWhen: path("stream")
    )

    private static let zenMux = FieldMapping(
        sources: [
            .ts: .path(path("createdAt")),
            .requestID: .path(path("generationId")),
            .apiKey: .path(path("apiKeyId")),
            .model: .path(path("modelSlug")),
            .provider: .path(path("providerSlug")),
            // No status field: a record is a success unless `cancelled` is true.
            .status: .path(path("cancelled")),
            .inputTokens: .path(path("nativeTokens.prompt_tokens")),
            .outputTokens: .path(path("nativeTokens.completion_tokens")),
            .cachedTokens: .path(path("nativeTokens.prompt_tokens_details.cached_tokens")),
            .cacheWriteTokens: .sum([
                path("nativeFeeTokens.input_cache_write_5_min"), path("nativeFeeTokens.input_cache_write_1_h"),
            ]),
            .reasoningTokens: .path(path("nativeTokens.completion_tokens_details.reasoning_tokens")),
            .ttftMs: .path(path("latency")),
            .generationMs: .path(path("generationTime")),
            .latencyMs: .sum([path("latency"), path("generationTime")]),
            .costUSD: .path(path("billAmount")),
        ],
        successValues: [.bool(false)],
        successWhenStatusAbsent: true
    )
}
