/// A dotted path into a JSON record: `metadata.user_api_key_hash` is `["metadata", "user_api_key_hash"]`.
public struct FieldPath: Hashable, Sendable, CustomStringConvertible {
    /// The object keys to follow, outermost first. Never empty.
    public var components: [String]

    public init(_ components: [String]) {
        precondition(!components.isEmpty, "a field path names at least one key")
        self.components = components
    }

    /// Splits `a.b.c` on dots. Returns nil for an empty path or an empty component.
    public init?(dotted: String) {
        let parts = dotted.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard !parts.isEmpty, !parts.contains(where: \.isEmpty) else { return nil }
        self.components = parts
    }

    public var description: String { components.joined(separator: ".") }
}

/// The unit of numeric times in a `difference` source.
public enum TimeUnit: String, Sendable, Hashable, CaseIterable {
    case seconds = "s"
    case milliseconds = "ms"
}

/// Where one canonical field's value comes from in a record.
public enum FieldSource: Hashable, Sendable, CustomStringConvertible {
    /// The value at one path.
    case path(FieldPath)
    /// The sum of the numeric values at several paths; absent paths count as zero, and the
    /// field is absent only when every path is.
    case sum([FieldPath])
    /// `end - start`, two times (epoch numbers in `unit`, or timestamp strings), in milliseconds.
    case difference(end: FieldPath, start: FieldPath, unit: TimeUnit)

    /// Every path this source reads.
    public var paths: [FieldPath] {
        switch self {
        case .path(let path): [path]
        case .sum(let paths): paths
        case .difference(let end, let start, _): [end, start]
        }
    }

    public var description: String {
        switch self {
        case .path(let path): path.description
        case .sum(let paths): "[" + paths.map(\.description).joined(separator: ", ") + "]"
        case .difference(let end, let start, let unit): "\(end) - \(start) (\(unit.rawValue))"
        }
    }
}

/// A JSON scalar that a `status` field may hold, for lists of success values.
public enum StatusValue: Hashable, Sendable, CustomStringConvertible {
    case integer(Int64)
    case integerRange(ClosedRange<Int64>)
    case bool(Bool)
    case string(String)

    public var description: String {
        switch self {
        case .integer(let value): String(value)
        case .integerRange(let range): "\(range.lowerBound)-\(range.upperBound)"
        case .bool(let value): String(value)
        case .string(let value): "\"\(value)\""
        }
    }
}

/// The canonical fields of a gateway record (gateway-log.md), in a fixed order.
public enum CanonicalField: String, CaseIterable, Sendable, Hashable {
    case ts
    case requestID = "request_id"
    case apiKey = "api_key"
    case model
    case provider
    case status
    case inputTokens = "input_tokens"
    case outputTokens = "output_tokens"
    case cachedTokens = "cached_tokens"
    case cacheWriteTokens = "cache_write_tokens"
    case reasoningTokens = "reasoning_tokens"
    case webSearchCalls = "web_search_calls"
    case latencyMs = "latency_ms"
    case ttftMs = "ttft_ms"
    case generationMs = "generation_ms"
    case costUSD = "cost_usd"

    /// Fields without which a record is rejected.
    public static let required: [CanonicalField] = [.ts, .apiKey, .model, .provider]

    /// Whether a value for this field may be a `sum` or a `difference`.
    public var isNumeric: Bool {
        switch self {
        case .ts, .requestID, .apiKey, .model, .provider, .status: false
        default: true
        }
    }
}

/// How a log format maps onto canonical fields: the presets and user formats share this form.
public struct FieldMapping: Hashable, Sendable {
    /// Where each mapped canonical field comes from. A field with no entry is absent.
    public var sources: [CanonicalField: FieldSource]
    /// Values of the status field that mean success. Integers may be ranges (`200-299`).
    public var successValues: [StatusValue]
    /// Whether a record without a status value counts as a success.
    public var successWhenStatusAbsent: Bool
    /// A boolean path that must be `true` for `ttft_ms` to be taken (LiteLLM's `stream`).
    public var ttftOnlyWhen: FieldPath?

    public init(
        sources: [CanonicalField: FieldSource],
        successValues: [StatusValue],
        successWhenStatusAbsent: Bool = true,
        ttftOnlyWhen: FieldPath? = nil
    ) {
        self.sources = sources
        self.successValues = successValues
        self.successWhenStatusAbsent = successWhenStatusAbsent
        self.ttftOnlyWhen = ttftOnlyWhen
    }

    /// The required canonical fields that this mapping names no source for.
    public var missingRequiredFields: [CanonicalField] {
        CanonicalField.required.filter { sources[$0] == nil }
    }
}
