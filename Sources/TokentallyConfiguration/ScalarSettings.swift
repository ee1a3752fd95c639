import Foundation
import TokentallyCounting
import TokentallyReading
import TokentallySystem
import Yams

// MARK: - Scalar settings

/// Where a value being checked came from, for error messages.
struct SettingSite {
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
struct ScalarSetting {
    enum Kind {
        case wholeNumber(WritableKeyPath<Configuration, Int>, ClosedRange<Int>)
        case flag(WritableKeyPath<Configuration, Bool>)
        case directory(WritableKeyPath<Configuration, String>)
        case timeZone
        case secretPattern
        case host
        case fileMode
        case listen
        case clickhouse
        case database
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
            ScalarSetting(section: "snapshot", key: "schema", kind: .wholeNumber(\.snapshot.schema, 1...2)),
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
            ScalarSetting(section: "lifetime", key: "keys", kind: .wholeNumber(\.lifetime.keys, 0...10_000)),
            ScalarSetting(section: "serve", key: "listen", kind: .listen),
            ScalarSetting(section: "ship", key: "clickhouse", kind: .clickhouse),
            ScalarSetting(section: "ship", key: "database", kind: .database),
            ScalarSetting(section: "ship", key: "state_directory", kind: .directory(\.ship.stateDirectory)),
            ScalarSetting(
                section: "ship", key: "interval_seconds", kind: .wholeNumber(\.ship.intervalSeconds, 1...86_400)),
        ]
    }

    /// The sections, in the order of the reference.
    static let sections = [
        "retention", "snapshot", "state", "journal", "limits", "highlights", "lifetime", "serve", "ship",
    ]

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
        case .listen: yamlText(configuration.serve.listen)
        case .clickhouse: configuration.ship.clickhouse.map(yamlText) ?? "null"
        case .database: yamlText(configuration.ship.database)
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
        case .listen: "an address and port such as 127.0.0.1:8787 or [::1]:8787"
        case .clickhouse: "ClickHouse's HTTP address such as http://127.0.0.1:8123/"
        case .database: "a database name of letters, digits and _"
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
        case .listen: defaults.serve.listen
        case .clickhouse: "none (give --clickhouse)"
        case .database: defaults.ship.database
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
        case .clickhouse:
            guard text.hasPrefix("http://"), text.count > "http://".count, !text.contains(" ") else {
                throw failure(.invalidValue, "expected \(expectation), \(got)")
            }
            configuration.ship.clickhouse = text
        case .database:
            guard let first = text.unicodeScalars.first,
                first == "_" || (first.isASCII && first.properties.isAlphabetic),
                text.unicodeScalars.allSatisfy({
                    $0 == "_" || ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0)))
                })
            else { throw failure(.invalidValue, "expected \(expectation), \(got)") }
            configuration.ship.database = text
        case .listen:
            guard ListenAddress(text) != nil else { throw failure(.invalidValue, "expected \(expectation), \(got)") }
            configuration.serve.listen = text
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
