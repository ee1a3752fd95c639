import Foundation
import TokentallyCounting
import TokentallyReading
import TokentallySystem
import Yams

// MARK: - Reading the document

/// Walks the composed YAML tree of one config file into a ``Configuration``.
struct DocumentReader {
    let file: String
    var configuration = Configuration()
    /// Each input's format, checked once every format is known (formats may follow inputs).
    var pendingFormats: [(index: Int, name: String, line: Int?)] = []

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

    mutating func readSection(_ section: String, _ node: Node) throws(ConfigurationError) {
        let settings = ScalarSetting.all.filter { $0.section == section }
        guard let mapping = try mapping(node, at: section, what: "a mapping of \(section) settings") else { return }
        for (key, keyNode, value) in try entries(of: mapping, at: section) {
            guard let setting = settings.first(where: { $0.key == key }) else {
                throw unknownKey(key, keyNode, at: section, known: settings.map(\.key), in: section)
            }
            try readScalar(setting, value)
        }
    }

    mutating func readScalar(_ setting: ScalarSetting, _ node: Node) throws(ConfigurationError) {
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

    mutating func readInputs(_ node: Node) throws(ConfigurationError) {
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

    mutating func readFormats(_ node: Node) throws(ConfigurationError) {
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
    func baseMapping(_ node: Node, at keyPath: String) throws(ConfigurationError) -> FieldMapping {
        let name = try text(node, at: keyPath, what: "a preset or a format defined above")
        if let preset = FormatPreset(rawValue: name) { return preset.mapping }
        if let defined = configuration.formats[name] { return defined }
        let presets = FormatPreset.allCases.map(\.rawValue).joined(separator: ", ")
        throw failure(
            .unknownFormat, keyPath, node,
            "unknown base format \(quoted(name)); use a preset (\(presets)) or a format defined above this one")
    }

    func readFormat(_ node: Node, name: String, at keyPath: String, nameNode: Node) throws(ConfigurationError)
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
                    throw failure(
                        .wrongType, entryPath, value, "expected a list of text such as [\"-\"], got \(describe(value))")
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

    func flag(_ node: Node, at keyPath: String, defaultText: String) throws(ConfigurationError) -> Bool {
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
    func naiveTimezone(_ node: Node, at keyPath: String) throws(ConfigurationError) -> String {
        let name = try text(node, at: keyPath, what: "an IANA time zone name such as Europe/Berlin, or local")
        guard NaiveTimeZone(identifier: name) != nil else {
            throw failure(
                .invalidValue, keyPath, node,
                "unknown time zone \(quoted(name)); use an IANA name such as UTC or Europe/Berlin, or local for "
                    + "this host's zone")
        }
        return name
    }
}
