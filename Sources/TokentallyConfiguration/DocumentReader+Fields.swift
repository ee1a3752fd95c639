import Foundation
import TokentallyCounting
import TokentallyReading
import TokentallySystem
import Yams

extension DocumentReader {
    /// One canonical field of a format: a source in one of its forms, with a default and a unit.
    func readField(
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

    func valueUnit(for field: CanonicalField, _ node: Node, at keyPath: String) throws(ConfigurationError)
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
    func source(
        for field: CanonicalField, _ node: Node, at keyPath: String, sumOnly: Bool = false
    ) throws(ConfigurationError) -> FieldSource {
        let shapes =
            field.isNumeric
            ? "a dotted path, a list of paths to add up, or {end: PATH, start: PATH, unit: s|ms|us|ns}"
            : "a dotted path such as auth.key_id"
        if sumOnly, case .sequence = node {
        } else if sumOnly {
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

    func fieldPath(_ node: Node, at keyPath: String) throws(ConfigurationError) -> FieldPath {
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

    func statusValues(_ node: Node, at keyPath: String) throws(ConfigurationError) -> [StatusValue] {
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
    func entries(of mapping: Node.Mapping, at keyPath: String?) throws(ConfigurationError)
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
    func mapping(_ node: Node, at keyPath: String, what: String) throws(ConfigurationError) -> Node.Mapping? {
        if isNull(node) { return nil }
        guard case .mapping(let mapping) = node else {
            throw failure(.wrongType, keyPath, node, "expected \(what), got \(describe(node)); check the indentation")
        }
        return mapping
    }

    /// A scalar's text; anything else (or nothing) is an error.
    func text(_ node: Node, at keyPath: String, what: String) throws(ConfigurationError) -> String {
        guard case .scalar(let scalar) = node, !isNull(node) else {
            throw failure(.wrongType, keyPath, node, "expected \(what), got \(describe(node))")
        }
        guard !scalar.string.isEmpty else {
            throw failure(.invalidValue, keyPath, node, "expected \(what), got an empty value")
        }
        return scalar.string
    }

    func isValidFormatName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, isASCIIAlphanumeric(first) else { return false }
        return name.unicodeScalars.allSatisfy { isASCIIAlphanumeric($0) || "-_.".unicodeScalars.contains($0) }
    }

    func isASCIIAlphanumeric(_ scalar: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar)
    }

    // MARK: Errors

    func failure(
        _ code: ConfigurationError.Code,
        _ keyPath: String?,
        _ node: Node?,
        _ message: String
    ) -> ConfigurationError {
        ConfigurationError(code: code, origin: .file(file), keyPath: keyPath, line: node?.mark?.line, message: message)
    }

    func unknownKey(_ key: String, _ keyNode: Node, at parent: String?, known: [String], in place: String)
        -> ConfigurationError
    {
        let keyPath = parent.map { "\($0).\(key)" } ?? key
        let list = "\(place) takes \(known.joined(separator: ", "))"
        let message =
            closest(to: key, among: known).map { "unknown key; did you mean \($0)? (\(list))" }
            ?? "unknown key; \(list)"
        return failure(.unknownKey, keyPath, keyNode, message)
    }

    func syntaxError(_ error: any Error) -> ConfigurationError {
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
