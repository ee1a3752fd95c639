import TokentallyConfiguration

/// What a reload changes: the old configuration and the new one in, the parts to apply (or why
/// the new one cannot be applied while running) out. `FollowLoop` carries it out between lines,
/// after a commit; `ReloadPlanTests` pin it down.
struct ReloadPlan: Equatable, Sendable {
    /// The parts of the running daemon a reload replaces.
    struct Changes: OptionSet, Sendable, CustomStringConvertible {
        let rawValue: UInt16
        /// Input globs, or an input's format, redaction or time zone: watch new directories, close
        /// files of removed inputs, give open files their input's new settings.
        static let inputs = Changes(rawValue: 1 << 0)
        /// User formats: parsers are made again.
        static let formats = Changes(rawValue: 1 << 1)
        /// `limits`: line length, series limit, how far ahead a record may be dated.
        static let limits = Changes(rawValue: 1 << 2)
        /// Retention: buckets older than the new window are evicted at once.
        static let retention = Changes(rawValue: 1 << 3)
        /// Where and how snapshots are written (directory, mode, host, highlights): a new
        /// publisher, which writes every bucket again.
        static let snapshotOutput = Changes(rawValue: 1 << 4)
        /// Snapshot or commit intervals.
        static let intervals = Changes(rawValue: 1 << 5)
        /// Journal settings.
        static let journal = Changes(rawValue: 1 << 6)

        var description: String {
            [
                (Self.inputs, "inputs"), (.formats, "formats"), (.limits, "limits"), (.retention, "retention"),
                (.snapshotOutput, "snapshot output"), (.intervals, "intervals"), (.journal, "journal"),
            ].filter { contains($0.0) }.map(\.1).joined(separator: ", ")
        }
    }

    enum Outcome: Equatable, Sendable {
        /// The new configuration cannot be applied while running; the old one keeps running.
        case refuse(String)
        case apply(Changes)
    }

    let outcome: Outcome

    init(from old: Configuration, to new: Configuration) {
        if let problem = Self.liveChangeProblem(from: old, to: new) {
            outcome = .refuse(problem)
            return
        }
        var changes: Changes = []
        if old.inputs != new.inputs { changes.insert(.inputs) }
        if old.formats != new.formats { changes.insert(.formats) }
        if old.limits != new.limits { changes.insert(.limits) }
        if old.retention != new.retention { changes.insert(.retention) }
        if old.snapshot.directory != new.snapshot.directory || old.snapshot.fileMode != new.snapshot.fileMode
            || old.snapshot.schema != new.snapshot.schema
            || old.host != new.host || old.highlights != new.highlights
        {
            changes.insert(.snapshotOutput)
        }
        if old.snapshot.intervalSeconds != new.snapshot.intervalSeconds
            || old.state.commitIntervalSeconds != new.state.commitIntervalSeconds
        {
            changes.insert(.intervals)
        }
        if old.journal != new.journal { changes.insert(.journal) }
        outcome = .apply(changes)
    }

    /// Whether a reload from `old` to `new` can be applied while running; if not, why.
    static func liveChangeProblem(from old: Configuration, to new: Configuration) -> String? {
        if old.timezone != new.timezone {
            return
                "timezone cannot change while running (buckets are counted in \(old.timezone)); restart tokentally after rebuilding its state (docs/operations.md)"
        }
        if old.state.directory != new.state.directory {
            return "state.directory cannot change while running; stop tokentally, move the state, then start it"
        }
        if old.secretPattern != new.secretPattern {
            return
                "secret_pattern cannot change while running (keys already seen keep their names); restart tokentally to apply it"
        }
        return nil
    }
}
