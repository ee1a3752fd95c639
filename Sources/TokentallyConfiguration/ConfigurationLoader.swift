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
    static let defaultPath = "/etc/tokentally/tokentally.yaml"

    /// Reserved for the config file's path, for the command line to read when no `--config` is
    /// given. The loader never reads it as a setting and does not reject it.
    static let pathVariable = "TOKENTALLY_CONFIG"

    /// The prefix of every environment variable the loader considers its own.
    static let environmentPrefix = "TOKENTALLY_"

    /// Every environment variable that overrides a setting, in the order of the reference:
    /// `TOKENTALLY_TIMEZONE`, ..., `TOKENTALLY_HIGHLIGHTS_MIN_REQUESTS`.
    static var overrideVariables: [String] { ScalarSetting.all.map(\.variable) }

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
    static func validateForDaemon(_ configuration: Configuration, file: String = defaultPath)
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
