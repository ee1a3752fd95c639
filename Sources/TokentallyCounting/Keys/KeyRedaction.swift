import TokentallySystem
import TokentallyReading
/// How API key values of one input are written out (docs/log-format.md, "API keys are secrets").
public enum KeyRedaction: String, Sendable, Hashable, CaseIterable {
    /// Hash values that match the secret pattern, keep the others.
    case auto
    /// Hash every value.
    case hash
    /// Keep values as they are; a value that still matches the secret pattern is hashed anyway,
    /// because a raw secret must never be written.
    case none
}
