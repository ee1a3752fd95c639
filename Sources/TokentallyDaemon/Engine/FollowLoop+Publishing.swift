import TokentallyCounting
import TokentallyOutput
import TokentallySystem

/// How far the snapshots are: which buckets were written holding which changes, the buckets
/// left for the next batch of a snapshot written in several, and what the last one showed.
struct SnapshotProgress {
    var tracker = ChangeTracker()
    /// The buckets of the snapshot being taken that are not written yet, in order.
    var pending: [BucketKey] = []
    /// Lines read, and the follower's status changes, at the last snapshot.
    var linesRead: UInt64 = .max
    var fileChanges: UInt64 = .max
    /// When the last snapshot was taken (Unix seconds).
    var lastTime: Int64? = nil

    /// A snapshot did not fit in one batch; the rest waits for the next.
    var hasBacklog: Bool { !pending.isEmpty }

    /// Whether a snapshot would show something the last did not.
    func isBehind(linesRead: UInt64, fileChanges: UInt64) -> Bool {
        linesRead != self.linesRead || fileChanges != self.fileChanges || hasBacklog
    }

    /// The next batch of the snapshot being taken (`SnapshotPublisher.prepare`).
    mutating func nextBatch(
        of publisher: SnapshotPublisher, _ counters: UsageCounters, status: IngestStatus, now: Int64, rowBudget: Int
    ) -> SnapshotPublisher.Batch {
        publisher.prepare(
            counters, status: status, now: now, rowBudget: rowBudget, tracker: &tracker, pending: &pending)
    }

    /// Every bucket counts as changed, and the next snapshot shows everything again (a reload
    /// with new snapshot settings).
    mutating func rewriteEverything() {
        tracker.forgetWritten()
        linesRead = .max
    }
}

extension FollowLoop {
    // MARK: - Commit

    func commitSignature() -> [UInt64] {
        StateCommitter.signature(linesRead: ingestor.linesRead, files: follower.records(now: 0))
    }

    /// Commits counters and file offsets together, if anything changed since the last commit.
    /// Returns false when the commit failed: it is logged (at most once a minute while it keeps
    /// failing), shown in the status, and tried again at the next interval.
    @discardableResult
    public func commitIfChanged(force: Bool = false) -> Bool {
        let signature = commitSignature()
        guard force || committer.hasChanges(signature) else { return true }
        let now = WallClock.seconds()
        let checkpoint = Checkpoint(
            commitTime: now, inputs: configuration.inputs.map(\.path), files: follower.records(now: now))
        return committer.commit(checkpoint, lines: ingestor, signature: signature)
    }

    // MARK: - Snapshots

    /// The status section of index.json, as of now.
    func status() -> IngestStatus {
        var status = IngestStatus(counting: ingestor)
        status.linesPerSecond = rate.perSecond
        status.lastCommitEpochSeconds = committer.lastCommitTime
        status.commits = committer.health
        status.snapshotWrites = outbox?.health ?? OperationHealth()
        status.files = follower.statuses()
        return status
    }

    /// Takes a snapshot: the reports of the changed buckets are built here, on the loop's
    /// thread; encoding and writing them happen on the outbox's thread, off the ingest path.
    /// A snapshot that `beginsNew` covers the buckets changed now (and is written in batches of
    /// `snapshotRowBudget` rows, so that it ends even while new lines keep changing buckets);
    /// otherwise the batch goes on with the buckets left from the last. With `final`, every
    /// changed bucket is written, and the call waits until it is (shutdown).
    func snapshot(beginsNew: Bool = false, final: Bool = false) {
        rate.update(at: MonotonicClock.seconds(), lines: ingestor.linesRead)
        if outbox.takeFailure() { snapshots.tracker.forgetWritten() }
        if outbox.isBusy {
            guard final else { return }  // the changed buckets stay changed for the next turn
            outbox.drain()
        }
        let now = WallClock.seconds()
        if beginsNew || final {
            snapshots.pending = snapshots.tracker.changedBuckets(in: counters, pacedAt: final ? nil : now)
        }
        repeat {
            if final { outbox.drain() }
            let batch = snapshots.nextBatch(
                of: publisher, counters, status: status(), now: now, rowBudget: Self.snapshotRowBudget)
            outbox.submit(batch, with: publisher)
        } while final && snapshots.hasBacklog
        snapshots.linesRead = ingestor.linesRead
        snapshots.fileChanges = follower.statusChanges
        snapshots.lastTime = now
        notifier.notify("STATUS=" + statusLine())
        if final { outbox.stop() }
    }
}
