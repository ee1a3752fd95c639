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

private let configFile = "/etc/tokentally/tokentally.yaml"

private func load(_ yaml: String, environment: [String: String] = [:]) throws(ConfigurationError) -> Configuration {
    try ConfigurationLoader.load(yaml: yaml, file: configFile, environment: environment)
}

/// The error a load throws, or nil when it succeeds.
private func loadError(_ yaml: String, environment: [String: String] = [:]) -> ConfigurationError? {
    do {
        _ = try load(yaml, environment: environment)
        return nil
    } catch {
        return error
    }
}

/// The package's root, found from this file's place in it.
private let packageRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

private let exampleConfigPath = packageRoot.appendingPathComponent("config/tokentally.yaml").path

private func path(_ dotted: String) -> FieldPath { FieldPath(dotted: dotted)! }

/// The configuration loader: errors, defaults, environment overrides, user formats, the
/// example file and the effective settings.
@Suite struct ConfigurationTests {}

// MARK: - Errors

/// A config that must fail, and what its one-line error must say.
struct BadConfiguration: Sendable, CustomTestStringConvertible {
    var name: String
    var yaml: String
    var environment: [String: String] = [:]
    var code: ConfigurationError.Code
    /// The key path (file errors) or the variable (environment errors) the line must name.
    var names: String
    var line: Int? = nil
    /// Further text the line must contain: the bad value, a suggestion.
    var mentions: [String] = []

    var testDescription: String { name }
}

private let badConfigurations: [BadConfiguration] = [
    BadConfiguration(
        name: "unknown top-level key",
        yaml: "inputz: []\n",
        code: .unknownKey,
        names: "inputz",
        line: 1,
        mentions: ["did you mean inputs?"]
    ),
    BadConfiguration(
        name: "unknown key in a section",
        yaml: "limits:\n  max_serie: 5\n",
        code: .unknownKey,
        names: "limits.max_serie",
        line: 2,
        mentions: ["did you mean max_series?", "max_line_bytes, max_series"]
    ),
    BadConfiguration(
        name: "unknown key in an input",
        yaml: "inputs:\n  - path: /var/log/a.log\n  - path: /var/log/b.log\n    formt: litellm\n",
        code: .unknownKey,
        names: "inputs[1].formt",
        line: 4,
        mentions: ["did you mean format?"]
    ),
    BadConfiguration(
        name: "unknown field in a format",
        yaml: "formats:\n  gw:\n    ts: t\n    api_key: k\n    model: m\n    provider: p\n    tokens_in: usage.in\n",
        code: .unknownKey,
        names: "formats.gw.tokens_in",
        line: 7,
        mentions: ["input_tokens"]
    ),
    BadConfiguration(
        name: "unknown key in a difference",
        yaml: "formats:\n  gw: {ts: t, api_key: k, model: m, provider: p, latency_ms: {end: e, begin: b, unit: s}}\n",
        code: .unknownKey,
        names: "formats.gw.latency_ms.begin",
        mentions: ["end, start, unit"]
    ),
    BadConfiguration(
        name: "text for a number",
        yaml: "limits:\n  max_series: lots\n",
        code: .wrongType,
        names: "limits.max_series",
        line: 2,
        mentions: ["got \"lots\"", "default 1000000"]
    ),
    BadConfiguration(
        name: "fraction for a number",
        yaml: "snapshot: {interval_seconds: 1.5}\n",
        code: .wrongType,
        names: "snapshot.interval_seconds",
        mentions: ["from 1 to 86400", "\"1.5\""]
    ),
    BadConfiguration(
        name: "list for a section",
        yaml: "snapshot:\n  - directory: /tmp\n",
        code: .wrongType,
        names: "snapshot",
        line: 2,
        mentions: ["got a list"]
    ),
    BadConfiguration(
        name: "mapping for a scalar",
        yaml: "timezone: {name: UTC}\n",
        code: .wrongType,
        names: "timezone",
        mentions: ["got a mapping"]
    ),
    BadConfiguration(
        name: "text for a flag",
        yaml: "journal:\n  enabled: sometimes\n",
        code: .wrongType,
        names: "journal.enabled",
        mentions: ["true or false", "\"sometimes\""]
    ),
    BadConfiguration(
        name: "mapping for inputs",
        yaml: "inputs:\n  path: /var/log/a.log\n",
        code: .wrongType,
        names: "inputs",
        mentions: ["- path:"]
    ),
    BadConfiguration(
        name: "a list as the whole document",
        yaml: "- a\n- b\n",
        code: .wrongType,
        names: configFile,
        mentions: ["top level"]
    ),
    BadConfiguration(
        name: "a sum for a text field",
        yaml: "formats:\n  gw: {ts: t, api_key: k, model: [a, b], provider: p}\n",
        code: .wrongType,
        names: "formats.gw.model",
        mentions: ["only for numeric fields"]
    ),
    BadConfiguration(
        name: "zero days",
        yaml: "retention:\n  days: 0\n",
        code: .outOfRange,
        names: "retention.days",
        line: 2,
        mentions: ["from 1 to 100000", "got \"0\"", "default 62"]
    ),
    BadConfiguration(
        name: "line limit below 1 KiB",
        yaml: "limits: {max_line_bytes: 100}\n",
        code: .outOfRange,
        names: "limits.max_line_bytes",
        mentions: ["from 1024 to 1073741824"]
    ),
    BadConfiguration(
        name: "a number beyond 64 bits",
        yaml: "limits:\n  max_series: 99999999999999999999999\n",
        code: .outOfRange,
        names: "limits.max_series",
        mentions: ["99999999999999999999999"]
    ),
    BadConfiguration(
        name: "negative top count",
        yaml: "journal:\n  top: -3\n",
        code: .outOfRange,
        names: "journal.top",
        mentions: ["from 1 to 10000"]
    ),
    BadConfiguration(
        name: "file mode with setuid bits",
        yaml: "snapshot:\n  file_mode: \"4755\"\n",
        code: .outOfRange,
        names: "snapshot.file_mode",
        mentions: ["0000 to 0777"]
    ),
    BadConfiguration(
        name: "file mode that is not octal",
        yaml: "snapshot:\n  file_mode: rw-r-----\n",
        code: .wrongType,
        names: "snapshot.file_mode",
        mentions: ["octal"]
    ),
    BadConfiguration(
        name: "unknown time zone",
        yaml: "timezone: Europe/Pari\n",
        code: .unknownTimeZone,
        names: "timezone",
        line: 1,
        mentions: ["\"Europe/Pari\"", "IANA"]
    ),
    BadConfiguration(
        name: "an input's format that nobody defined",
        yaml: "inputs:\n  - path: /var/log/a.log\n    format: mygw\n"
            + "formats:\n  other: {ts: t, api_key: k, model: m, provider: p}\n",
        code: .unknownFormat,
        names: "inputs[0].format",
        line: 3,
        mentions: ["\"mygw\"", "litellm", "defined: other"]
    ),
    BadConfiguration(
        name: "a format without provider",
        yaml: "formats:\n  gw:\n    ts: time\n    api_key: auth.key_id\n    model: model\n",
        code: .missingRequiredField,
        names: "formats.gw.provider",
        line: 2,
        mentions: ["format gw", "required field provider"]
    ),
    BadConfiguration(
        name: "a format without several required fields",
        yaml: "formats:\n  gw:\n    ts: time\n",
        code: .missingRequiredField,
        names: "formats.gw.model",
        mentions: ["also missing: provider"]
    ),
    BadConfiguration(
        name: "an input without path",
        yaml: "inputs:\n  - format: litellm\n",
        code: .missingRequiredField,
        names: "inputs[0].path",
        line: 2
    ),
    BadConfiguration(
        name: "a difference without unit",
        yaml: "formats:\n  gw: {ts: t, api_key: k, model: m, provider: p, latency_ms: {end: e, start: s}}\n",
        code: .missingRequiredField,
        names: "formats.gw.latency_ms.unit",
        mentions: ["s, ms, us or ns"]
    ),
    BadConfiguration(
        name: "a secret pattern that does not compile",
        yaml: "secret_pattern: \"(sk\"\n",
        code: .invalidPattern,
        names: "secret_pattern",
        line: 1,
        mentions: ["regular expression", "\"(sk\""]
    ),
    BadConfiguration(
        name: "broken YAML",
        yaml: "limits:\n  max_series: [1,\n  top: 3\n",
        code: .invalidYAML,
        names: configFile,
        mentions: ["not valid YAML"]
    ),
    BadConfiguration(
        name: "tab indentation",
        yaml: "limits:\n\tmax_series: 5\n",
        code: .invalidYAML,
        names: configFile,
        line: 2
    ),
    BadConfiguration(
        name: "the same key twice",
        yaml: "timezone: UTC\nhost: a\ntimezone: Europe/Berlin\n",
        code: .duplicateKey,
        names: configFile,
        mentions: ["\"timezone\""]
    ),
    BadConfiguration(
        name: "a user format named like a preset",
        yaml: "formats:\n  litellm: {ts: t, api_key: k, model: m, provider: p}\n",
        code: .presetRedefined,
        names: "formats.litellm",
        line: 2,
        mentions: ["preset"]
    ),
    BadConfiguration(
        name: "an unknown redaction",
        yaml: "inputs:\n  - path: /var/log/a.log\n    redact_keys: maybe\n",
        code: .invalidValue,
        names: "inputs[0].redact_keys",
        line: 3,
        mentions: ["auto, hash, none", "\"maybe\""]
    ),
    BadConfiguration(
        name: "a path with an empty part",
        yaml: "formats:\n  gw: {ts: t, api_key: auth..key, model: m, provider: p}\n",
        code: .invalidValue,
        names: "formats.gw.api_key",
        mentions: ["\"auth..key\""]
    ),
    BadConfiguration(
        name: "an unknown time unit",
        yaml: "formats:\n  gw: {ts: t, api_key: k, model: m, provider: p, latency_ms: {end: e, start: s, unit: h}}\n",
        code: .invalidValue,
        names: "formats.gw.latency_ms.unit",
        mentions: ["s, ms, us, ns"]
    ),
    BadConfiguration(
        name: "a backwards status range",
        yaml: "formats:\n  gw: {ts: t, api_key: k, model: m, provider: p, success_values: [\"299-200\"]}\n",
        code: .invalidValue,
        names: "formats.gw.success_values[0]",
        mentions: ["\"299-200\""]
    ),
    BadConfiguration(
        name: "the same input twice",
        yaml: "inputs:\n  - path: /var/log/a.log\n  - path: /var/log/a.log\n",
        code: .invalidValue,
        names: "inputs[1].path",
        line: 3,
        mentions: ["inputs[0]"]
    ),
    BadConfiguration(
        name: "a host with a line break",
        yaml: "host: \"gw\\nevil\"\n",
        code: .invalidValue,
        names: "host",
        mentions: ["gw\\nevil"]
    ),
    BadConfiguration(
        name: "an empty directory",
        yaml: "state:\n  directory: \"\"\n",
        code: .invalidValue,
        names: "state.directory",
        mentions: ["empty"]
    ),
    BadConfiguration(
        name: "a bad number in the environment",
        yaml: "limits:\n  max_series: 5\n",
        environment: ["TOKENTALLY_LIMITS_MAX_SERIES": "lots"],
        code: .wrongType,
        names: "TOKENTALLY_LIMITS_MAX_SERIES",
        mentions: ["got \"lots\"", "unset the variable"]
    ),
    BadConfiguration(
        name: "an out-of-range number in the environment",
        yaml: "",
        environment: ["TOKENTALLY_SNAPSHOT_INTERVAL_SECONDS": "86401"],
        code: .outOfRange,
        names: "TOKENTALLY_SNAPSHOT_INTERVAL_SECONDS",
        mentions: ["from 1 to 86400"]
    ),
    BadConfiguration(
        name: "an unknown time zone in the environment",
        yaml: "",
        environment: ["TOKENTALLY_TIMEZONE": "Mars/Olympus"],
        code: .unknownTimeZone,
        names: "TOKENTALLY_TIMEZONE"
    ),
    BadConfiguration(
        name: "a bad pattern in the environment",
        yaml: "",
        environment: ["TOKENTALLY_SECRET_PATTERN": "[sk"],
        code: .invalidPattern,
        names: "TOKENTALLY_SECRET_PATTERN"
    ),
    BadConfiguration(
        name: "a misspelt variable",
        yaml: "",
        environment: ["TOKENTALLY_LIMIT_MAX_SERIES": "5"],
        code: .unknownKey,
        names: "TOKENTALLY_LIMIT_MAX_SERIES",
        mentions: ["did you mean TOKENTALLY_LIMITS_MAX_SERIES?"]
    ),
    BadConfiguration(
        name: "inputs from the environment",
        yaml: "",
        environment: ["TOKENTALLY_INPUTS": "/var/log/a.log"],
        code: .unknownKey,
        names: "TOKENTALLY_INPUTS",
        mentions: ["only be set in the config file"]
    ),
]

extension ConfigurationTests {
    @Test(arguments: badConfigurations)
    func badConfigurationIsOneLineNamingTheKey(_ bad: BadConfiguration) throws {
        let error = try #require(loadError(bad.yaml, environment: bad.environment))
        let line = error.description
        #expect(error.code == bad.code, "\(line)")
        #expect(!line.contains("\n") && !line.contains("\r"), "\(line)")
        #expect(line.contains(bad.names), "\(line)")
        if bad.environment.isEmpty {
            #expect(line.hasPrefix(configFile + ":"), "\(line)")
            #expect(error.origin == .file(configFile))
        } else {
            #expect(line.hasPrefix("environment variable \(bad.names): "), "\(line)")
            #expect(error.origin == .environment(bad.names))
        }
        if let expectedLine = bad.line {
            #expect(error.line == expectedLine, "\(line)")
            #expect(line.hasPrefix("\(configFile):\(expectedLine): "), "\(line)")
        }
        for text in bad.mentions {
            #expect(line.contains(text), "\(line) should mention \(text)")
        }
    }

    @Test func outOfRangeLineReadsAsDocumented() throws {
        let error = try #require(loadError("limits:\n  max_series: lots\n"))
        #expect(
            error.description
                == "/etc/tokentally/tokentally.yaml:2: limits.max_series: expected a whole number from 1 to 100000000, "
                + "got \"lots\"; fix the value or remove the key to use the default 1000000"
        )
        #expect(error.keyPath == "limits.max_series")
    }

    @Test func environmentErrorReadsAsDocumented() throws {
        let error = try #require(loadError("", environment: ["TOKENTALLY_JOURNAL_TOP": "0"]))
        #expect(
            error.description
                == "environment variable TOKENTALLY_JOURNAL_TOP: expected a whole number from 1 to 10000, got \"0\"; "
                + "fix the value or unset the variable"
        )
        #expect(error.keyPath == "journal.top")
    }

    @Test func everyErrorCodeIsExercised() {
        var codes = Set(badConfigurations.map(\.code))
        // Thrown by `load(file:)` and `validateForDaemon`, tested below.
        codes.formUnion([.unreadableFile, .noInputs])
        #expect(codes == Set(ConfigurationError.Code.allCases))
    }

    @Test func missingFileSaysHowToFixIt() throws {
        let missing = "/nonexistent/tokentally-\(UUID().uuidString).yaml"
        let error = try #require(throws: ConfigurationError.self) {
            try ConfigurationLoader.load(file: missing, environment: [:])
        }
        #expect(error.code == .unreadableFile)
        #expect(error.description.hasPrefix(missing + ": no such config file"))
        #expect(error.description.contains("--config"))
        #expect(!error.description.contains("\n"))
    }

    @Test func directoryIsNotAConfigFile() throws {
        let error = try #require(throws: ConfigurationError.self) {
            try ConfigurationLoader.load(file: NSTemporaryDirectory(), environment: [:])
        }
        #expect(error.code == .unreadableFile)
        #expect(error.description.contains("is a directory"))
    }

    @Test func fileThatIsNotUTF8IsRejected() throws {
        let file = NSTemporaryDirectory() + "tokentally-\(UUID().uuidString).yaml"
        try Data([0x74, 0x69, 0x6D, 0x65, 0x7A, 0x6F, 0x6E, 0x65, 0x3A, 0x20, 0xFF, 0xFE, 0x0A])
            .write(to: URL(fileURLWithPath: file))
        defer { try? FileManager.default.removeItem(atPath: file) }
        let error = try #require(throws: ConfigurationError.self) {
            try ConfigurationLoader.load(file: file, environment: [:])
        }
        #expect(error.code == .invalidYAML)
        #expect(error.description == "\(file): is not UTF-8 text; save the config file as UTF-8")
    }

    @Test func daemonNeedsAnInput() throws {
        let configuration = try load("timezone: UTC\n")
        #expect(configuration.inputs.isEmpty)
        let error = try #require(throws: ConfigurationError.self) {
            try ConfigurationLoader.validateForDaemon(configuration, file: "/srv/t.yaml")
        }
        #expect(error.code == .noInputs)
        #expect(error.description.hasPrefix("/srv/t.yaml: inputs: no input is configured"))
        #expect(!error.description.contains("\n"))

        try ConfigurationLoader.validateForDaemon(try load("inputs:\n  - path: /var/log/a.log\n"))
    }
}

// MARK: - Defaults

extension ConfigurationTests {
    @Test func emptyDocumentGivesTheDefaults() throws {
        #expect(try load("") == Configuration())
        #expect(try load("# nothing but a comment\n") == Configuration())
    }

    @Test func defaultsAreTheDocumentedOnes() {
        let defaults = Configuration()
        #expect(defaults.inputs.isEmpty)
        #expect(defaults.timezone == "UTC")
        #expect(defaults.secretPattern == "^(sk|pk|rk)[-_]")
        #expect(defaults.host == nil)
        #expect(defaults.retention == RetentionConfiguration(days: 62, weeks: 27, months: 25))
        #expect(defaults.snapshot.directory == "/var/lib/tokentally/snapshots")
        #expect(defaults.snapshot.intervalSeconds == 10)
        #expect(defaults.snapshot.fileMode == 0o640)
        #expect(defaults.state.directory == "/var/lib/tokentally/state")
        #expect(defaults.state.commitIntervalSeconds == 2)
        #expect(defaults.journal.enabled)
        #expect(defaults.journal.top == 20)
        #expect(defaults.limits.maxLineBytes == 1_048_576)
        #expect(defaults.limits.maxSeries == 1_000_000)
        #expect(defaults.highlights.minRequests == 20)
        #expect(defaults.formats.isEmpty)
    }

    @Test func emptyValuesKeepTheDefaults() throws {
        let yaml = """
            inputs:
            timezone:
            host: ~
            retention:
            snapshot:
              directory: null
            limits:
              max_series:
            formats:
            """
        #expect(try load(yaml) == Configuration())
    }

    @Test func inputDefaultsToTheCanonicalFormatAndAutoRedaction() throws {
        let configuration = try load("inputs:\n  - path: /var/log/gateway/access.log*\n")
        #expect(
            configuration.inputs == [
                InputConfiguration(path: "/var/log/gateway/access.log*", format: "tokentally", redactKeys: .auto)
            ])
    }
}

// MARK: - A full file

private let fullFile = """
    inputs:
      - path: /var/log/gateway/access.log*
        format: litellm
        redact_keys: hash
      - path: /var/log/other/*.jsonl
        format: acme          # defined below: formats may follow the inputs that use them
        redact_keys: none
      - path: /var/log/zen.log
        format: zenmux
    timezone: Europe/Berlin
    secret_pattern: "^key-[0-9a-f]{8}"
    host: gw-eu-1
    retention: {days: 90, weeks: 52, months: 36}
    snapshot:
      directory: /srv/tokentally/snapshots
      interval_seconds: 30
      file_mode: "0644"
    state:
      directory: /srv/tokentally/state
      commit_interval_seconds: 5
    journal:
      enabled: false
      top: 50
    limits:
      max_line_bytes: 2_097_152
      max_series: 5000
    highlights:
      min_requests: 100
    formats:
      acme:
        ts: time
        api_key: auth.key_id
        model: request.model
        provider: upstream.name
    """

extension ConfigurationTests {
    @Test func fullFileSetsEveryValue() throws {
        let configuration = try load(fullFile)
        #expect(
            configuration.inputs == [
                InputConfiguration(path: "/var/log/gateway/access.log*", format: "litellm", redactKeys: .hash),
                InputConfiguration(path: "/var/log/other/*.jsonl", format: "acme", redactKeys: KeyRedaction.none),
                InputConfiguration(path: "/var/log/zen.log", format: "zenmux", redactKeys: .auto),
            ]
        )
        #expect(configuration.timezone == "Europe/Berlin")
        #expect(configuration.secretPattern == "^key-[0-9a-f]{8}")
        #expect(configuration.host == "gw-eu-1")
        #expect(configuration.retention == RetentionConfiguration(days: 90, weeks: 52, months: 36))
        #expect(configuration.snapshot.directory == "/srv/tokentally/snapshots")
        #expect(configuration.snapshot.intervalSeconds == 30)
        #expect(configuration.snapshot.fileMode == 0o644)
        #expect(configuration.state.directory == "/srv/tokentally/state")
        #expect(configuration.state.commitIntervalSeconds == 5)
        #expect(configuration.journal.enabled == false)
        #expect(configuration.journal.top == 50)
        #expect(configuration.limits.maxLineBytes == 2_097_152)
        #expect(configuration.limits.maxSeries == 5000)
        #expect(configuration.highlights.minRequests == 100)
        #expect(Set(configuration.formats.keys) == ["acme"])
        #expect(configuration.mapping(forFormat: "acme")?.sources[.apiKey] == .path(path("auth.key_id")))
    }

    @Test(arguments: [
        ("\"0640\"", UInt16(0o640)), ("0640", 0o640), ("640", 0o640), ("0o640", 0o640), ("\"0750\"", 0o750),
        ("600", 0o600), ("0", 0),
    ])
    func fileModeDigitsAreOctal(_ written: String, _ mode: UInt16) throws {
        #expect(try load("snapshot:\n  file_mode: \(written)\n").snapshot.fileMode == mode)
    }

    @Test(arguments: [("true", true), ("false", false), ("yes", true), ("off", false), ("1", true), ("0", false)])
    func flagSpellings(_ written: String, _ value: Bool) throws {
        #expect(try load("journal:\n  enabled: \(written)\n").journal.enabled == value)
        #expect(try load("", environment: ["TOKENTALLY_JOURNAL_ENABLED": written]).journal.enabled == value)
    }

    @Test func rangeBoundsAreAccepted() throws {
        let configuration = try load("limits: {max_line_bytes: 1024, max_series: 100000000}\nretention: {days: 1}\n")
        #expect(configuration.limits.maxLineBytes == 1024)
        #expect(configuration.limits.maxSeries == 100_000_000)
        #expect(configuration.retention.days == 1)
        #expect(loadError("limits: {max_line_bytes: 1073741825}")?.code == .outOfRange)
        #expect(try load("limits: {max_line_bytes: 1073741824}").limits.maxLineBytes == 1_073_741_824)
    }
}

// MARK: - Environment

extension ConfigurationTests {
    @Test func environmentOverridesTheFile() throws {
        let environment = [
            "TOKENTALLY_TIMEZONE": "America/New_York",
            "TOKENTALLY_SECRET_PATTERN": "^secret_",
            "TOKENTALLY_HOST": "gw-us-2",
            "TOKENTALLY_RETENTION_DAYS": "7",
            "TOKENTALLY_RETENTION_WEEKS": "8",
            "TOKENTALLY_RETENTION_MONTHS": "9",
            "TOKENTALLY_SNAPSHOT_DIRECTORY": "/run/snapshots",
            "TOKENTALLY_SNAPSHOT_INTERVAL_SECONDS": "60",
            "TOKENTALLY_SNAPSHOT_FILE_MODE": "0600",
            "TOKENTALLY_SNAPSHOT_SCHEMA": "1",
            "TOKENTALLY_STATE_DIRECTORY": "/run/state",
            "TOKENTALLY_STATE_COMMIT_INTERVAL_SECONDS": "1",
            "TOKENTALLY_JOURNAL_ENABLED": "true",
            "TOKENTALLY_JOURNAL_TOP": "3",
            "TOKENTALLY_LIMITS_MAX_LINE_BYTES": "4096",
            "TOKENTALLY_LIMITS_MAX_SERIES": "77",
            "TOKENTALLY_LIMITS_MAX_FUTURE_SECONDS": "600",
            "TOKENTALLY_HIGHLIGHTS_MIN_REQUESTS": "5",
            "TOKENTALLY_LIFETIME_KEYS": "12",
            "TOKENTALLY_SERVE_LISTEN": "[::1]:9000",
            "TOKENTALLY_SHIP_CLICKHOUSE": "http://ch.internal:8123/",
            "TOKENTALLY_SHIP_DATABASE": "usage_2",
            "TOKENTALLY_SHIP_STATE_DIRECTORY": "/run/ship",
            "TOKENTALLY_SHIP_INTERVAL_SECONDS": "5",
            // Not settings: the config path is the command line's, the others are not ours.
            "TOKENTALLY_CONFIG": "/elsewhere.yaml",
            "PATH": "/usr/bin",
            "tokentally_host": "lowercase-is-not-ours",
        ]
        let configuration = try load(fullFile, environment: environment)
        #expect(configuration.timezone == "America/New_York")
        #expect(configuration.secretPattern == "^secret_")
        #expect(configuration.host == "gw-us-2")
        #expect(configuration.retention == RetentionConfiguration(days: 7, weeks: 8, months: 9))
        #expect(configuration.snapshot.directory == "/run/snapshots")
        #expect(configuration.snapshot.intervalSeconds == 60)
        #expect(configuration.snapshot.fileMode == 0o600)
        #expect(configuration.snapshot.schema == 1)
        #expect(configuration.state.directory == "/run/state")
        #expect(configuration.state.commitIntervalSeconds == 1)
        #expect(configuration.journal.enabled == true)
        #expect(configuration.journal.top == 3)
        #expect(configuration.limits.maxLineBytes == 4096)
        #expect(configuration.limits.maxSeries == 77)
        #expect(configuration.limits.maxFutureSeconds == 600)
        #expect(configuration.highlights.minRequests == 5)
        #expect(configuration.lifetime.keys == 12)
        #expect(configuration.serve.listen == "[::1]:9000")
        #expect(configuration.ship.clickhouse == "http://ch.internal:8123/" && configuration.ship.database == "usage_2")
        #expect(configuration.ship.stateDirectory == "/run/ship" && configuration.ship.intervalSeconds == 5)
        // What the environment cannot set stays as the file has it.
        #expect(configuration.inputs == (try load(fullFile)).inputs)
        #expect(configuration.formats == (try load(fullFile)).formats)
    }

    @Test func everyOverrideVariableIsTested() {
        #expect(
            ConfigurationLoader.overrideVariables == [
                "TOKENTALLY_TIMEZONE", "TOKENTALLY_SECRET_PATTERN", "TOKENTALLY_HOST",
                "TOKENTALLY_RETENTION_DAYS", "TOKENTALLY_RETENTION_WEEKS", "TOKENTALLY_RETENTION_MONTHS",
                "TOKENTALLY_SNAPSHOT_DIRECTORY", "TOKENTALLY_SNAPSHOT_INTERVAL_SECONDS",
                "TOKENTALLY_SNAPSHOT_FILE_MODE", "TOKENTALLY_SNAPSHOT_SCHEMA",
                "TOKENTALLY_STATE_DIRECTORY", "TOKENTALLY_STATE_COMMIT_INTERVAL_SECONDS",
                "TOKENTALLY_JOURNAL_ENABLED", "TOKENTALLY_JOURNAL_TOP",
                "TOKENTALLY_LIMITS_MAX_LINE_BYTES", "TOKENTALLY_LIMITS_MAX_SERIES",
                "TOKENTALLY_LIMITS_MAX_FUTURE_SECONDS", "TOKENTALLY_HIGHLIGHTS_MIN_REQUESTS",
                "TOKENTALLY_LIFETIME_KEYS", "TOKENTALLY_SERVE_LISTEN", "TOKENTALLY_SHIP_CLICKHOUSE",
                "TOKENTALLY_SHIP_DATABASE", "TOKENTALLY_SHIP_STATE_DIRECTORY", "TOKENTALLY_SHIP_INTERVAL_SECONDS",
            ]
        )
    }

    @Test func aListenAddressIsAnAddressAndAPort() throws {
        for good in ["127.0.0.1:8787", "0.0.0.0:80", "localhost:0", "[::1]:8787"] {
            #expect(try load("serve: {listen: \"\(good)\"}").serve.listen == good)
        }
        for bad in ["127.0.0.1", "::1:8787", "host:99999", ":8787", "a b:1", "[::1]8787"] {
            let error = loadError("serve: {listen: \"\(bad)\"}")
            #expect(error?.code == .invalidValue, "\(bad)")
            #expect(error?.message.contains("127.0.0.1:8787") == true, "\(bad): \(error?.message ?? "")")
        }
        #expect(loadError("lifetime: {keys: 10001}")?.code == .outOfRange)
        #expect(loadError("ship: {clickhouse: \"https://ch:8443/\"}")?.code == .invalidValue)
        #expect(loadError("ship: {database: \"drop table\"}")?.code == .invalidValue)
    }

    @Test func emptyVariableIsNotSet() throws {
        let configuration = try load(
            "host: gw-1\n", environment: ["TOKENTALLY_HOST": "", "TOKENTALLY_JOURNAL_TOP": " "])
        #expect(configuration.host == "gw-1")
        #expect(configuration.journal.top == 20)
    }

    @Test func fileErrorsComeBeforeEnvironmentErrors() throws {
        let error = try #require(loadError("limits: {max_series: 0}\n", environment: ["TOKENTALLY_NOPE": "1"]))
        #expect(error.keyPath == "limits.max_series")
    }
}

// MARK: - User formats

extension ConfigurationTests {
    @Test func userFormatCompilesIntoFieldSources() throws {
        let yaml = """
            formats:
              acme:
                ts: time
                request_id: request.id
                api_key: auth.key_id
                model: request.model
                provider: upstream.name
                status: response.code
                input_tokens: usage.input
                cache_write_tokens: [usage.cache_write_5m, usage.cache_write_1h]
                reasoning_tokens: [usage.reasoning]
                latency_ms: {end: timing.finished, start: timing.started, unit: ms}
                ttft_ms: {start: timing.started, end: timing.first_token, unit: s}
                success_values: [200, "200-299", 304, true, false, "ok", "404", completed]
                success_when_absent: false
                ttft_only_when: request.stream
            """
        let mapping = try #require(try load(yaml).formats["acme"])
        #expect(
            mapping.sources == [
                .ts: .path(FieldPath(["time"])),
                .requestID: .path(FieldPath(["request", "id"])),
                .apiKey: .path(FieldPath(["auth", "key_id"])),
                .model: .path(FieldPath(["request", "model"])),
                .provider: .path(FieldPath(["upstream", "name"])),
                .status: .path(FieldPath(["response", "code"])),
                .inputTokens: .path(FieldPath(["usage", "input"])),
                .cacheWriteTokens: .sum([
                    FieldPath(["usage", "cache_write_5m"]), FieldPath(["usage", "cache_write_1h"]),
                ]),
                .reasoningTokens: .sum([FieldPath(["usage", "reasoning"])]),
                .latencyMs: .difference(
                    end: FieldPath(["timing", "finished"]),
                    start: FieldPath(["timing", "started"]),
                    unit: .milliseconds
                ),
                .ttftMs: .difference(
                    end: FieldPath(["timing", "first_token"]),
                    start: FieldPath(["timing", "started"]),
                    unit: .seconds
                ),
            ]
        )
        #expect(
            mapping.successValues == [
                .integer(200), .integerRange(200...299), .integer(304), .bool(true), .bool(false),
                .string("ok"), .string("404"), .string("completed"),
            ]
        )
        #expect(mapping.successWhenStatusAbsent == false)
        #expect(mapping.ttftOnlyWhen == FieldPath(["request", "stream"]))
        #expect(mapping.missingRequiredFields.isEmpty)
    }

    @Test func userFormatWithoutStatusOptionsUsesTheCanonicalOnes() throws {
        let mapping = try #require(
            try load("formats:\n  min: {ts: t, api_key: k, model: m, provider: p}\n").formats["min"])
        #expect(mapping.sources.count == 4)
        #expect(mapping.successValues == FormatPreset.tokentally.mapping.successValues)
        #expect(mapping.successWhenStatusAbsent)
        #expect(mapping.ttftOnlyWhen == nil)
    }
}

// MARK: - The example file and the effective settings

extension ConfigurationTests {
    @Test func exampleFileLoadsAndDocumentsTheDefaults() throws {
        let configuration = try ConfigurationLoader.load(file: exampleConfigPath, environment: [:])
        try ConfigurationLoader.validateForDaemon(configuration, file: exampleConfigPath)
        // Apart from its input and its example format, the example sets every key to its default,
        // as its comments say.
        var expected = Configuration()
        expected.inputs = [
            InputConfiguration(path: "/var/log/gateway/access.log*", format: "tokentally", redactKeys: .auto)
        ]
        expected.formats = configuration.formats
        #expect(configuration == expected)
        let acme = try #require(configuration.formats["acme"])
        #expect(acme.missingRequiredFields.isEmpty)
        #expect(
            acme.sources[.cacheWriteTokens]
                == .sum([path("usage.cache_write_5m"), path("usage.cache_write_1h")])
        )
        #expect(
            acme.sources[.latencyMs]
                == .difference(end: path("timing.finished"), start: path("timing.started"), unit: .milliseconds))
        #expect(acme.successValues == [.integerRange(200...299), .integer(304)])
        #expect(acme.ttftOnlyWhen == path("request.stream"))
    }

    /// Issue 10's mapping features in the config file: alternatives, defaults, dotted keys,
    /// units, a base, and the format and input options.
    @Test func mappingFeaturesAreReadFromTheConfig() throws {
        let configuration = try load(
            #"""
            inputs:
              - path: /var/log/or/generations.log*
                format: or-prod
              - path: /var/log/envoy/access.log*
                format: envoy-ish
                naive_timezone: Asia/Tokyo
            formats:
              or-prod:
                base: openrouter
                api_key: {default: prod-key}
                provider: {path: data.provider_name, default: openrouter}
                cost_usd: {path: data.total_cost_cents, unit: cents}
              envoy-ish:
                ts: {first: [start_time, time], unit: ms}
                model: 'gen_ai\.request\.model'
                provider: {default: envoy}
                input_tokens: {first: ['gen_ai\.usage\.input_tokens', [in_a, in_b]]}
                latency_ms: {path: duration_s, unit: s}
                ttft_ms: {end: first_token, start: started, unit: us}
                absent_values: ["-"]
                naive_timezone: local
                ttft_at_latency_is_absent: true
            """#)
        let openRouter = try #require(configuration.formats["or-prod"])
        #expect(openRouter.sources[.model] == FormatPreset.openrouter.mapping.sources[.model])
        #expect(openRouter.defaults == [.apiKey: "prod-key", .provider: "openrouter"])
        #expect(openRouter.units[.costUSD] == .cost(.cents))
        #expect(openRouter.successValues == FormatPreset.openrouter.mapping.successValues)
        let envoy = try #require(configuration.formats["envoy-ish"])
        #expect(envoy.sources[.model] == .path(FieldPath(["gen_ai.request.model"])))
        #expect(envoy.sources[.ts] == .firstOf([.path(FieldPath(["start_time"])), .path(FieldPath(["time"]))]))
        #expect(
            envoy.sources[.inputTokens]
                == .firstOf([
                    .path(FieldPath(["gen_ai.usage.input_tokens"])), .sum([FieldPath(["in_a"]), FieldPath(["in_b"])]),
                ]))
        #expect(envoy.units == [.ts: .time(.milliseconds), .latencyMs: .time(.seconds)])
        #expect(
            envoy.sources[.ttftMs]
                == .difference(end: FieldPath(["first_token"]), start: FieldPath(["started"]), unit: .microseconds))
        #expect(envoy.absentValues == ["-"] && envoy.naiveTimezone == "local" && envoy.ttftAtLatencyIsAbsent)
        #expect(envoy.defaults == [.provider: "envoy"] && envoy.missingRequiredFields.isEmpty)
        #expect(configuration.inputs[1].naiveTimezone == "Asia/Tokyo")
    }

    @Test(arguments: [
        ("formats:\n  f:\n    base: nope\n    ts: t\n    model: m\n    provider: p\n", "unknown base format \"nope\""),
        (
            "formats:\n  f:\n    ts: t\n    model: m\n    provider: p\n    input_tokens: {default: 3}\n",
            "a default is only for"
        ),
        ("formats:\n  f:\n    ts: t\n    model: {path: m, unit: ms}\n    provider: p\n", "model takes no unit"),
        (
            "formats:\n  f:\n    ts: t\n    model: m\n    provider: p\n    cost_usd: {path: c, unit: yen}\n",
            "expected one of usd, cents, micro_usd, nano_usd"
        ),
        (
            "formats:\n  f:\n    ts: t\n    model: m\n    provider: p\n    naive_timezone: Mars/Base\n",
            "unknown time zone \"Mars/Base\""
        ),
        ("formats:\n  f:\n    ts: t\n    model: 'a\\b'\n    provider: p\n", "a backslash escapes only a dot"),
        (
            "formats:\n  f:\n    ts: t\n    model: m\n    provider: p\n    input_tokens: {path: a, sum: [b]}\n",
            "not path and sum"
        ),
        ("inputs:\n  - path: /x\n    naive_timezone: Nowhere\n", "unknown time zone \"Nowhere\""),
    ])
    func badMappingFeaturesAreOneLine(yaml: String, mention: String) throws {
        #expect {
            _ = try load(yaml)
        } throws: { error in
            let line = "\(error)"
            return line.contains(mention) && !line.contains("\n")
        }
    }

    @Test func exampleFileNamesEveryKeyAndVariable() throws {
        let text = try String(contentsOfFile: exampleConfigPath, encoding: .utf8)
        for variable in ConfigurationLoader.overrideVariables {
            #expect(text.contains(variable), "the example should name \(variable)")
        }
        for key in [
            "inputs:", "path:", "format:", "redact_keys:", "formats:", "success_values:", "success_when_absent:",
            "ttft_only_when:",
        ] {
            #expect(text.contains(key), "the example should show \(key)")
        }
    }

    @Test func effectiveSettingsLoadBackUnchanged() throws {
        var odd = try load(fullFile)
        odd.host = "gw-ü"
        odd.snapshot.directory = "/srv/a dir: with # odd \"chars\"\\ and\ttab"
        odd.secretPattern = "^(sk|pk)[-_]|\\bkey\\b"
        odd.timezone = "Asia/Kolkata"
        odd.formats["weird"] = FieldMapping(
            sources: [
                .ts: .path(FieldPath(["time stamp"])),
                .apiKey: .path(FieldPath(["true"])),
                .model: .path(FieldPath(["[m]"])),
                .provider: .path(FieldPath(["p", "-x"])),
                .latencyMs: .difference(end: FieldPath(["e"]), start: FieldPath(["s"]), unit: .seconds),
                .costUSD: .sum([FieldPath(["a"]), FieldPath(["b", "c"])]),
            ],
            successValues: [
                .integer(-1), .integerRange(200...204), .bool(false), .string("200"), .string("true"),
                .string("ok, fine"),
            ],
            successWhenStatusAbsent: false,
            ttftOnlyWhen: FieldPath(["stream"])
        )
        odd.formats["every-feature"] = FieldMapping(
            sources: [
                .ts: .firstOf([.path(FieldPath(["createdAt"])), .path(FieldPath(["createAt"]))]),
                .apiKey: .path(FieldPath(["a.b", "c\\d"])),
                .model: .path(FieldPath(["gen_ai.request.model"])),
                .cacheWriteTokens: .firstOf([
                    .path(FieldPath(["total"])), .sum([FieldPath(["w5"]), FieldPath(["w1h"])]),
                    .difference(end: FieldPath(["x"]), start: FieldPath(["y"]), unit: .microseconds),
                ]),
                .latencyMs: .path(FieldPath(["duration_s"])),
                .costUSD: .path(FieldPath(["cents"])),
            ],
            defaults: [.provider: "__unknown__", .apiKey: "prod key: \"one\""],
            units: [.latencyMs: .time(.seconds), .costUSD: .cost(.cents), .ts: .time(.nanoseconds)],
            successValues: [.bool(true)],
            ttftAtLatencyIsAbsent: true,
            absentValues: ["-", "UNSPECIFIED"],
            naiveTimezone: "local"
        )
        odd.inputs.append(
            InputConfiguration(path: "/var/log/lite/*.log", format: "litellm", naiveTimezone: "Europe/Berlin"))
        let example = try ConfigurationLoader.load(file: exampleConfigPath, environment: [:])
        for configuration in [Configuration(), try load(fullFile), odd, example] {
            let text = ConfigurationLoader.effectiveSettingsText(configuration)
            let reloaded = try load(text)
            #expect(reloaded == configuration, "\(text)")
        }
    }

    @Test func effectiveSettingsShowEveryKey() throws {
        let text = ConfigurationLoader.effectiveSettingsText(Configuration())
        let expectedLines = [
            "inputs: []  # none: replay takes its paths from the command line",
            "timezone: UTC",
            "secret_pattern: \"^(sk|pk|rk)[-_]\"",
            "host: null  # not set: this machine's host name",
            "retention:", "  days: 62", "  weeks: 27", "  months: 25",
            "snapshot:", "  directory: /var/lib/tokentally/snapshots", "  interval_seconds: 10",
            "  file_mode: \"0640\"", "  schema: 2",
            "state:", "  directory: /var/lib/tokentally/state", "  commit_interval_seconds: 2",
            "journal:", "  enabled: true", "  top: 20",
            "limits:", "  max_line_bytes: 1048576", "  max_series: 1000000", "  max_future_seconds: 86400",
            "highlights:", "  min_requests: 20",
            "lifetime:", "  keys: 0",
            "serve:", "  listen: \"127.0.0.1:8787\"",
            "ship:", "  clickhouse: null", "  database: tokentally", "  state_directory: /var/lib/tokentally-ship",
            "  interval_seconds: 30",
            "formats: {}  # none defined; presets: tokentally, litellm, zenmux, openrouter, kong, envoy-ai-gateway",
        ]
        let lines = text.split(separator: "\n").map(String.init).filter { !$0.hasPrefix("#") }
        #expect(lines == expectedLines)
    }
}
