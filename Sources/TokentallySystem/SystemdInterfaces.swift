/// Sends service state to the service manager (`sd_notify`): `READY=1`, `STATUS=…`,
/// `WATCHDOG=1`, `RELOADING=1`, `STOPPING=1`. Without `NOTIFY_SOCKET` it does nothing.
public protocol ServiceNotifier: Sendable {
    /// Whether a service manager listens (the unit is `Type=notify`).
    var isEnabled: Bool { get }
    /// The watchdog interval the manager set (`WATCHDOG_USEC`), in seconds, or nil.
    var watchdogInterval: Double? { get }
    /// Sends newline-separated `KEY=value` assignments. Returns false if sending failed.
    @discardableResult
    func notify(_ assignments: String) -> Bool
}

/// A notifier for when no service manager listens.
public struct SilentNotifier: ServiceNotifier {
    public init() {}
    public var isEnabled: Bool { false }
    public var watchdogInterval: Double? { nil }
    public func notify(_ assignments: String) -> Bool { true }
}

/// Writes structured entries to the journal.
public protocol JournalSink: Sendable {
    /// Sends one entry; field names are upper-case journal field names. Throws when the
    /// journal cannot be reached.
    func send(_ fields: [(name: String, value: String)]) throws
}

/// Why an entry could not be sent to the journal.
public struct JournalError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
