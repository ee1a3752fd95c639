import TokentallySystem
import TokentallyReading
import TokentallySamples
import CSystemd
import Foundation
import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// `sd_notify` through libsystemd. The strings are built in Swift, since Swift cannot call
/// the variadic `sd_notifyf`.
public struct SystemdNotifier: ServiceNotifier {
    public let isEnabled: Bool
    public let watchdogInterval: Double?

    /// Reads `NOTIFY_SOCKET` and `WATCHDOG_USEC` (and `WATCHDOG_PID`, which must be ours).
    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        isEnabled = !(environment["NOTIFY_SOCKET"] ?? "").isEmpty
        if let text = environment["WATCHDOG_USEC"], let microseconds = Double(text), microseconds > 0,
            environment["WATCHDOG_PID"].map({ Int32($0) == getpid() }) ?? true
        {
            watchdogInterval = microseconds / 1_000_000
        } else {
            watchdogInterval = nil
        }
    }

    @discardableResult
    public func notify(_ assignments: String) -> Bool {
        guard isEnabled else { return true }
        return sd_notify(0, assignments) > 0
    }
}

/// Journal entries through `sd_journal_sendv` (an array of iovecs; `sd_journal_send` is
/// variadic and cannot be called from Swift).
public struct SystemdJournal: JournalSink {
    public init() {}

    public func send(_ fields: [(name: String, value: String)]) throws {
        let assignments = fields.map { Array("\($0.name)=\($0.value)".utf8) }
        let status: Int32 = Self.withIovecs(assignments) { iovecs in
            sd_journal_sendv(iovecs.baseAddress, Int32(iovecs.count))
        }
        if status < 0 {
            throw JournalError("journald did not take the entry: \(String(cString: strerror(-status)))")
        }
    }

    static func withIovecs<T>(_ parts: [[UInt8]], _ body: (UnsafeMutableBufferPointer<iovec>) -> T) -> T {
        // Keep every part's storage alive and unmoved while the iovecs point into it.
        let storage = parts.map { part -> UnsafeMutableRawBufferPointer in
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(part.count, 1), alignment: 1)
            buffer.copyBytes(from: part)
            return buffer
        }
        defer { storage.forEach { $0.deallocate() } }
        var iovecs = zip(storage, parts).map { iovec(iov_base: $0.0.baseAddress, iov_len: $0.1.count) }
        return iovecs.withUnsafeMutableBufferPointer { body($0) }
    }

    /// Whether standard error is connected to the journal (`JOURNAL_STREAM` names its device
    /// and inode), as it is for a service that systemd started.
    public static func stderrIsJournal(environment: [String: String] = ProcessInfo.processInfo.environment) -> Bool {
        guard let value = environment["JOURNAL_STREAM"] else { return false }
        let parts = value.split(separator: ":")
        guard parts.count == 2, let device = UInt64(parts[0]), let inode = UInt64(parts[1]) else { return false }
        var info = stat()
        guard fstat(STDERR_FILENO, &info) == 0 else { return false }
        return UInt64(info.st_dev) == device && UInt64(info.st_ino) == inode
    }
}

/// A swift-log handler that writes the daemon's own log lines to the journal natively, with
/// priorities and metadata as fields, for when it runs under systemd.
public struct JournalLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    private let label: String
    private let journal = SystemdJournal()

    public init(label: String) {
        self.label = label
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields: [(name: String, value: String)] = [
            (
                "MESSAGE",
                Self.message(event.message.description, metadata: metadata.merging(event.metadata ?? [:]) { $1 })
            ),
            ("PRIORITY", String(Self.priority(event.level))),
            ("SYSLOG_IDENTIFIER", "tokentally"),
            ("CODE_FILE", event.file),
            ("CODE_LINE", String(event.line)),
            ("CODE_FUNC", event.function),
            ("TOKENTALLY_LOGGER", label),
        ]
        for (key, value) in metadata.merging(event.metadata ?? [:], uniquingKeysWith: { $1 }) {
            fields.append(("TOKENTALLY_" + Self.fieldName(key), "\(value)"))
        }
        do { try journal.send(fields) } catch {
            // The journal went away: fall back to standard error for this line.
            FileHandle.standardError.write(Data((fields[0].value + "\n").utf8))
        }
    }

    static func message(_ text: String, metadata: Logger.Metadata) -> String {
        guard !metadata.isEmpty else { return text }
        let details = metadata.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        return "\(text) (\(details))"
    }

    /// syslog priorities: 2 critical, 3 error, 4 warning, 5 notice, 6 info, 7 debug.
    static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }

    /// Journal field names are upper-case letters, digits and underscores.
    static func fieldName(_ key: String) -> String {
        String(key.uppercased().map { $0.isASCII && ($0.isLetter || $0.isNumber) ? $0 : "_" })
    }
}
