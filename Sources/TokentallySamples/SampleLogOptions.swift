#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
import TokentallySystem
import TokentallyReading

// MARK: - Options, summary, errors

/// What `tokentally generate` makes: how many lines, over which time range, in which format and
/// how many rotated files.
///
/// The same options always produce the same bytes (the generator draws everything from its own
/// seeded generator, never from the system), so the README demo, the tests and the benchmarks can
/// rely on the content.
public struct SampleLogOptions: Sendable, Hashable {
    /// Lines over the whole rotated set.
    public var lines: Int
    /// Days the timestamps spread over, ending at ``end``.
    public var days: Int
    /// Files in the rotated set, live file included (1 means only the live file).
    public var files: Int
    /// Distinct API keys to draw from (Zipf-skewed: a few keys make most of the traffic).
    public var keys: Int
    /// Seed of the pseudo-random generator; a different seed gives different content.
    public var seed: UInt64
    /// Which gateway's field names the lines use.
    public var format: FormatPreset
    /// The exclusive end of the time range, in epoch seconds; every timestamp is earlier.
    var end: Int64
    /// The live file's name; rotated files add `.1`, `.2.gz` and so on.
    var baseName: String

    /// 2026-11-28T00:00:00Z, the default end of the time range.
    public static let defaultEnd: Int64 = 1_795_824_000

    /// Makes options; every parameter has the default `tokentally generate` uses.
    public init(
        lines: Int = 100_000,
        days: Int = 7,
        files: Int = 4,
        keys: Int = 200,
        seed: UInt64 = 42,
        format: FormatPreset = .tokentally,
        end: Int64 = SampleLogOptions.defaultEnd,
        baseName: String = "access.log"
    ) {
        self.lines = lines
        self.days = days
        self.files = files
        self.keys = keys
        self.seed = seed
        self.format = format
        self.end = end
        self.baseName = baseName
    }
}

/// What a generator wrote.
public struct SampleLogSummary: Sendable, Hashable {
    /// One file of the rotated set.
    public struct File: Sendable, Hashable {
        /// The file name inside the target directory, such as `access.log.2.gz`.
        public var name: String
        /// Lines in the file (after decompression).
        public var lines: Int
        /// Whether the file was opened as a gzip sink.
        public var isGzip: Bool
        /// Gzip members in the file: 1 or 2 for gzip files, 0 for plain files.
        var gzipMembers: Int
        /// Uncompressed bytes written, line ends included.
        public var bytes: Int

        /// Makes a file entry.
        public init(name: String, lines: Int, isGzip: Bool, gzipMembers: Int, bytes: Int) {
            self.name = name
            self.lines = lines
            self.isGzip = isGzip
            self.gzipMembers = gzipMembers
            self.bytes = bytes
        }
    }

    /// The files written, oldest first (the order a reader of the rotated set reads them in).
    public var files: [File]

    /// Lines over all files.
    public var totalLines: Int { files.reduce(0) { $0 + $1.lines } }
    /// Uncompressed bytes over all files.
    var totalBytes: Int { files.reduce(0) { $0 + $1.bytes } }

    /// Makes a summary of these files, oldest first.
    public init(files: [File]) {
        self.files = files
    }
}

/// Why sample logs could not be written: bad options, or a file that could not be opened, written
/// or closed.
public struct SampleLogError: Error, CustomStringConvertible, Sendable {
    /// What went wrong.
    public enum Code: String, Sendable, Hashable, CaseIterable {
        /// An option out of range (no lines file, zero days, a base name with a slash...).
        case invalidOptions = "invalid_options"
        /// A file could not be created.
        case openFailed = "open_failed"
        /// Writing (or compressing) failed.
        case writeFailed = "write_failed"
        /// Finishing or closing a file failed.
        case closeFailed = "close_failed"
    }

    /// What went wrong.
    public var code: Code
    /// The file concerned; empty for ``Code/invalidOptions``.
    public var path: String
    /// What is wrong and what to do, for a person.
    public var message: String
    /// The `errno` behind it, when there was one.
    public var errno: Int32?

    /// Makes an error.
    public init(code: Code, path: String, message: String, errno: Int32? = nil) {
        self.code = code
        self.path = path
        self.message = message
        self.errno = errno
    }

    /// Builds an error from a failed system call, with the system's text for `errno`.
    public static func system(_ code: Code, path: String, doing action: String, errno err: Int32) -> SampleLogError {
        let reason = String(cString: strerror(err))
        return SampleLogError(code: code, path: path, message: "\(action) failed: \(reason)", errno: err)
    }

    /// One line: `PATH: MESSAGE`, or only the message when no file is concerned.
    public var description: String { path.isEmpty ? message : "\(path): \(message)" }
}
