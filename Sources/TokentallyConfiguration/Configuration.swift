import TokentallySystem
import TokentallyCounting
import TokentallyReading

/// One configured log input: a glob whose matches form a rotated set.
public struct InputConfiguration: Hashable, Sendable {
    /// A glob such as `/var/log/gateway/access.log*`.
    public var path: String
    /// A preset name (`tokentally`, `litellm`, `zenmux`, `openrouter`, `kong`,
    /// `envoy-ai-gateway`) or a name under `formats:`.
    public var format: String
    public var redactKeys: KeyRedaction
    /// The zone of this input's timestamps written without an offset (an IANA name or `local`),
    /// overriding the format's; nil: the format's.
    public var naiveTimezone: String?

    public init(
        path: String, format: String = "tokentally", redactKeys: KeyRedaction = .auto, naiveTimezone: String? = nil
    ) {
        self.path = path
        self.format = format
        self.redactKeys = redactKeys
        self.naiveTimezone = naiveTimezone
    }
}

public struct SnapshotConfiguration: Hashable, Sendable {
    public var directory: String = "/var/lib/tokentally/snapshots"
    public var intervalSeconds: Int = 10
    /// Permission bits of every snapshot file.
    public var fileMode: UInt16 = 0o640
    /// The bucket file layout: 2 (rows as arrays, docs/snapshot-format.md) or 1, kept for one
    /// release for readers that expect rows as objects.
    public var schema: Int = 2
    public init() {}
}

public struct StateConfiguration: Hashable, Sendable {
    public var directory: String = "/var/lib/tokentally/state"
    public var commitIntervalSeconds: Int = 2
    public init() {}
}

public struct JournalConfiguration: Hashable, Sendable {
    public var enabled: Bool = true
    /// Per-model and per-provider entries written at each snapshot.
    public var top: Int = 20
    public init() {}
}

public struct LimitsConfiguration: Hashable, Sendable {
    /// Longer lines are rejected and skipped to their end.
    public var maxLineBytes: Int = 1_048_576
    /// Beyond it, new (key, model, provider) series are counted under `__overflow__`.
    public var maxSeries: Int = 1_000_000
    /// Records dated further ahead of the daemon's wall clock than this are rejected as
    /// `future_timestamp` (docs/log-format.md, "Timestamps").
    public var maxFutureSeconds: Int = 86_400
    public init() {}
}

/// Settings for the dashboard's headline figures.
public struct HighlightsConfiguration: Hashable, Sendable {
    /// The fewest requests a model or provider needs to be named fastest, slowest and so on.
    public var minRequests: Int = 20
    public init() {}
}

/// The lifetime counters that index.json carries and `/metrics` exposes.
public struct LifetimeConfiguration: Hashable, Sendable {
    /// How many API keys get counters of their own (the first ones seen; later keys count as
    /// `__other__`); 0, the default, keeps them per (model, provider) only.
    public var keys: Int = 0
    public init() {}
}

/// `tokentally serve`: the page, the API and the metrics.
public struct ServeConfiguration: Hashable, Sendable {
    /// `host:port` to listen on; loopback by default.
    public var listen: String = "127.0.0.1:8787"
    public init() {}
}

/// `tokentally ship`: the snapshots into ClickHouse.
public struct ShipConfiguration: Hashable, Sendable {
    /// ClickHouse's HTTP interface, `http://[user[:password]@]host[:port]/`; nil: not set.
    public var clickhouse: String? = nil
    public var database: String = "tokentally"
    /// Where ship keeps what it shipped (`ship-state.json`).
    public var stateDirectory: String = "/var/lib/tokentally-ship"
    public var intervalSeconds: Int = 30
    public init() {}
}

/// The whole effective configuration: file values over defaults, environment over both.
public struct Configuration: Hashable, Sendable {
    public var inputs: [InputConfiguration] = []
    /// IANA time zone name that decides day, week and month boundaries.
    public var timezone: String = "UTC"
    /// Regular expression a key value must match for `redact_keys: auto` to hash it.
    public var secretPattern: String = "^(sk|pk|rk)[-_]"
    /// Host name written into snapshots; defaults to the machine's host name.
    public var host: String? = nil
    public var retention = RetentionConfiguration()
    public var snapshot = SnapshotConfiguration()
    public var state = StateConfiguration()
    public var journal = JournalConfiguration()
    public var limits = LimitsConfiguration()
    public var highlights = HighlightsConfiguration()
    public var lifetime = LifetimeConfiguration()
    public var serve = ServeConfiguration()
    public var ship = ShipConfiguration()
    /// User-defined formats by name; presets cannot be redefined.
    public var formats: [String: FieldMapping] = [:]

    public init() {}

    /// The mapping for a format name: a user format, or a preset.
    public func mapping(forFormat name: String) -> FieldMapping? {
        formats[name] ?? FormatPreset(rawValue: name)?.mapping
    }
}
