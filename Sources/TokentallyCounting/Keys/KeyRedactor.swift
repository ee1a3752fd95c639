import TokentallySystem
import TokentallyReading
/// Decides how an API key value is written out, so that no raw secret ever leaves tokentally
/// (docs/log-format.md, "API keys are secrets").
///
/// A hashed key is `key_` followed by the first 16 lowercase hex digits of the SHA-256 of the
/// key's UTF-8 bytes: the same on every host, so snapshots from several hosts merge.
/// It runs once per distinct key value (the record layer interns keys), not once per line.
/// At high cardinality that is still once per line or so, so a pattern simple enough
/// (`LiteralSecretPattern`, the default among them) is matched byte by byte, and the `Regex`
/// decides only what that cannot.
public struct KeyRedactor: Sendable {
    /// The configured secret pattern, as written.
    public let secretPattern: String
    // `Regex` is not declared `Sendable`, but a compiled one is immutable: its only mutable part,
    // the lazily lowered matching program, is published with an atomic compare-and-swap in the
    // standard library, so sharing it between tasks is safe.
    nonisolated(unsafe) private let secretRegex: Regex<AnyRegexOutput>
    /// The same pattern as a byte matcher, when it is simple enough.
    private let literal: LiteralSecretPattern?

    /// Compiles the secret pattern, a Swift `Regex` that a raw secret matches somewhere
    /// (anchor it with `^` to match only prefixes, as the default `^(sk|pk|rk)[-_]` does).
    ///
    /// - Throws: ``SecretPatternError`` when the pattern is not a valid regular expression.
    public init(secretPattern: String) throws(SecretPatternError) {
        self.secretPattern = secretPattern
        do {
            secretRegex = try Regex(secretPattern)
        } catch {
            throw SecretPatternError(pattern: secretPattern, cause: error)
        }
        literal = LiteralSecretPattern(secretPattern)
    }

    /// Whether `raw` matches the secret pattern anywhere.
    func looksSecret(_ raw: String) -> Bool {
        if let literal {
            var raw = raw
            if let answer = raw.withUTF8({ literal.matches($0) }) { return answer }
        }
        return raw.contains(secretRegex)
    }

    /// The name under which a key value is counted and written.
    ///
    /// - `auto`: hashed when the value matches the secret pattern, else kept.
    /// - `hash`: always hashed.
    /// - `none`: kept, unless it matches the secret pattern: a raw secret is hashed anyway.
    func displayName(forRawKey raw: String, mode: KeyRedaction) -> String {
        // The placeholder of records that name no key is no one's secret: it stays readable.
        if raw == CanonicalField.noKeyPlaceholder { return raw }
        switch mode {
        case .hash:
            return Self.hashedName(forRawKey: raw)
        case .auto, .none:
            return looksSecret(raw) ? Self.hashedName(forRawKey: raw) : raw
        }
    }

    /// `key_` + the first 16 lowercase hex digits of SHA-256 of `raw`'s UTF-8 bytes.
    static func hashedName(forRawKey raw: String) -> String {
        var utf8 = raw
        let digest = utf8.withUTF8 { SHA256.hash(UnsafeRawBufferPointer($0)) }
        return "key_" + SHA256.hex(digest.prefix(8))
    }
}

/// A `secret_pattern` that is not a valid regular expression; a configuration error.
public struct SecretPatternError: Error, CustomStringConvertible {
    /// What went wrong, for code that tells errors apart.
    public enum Code: String, Sendable, Hashable {
        /// The pattern does not compile as a Swift `Regex`.
        case invalidRegularExpression
    }

    /// Always ``Code/invalidRegularExpression`` today.
    public let code: Code
    /// The pattern as configured.
    let pattern: String
    /// The regular-expression compiler's error.
    public let cause: any Error

    /// Wraps the compiler's error for `pattern`.
    public init(pattern: String, cause: any Error) {
        self.code = .invalidRegularExpression
        self.pattern = pattern
        self.cause = cause
    }

    /// One line for a person: what is wrong and what to do.
    public var message: String {
        "secret_pattern \"\(pattern)\" is not a valid regular expression (\(cause)); "
            + "fix it in the configuration file or remove it to use the default ^(sk|pk|rk)[-_]"
    }

    /// The same as ``message``.
    public var description: String { message }
}
