import TokentallySystem
/// A dotted path into a JSON record: `metadata.user_api_key_hash` is `["metadata", "user_api_key_hash"]`.
/// A key that itself holds a dot (Envoy AI Gateway's `gen_ai.usage.input_tokens`) is written with
/// the dot escaped: `gen_ai\.usage\.input_tokens` is one component.
public struct FieldPath: Hashable, Sendable, CustomStringConvertible {
    /// The object keys to follow, outermost first. Never empty.
    public var components: [String]

    public init(_ components: [String]) {
        precondition(!components.isEmpty, "a field path names at least one key")
        self.components = components
    }

    /// Splits `a.b.c` on dots; `\.` is a dot inside a key and `\\` a backslash. Returns nil for
    /// an empty path, an empty component or a backslash before anything else.
    public init?(dotted: String) {
        var parts: [String] = []
        var current = ""
        var escaped = false
        for character in dotted {
            if escaped {
                guard character == "." || character == "\\" else { return nil }
                current.append(character)
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else if character == "." {
                parts.append(current)
                current = ""
            } else {
                current.append(character)
            }
        }
        guard !escaped else { return nil }
        parts.append(current)
        guard !parts.contains(where: \.isEmpty) else { return nil }
        self.components = parts
    }

    /// The dotted form, with dots and backslashes inside keys escaped.
    public var description: String {
        components.map { $0.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: ".", with: "\\.") }
            .joined(separator: ".")
    }
}

/// The unit of numeric times in a record: epoch numbers, or the two ends of a `difference`.
public enum TimeUnit: String, Sendable, Hashable, CaseIterable {
    case seconds = "s"
    case milliseconds = "ms"
    case microseconds = "us"
    case nanoseconds = "ns"

    /// Seconds in one of this unit.
    public var seconds: Double {
        switch self {
        case .seconds: 1
        case .milliseconds: 1e-3
        case .microseconds: 1e-6
        case .nanoseconds: 1e-9
        }
    }
}

/// The unit of a record's cost: whatever it is, it is counted in nano-dollars, exactly.
public enum CostUnit: String, Sendable, Hashable, CaseIterable {
    case usd
    case cents
    case microUSD = "micro_usd"
    case nanoUSD = "nano_usd"

    /// The power of ten that turns one of this unit into dollars.
    var powerOfTen: Int {
        switch self {
        case .usd: 0
        case .cents: -2
        case .microUSD: -6
        case .nanoUSD: -9
        }
    }
}

/// The unit a mapped number is written in: times for `ts` (epoch numbers) and the durations,
/// money for `cost_usd`.
public enum ValueUnit: Hashable, Sendable, CustomStringConvertible {
    case time(TimeUnit)
    case cost(CostUnit)

    public var description: String {
        switch self {
        case .time(let unit): unit.rawValue
        case .cost(let unit): unit.rawValue
        }
    }
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
    /// The first of these that is present: a path whose value is neither absent, null, `""` nor
    /// one of the format's `absent_values`; a sum with any part present; a difference with both
    /// ends present. The alternatives are paths, sums or differences, never alternatives again.
    case firstOf([FieldSource])

    /// Every path this source reads.
    public var paths: [FieldPath] {
        switch self {
        case .path(let path): [path]
        case .sum(let paths): paths
        case .difference(let end, let start, _): [end, start]
        case .firstOf(let alternatives): alternatives.flatMap(\.paths)
        }
    }

    /// Whether a numeric field is needed for it (a sum or a difference, in any alternative).
    var isNumericOnly: Bool {
        switch self {
        case .path: false
        case .sum, .difference: true
        case .firstOf(let alternatives): alternatives.contains(where: \.isNumericOnly)
        }
    }

    public var description: String {
        switch self {
        case .path(let path): path.description
        case .sum(let paths): "[" + paths.map(\.description).joined(separator: ", ") + "]"
        case .difference(let end, let start, let unit): "\(end) - \(start) (\(unit.rawValue))"
        case .firstOf(let alternatives): "first of (" + alternatives.map(\.description).joined(separator: ", ") + ")"
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

/// The canonical fields of a gateway record (docs/log-format.md), in a fixed order.
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

    /// Fields without which a record is rejected, unless the format gives them a default. The
    /// key is not among them: a record that names no key is counted under `noKeyPlaceholder`.
    static let required: [CanonicalField] = [.ts, .model, .provider]

    /// The key a record is counted under when it carries none (unauthenticated or master-key
    /// traffic, a source that logs no key): real usage is never rejected for lack of a key.
    public static let noKeyPlaceholder = "__no_key__"

    /// Whether a value for this field may be a `sum` or a `difference`.
    public var isNumeric: Bool {
        switch self {
        case .ts, .requestID, .apiKey, .model, .provider, .status: false
        default: true
        }
    }

    /// Whether the field is text that is kept (and so may have a default).
    public var isKeptText: Bool {
        switch self {
        case .requestID, .apiKey, .model, .provider: true
        default: false
        }
    }

    /// The kind of unit its numbers may be given in, if any.
    public var acceptsTimeUnit: Bool {
        switch self {
        case .ts, .latencyMs, .ttftMs, .generationMs: true
        default: false
        }
    }
}

/// How a log format maps onto canonical fields: the presets and user formats share this form.
public struct FieldMapping: Hashable, Sendable {
    /// Where each mapped canonical field comes from. A field with no entry is absent.
    public var sources: [CanonicalField: FieldSource]
    /// Text for a kept field (`api_key`, `model`, `provider`, `request_id`) that a record lacks:
    /// the key or provider a source never carries.
    public var defaults: [CanonicalField: String]
    /// The unit of a field's numbers when it is not the canonical one (epoch numbers for `ts`
    /// by the seconds-or-milliseconds rule, milliseconds for durations, dollars for cost).
    public var units: [CanonicalField: ValueUnit]
    /// Values of the status field that mean success. Integers may be ranges (`200-299`).
    public var successValues: [StatusValue]
    /// Whether a record without a status value counts as a success.
    public var successWhenStatusAbsent: Bool
    /// A boolean path that must be `true` for `ttft_ms` to be taken (LiteLLM's `stream`).
    public var ttftOnlyWhen: FieldPath?
    /// Whether a time to first token as long as the whole latency is taken as absent: LiteLLM
    /// writes the end time as the first token's when it saw none, even for streams.
    public var ttftAtLatencyIsAbsent: Bool
    /// Strings that mean "no value" wherever they appear in a mapped field (Envoy's `"-"`).
    public var absentValues: [String]
    /// The IANA zone of timestamps written without an offset (`2025-01-24 09:20:46.847371`), or
    /// `local` for this host's zone; an input may override it.
    public var naiveTimezone: String

    public init(
        sources: [CanonicalField: FieldSource],
        defaults: [CanonicalField: String] = [:],
        units: [CanonicalField: ValueUnit] = [:],
        successValues: [StatusValue],
        successWhenStatusAbsent: Bool = true,
        ttftOnlyWhen: FieldPath? = nil,
        ttftAtLatencyIsAbsent: Bool = false,
        absentValues: [String] = [],
        naiveTimezone: String = "UTC"
    ) {
        self.sources = sources
        self.defaults = defaults
        self.units = units
        self.successValues = successValues
        self.successWhenStatusAbsent = successWhenStatusAbsent
        self.ttftOnlyWhen = ttftOnlyWhen
        self.ttftAtLatencyIsAbsent = ttftAtLatencyIsAbsent
        self.absentValues = absentValues
        self.naiveTimezone = naiveTimezone
    }

    /// The required canonical fields that this mapping names neither a source nor a default for.
    public var missingRequiredFields: [CanonicalField] {
        CanonicalField.required.filter { sources[$0] == nil && defaults[$0] == nil }
    }
}
