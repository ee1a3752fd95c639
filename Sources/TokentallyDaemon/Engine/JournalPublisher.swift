import Logging
import Synchronization
import TokentallyConfiguration
import TokentallyOutput
import TokentallySystem

/// Writes the current day's entries to the journal after a snapshot batch was written, when the
/// day's figures changed since they were last sent. If the journal cannot be reached, the daemon
/// keeps working and says so once, and again when it is back.
///
/// Called on the snapshot outbox's thread; its settings are replaced by the loop on a reload.
/// Both live in mutexes, so it is `Sendable` as it is.
final class JournalPublisher: Sendable {
    private struct Progress {
        var works = true
        var lastDay: (label: String, requests: UInt64)? = nil
    }

    private let sink: (any JournalSink)?
    private let logger: Logger
    private let settings: Mutex<JournalConfiguration>
    private let progress = Mutex(Progress())

    init(sink: (any JournalSink)?, settings: JournalConfiguration, logger: Logger) {
        self.sink = sink
        self.logger = logger
        self.settings = Mutex(settings)
    }

    /// New settings, from the next batch on.
    func update(_ new: JournalConfiguration) {
        settings.withLock { $0 = new }
    }

    /// Sends the batch's newest day, if it has one that changed.
    func publish(_ batch: SnapshotPublisher.Batch) {
        guard let day = batch.newestDay else { return }
        let settings = settings.withLock { $0 }
        guard settings.enabled, let sink else { return }
        progress.withLock { state in
            if let last = state.lastDay, last.label == day.label, last.requests == day.totals.counters.requests {
                return
            }
            do {
                for entry in JournalEntries.entries(for: day, top: settings.top) { try sink.send(entry) }
                if !state.works { logger.notice("journald is reachable again; snapshot entries resume") }
                state.works = true
                state.lastDay = (day.label, day.totals.counters.requests)
            } catch {
                if state.works {
                    logger.warning(
                        "journald is not reachable; snapshot entries are not written to the journal until it is: \(error)"
                    )
                }
                state.works = false
            }
        }
    }
}
