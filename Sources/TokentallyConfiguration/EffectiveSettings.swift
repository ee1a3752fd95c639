import Foundation
import TokentallyCounting
import TokentallyReading
import TokentallySystem
import Yams

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
func yamlText(_ text: String) -> String {
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

func isASCIILetter(_ scalar: Unicode.Scalar) -> Bool {
    ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar)
}

func yamlSource(_ source: FieldSource) -> String {
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
func yamlField(_ field: CanonicalField, in mapping: FieldMapping) -> String {
    let source = mapping.sources[field]
    let text = mapping.defaults[field]
    let unit = mapping.units[field]
    guard text != nil || unit != nil else { return source.map(yamlSource) ?? "" }
    var members: [String] = []
    switch source {
    case nil: break
    case .path(let path)?: members.append("path: \(yamlText(path.description))")
    case .sum?: members.append("sum: \(yamlSource(source!))")
    case .firstOf(let alternatives)?:
        members.append("first: [" + alternatives.map(yamlSource).joined(separator: ", ") + "]")
    case .difference(let end, let start, let timeUnit)?:
        members.append(
            "end: \(yamlText(end.description)), start: \(yamlText(start.description)), unit: \(timeUnit.rawValue)")
    }
    if let text { members.append("default: \(yamlQuoted(text))") }
    if let unit, !(source.map { if case .difference = $0 { true } else { false } } ?? false) {
        members.append("unit: \(unit)")
    }
    return "{" + members.joined(separator: ", ") + "}"
}

func yamlStatusValue(_ value: StatusValue) -> String {
    switch value {
    case .integer(let integer): String(integer)
    case .integerRange(let range): "\"\(range.lowerBound)-\(range.upperBound)\""
    case .bool(let flag): String(flag)
    // Always quoted, so that "200" or "true" stay text when read back.
    case .string(let text): yamlQuoted(text)
    }
}

func yamlQuoted(_ text: String) -> String {
    let plain = yamlText(text)
    return plain.hasPrefix("\"") ? plain : "\"" + plain + "\""
}
