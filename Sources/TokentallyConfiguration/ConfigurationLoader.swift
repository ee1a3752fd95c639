import TokentallySystem
import TokentallyReading
import TokentallyCounting
import Foundation
import Yams

/// Reads tokentally's YAML config file, applies `TOKENTALLY_*` environment overrides and checks
/// every value, so that a bad setting is reported, with its key path, before anything is read.
///
/// The document is composed into a YAML node tree and walked by hand rather than decoded, because
/// a decoder cannot say which key was unknown or name the exact path of a bad value. The first
/// problem found ends the load: the file's keys in document order, then the cross-checks (each
/// input's format), then the environment variables in name order.
///
/// Precedence, lowest first: built-in defaults, the file, the environment. `inputs` and
/// `formats` come only from the file.
public enum ConfigurationLoader {
    /// Where `tokentally run` and `check-config` look for the config file by default.
    public static let defaultPath = "/etc/tokentally/tokentally.yaml"

    /// Reserved for the config file's path, for the command line to read when no `--config` is
    /// given. The loader never reads it as a setting and does not reject it.
    public static let pathVariable = "TOKENTALLY_CONFIG"

    /// The prefix of every environment variable the loader considers its own.
    public static let environmentPrefix = "TOKENTALLY_"

    /// Every environment variable that overrides a setting, in the order of the reference:
    /// `TOKENTALLY_TIMEZONE`, ..., `TOKENTALLY_HIGHLIGHTS_MIN_REQUESTS`.
    public static var overrideVariables: [String] { ScalarSetting.all.map(\.variable) }

    /// Loads the config file at `file`, then applies the environment.
    ///
    /// - Parameters:
    ///   - file: the config file's path; it is read whole, as UTF-8.
    ///   - environment: the process environment (`ProcessInfo.processInfo.environment`), or a
    ///     test's own.
    /// - Throws: ``ConfigurationError`` with code `unreadableFile` when the file is missing, a
    ///   directory or unreadable; otherwise as ``load(yaml:file:environment:)``.
    public static func load(file: String, environment: [String: String]) throws(ConfigurationError) -> Configuration {
        let text = try readText(ofFile: file)
        return try load(yaml: text, file: file, environment: environment)
    }

    /// Parses a config document, checks it and applies the environment.
    ///
    /// An empty document (or one of comments only) gives the defaults. A key whose value is left
    /// empty (`host:`) or written `null` or `~` keeps its default. An empty `inputs` list is
    /// allowed here, since `replay` takes its paths from the command line; see
    /// ``validateForDaemon(_:file:)``.
    ///
    /// - Parameters:
    ///   - yaml: the document's text.
    ///   - file: the name used in error messages (the path the text came from).
    ///   - environment: variables whose names start with ``environmentPrefix`` override the file;
    ///     others are ignored.
    /// - Throws: ``ConfigurationError`` for the first problem found.
    public static func load(
        yaml: String,
        file: String,
        environment: [String: String]
    ) throws(ConfigurationError) -> Configuration {
        var reader = DocumentReader(file: file)
        var configuration = try reader.read(yaml: yaml)
        try applyEnvironment(environment, to: &configuration)
        return configuration
    }

    /// Checks what the daemon needs beyond a valid file: at least one input to follow.
    ///
    /// - Parameter file: the config file's path, for the message.
    /// - Throws: ``ConfigurationError`` with code `noInputs`.
    public static func validateForDaemon(_ configuration: Configuration, file: String = defaultPath)
        throws(ConfigurationError)
    {
        guard configuration.inputs.isEmpty else { return }
        throw ConfigurationError(
            code: .noInputs,
            origin: .file(file),
            keyPath: "inputs",
            message:
                "no input is configured, so the daemon has nothing to follow; add one, "
                + "e.g. inputs: [{path: /var/log/gateway/access.log*}]"
        )
    }

    // MARK: - Reading the file

    static func readText(ofFile file: String) throws(ConfigurationError) -> String {
        func unreadable(_ message: String, cause: (any Error)? = nil) -> ConfigurationError {
            ConfigurationError(code: .unreadableFile, origin: .file(file), keyPath: nil, message: message, cause: cause)
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: file, isDirectory: &isDirectory) else {
            throw unreadable(
                "no such config file; create it (config/tokentally.yaml in tokentally's source is a documented "
                    + "example) or pass another with --config FILE"
            )
        }
        guard !isDirectory.boolValue else {
            throw unreadable("is a directory, not a config file; pass the YAML file itself with --config FILE")
        }
        guard FileManager.default.isReadableFile(atPath: file) else {
            throw unreadable(
                "permission denied; let the user tokentally runs as read the file (e.g. chmod 0640 and the "
                    + "tokentally group)"
            )
        }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: file))
        } catch {
            throw unreadable("cannot be read (\(firstLine(of: error))); check the file and its disk", cause: error)
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigurationError(
                code: .invalidYAML,
                origin: .file(file),
                keyPath: nil,
                message: "is not UTF-8 text; save the config file as UTF-8"
            )
        }
        return text
    }

    // MARK: - Environment

    static func applyEnvironment(
        _ environment: [String: String],
        to configuration: inout Configuration
    ) throws(ConfigurationError) {
        let settings = ScalarSetting.all
        // Sorted, so that with several bad variables the same one is reported every time.
        for name in environment.keys.sorted() where name.hasPrefix(environmentPrefix) {
            guard name != pathVariable else { continue }
            let value = environment[name]!.trimmingCharacters(in: .whitespaces)
            // `Environment=TOKENTALLY_HOST=` in a unit file, or `VAR=` in a shell, means "not set".
            if value.isEmpty { continue }
            guard let setting = settings.first(where: { $0.variable == name }) else {
                throw unknownVariableError(name)
            }
            try setting.apply(
                value, to: &configuration, at: SettingSite(origin: .environment(name), keyPath: setting.keyPath))
        }
    }

    static func unknownVariableError(_ name: String) -> ConfigurationError {
        let message: String
        if name.hasPrefix(environmentPrefix + "INPUTS") || name.hasPrefix(environmentPrefix + "FORMATS") {
            message = "inputs and formats can only be set in the config file; remove the variable"
        } else if let suggestion = closest(
            to: String(name.dropFirst(environmentPrefix.count)),
            among: (overrideVariables + [pathVariable]).map { String($0.dropFirst(environmentPrefix.count)) }
        ) {
            message = "no such setting; did you mean \(environmentPrefix + suggestion)? (or remove the variable)"
        } else {
            message =
                "no such setting; remove the variable, or use one of the TOKENTALLY_<SECTION>_<KEY> variables "
                + "listed in docs/configuration.md"
        }
        return ConfigurationError(code: .unknownKey, origin: .environment(name), keyPath: nil, message: message)
    }
}

// MARK: - Effective settings

extension ConfigurationLoader {
    /// The whole effective configuration as YAML, for `tokentally check-config` to print: every
    /// key, with the defaults filled in, in the order of the reference; user formats by name.
    ///
    /// The text is itself a valid config file: loading it (with an empty environment) gives back
    /// an equal ``Configuration``. An unset `host` is written as `null` with a comment.
    public static func effectiveSettingsText(_ configuration: Configuration) -> String {
        var lines = [
            "# tokentally's effective configuration: built-in defaults, then the config file,",
            "# then the TOKENTALLY_* environment variables.",
        ]
        if configuration.inputs.isEmpty {
            lines.append("inputs: []  # none: replay takes its paths from the command line")
        } else {
            lines.append("inputs:")
            for input in configuration.inputs {
                lines.append("  - path: \(yamlText(input.path))")
                lines.append("    format: \(yamlText(input.format))")
                lines.append("    redact_keys: \(input.redactKeys.rawValue)")
                if let zone = input.naiveTimezone { lines.append("    naive_timezone: \(yamlText(zone))") }
            }
        }
        var section: String?
        for setting in ScalarSetting.all {
            if let name = setting.section, name != section {
                lines.append("\(name):")
                section = name
            }
            let indent = setting.section == nil ? "" : "  "
            var line = "\(indent)\(setting.key): \(setting.yamlValue(in: configuration))"
            if case .host = setting.kind, configuration.host == nil {
                line += "  # not set: this machine's host name"
            }
            lines.append(line)
        }
        let presets = FormatPreset.allCases.map(\.rawValue).joined(separator: ", ")
        if configuration.formats.isEmpty {
            lines.append("formats: {}  # none defined; presets: \(presets)")
        } else {
            lines.append("formats:  # presets, not shown: \(presets)")
            for name in configuration.formats.keys.sorted() {
                let mapping = configuration.formats[name]!
                lines.append("  \(yamlText(name)):")
                // Every field is written out, so nothing depends on a base: a field the format does
                // not map is written empty (it may have been a base's).
                for field in CanonicalField.allCases {
                    lines.append("    \(field.rawValue): \(yamlField(field, in: mapping))")
                }
                let values = mapping.successValues.map(yamlStatusValue).joined(separator: ", ")
                lines.append("    success_values: [\(values)]")
                lines.append("    success_when_absent: \(mapping.successWhenStatusAbsent)")
                lines.append("    ttft_only_when: \(mapping.ttftOnlyWhen.map { yamlText($0.description) } ?? "null")")
                lines.append("    ttft_at_latency_is_absent: \(mapping.ttftAtLatencyIsAbsent)")
                lines.append("    absent_values: [\(mapping.absentValues.map(yamlQuoted).joined(separator: ", "))]")
                lines.append("    naive_timezone: \(yamlText(mapping.naiveTimezone))")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

/// A string as a YAML scalar: plain when that cannot be misread (as a number, a boolean, null,
/// or YAML syntax), double-quoted with escapes otherwise.
fileprivate func yamlText(_ text: String) -> String {
    let reserved: Set<String> = ["true", "false", "yes", "no", "on", "off", "y", "n", "null", "~"]
    let scalars = text.unicodeScalars
    let isPlain =
        scalars.first.map { isASCIILetter($0) || $0 == "/" || $0 == "_" } == true
        && scalars.allSatisfy { isASCIILetter($0) || ("0"..."9").contains($0) || "_./*-+@".unicodeScalars.contains($0) }
        && !reserved.contains(text.lowercased())
    if isPlain { return text }
    var result = "\""
    for scalar in scalars {
        switch scalar {
        case "\\": result += "\\\\"
        case "\"": result += "\\\""
        case "\n": result += "\\n"
        case "\t": result += "\\t"
        case "\r": result += "\\r"
        default:
            if scalar.value < 0x20 || scalar.value == 0x7F {
                let hex = String(scalar.value, radix: 16, uppercase: true)
                result += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            } else {
                result.unicodeScalars.append(scalar)
            }
        }
    }
    return result + "\""
}

fileprivate func isASCIILetter(_ scalar: Unicode.Scalar) -> Bool {
    ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar)
}

fileprivate func yamlSource(_ source: FieldSource) -> String {
    switch source {
    case .path(let path):
        yamlText(path.description)
    case .sum(let paths):
        "[" + paths.map { yamlText($0.description) }.joined(separator: ", ") + "]"
    case .difference(let end, let start, let unit):
        "{end: \(yamlText(end.description)), start: \(yamlText(start.description)), unit: \(unit.rawValue)}"
    case .firstOf(let alternatives):
        "{first: [" + alternatives.map(yamlSource).joined(separator: ", ") + "]}"
    }
}

/// A field of a format as the config writes it: its source, with its default and unit when it
/// has them; empty when unmapped.
fileprivate func yamlField(_ field: CanonicalField, in mapping: FieldMapping) -> String {
    let source = mapping.sources[field]
    let text = mapping.defaults[field]
    let unit = mapping.units[field]
    guard text != nil || unit != nil else { return source.map(yamlSource) ?? "" }
    var members: [String] = []
    switch source {
    case nil: break
    case .path(let path)?: members.append("path: \(yamlText(path.description))")
    case .sum?: members.append("sum: \(yamlSource(source!))")
    case .firstOf(let alternatives)?: members.append("first: [" + alternatives.map(yamlSource).joined(separator: ", ") + "]")
    case .difference(let end, let start, let timeUnit)?:
        members.append("end: \(yamlText(end.description)), start: \(yamlText(start.description)), unit: \(timeUnit.rawValue)")
    }
    if let text { members.append("default: \(yamlQuoted(text))") }
    if let unit, !(source.map { if case .difference = $0 { true } else { false } } ?? false) {
        members.append("unit: \(unit)")
    }
    return "{" + members.joined(separator: ", ") + "}"
}

fileprivate func yamlStatusValue(_ value: StatusValue) -> String {
    switch value {
    case .integer(let integer): String(integer)
    case .integerRange(let range): "\"\(range.lowerBound)-\(range.upperBound)\""
    case .bool(let flag): String(flag)
    // Always quoted, so that "200" or "true" stay text when read back.
    case .string(let text): yamlQuoted(text)
    }
}

fileprivate func yamlQuoted(_ text: String) -> String {
    let plain = yamlText(text)
    return plain.hasPrefix("\"") ? plain : "\"" + plain + "\""
}

// MARK: - Scalar settings

/// Where a value being checked came from, for error messages.
fileprivate struct SettingSite {
    var origin: ConfigurationError.Origin
    var keyPath: String
    var line: Int? = nil

    var isEnvironment: Bool {
        if case .environment = origin { return true }
        return false
    }
}

/// One setting whose value is a single scalar: the part of the config that the environment can
/// override too, so that file values and variables go through the same checks.
fileprivate struct ScalarSetting {
    enum Kind {
        case wholeNumber(WritableKeyPath<Configuration, Int>, ClosedRange<Int>)
        case flag(WritableKeyPath<Configuration, Bool>)
        case directory(WritableKeyPath<Configuration, String>)
        case timeZone
        case secretPattern
        case host
        case fileMode
    }

    /// The mapping the key sits in; nil for a top-level key.
    var section: String?
    var key: String
    var kind: Kind

    var keyPath: String { section.map { "\($0).\(key)" } ?? key }

    var variable: String {
        ConfigurationLoader.environmentPrefix + keyPath.uppercased().replacingOccurrences(of: ".", with: "_")
    }

    /// Every scalar setting, in the order of the reference. A computed list, not a stored one:
    /// key paths are not `Sendable`, and the table is small.
    static var all: [ScalarSetting] {
        [
            ScalarSetting(section: nil, key: "timezone", kind: .timeZone),
            ScalarSetting(section: nil, key: "secret_pattern", kind: .secretPattern),
            ScalarSetting(section: nil, key: "host", kind: .host),
            ScalarSetting(section: "retention", key: "days", kind: .wholeNumber(\.retention.days, 1...100_000)),
            ScalarSetting(section: "retention", key: "weeks", kind: .wholeNumber(\.retention.weeks, 1...100_000)),
            ScalarSetting(section: "retention", key: "months", kind: .wholeNumber(\.retention.months, 1...100_000)),
            ScalarSetting(section: "snapshot", key: "directory", kind: .directory(\.snapshot.directory)),
            ScalarSetting(
                section: "snapshot",
                key: "interval_seconds",
                kind: .wholeNumber(\.snapshot.intervalSeconds, 1...86_400)
            ),
            ScalarSetting(section: "snapshot", key: "file_mode", kind: .fileMode),
            ScalarSetting(section: "state", key: "directory", kind: .directory(\.state.directory)),
            ScalarSetting(
                section: "state",
                key: "commit_interval_seconds",
                kind: .wholeNumber(\.state.commitIntervalSeconds, 1...3_600)
            ),
            ScalarSetting(section: "journal", key: "enabled", kind: .flag(\.journal.enabled)),
            ScalarSetting(section: "journal", key: "top", kind: .wholeNumber(\.journal.top, 1...10_000)),
            ScalarSetting(
                section: "limits",
                key: "max_line_bytes",
                kind: .wholeNumber(\.limits.maxLineBytes, 1_024...1_073_741_824)
            ),
            ScalarSetting(
                section: "limits",
                key: "max_series",
                kind: .wholeNumber(\.limits.maxSeries, 1...100_000_000)
            ),
            ScalarSetting(
                section: "limits",
                key: "max_future_seconds",
                kind: .wholeNumber(\.limits.maxFutureSeconds, 0...315_360_000)
            ),
            ScalarSetting(
                section: "highlights",
                key: "min_requests",
                kind: .wholeNumber(\.highlights.minRequests, 1...1_000_000)
            ),
        ]
    }

    /// The sections, in the order of the reference.
    static let sections = ["retention", "snapshot", "state", "journal", "limits", "highlights"]

    /// The setting's value in `configuration`, written as YAML.
    func yamlValue(in configuration: Configuration) -> String {
        switch kind {
        case .wholeNumber(let path, _): String(configuration[keyPath: path])
        case .flag(let path): String(configuration[keyPath: path])
        case .directory(let path): yamlText(configuration[keyPath: path])
        case .timeZone: yamlText(configuration.timezone)
        case .secretPattern: yamlText(configuration.secretPattern)
        case .host: configuration.host.map(yamlText) ?? "null"
        case .fileMode: "\"" + octalFileMode(configuration.snapshot.fileMode) + "\""
        }
    }

    /// What a valid value looks like, for messages.
    var expectation: String {
        switch kind {
        case .wholeNumber(_, let range): "a whole number from \(range.lowerBound) to \(range.upperBound)"
        case .flag: "true or false"
        case .directory: "a directory path"
        case .timeZone: "an IANA time zone name such as UTC or Europe/Berlin"
        case .secretPattern: "a regular expression"
        case .host: "a host name"
        case .fileMode: "an octal file mode from 0000 to 0777 such as \"0640\""
        }
    }

    /// The built-in default as a user would write it.
    var defaultText: String {
        let defaults = Configuration()
        return switch kind {
        case .wholeNumber(let path, _): String(defaults[keyPath: path])
        case .flag(let path): String(defaults[keyPath: path])
        case .directory(let path): defaults[keyPath: path]
        case .timeZone: defaults.timezone
        case .secretPattern: defaults.secretPattern
        case .host: "this machine's host name"
        case .fileMode: octalFileMode(defaults.snapshot.fileMode)
        }
    }

    /// What to do about a bad value, which depends on where it came from.
    func remedy(at site: SettingSite) -> String {
        if site.isEnvironment { return "fix the value or unset the variable" }
        if case .host = kind { return "fix the value or remove the key to use this machine's host name" }
        return "fix the value or remove the key to use the default \(defaultText)"
    }

    /// Checks `text` and stores it in `configuration`.
    func apply(_ text: String, to configuration: inout Configuration, at site: SettingSite) throws(ConfigurationError) {
        func failure(_ code: ConfigurationError.Code, _ problem: String, cause: (any Error)? = nil)
            -> ConfigurationError
        {
            ConfigurationError(
                code: code,
                origin: site.origin,
                keyPath: site.keyPath,
                line: site.line,
                message: "\(problem); \(remedy(at: site))",
                cause: cause
            )
        }
        let got = "got \(quoted(text))"
        switch kind {
        case .wholeNumber(let path, let range):
            switch parseWholeNumber(text) {
            case .value(let value) where range.contains(value):
                configuration[keyPath: path] = value
            case .value, .tooLarge:
                throw failure(.outOfRange, "expected \(expectation), \(got)")
            case .notWhole:
                throw failure(.wrongType, "expected \(expectation), \(got)")
            }
        case .flag(let path):
            guard let value = parseFlag(text) else { throw failure(.wrongType, "expected \(expectation), \(got)") }
            configuration[keyPath: path] = value
        case .directory(let path):
            guard !text.trimmingCharacters(in: .whitespaces).isEmpty else {
                throw failure(.invalidValue, "expected \(expectation), got an empty value")
            }
            configuration[keyPath: path] = text
        case .timeZone:
            guard TimeZone(identifier: text) != nil else {
                throw ConfigurationError(
                    code: .unknownTimeZone,
                    origin: site.origin,
                    keyPath: site.keyPath,
                    line: site.line,
                    message:
                        "unknown time zone \(quoted(text)); use an IANA name such as UTC, Europe/Berlin or "
                        + "America/New_York (the names under /usr/share/zoneinfo)"
                )
            }
            configuration.timezone = text
        case .secretPattern:
            do {
                _ = try Regex(text)
            } catch {
                throw failure(
                    .invalidPattern,
                    "not a valid regular expression: \(firstLine(of: error)) in \(quoted(text))",
                    cause: error
                )
            }
            configuration.secretPattern = text
        case .host:
            guard !text.isEmpty,
                !text.unicodeScalars.contains(where: {
                    $0.properties.isWhitespace || $0.properties.generalCategory == .control
                })
            else {
                throw failure(.invalidValue, "expected \(expectation) without spaces, \(got)")
            }
            configuration.host = text
        case .fileMode:
            switch parseFileMode(text) {
            case .some(let mode) where mode <= 0o777:
                configuration.snapshot.fileMode = UInt16(mode)
            case .some:
                throw failure(.outOfRange, "expected \(expectation), \(got)")
            case .none:
                throw failure(.wrongType, "expected \(expectation), \(got)")
            }
        }
    }
}

// MARK: - Reading the document

/// Walks the composed YAML tree of one config file into a ``Configuration``.
fileprivate struct DocumentReader {
    let file: String
    private var configuration = Configuration()
    /// Each input's format, checked once every format is known (formats may follow inputs).
    private var pendingFormats: [(index: Int, name: String, line: Int?)] = []

    static let topLevelKeys =
        ["inputs", "timezone", "secret_pattern", "host"] + ScalarSetting.sections + ["formats"]
    static let inputKeys = ["path", "format", "redact_keys", "naive_timezone"]
    static let formatOptionKeys = [
        "base", "success_values", "success_when_absent", "ttft_only_when", "ttft_at_latency_is_absent",
        "absent_values", "naive_timezone",
    ]
    static let differenceKeys = ["end", "start", "unit"]
    static let sourceKeys = ["path", "sum", "first", "end", "start", "unit", "default"]
    /// The status values that mean success when a user format does not list its own: those of the
    /// canonical record.
    static let defaultSuccessValues: [StatusValue] = [
        .integerRange(200...299), .bool(true), .string("success"), .string("ok"),
    ]

    init(file: String) {
        self.file = file
    }

    mutating func read(yaml: String) throws(ConfigurationError) -> Configuration {
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch {
            throw syntaxError(error)
        }
        guard let root, !isNull(root) else { return configuration }
        guard case .mapping(let mapping) = root else {
            throw failure(
                .wrongType,
                nil,
                root,
                "expected a mapping of settings (inputs:, timezone:, snapshot:, ...) at the top level, got "
                    + describe(root) + "; see config/tokentally.yaml for the layout"
            )
        }
        for (key, keyNode, value) in try entries(of: mapping, at: nil) {
            switch key {
            case "inputs":
                try readInputs(value)
            case "formats":
                try readFormats(value)
            default:
                if let setting = ScalarSetting.all.first(where: { $0.section == nil && $0.key == key }) {
                    try readScalar(setting, value)
                } else if ScalarSetting.sections.contains(key) {
                    try readSection(key, value)
                } else {
                    throw unknownKey(key, keyNode, at: nil, known: Self.topLevelKeys, in: "the top level")
                }
            }
        }
        for pending in pendingFormats {
            guard configuration.formats[pending.name] == nil, FormatPreset(rawValue: pending.name) == nil else {
                continue
            }
            let defined = configuration.formats.keys.sorted()
            let presets = FormatPreset.allCases.map(\.rawValue).joined(separator: ", ")
            let definedText = defined.isEmpty ? "none is defined" : "defined: " + defined.joined(separator: ", ")
            throw ConfigurationError(
                code: .unknownFormat,
                origin: .file(file),
                keyPath: "inputs[\(pending.index)].format",
                line: pending.line,
                message:
                    "unknown format \(quoted(pending.name)); use a preset (\(presets)) or a name under formats: "
                    + "(\(definedText))"
            )
        }
        return configuration
    }

    // MARK: Sections

    private mutating func readSection(_ section: String, _ node: Node) throws(ConfigurationError) {
        let settings = ScalarSetting.all.filter { $0.section == section }
        guard let mapping = try mapping(node, at: section, what: "a mapping of \(section) settings") else { return }
        for (key, keyNode, value) in try entries(of: mapping, at: section) {
            guard let setting = settings.first(where: { $0.key == key }) else {
                throw unknownKey(key, keyNode, at: section, known: settings.map(\.key), in: section)
            }
            try readScalar(setting, value)
        }
    }

    private mutating func readScalar(_ setting: ScalarSetting, _ node: Node) throws(ConfigurationError) {
        if isNull(node) { return }
        let site = SettingSite(origin: .file(file), keyPath: setting.keyPath, line: node.mark?.line)
        guard case .scalar(let scalar) = node else {
            throw failure(
                .wrongType,
                setting.keyPath,
                node,
                "expected \(setting.expectation), got \(describe(node)); \(setting.remedy(at: site))"
            )
        }
        try setting.apply(scalar.string, to: &configuration, at: site)
    }

    // MARK: Inputs

    private mutating func readInputs(_ node: Node) throws(ConfigurationError) {
        configuration.inputs = []
        pendingFormats = []
        if isNull(node) { return }
        guard case .sequence(let items) = node else {
            throw failure(
                .wrongType,
                "inputs",
                node,
                "expected a list of inputs, got \(describe(node)); start each input with a dash: - path: GLOB"
            )
        }
        for (index, item) in items.enumerated() {
            let itemPath = "inputs[\(index)]"
            guard case .mapping(let mapping) = item else {
                throw failure(
                    .wrongType,
                    itemPath,
                    item,
                    "expected a mapping with path:, format: and redact_keys:, got \(describe(item)); "
                        + "write the input as - path: GLOB"
                )
            }
            var input = InputConfiguration(path: "")
            var formatLine = item.mark?.line
            var hasPath = false
            for (key, keyNode, value) in try entries(of: mapping, at: itemPath) {
                let keyPath = "\(itemPath).\(key)"
                switch key {
                case "path":
                    input.path = try text(
                        value, at: keyPath, what: "a file path or glob such as /var/log/gateway/access.log*")
                    hasPath = true
                case "format":
                    if isNull(value) { continue }
                    input.format = try text(value, at: keyPath, what: "a format name such as tokentally or litellm")
                    formatLine = value.mark?.line
                case "redact_keys":
                    if isNull(value) { continue }
                    let choices = KeyRedaction.allCases.map(\.rawValue)
                    let name = try text(value, at: keyPath, what: "one of " + choices.joined(separator: ", "))
                    guard let redaction = KeyRedaction(rawValue: name) else {
                        throw failure(
                            .invalidValue,
                            keyPath,
                            value,
                            "expected one of \(choices.joined(separator: ", ")), got \(quoted(name)); fix the value "
                                + "or remove the key to use the default auto"
                        )
                    }
                    input.redactKeys = redaction
                case "naive_timezone":
                    if isNull(value) { continue }
                    input.naiveTimezone = try naiveTimezone(value, at: keyPath)
                default:
                    throw unknownKey(key, keyNode, at: itemPath, known: Self.inputKeys, in: "an input")
                }
            }
            guard hasPath else {
                throw failure(
                    .missingRequiredField,
                    "\(itemPath).path",
                    item,
                    "the input has no path; add path: with a file or glob such as /var/log/gateway/access.log*"
                )
            }
            if let earlier = configuration.inputs.firstIndex(where: { $0.path == input.path }) {
                throw failure(
                    .invalidValue,
                    "\(itemPath).path",
                    item,
                    "\(quoted(input.path)) is already inputs[\(earlier)]; list each input once, or its lines "
                        + "are counted twice"
                )
            }
            configuration.inputs.append(input)
            pendingFormats.append((index, input.format, formatLine))
        }
    }

    // MARK: Formats

    private mutating func readFormats(_ node: Node) throws(ConfigurationError) {
        configuration.formats = [:]
        guard let formats = try mapping(node, at: "formats", what: "a mapping of format names to field mappings")
        else { return }
        for (name, nameNode, body) in try entries(of: formats, at: "formats") {
            let keyPath = "formats.\(name)"
            if FormatPreset(rawValue: name) != nil {
                throw failure(
                    .presetRedefined,
                    keyPath,
                    nameNode,
                    "\(quoted(name)) is a preset and cannot be redefined; give your format another name and "
                        + "use that name in the inputs' format:"
                )
            }
            guard isValidFormatName(name) else {
                throw failure(
                    .invalidValue,
                    keyPath,
                    nameNode,
                    "a format name is letters, digits, '-', '_' and '.', starting with a letter or digit; "
                        + "rename the format"
                )
            }
            configuration.formats[name] = try readFormat(body, name: name, at: keyPath, nameNode: nameNode)
        }
    }

    /// The mapping a format's `base:` names: a preset, or a format defined above it.
    private func baseMapping(_ node: Node, at keyPath: String) throws(ConfigurationError) -> FieldMapping {
        let name = try text(node, at: keyPath, what: "a preset or a format defined above")
        if let preset = FormatPreset(rawValue: name) { return preset.mapping }
        if let defined = configuration.formats[name] { return defined }
        let presets = FormatPreset.allCases.map(\.rawValue).joined(separator: ", ")
        throw failure(
            .unknownFormat, keyPath, node,
            "unknown base format \(quoted(name)); use a preset (\(presets)) or a format defined above this one")
    }

    private func readFormat(_ node: Node, name: String, at keyPath: String, nameNode: Node) throws(ConfigurationError)
        -> FieldMapping
    {
        guard case .mapping(let mapping) = node else {
            throw failure(
                .wrongType,
                keyPath,
                node,
                "expected a mapping of canonical fields to record paths (ts: time, api_key: auth.key_id, ...), "
                    + "got \(describe(node))"
            )
        }
        var result = FieldMapping(sources: [:], successValues: Self.defaultSuccessValues)
        let entries = try entries(of: mapping, at: keyPath)
        // The base first, wherever it is written: the other keys change what it gives.
        if let base = entries.first(where: { $0.key == "base" }), !isNull(base.value) {
            result = try baseMapping(base.value, at: "\(keyPath).base")
        }
        for (key, keyNode, value) in entries {
            let entryPath = "\(keyPath).\(key)"
            if let field = CanonicalField(rawValue: key) {
                // An empty value leaves the field unmapped (and drops what a base maps there).
                result.sources[field] = nil
                result.defaults[field] = nil
                result.units[field] = nil
                if isNull(value) { continue }
                try readField(field, value, at: entryPath, into: &result)
                continue
            }
            // An empty option stays at its default (or the base's).
            if Self.formatOptionKeys.contains(key), isNull(value) { continue }
            switch key {
            case "base":
                continue
            case "success_values":
                result.successValues = try statusValues(value, at: entryPath)
            case "success_when_absent":
                result.successWhenStatusAbsent = try flag(value, at: entryPath, defaultText: "true")
            case "ttft_at_latency_is_absent":
                result.ttftAtLatencyIsAbsent = try flag(value, at: entryPath, defaultText: "false")
            case "ttft_only_when":
                result.ttftOnlyWhen = try fieldPath(value, at: entryPath)
            case "absent_values":
                guard case .sequence(let items) = value else {
                    throw failure(.wrongType, entryPath, value, "expected a list of text such as [\"-\"], got \(describe(value))")
                }
                var texts: [String] = []
                for (index, item) in items.enumerated() {
                    texts.append(try text(item, at: "\(entryPath)[\(index)]", what: "text such as \"-\""))
                }
                result.absentValues = texts
            case "naive_timezone":
                result.naiveTimezone = try naiveTimezone(value, at: entryPath)
            default:
                let known = CanonicalField.allCases.map(\.rawValue) + Self.formatOptionKeys
                throw unknownKey(key, keyNode, at: keyPath, known: known, in: "a format")
            }
        }
        let missing = result.missingRequiredFields
        if let first = missing.first {
            let others = missing.dropFirst().map(\.rawValue)
            let also = others.isEmpty ? "" : " (also missing: \(others.joined(separator: ", ")))"
            throw failure(
                .missingRequiredField,
                "\(keyPath).\(first.rawValue)",
                nameNode,
                "format \(name) names no source for the required field \(first.rawValue)\(also); add "
                    + "\(first.rawValue): with the path of that value in your records (or {default: TEXT})"
            )
        }
        return result
    }

    private func flag(_ node: Node, at keyPath: String, defaultText: String) throws(ConfigurationError) -> Bool {
        let flag = try text(node, at: keyPath, what: "true or false")
        guard let parsed = parseFlag(flag) else {
            throw failure(
                .wrongType, keyPath, node,
                "expected true or false, got \(quoted(flag)); fix the value or remove the key to use the default "
                    + defaultText)
        }
        return parsed
    }

    /// An IANA zone name, or `local`, checked against the system's zones.
    private func naiveTimezone(_ node: Node, at keyPath: String) throws(ConfigurationError) -> String {
        let name = try text(node, at: keyPath, what: "an IANA time zone name such as Europe/Berlin, or local")
        guard NaiveTimeZone(identifier: name) != nil else {
            throw failure(
                .invalidValue, keyPath, node,
                "unknown time zone \(quoted(name)); use an IANA name such as UTC or Europe/Berlin, or local for "
                    + "this host's zone")
        }
        return name
    }

    /// One canonical field of a format: a source in one of its forms, with a default and a unit.
    private func readField(
        _ field: CanonicalField, _ node: Node, at keyPath: String, into result: inout FieldMapping
    ) throws(ConfigurationError) {
        guard case .mapping(let mapping) = node else {
            result.sources[field] = try source(for: field, node, at: keyPath)
            return
        }
        let entries = try entries(of: mapping, at: keyPath)
        let keys = Set(entries.map(\.key))
        for (key, keyNode, _) in entries where !Self.sourceKeys.contains(key) {
            throw unknownKey(key, keyNode, at: keyPath, known: Self.sourceKeys, in: "a field")
        }
        let isDifference = keys.contains("end") || keys.contains("start")
        let forms = ["path", "sum", "first"].filter(keys.contains) + (isDifference ? ["end/start"] : [])
        guard forms.count <= 1 else {
            throw failure(
                .invalidValue, keyPath, node,
                "give one of path:, sum:, first: or end:/start:, not \(forms.joined(separator: " and "))")
        }
        for (key, _, value) in entries {
            let entryPath = "\(keyPath).\(key)"
            switch key {
            case "path":
                result.sources[field] = .path(try fieldPath(value, at: entryPath))
            case "sum":
                result.sources[field] = try source(for: field, value, at: entryPath, sumOnly: true)
            case "first":
                guard case .sequence(let items) = value, !items.isEmpty else {
                    throw failure(
                        .wrongType, entryPath, value,
                        "expected a list of alternatives (paths, lists to add up, {end, start, unit}), got "
                            + describe(value))
                }
                var alternatives: [FieldSource] = []
                for (index, item) in items.enumerated() {
                    alternatives.append(try source(for: field, item, at: "\(entryPath)[\(index)]"))
                }
                result.sources[field] = .firstOf(alternatives)
            case "default":
                guard field.isKeptText else {
                    throw failure(
                        .invalidValue, entryPath, value,
                        "a default is only for api_key, model, provider and request_id, not \(field.rawValue)")
                }
                let text = try text(value, at: entryPath, what: "text such as prod-key")
                guard !text.isEmpty else {
                    throw failure(.invalidValue, entryPath, value, "the default is empty; give the text to count under")
                }
                result.defaults[field] = text
            case "unit" where !isDifference:
                result.units[field] = try valueUnit(for: field, value, at: entryPath)
            default:
                continue  // end, start, unit of a difference
            }
        }
        if isDifference { result.sources[field] = try source(for: field, node, at: keyPath) }
        if result.sources[field] == nil && result.defaults[field] == nil {
            throw failure(
                .missingRequiredField, keyPath, node,
                "the field names no source; give path:, sum:, first:, end:/start: or (for text) default:")
        }
    }

    private func valueUnit(for field: CanonicalField, _ node: Node, at keyPath: String) throws(ConfigurationError)
        -> ValueUnit
    {
        if field.acceptsTimeUnit {
            let units = TimeUnit.allCases.map(\.rawValue).joined(separator: ", ")
            let name = try text(node, at: keyPath, what: units)
            guard let unit = TimeUnit(rawValue: name) else {
                throw failure(.invalidValue, keyPath, node, "expected one of \(units), got \(quoted(name))")
            }
            return .time(unit)
        }
        if field == .costUSD {
            let units = CostUnit.allCases.map(\.rawValue).joined(separator: ", ")
            let name = try text(node, at: keyPath, what: units)
            guard let unit = CostUnit(rawValue: name) else {
                throw failure(.invalidValue, keyPath, node, "expected one of \(units), got \(quoted(name))")
            }
            return .cost(unit)
        }
        throw failure(
            .invalidValue, keyPath, node,
            "\(field.rawValue) takes no unit (only ts, the durations and cost_usd do); remove unit:")
    }

    /// A path, a list of paths (a sum) or a difference; `sumOnly` for the value of `sum:`.
    private func source(
        for field: CanonicalField, _ node: Node, at keyPath: String, sumOnly: Bool = false
    ) throws(ConfigurationError) -> FieldSource {
        let shapes =
            field.isNumeric
            ? "a dotted path, a list of paths to add up, or {end: PATH, start: PATH, unit: s|ms|us|ns}"
            : "a dotted path such as auth.key_id"
        if sumOnly, case .sequence = node {} else if sumOnly {
            throw failure(.wrongType, keyPath, node, "expected a list of paths to add up, got \(describe(node))")
        }
        switch node {
        case .scalar where !isNull(node):
            return .path(try fieldPath(node, at: keyPath))
        case .sequence(let items):
            guard field.isNumeric else {
                throw failure(
                    .wrongType,
                    keyPath,
                    node,
                    "a list of paths (a sum) is only for numeric fields, and \(field.rawValue) is not; give one path"
                )
            }
            guard !items.isEmpty else {
                throw failure(.invalidValue, keyPath, node, "the list of paths to add up is empty; name at least one")
            }
            var paths: [FieldPath] = []
            for (index, item) in items.enumerated() {
                paths.append(try fieldPath(item, at: "\(keyPath)[\(index)]"))
            }
            return .sum(paths)
        case .mapping(let mapping):
            guard field.isNumeric else {
                throw failure(
                    .wrongType,
                    keyPath,
                    node,
                    "a difference {end, start, unit} is only for numeric fields, and \(field.rawValue) is not; "
                        + "give one path"
                )
            }
            var end: FieldPath?
            var start: FieldPath?
            var unit: TimeUnit?
            for (key, keyNode, value) in try entries(of: mapping, at: keyPath) {
                let entryPath = "\(keyPath).\(key)"
                switch key {
                case "end": end = try fieldPath(value, at: entryPath)
                case "start": start = try fieldPath(value, at: entryPath)
                case "unit":
                    let units = TimeUnit.allCases.map(\.rawValue).joined(separator: ", ")
                    let name = try text(value, at: entryPath, what: units)
                    guard let parsed = TimeUnit(rawValue: name) else {
                        throw failure(
                            .invalidValue,
                            entryPath,
                            value,
                            "expected \(units), got \(quoted(name)); use the unit the record's times are in"
                        )
                    }
                    unit = parsed
                case "default":
                    continue  // read by readField (and refused there for numeric fields)
                default:
                    throw unknownKey(key, keyNode, at: keyPath, known: Self.differenceKeys, in: "a difference")
                }
            }
            guard let end, let start, let unit else {
                let absent = [end == nil ? "end" : nil, start == nil ? "start" : nil, unit == nil ? "unit" : nil]
                    .compactMap { $0 }
                throw failure(
                    .missingRequiredField,
                    "\(keyPath).\(absent[0])",
                    node,
                    "a difference needs end:, start: and unit: (s, ms, us or ns); add \(absent.joined(separator: ", "))"
                )
            }
            return .difference(end: end, start: start, unit: unit)
        default:
            throw failure(.wrongType, keyPath, node, "expected \(shapes), got \(describe(node))")
        }
    }

    private func fieldPath(_ node: Node, at keyPath: String) throws(ConfigurationError) -> FieldPath {
        let dotted = try text(node, at: keyPath, what: "a dotted path such as usage.input_tokens")
        guard let path = FieldPath(dotted: dotted) else {
            throw failure(
                .invalidValue,
                keyPath,
                node,
                "expected a dotted path such as usage.input_tokens, got \(quoted(dotted)); a path has no empty "
                    + "part between dots, and a backslash escapes only a dot or a backslash (gen_ai\\.model)"
            )
        }
        return path
    }

    private func statusValues(_ node: Node, at keyPath: String) throws(ConfigurationError) -> [StatusValue] {
        guard case .sequence(let items) = node else {
            throw failure(
                .wrongType,
                keyPath,
                node,
                "expected a list such as [200-299, true, \"ok\"], got \(describe(node))"
            )
        }
        var values: [StatusValue] = []
        for (index, item) in items.enumerated() {
            let itemPath = "\(keyPath)[\(index)]"
            guard case .scalar(let scalar) = item, !isNull(item) else {
                throw failure(
                    .wrongType,
                    itemPath,
                    item,
                    "expected a status value (an integer, a range such as \"200-299\", true/false or text), got "
                        + describe(item)
                )
            }
            let text = scalar.string
            let plain = scalar.style == .plain
            if plain, let integer = Int64(text) {
                values.append(.integer(integer))
            } else if let range = parseStatusRange(text) {
                guard range.lower <= range.upper else {
                    throw failure(
                        .invalidValue,
                        itemPath,
                        item,
                        "the range \(quoted(text)) ends before it starts; write the lower number first"
                    )
                }
                values.append(.integerRange(range.lower...range.upper))
            } else if plain, ["true", "True", "TRUE"].contains(text) {
                values.append(.bool(true))
            } else if plain, ["false", "False", "FALSE"].contains(text) {
                values.append(.bool(false))
            } else {
                values.append(.string(text))
            }
        }
        return values
    }

    // MARK: Node helpers

    /// The entries of a mapping with their keys as text, in document order.
    private func entries(of mapping: Node.Mapping, at keyPath: String?) throws(ConfigurationError)
        -> [(key: String, keyNode: Node, value: Node)]
    {
        var result: [(key: String, keyNode: Node, value: Node)] = []
        for (keyNode, value) in mapping {
            guard case .scalar(let scalar) = keyNode else {
                throw failure(
                    .wrongType,
                    keyPath,
                    keyNode,
                    "a key must be a plain name, got \(describe(keyNode)); check the indentation"
                )
            }
            result.append((scalar.string, keyNode, value))
        }
        return result
    }

    /// The node as a mapping; nil for an empty value, which keeps the section's defaults.
    private func mapping(_ node: Node, at keyPath: String, what: String) throws(ConfigurationError) -> Node.Mapping? {
        if isNull(node) { return nil }
        guard case .mapping(let mapping) = node else {
            throw failure(.wrongType, keyPath, node, "expected \(what), got \(describe(node)); check the indentation")
        }
        return mapping
    }

    /// A scalar's text; anything else (or nothing) is an error.
    private func text(_ node: Node, at keyPath: String, what: String) throws(ConfigurationError) -> String {
        guard case .scalar(let scalar) = node, !isNull(node) else {
            throw failure(.wrongType, keyPath, node, "expected \(what), got \(describe(node))")
        }
        guard !scalar.string.isEmpty else {
            throw failure(.invalidValue, keyPath, node, "expected \(what), got an empty value")
        }
        return scalar.string
    }

    private func isValidFormatName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, isASCIIAlphanumeric(first) else { return false }
        return name.unicodeScalars.allSatisfy { isASCIIAlphanumeric($0) || "-_.".unicodeScalars.contains($0) }
    }

    private func isASCIIAlphanumeric(_ scalar: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar)
    }

    // MARK: Errors

    private func failure(
        _ code: ConfigurationError.Code,
        _ keyPath: String?,
        _ node: Node?,
        _ message: String
    ) -> ConfigurationError {
        ConfigurationError(code: code, origin: .file(file), keyPath: keyPath, line: node?.mark?.line, message: message)
    }

    private func unknownKey(_ key: String, _ keyNode: Node, at parent: String?, known: [String], in place: String)
        -> ConfigurationError
    {
        let keyPath = parent.map { "\($0).\(key)" } ?? key
        let list = "\(place) takes \(known.joined(separator: ", "))"
        let message =
            closest(to: key, among: known).map { "unknown key; did you mean \($0)? (\(list))" }
            ?? "unknown key; \(list)"
        return failure(.unknownKey, keyPath, keyNode, message)
    }

    private func syntaxError(_ error: any Error) -> ConfigurationError {
        func invalid(_ line: Int?, _ message: String) -> ConfigurationError {
            ConfigurationError(
                code: .invalidYAML,
                origin: .file(file),
                keyPath: nil,
                line: line,
                message: message,
                cause: error
            )
        }
        guard let error = error as? YamlError else {
            return invalid(nil, "not valid YAML (\(firstLine(of: error))); fix the syntax")
        }
        switch error {
        case .scanner(let context, let problem, let mark, _),
            .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            let during = context.map { ", \($0.text) from line \($0.mark.line)" } ?? ""
            return invalid(
                mark.line,
                "not valid YAML: \(problem) at column \(mark.column)\(during); fix the syntax there (indent with "
                    + "spaces, quote values that contain ': ' or start with a special character)"
            )
        case .duplicatedKeysInMapping(let duplicates, let context):
            return ConfigurationError(
                code: .duplicateKey,
                origin: .file(file),
                keyPath: nil,
                line: context.mark.line > 0 ? context.mark.line : nil,
                message:
                    "the key \(duplicates.map { quoted($0) }.joined(separator: ", ")) appears more than once in the "
                    + "same mapping (first here); keep one",
                cause: error
            )
        case .reader(let problem, _, _, _):
            return invalid(nil, "not readable as YAML text: \(problem); save the file as UTF-8 text")
        default:
            return invalid(nil, "not valid YAML (\(firstLine(of: error))); fix the syntax")
        }
    }
}

// MARK: - Value parsing shared by the file and the environment

/// A node is null when it is an unquoted `null`, `~` or nothing at all: the key is there, its
/// value is not, and the default stays.
fileprivate func isNull(_ node: Node) -> Bool {
    guard case .scalar(let scalar) = node, scalar.style == .plain || scalar.style == .any else { return false }
    return ["", "~", "null", "Null", "NULL"].contains(scalar.string)
}

/// How a node reads in a message: its text quoted, or what kind of node it is.
fileprivate func describe(_ node: Node) -> String {
    switch node {
    case .scalar(let scalar): isNull(node) ? "nothing" : quoted(scalar.string)
    case .mapping: "a mapping"
    case .sequence: "a list"
    case .alias: "an alias"
    }
}

/// A user's value in double quotes, shortened, with control characters escaped.
fileprivate func quoted(_ text: String) -> String {
    let limit = 60
    let shown = text.count > limit ? String(text.prefix(limit)) + "..." : text
    let escaped = shown.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
    return "\"" + ConfigurationError.singleLine(escaped) + "\""
}

fileprivate func firstLine(of error: any Error) -> String {
    let text = String(describing: error)
    return String(text.split(whereSeparator: \.isNewline).first ?? Substring(text))
}

fileprivate enum WholeNumber: Equatable {
    case value(Int)
    case tooLarge
    case notWhole
}

/// Reads a decimal whole number: an optional sign, then digits, with single `_` between digits
/// (`1_000_000`) as YAML and Swift allow.
fileprivate func parseWholeNumber(_ raw: String) -> WholeNumber {
    var text = Substring(raw.trimmingCharacters(in: .whitespaces))
    var negative = false
    if let sign = text.first, sign == "+" || sign == "-" {
        negative = sign == "-"
        text = text.dropFirst()
    }
    guard let first = text.first, first.isASCII, first.isNumber, text.last?.isNumber == true,
        !text.contains("__")
    else { return .notWhole }
    var value = 0
    var overflowed = false
    for character in text where character != "_" {
        guard character.isASCII, let digit = character.wholeNumberValue else { return .notWhole }
        if overflowed { continue }
        let (shifted, overflow1) = value.multipliedReportingOverflow(by: 10)
        let (sum, overflow2) = shifted.addingReportingOverflow(digit)
        if overflow1 || overflow2 { overflowed = true } else { value = sum }
    }
    if overflowed { return .tooLarge }
    return .value(negative ? -value : value)
}

/// Reads a boolean as YAML users and environment variables write it.
fileprivate func parseFlag(_ raw: String) -> Bool? {
    switch raw.trimmingCharacters(in: .whitespaces).lowercased() {
    case "true", "yes", "on", "1": true
    case "false", "no", "off", "0": false
    default: nil
    }
}

/// Reads a file mode as `chmod` does: its digits are octal whether or not it starts with `0`
/// (`640`, `0640`, `"0640"` and `0o640` are the same mode). Nil when it is not octal digits.
fileprivate func parseFileMode(_ raw: String) -> Int? {
    var text = Substring(raw.trimmingCharacters(in: .whitespaces))
    if text.hasPrefix("0o") || text.hasPrefix("0O") { text = text.dropFirst(2) }
    guard !text.isEmpty, text.count <= 6, text.allSatisfy({ ("0"..."7").contains($0) }) else { return nil }
    return Int(text, radix: 8)
}

/// `0640` for mode 0o640.
fileprivate func octalFileMode(_ mode: UInt16) -> String {
    let digits = String(mode, radix: 8)
    return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
}

/// Reads `200-299` as a range of status codes.
fileprivate func parseStatusRange(_ raw: String) -> (lower: Int64, upper: Int64)? {
    let parts = raw.split(separator: "-", omittingEmptySubsequences: false)
    guard parts.count == 2,
        let lower = Int64(parts[0].trimmingCharacters(in: .whitespaces)),
        let upper = Int64(parts[1].trimmingCharacters(in: .whitespaces))
    else { return nil }
    return (lower, upper)
}

/// The candidate a mistyped name most likely meant: within a third of its length in edits (at
/// least one). Nil when nothing is that close.
fileprivate func closest(to name: String, among candidates: [String]) -> String? {
    let target = Array(name.lowercased())
    var best: (candidate: String, distance: Int)?
    for candidate in candidates {
        let distance = editDistance(target, Array(candidate.lowercased()))
        if distance < (best?.distance ?? Int.max) { best = (candidate, distance) }
    }
    guard let best, best.distance <= max(1, target.count / 3) else { return nil }
    return best.candidate
}

/// Levenshtein distance, one row at a time.
fileprivate func editDistance(_ a: [Character], _ b: [Character]) -> Int {
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var previous = Array(0...b.count)
    var current = [Int](repeating: 0, count: b.count + 1)
    for i in 1...a.count {
        current[0] = i
        for j in 1...b.count {
            let substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)
            current[j] = min(previous[j] + 1, current[j - 1] + 1, substitution)
        }
        swap(&previous, &current)
    }
    return previous[b.count]
}
