import Foundation
import Testing

/// `check-config` on broken configurations: exit 2 and one line naming what is wrong.
@Suite("Configuration errors")
struct ConfigurationErrorTests {
    /// A complete, valid configuration whose paths point into `root`.
    static func validConfiguration(root: URL, formatOfInput: String = "tokentally", userFormat: String? = nil) -> String
    {
        """
        inputs:
          - path: \(root.path)/logs/access.log*
            format: \(formatOfInput)
            redact_keys: auto
        timezone: Europe/Berlin
        retention: { days: 30, weeks: 10, months: 12 }
        snapshot:
          directory: \(root.path)/snapshots
          interval_seconds: 5
        state:
          directory: \(root.path)/state
          commit_interval_seconds: 2
        journal:
          enabled: false
          top: 5
        limits:
          max_line_bytes: 65536
          max_series: 1000
        formats:
          mygateway:
        \(userFormat ?? "    ts: time\n    api_key: auth.key_id\n    model: model\n    provider: upstream.name")

        """
    }

    /// One broken configuration and what its error line must name.
    enum Breakage: String, CaseIterable, CustomTestStringConvertible {
        case unknownKey, wrongType, outOfRange, unknownTimeZone, unknownFormat, userFormatMissingField
        case missingFile, badEnvironmentOverride

        var testDescription: String { rawValue }

        /// The configuration text (nil: no file is written).
        func configuration(root: URL) -> String? {
            let valid = ConfigurationErrorTests.validConfiguration(root: root)
            switch self {
            case .unknownKey:
                return valid + "bogus_setting: 1\n"
            case .wrongType:
                return valid.replacingOccurrences(of: "days: 30", with: "days: \"many\"")
            case .outOfRange:
                return valid.replacingOccurrences(of: "interval_seconds: 5", with: "interval_seconds: -5")
            case .unknownTimeZone:
                return valid.replacingOccurrences(of: "Europe/Berlin", with: "Mars/Olympus_Mons")
            case .unknownFormat:
                return ConfigurationErrorTests.validConfiguration(root: root, formatOfInput: "nosuchformat")
            case .userFormatMissingField:
                return ConfigurationErrorTests.validConfiguration(
                    root: root, formatOfInput: "mygateway",
                    userFormat: "    ts: time\n    api_key: auth.key_id\n    model: model")
            case .missingFile:
                return nil
            case .badEnvironmentOverride:
                return valid
            }
        }

        var environment: [String: String] {
            self == .badEnvironmentOverride ? ["TOKENTALLY_LIMITS_MAX_SERIES": "lots"] : [:]
        }

        /// The error line must contain one of these (the key, or the bad value it names).
        var named: [String] {
            switch self {
            case .unknownKey: ["bogus_setting"]
            case .wrongType: ["days"]
            case .outOfRange: ["interval_seconds"]
            case .unknownTimeZone: ["timezone", "Mars/Olympus_Mons"]
            case .unknownFormat: ["nosuchformat"]
            case .userFormatMissingField: ["provider"]
            case .missingFile: []  // the file's path, checked below
            case .badEnvironmentOverride: ["TOKENTALLY_LIMITS_MAX_SERIES"]
            }
        }

        /// docs/configuration.md, "Errors": these errors name the key and the file.
        var namesFile: Bool { [.unknownKey, .wrongType, .outOfRange, .missingFile].contains(self) }
    }

    @Test(arguments: Breakage.allCases)
    func brokenConfigurationExitsTwoWithOneLine(breakage: Breakage) throws {
        try withScratchDirectory("config-\(breakage.rawValue)") { root in
            let file = root.appendingPathComponent("broken-\(breakage.rawValue).yaml")
            if let text = breakage.configuration(root: root) {
                try Data(text.utf8).write(to: file)
            }
            let outcome = try TokentallyBinary.run(
                ["check-config", "--config", file.path], environment: breakage.environment)
            #expect(outcome.status == 2, "\(outcome.summary)")
            #expect(outcome.stderrLines.count == 1, "stderr should be one line: \(outcome.stderrText)")
            let message = outcome.stderrText
            if !breakage.named.isEmpty {
                #expect(breakage.named.contains { message.contains($0) }, "names none of \(breakage.named): \(message)")
            }
            if breakage.namesFile {
                #expect(message.contains(file.lastPathComponent), "does not name the file: \(message)")
            }
        }
    }

    /// Bad arguments fail like bad configurations: status 2 and one line that names the problem.
    @Test(arguments: [
        (["replay", "--threads", "99", "x.log"], "--threads must be between 0 and 64"),
        (["replay", "--threads"], "Missing value for '--threads"),
        (["generate", "--out", "/tmp/never-written", "--days", "0"], "--days must be at least 1"),
        (["replay", "--no-such-option"], "Unknown option '--no-such-option'"),
    ])
    func badArgumentsExitTwoWithOneLine(arguments: [String], expected: String) throws {
        let outcome = try TokentallyBinary.run(arguments)
        #expect(outcome.status == 2, "\(outcome.summary)")
        #expect(outcome.stderrLines.count == 1, "stderr should be one line: \(outcome.stderrText)")
        #expect(outcome.stderrText.contains(expected), "\(outcome.stderrText)")
        let help = try TokentallyBinary.run([arguments[0], "--help"])
        #expect(help.status == 0, "\(help.summary)")
    }

    @Test
    func validConfigurationPassesCheck() throws {
        try withScratchDirectory("config-valid") { root in
            let file = root.appendingPathComponent("valid.yaml")
            try Data(Self.validConfiguration(root: root).utf8).write(to: file)
            let outcome = try TokentallyBinary.run(["check-config", "--config", file.path])
            #expect(outcome.status == 0, "\(outcome.summary)")
            let overridden = try TokentallyBinary.run(
                ["check-config", "--config", file.path], environment: ["TOKENTALLY_LIMITS_MAX_SERIES": "50"])
            #expect(overridden.status == 0, "a valid override is accepted: \(overridden.summary)")
        }
    }
}
