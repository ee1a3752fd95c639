import TokentallySystem
import TokentallyReading
import TokentallyCounting
/// A configuration that cannot be used: a bad value in the config file or in a `TOKENTALLY_*`
/// environment variable, a file that cannot be read, or a config the daemon cannot run with.
///
/// Its ``description`` is one line for a person: where (file and line, or variable), which key,
/// what is wrong and what to do, e.g.
/// `/etc/tokentally/tokentally.yaml:12: limits.max_series: expected a whole number from 1 to
/// 100000000, got "lots"; fix the value or remove the key to use the default 1000000`.
/// The other properties let a program tell errors apart without reading the text.
public struct ConfigurationError: Error, CustomStringConvertible, Sendable {
    /// What kind of mistake this is.
    public enum Code: String, Sendable, Hashable, CaseIterable {
        /// A key the section does not have, or a `TOKENTALLY_*` variable that names no setting.
        case unknownKey
        /// The same key twice in one mapping.
        case duplicateKey
        /// A value of the wrong kind: a list where a number belongs, text where a mapping belongs.
        case wrongType
        /// A number outside the setting's range.
        case outOfRange
        /// A value of the right kind that is not allowed: not one of the choices, empty, a malformed
        /// field path or status range, or an input listed twice.
        case invalidValue
        /// A `timezone` that Foundation does not know.
        case unknownTimeZone
        /// An input whose `format` is neither a preset nor a name under `formats:`.
        case unknownFormat
        /// A name under `formats:` that is already a preset's name.
        case presetRedefined
        /// An input without `path`, a format without a source for a required canonical field, or a
        /// `difference` without `end`, `start` or `unit`.
        case missingRequiredField
        /// A `secret_pattern` that does not compile as a regular expression.
        case invalidPattern
        /// The config file is missing, a directory, or not readable.
        case unreadableFile
        /// The file is not valid YAML (or not UTF-8 text).
        case invalidYAML
        /// The daemon was started with no input to follow.
        case noInputs
    }

    /// Where the bad setting came from.
    public enum Origin: Sendable, Hashable, CustomStringConvertible {
        /// The config file at this path (as the user named it).
        case file(String)
        /// The environment variable of this name.
        case environment(String)

        /// The file path or the variable name.
        public var description: String {
            switch self {
            case .file(let path): path
            case .environment(let name): name
            }
        }
    }

    /// What kind of mistake this is.
    public var code: Code
    /// The config file or environment variable that holds the bad setting.
    var origin: Origin
    /// The setting's path in the YAML document, such as `limits.max_series`, `inputs[1].format` or
    /// `formats.mygateway.ts` (input indexes count from 0); nil when the error is about the whole
    /// file.
    var keyPath: String?
    /// The 1-based line in the config file where the bad value is, when known.
    var line: Int?
    /// What is wrong and what to do, without the origin and key path.
    public var message: String
    /// The underlying error (a YAML parser error, a file system error, a regex error), if any.
    public var cause: (any Error)?

    /// Makes an error; ``description`` composes the one line from these parts.
    public init(
        code: Code,
        origin: Origin,
        keyPath: String?,
        line: Int? = nil,
        message: String,
        cause: (any Error)? = nil
    ) {
        self.code = code
        self.origin = origin
        self.keyPath = keyPath
        self.line = line
        self.message = message
        self.cause = cause
    }

    /// One line: `FILE[:LINE]: [KEY: ]MESSAGE`, or `VARIABLE: MESSAGE` for an environment variable
    /// (the variable already names the key). Control characters are escaped so that the text
    /// never spans lines, whatever a user put in a value or a file name.
    public var description: String {
        var text: String
        switch origin {
        case .file(let path):
            text = path
            if let line { text += ":\(line)" }
            text += ": "
            if let keyPath { text += keyPath + ": " }
        case .environment(let name):
            text = "environment variable \(name): "
        }
        text += message
        return Self.singleLine(text)
    }

    /// Replaces line breaks and other control characters with visible escapes.
    static func singleLine(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            return text
        }
        var result = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            default:
                if scalar.properties.generalCategory == .control {
                    result += "\\u{" + String(scalar.value, radix: 16) + "}"
                } else {
                    result.unicodeScalars.append(scalar)
                }
            }
        }
        return result
    }
}
