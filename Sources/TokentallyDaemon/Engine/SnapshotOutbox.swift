import Foundation
import Logging
import TokentallyOutput
import TokentallySystem

/// Encodes and writes snapshot batches on a thread of its own, so that the ingest loop only
/// builds the reports (a copy of the changed buckets) and goes on counting while the files are
/// encoded, fsynced and renamed.
///
/// One batch at a time: while one is being written the loop keeps its buckets dirty and offers
/// them again at the next interval. A batch that fails to write is reported back, so the loop
/// can take every bucket as changed and try again.
///
/// `@unchecked Sendable`: its thread and the loop's share only the `var`s below, each read and
/// written under `condition`; `errorLog` is the outbox thread's alone.
final class SnapshotOutbox: @unchecked Sendable {
    private let condition = NSCondition()
    private var pending: (batch: SnapshotPublisher.Batch, publisher: SnapshotPublisher)?
    private var busy = false
    private var stopped = false
    private var failed = false
    private var lastWrite: Double = 0
    private var totalWrite: Double = 0
    /// Written by the outbox thread, read by the loop for the status, under `condition`.
    private var writeHealth = OperationHealth()
    private var errorLog = RateLimiter(interval: 60)
    private let logger: Logger
    /// Called on the outbox thread after a batch was written (journal entries).
    private let afterWrite: @Sendable (SnapshotPublisher.Batch) -> Void

    init(logger: Logger, afterWrite: @escaping @Sendable (SnapshotPublisher.Batch) -> Void) {
        self.logger = logger
        self.afterWrite = afterWrite
        let thread = Thread { [unowned self] in self.loop() }
        thread.name = "tokentally-snapshots"
        thread.start()
    }

    /// Whether a batch is still being written (the loop should not prepare another yet).
    var isBusy: Bool {
        condition.lock()
        defer { condition.unlock() }
        return busy || pending != nil
    }

    /// Hands a batch over. Call only when not busy.
    func submit(_ batch: SnapshotPublisher.Batch, with publisher: SnapshotPublisher) {
        condition.lock()
        pending = (batch, publisher)
        condition.signal()
        condition.unlock()
    }

    /// How long the last batch took to encode and write, and all batches so far, in seconds.
    var writeTimes: Schedule.WriteTimes {
        condition.lock()
        defer { condition.unlock() }
        return Schedule.WriteTimes(last: lastWrite, total: totalWrite)
    }

    /// The last success and failure of writing snapshot files.
    var health: OperationHealth {
        condition.lock()
        defer { condition.unlock() }
        return writeHealth
    }

    /// Whether a write failed since the last call (and clears it).
    func takeFailure() -> Bool {
        condition.lock()
        defer { condition.unlock() }
        let value = failed
        failed = false
        return value
    }

    /// Waits until every submitted batch is written.
    func drain() {
        condition.lock()
        while busy || pending != nil { condition.wait() }
        condition.unlock()
    }

    /// Drains, then ends the thread.
    func stop() {
        drain()
        condition.lock()
        stopped = true
        condition.broadcast()
        condition.unlock()
    }

    private func loop() {
        while true {
            condition.lock()
            while pending == nil && !stopped { condition.wait() }
            guard let job = pending else {
                condition.unlock()
                return
            }
            pending = nil
            busy = true
            condition.unlock()

            var ok = true
            let started = ContinuousClock.now
            condition.lock()
            var health = writeHealth
            condition.unlock()
            let failuresBefore = health.consecutiveFailures
            do {
                try job.publisher.write(job.batch, health: &health, now: Int64(time(nil)))
            } catch {
                ok = false
                // Said once, then at most once a minute while it keeps failing.
                let (allowed, held) = errorLog.allow()
                if allowed {
                    logger.error(
                        "writing snapshots failed; will retry",
                        metadata: [
                            "error": "\(error)", "failures": "\(health.consecutiveFailures)", "not_logged": "\(held)",
                        ])
                }
            }
            if ok {
                if failuresBefore > 0 {
                    logger.notice("snapshots are written again", metadata: ["failures": "\(failuresBefore)"])
                    errorLog.reset()
                }
                afterWrite(job.batch)
            }

            let took = ContinuousClock.now - started
            condition.lock()
            busy = false
            lastWrite = Double(took.components.seconds) + Double(took.components.attoseconds) / 1e18
            totalWrite += lastWrite
            writeHealth = health
            if !ok { failed = true }
            condition.broadcast()
            condition.unlock()
        }
    }
}
