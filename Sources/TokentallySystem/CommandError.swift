#if canImport(Glibc)
    import Glibc
#endif

/// Why a command could not run, as a value: what kind of failure (it decides the exit status), a
/// stable code for programs and tests, one line for a person saying what is wrong and what to
/// do, and the error underneath, if any.
public struct CommandError: Error, CustomStringConvertible, Sendable {
    /// Bad usage or an invalid configuration (exit 2), or an I/O or runtime failure (exit 1).
    public enum Kind: Sendable, Equatable {
        case usage
        case io
    }

    /// What failed, for programs and tests; the message is for people.
    public enum Code: String, Sendable, Equatable {
        case invalidArgument = "invalid_argument"
        case invalidConfiguration = "invalid_configuration"
        case missingInput = "missing_input"
        case inUse = "in_use"
        case notWritable = "not_writable"
        case foreignState = "foreign_state"
        case unreadableState = "unreadable_state"
        case readFailed = "read_failed"
        case writeFailed = "write_failed"
        case stoppedUnsaved = "stopped_unsaved"
        case other
    }

    var kind: Kind
    public var code: Code
    public var message: String
    /// The failure underneath (a `FileReadError`, a `SnapshotError`, ...), for logs and tests.
    public var cause: (any Error)?

    public init(kind: Kind, code: Code, message: String, cause: (any Error)? = nil) {
        self.kind = kind
        self.code = code
        self.message = message
        self.cause = cause
    }

    public var exitCode: Int32 { kind == .usage ? 2 : 1 }

    public static func usage(_ message: String, code: Code = .invalidArgument) -> CommandError {
        CommandError(kind: .usage, code: code, message: message)
    }

    public static func io(_ message: String, code: Code = .other, cause: (any Error)? = nil) -> CommandError {
        CommandError(kind: .io, code: code, message: message, cause: cause)
    }

    public var description: String { message }
}

/// The machine's host name, for snapshots.
public enum HostName {
    public static var current: String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count) == 0 else { return "localhost" }
        let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        return String(decoding: bytes, as: UTF8.self)
    }
}
