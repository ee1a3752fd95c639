#if canImport(Glibc)
    import Glibc
#endif
import TokentallyConfiguration
import TokentallyOutput
import TokentallySystem

extension FollowLoop {
    /// Applies a reloaded configuration between lines, as its `ReloadPlan` says: first a commit
    /// (so offsets and counters stay of one moment), then inputs, formats, limits, retention,
    /// intervals, snapshot and journal settings. `RELOADING=1` … `READY=1` frame it for systemd.
    /// A reload that cannot be applied keeps the old configuration running and says why.
    func applyReload(_ new: Configuration, now: Int64) {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        let microseconds = UInt64(spec.tv_sec) * 1_000_000 + UInt64(spec.tv_nsec) / 1000
        notifier.notify("RELOADING=1\nMONOTONIC_USEC=\(microseconds)")
        let changes: ReloadPlan.Changes
        switch ReloadPlan(from: configuration, to: new).outcome {
        case .refuse(let problem):
            refuseReload(problem)
            return
        case .apply(let planned):
            changes = planned
        }
        commitIfChanged()
        do throws(CommandError) {
            if changes.contains(.inputs) { try Self.watchInputDirectories(new.inputs, with: watcher) }
            if changes.contains(.snapshotOutput) { try replacePublisher(for: new) }
        } catch {
            refuseReload("\(error)")
            return
        }
        if changes.contains(.formats) { ingestor.mappings = new.formatMappings }
        if changes.contains(.limits) {
            ingestor.maxLineBytes = new.limits.maxLineBytes
            counters.maxSeries = new.limits.maxSeries
        }
        if changes.contains(.retention) { counters.retention = new.retention }
        if changes.contains(.intervals) { schedule.settings = Self.scheduleSettings(new, notifier) }
        if changes.contains(.journal) { journal.update(new.journal) }
        if changes.contains(.inputs) || changes.contains(.limits) {
            follower.update(inputs: new.inputs, maxLineBytes: new.limits.maxLineBytes, now: now)
        }
        configuration = new
        reloadProblem = nil
        // Retention or the snapshot settings may have changed what the files should hold.
        snapshots.linesRead = .max
        logger.info(
            "configuration reloaded", metadata: ["inputs": "\(new.inputs.count)", "changed": "\(changes)"])
        notifier.notify("READY=1\nSTATUS=" + statusLine())
    }

    private func refuseReload(_ problem: String) {
        reloadProblem = problem
        logger.error("reload refused; the old configuration keeps running: \(problem)")
        notifier.notify("READY=1\nSTATUS=" + statusLine())
    }

    /// A new publisher for new snapshot settings, once the old one's last batch went where it
    /// was meant to; it writes every bucket again.
    private func replacePublisher(for new: Configuration) throws(CommandError) {
        outbox.drain()
        do {
            let writer = try SnapshotWriter(
                directory: new.snapshot.directory, fileMode: new.snapshot.fileMode, schema: new.snapshotSchema)
            if writer.directory != snapshotLock.directory {
                snapshotLock = try DirectoryLock(
                    directory: writer.directory, name: SnapshotWriter.lockFileName, setting: "snapshot.directory")
            }
            publisher = new.snapshotPublisher(writer: writer, pruneUnknownBuckets: false)
        } catch {
            throw .io("\(error)")
        }
        snapshots.rewriteEverything()
    }
}
