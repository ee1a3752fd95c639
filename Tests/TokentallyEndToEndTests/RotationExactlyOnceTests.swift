import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// One live-following run: a writer appending at a few thousand lines a second, the real
/// logrotate forcing rotations every second or two, and the daemon SIGKILLed at seeded moments
/// (restarted at once, or only after rotations happened while it was down). At the end the
/// daemon's day totals must equal the numbers of the lines written, counter by counter.
struct RotationScenario {
    /// A name for the summary line: the logrotate mode.
    var mode: String
    /// The logrotate directives of the mode (the postrotate signal is added).
    var directives: [String]
    var seed: UInt64
    var lines = 36_000
    var rate = 3_000.0
    var rotationEvery: ClosedRange<Double> = 0.8...1.8
    var killEvery: ClosedRange<Double> = 0.5...2.5
    /// Whether a killed daemon may stay down until one or two rotations have happened.
    var downAcrossRotations = true
    /// What the daemon must match.
    var reference: Reference = .ledger
    /// When `rotate` is small: the generation whose presence means the next rotation deletes one.
    /// Before such a rotation the writer is paused until the daemon has counted every line on
    /// disk and committed, so that the writer's ledger stays the right expectation.
    var deletedGeneration: String?

    enum Reference {
        /// Every line the writer wrote (its ledger).
        case ledger
        /// Every line on disk at the end (copytruncate loses the lines written between its copy
        /// and its truncate; the daemon cannot count what logrotate threw away).
        case linesOnDisk
    }
}

/// What a scenario did and found.
struct RotationReport: CustomStringConvertible {
    var mode: String
    var seed: UInt64
    var linesWritten = 0
    var splitWrites = 0
    var rotations = 0
    var kills = 0
    var downAcrossRotations = 0
    var expectedRequests: Int64 = 0
    var countedRequests: Int64 = 0
    var statusLinesCounted: Int?
    var logrotateLost: Int?
    /// The daemon's CPU use (all incarnations) while the writer ran, as a share of one core.
    var followingCPU: Double?
    /// Its CPU use over a quiet stretch once it had caught up.
    var idleCPU: Double?
    var comparison: TotalsComparison?
    var seconds = 0.0

    var description: String {
        var text =
            "mode=\(mode) seed=\(seed) lines=\(linesWritten) split_writes=\(splitWrites) rotations=\(rotations)"
            + " kills=\(kills) down_across_rotations=\(downAcrossRotations) expected=\(expectedRequests)"
            + " counted=\(countedRequests) status_lines_counted=\(statusLinesCounted.map(String.init) ?? "absent")"
            + " lost=\(comparison?.lost ?? -1) doubled=\(comparison?.doubled ?? -1)"
        if let logrotateLost { text += " logrotate_lost=\(logrotateLost)" }
        if let followingCPU { text += String(format: " following_cpu=%.0f%%", followingCPU * 100) }
        if let idleCPU { text += String(format: " idle_cpu=%.1f%%", idleCPU * 100) }
        return text + " seconds=\(String(format: "%.1f", seconds))"
    }
}

/// A timestamped account of a scenario's events, printed when it fails.
struct EventLog {
    let start = Date()
    private(set) var entries: [String] = []

    var elapsed: Double { Date().timeIntervalSince(start) }

    mutating func note(_ event: String) {
        entries.append(String(format: "+%6.2fs ", elapsed) + event)
    }

    var text: String { entries.joined(separator: "\n") }
}

enum RotationRun {
    /// Runs `scenario` in a scratch directory and records an issue for every difference.
    @discardableResult
    static func run(_ scenario: RotationScenario) throws -> RotationReport {
        try withWorkspace(mode: scenario.mode, seed: scenario.seed, directives: scenario.directives) {
            workspace, daemon, log, report in
            try follow(scenario, workspace, daemon, &log, &report)
        }
    }

    /// A scratch workspace for one scenario with the logrotate `directives`, a daemon that is
    /// reaped on every path, and, on failure, the events and the daemon's last words in the issue.
    /// Prints the one-line summary of the report that `body` fills in.
    @discardableResult
    static func withWorkspace(
        mode: String, seed: UInt64, directives: [String],
        _ body: (RotationWorkspace, DaemonUnderTest, inout EventLog, inout RotationReport) throws -> Void
    ) throws -> RotationReport {
        try RotationTools.requireAll()
        return try withScratchDirectory("rotation-\(seed)") { root in
            let workspace = try RotationWorkspace(root: root, logrotateDirectives: directives)
            let daemon = DaemonUnderTest(configURL: workspace.daemonConfig, outputDirectory: workspace.output)
            defer { daemon.reapAll() }
            var log = EventLog()
            var report = RotationReport(mode: mode, seed: seed)
            do {
                try body(workspace, daemon, &log, &report)
            } catch {
                Issue.record("\(mode): \(error)\nevents:\n\(log.text)\n\(daemon.recentStderr())")
                throw error
            }
            report.seconds = log.elapsed
            print("rotation-summary \(report)")
            return report
        }
    }

    private enum Restart {
        case none
        case at(Date)
        case afterRotations(Int)
    }

    private static func follow(
        _ scenario: RotationScenario, _ workspace: RotationWorkspace, _ daemon: DaemonUnderTest,
        _ log: inout EventLog, _ report: inout RotationReport
    ) throws {
        var random = SeededGenerator(seed: scenario.seed)
        let ledgerURL = workspace.root.appendingPathComponent("writer-ledger.json")

        try daemon.start()
        log.note("daemon \(daemon.incarnations) started")
        let writer = try workspace.startWriter(
            seed: scenario.seed, lines: scenario.lines, rate: scenario.rate, ledger: ledgerURL)
        defer { writer.killAndReap() }
        log.note("writer started: \(scenario.lines) lines at \(Int(scenario.rate))/s")

        var rotation: BackgroundProcess?
        defer { rotation?.killAndReap() }
        var nextRotation = Date().addingTimeInterval(random.seconds(in: scenario.rotationEvery))
        var nextKill = Date().addingTimeInterval(random.seconds(in: scenario.killEvery))
        var restart = Restart.none
        var deletedLines = 0
        // Set when a deleting rotation had to go ahead before the daemon had caught up: the
        // ledger is then no longer reachable, and waiting again would only burn the time budget.
        var settlingFailed = false
        var lastRotationStart = Date.distantPast

        func restartDaemon(_ why: String) throws {
            try daemon.start()
            restart = .none
            nextKill = Date().addingTimeInterval(random.seconds(in: scenario.killEvery))
            log.note("daemon \(daemon.incarnations) started (\(why))")
        }

        func finishRotation(_ finished: BackgroundProcess) throws {
            try RotationWorkspace.checkRotation(finished)
            report.rotations += 1
            log.note("rotation \(report.rotations) done: \(workspace.generationNames().joined(separator: " "))")
            if case .afterRotations(let remaining) = restart {
                if remaining <= 1 {
                    try restartDaemon("after rotations while down")
                } else {
                    restart = .afterRotations(remaining - 1)
                }
            }
        }

        while writer.isRunning {
            usleep(5_000)
            try daemon.checkAlive()
            if let running = rotation, !running.isRunning {
                running.waitForExit(seconds: 1)
                rotation = nil
                try finishRotation(running)
            }
            let now = Date()
            if rotation == nil && now >= nextRotation {
                if let generation = scenario.deletedGeneration, !settlingFailed,
                    FileManager.default.fileExists(atPath: workspace.logs.appendingPathComponent(generation).path)
                {
                    if !daemon.isRunning { try restartDaemon("to settle before a deleting rotation") }
                    deletedLines = try settleBeforeDeletion(
                        generation, deletedSoFar: deletedLines, settlingFailed: &settlingFailed, workspace, daemon,
                        writer, &log)
                }
                rotation = try workspace.startRotation(number: report.rotations + 1)
                lastRotationStart = Date()
                log.note("rotation \(report.rotations + 1) started")
                // A third of the rotations get a kill while logrotate renames, creates and gzips.
                if daemon.isRunning && Int.random(in: 0..<3, using: &random) == 0 {
                    nextKill = Date().addingTimeInterval(random.seconds(in: 0...0.05))
                }
                nextRotation = Date().addingTimeInterval(random.seconds(in: scenario.rotationEvery))
            }
            if daemon.isRunning && now >= nextKill {
                daemon.killHard()
                // The second kill is of the other kind than the first, so both kinds happen.
                let acrossRotations =
                    daemon.kills == 2
                    ? report.downAcrossRotations == 0 : Bool.random(using: &random)
                if scenario.downAcrossRotations && acrossRotations {
                    let rotations = Int.random(in: 1...2, using: &random)
                    restart = .afterRotations(rotations)
                    report.downAcrossRotations += 1
                    log.note("daemon SIGKILLed; restart after \(rotations) rotation(s)")
                } else {
                    let delay = random.seconds(in: 0...0.3)
                    restart = .at(Date().addingTimeInterval(delay))
                    log.note(String(format: "daemon SIGKILLed; restart in %.2f s", delay))
                }
            }
            if case .at(let time) = restart, now >= time { try restartDaemon("after a kill") }
        }
        writer.waitForExit(seconds: 5)
        report.followingCPU = daemon.cpuSeconds / Date().timeIntervalSince(writer.startedAt)
        guard writer.exitedCleanly else {
            throw ScenarioAbort("the writer failed (\(writer.endDescription)): \(writer.stderrTail())")
        }
        log.note("writer done")

        // One more rotation once the writer is gone, then the daemon (back) up to catch up.
        if let running = rotation {
            guard running.waitForExit(seconds: 30) else { throw ScenarioAbort("logrotate ran over 30 s") }
            rotation = nil
            try finishRotation(running)
        }
        if let generation = scenario.deletedGeneration, !settlingFailed,
            FileManager.default.fileExists(atPath: workspace.logs.appendingPathComponent(generation).path)
        {
            if !daemon.isRunning { try restartDaemon("to settle before a deleting rotation") }
            deletedLines = try settleBeforeDeletion(
                generation, deletedSoFar: deletedLines, settlingFailed: &settlingFailed, workspace, daemon, writer, &log
            )
        }
        // dateext names carry the second of the rotation: keep the last one in a second of its own.
        let sinceLastRotation = Date().timeIntervalSince(lastRotationStart)
        if sinceLastRotation < 1.1 { usleep(useconds_t((1.1 - sinceLastRotation) * 1_000_000)) }
        let lastRotation = try workspace.startRotation(number: report.rotations + 1)
        defer { lastRotation.killAndReap() }
        guard lastRotation.waitForExit(seconds: 30) else { throw ScenarioAbort("logrotate ran over 30 s") }
        try finishRotation(lastRotation)
        if !daemon.isRunning { try restartDaemon("for the end") }

        let ledger = try WriterLedger.load(ledgerURL)
        report.linesWritten = ledger.linesWritten
        report.splitWrites = ledger.splitWrites
        let onDisk = try LinesOnDisk.read(workspace.logs)
        #expect(onDisk.incompleteGzipFiles.isEmpty, "gzip files not whole at the end: \(onDisk.incompleteGzipFiles)")
        let expected: DailyTotals
        switch scenario.reference {
        case .ledger:
            expected = ledger.totals
            // The harness's own check: in these modes nothing is lost on disk (or what was
            // deleted had been counted); if the disk disagrees, the test, not the daemon, is wrong.
            if scenario.deletedGeneration == nil {
                let harness = TotalsComparison(expected: ledger.totals, counted: onDisk.totals)
                let differences = harness.differences.prefix(20).joined(separator: "\n")
                let duplicates = onDisk.duplicateRequestIDs
                #expect(
                    harness.isExact && duplicates == 0,
                    "harness: lines on disk differ from the ledger (\(duplicates) duplicates):\n\(differences)"
                )
            } else {
                #expect(
                    onDisk.lines + deletedLines == ledger.linesWritten,
                    "harness: \(onDisk.lines) lines on disk + \(deletedLines) deleted != \(ledger.linesWritten) written"
                )
            }
        case .linesOnDisk:
            expected = onDisk.totals
            report.logrotateLost = ledger.linesWritten - onDisk.lines
            log.note(
                "on disk: \(onDisk.lines) lines, \(onDisk.fragments) fragments, logrotate lost \(report.logrotateLost!)"
            )
            #expect(
                onDisk.duplicateRequestIDs == 0,
                "copytruncate left \(onDisk.duplicateRequestIDs) duplicate lines on disk")
        }
        try catchUpAndCompare(
            expected: expected, reference: scenario.reference == .ledger ? "the lines written" : "the lines on disk",
            workspace, daemon, &log, &report)
    }

    /// The end of every scenario: waits until the running daemon has caught up (or stopped
    /// moving), SIGTERMs it, expects exit 0, and compares every counter of every day file with
    /// `expected`, recording the differences (lost and doubled per day) as an issue.
    static func catchUpAndCompare(
        expected: DailyTotals, reference: String, _ workspace: RotationWorkspace, _ daemon: DaemonUnderTest,
        _ log: inout EventLog, _ report: inout RotationReport
    ) throws {
        report.expectedRequests = expected.requests
        let counted = try awaitCatchUp(expected: expected.requests, workspace, daemon, &log)
        // Nothing more to read: what it uses now is its idle cost (reported, never asserted).
        if let before = daemon.current?.cpuSeconds {
            let start = Date()
            usleep(2_000_000)
            if let after = daemon.current?.cpuSeconds {
                report.idleCPU = (after - before) / Date().timeIntervalSince(start)
            }
        }
        log.note("caught up at \(counted) requests; SIGTERM")
        let ended = try daemon.terminate()
        log.note("daemon ended: \(ended.endDescription)")
        report.kills = daemon.kills
        #expect(
            ended.exitedCleanly,
            "tokentally run ended with \(ended.endDescription) after SIGTERM: \(ended.stderrTail())")

        guard let snapshot = try DaemonSnapshot.read(workspace.snapshots) else {
            throw ScenarioAbort("no index.json in \(workspace.snapshots.path) after the final snapshot")
        }
        report.countedRequests = snapshot.totals.requests
        report.statusLinesCounted = snapshot.linesCounted
        let comparison = TotalsComparison(expected: expected, counted: snapshot.totals)
        report.comparison = comparison
        report.seconds = log.elapsed
        #expect(
            comparison.isExact,
            """
            \(report.mode): the daemon's day totals differ from \(reference): \
            lost \(comparison.lost), doubled \(comparison.doubled) \
            (expected \(expected.requests) requests, counted \(snapshot.totals.requests))
            \(comparison.differences.prefix(40).joined(separator: "\n"))
            \(report)
            events:
            \(log.text)
            \(daemon.recentStderr())
            """)
    }

    /// Before a rotation that deletes `generation`: pauses the writer, waits until the daemon
    /// has counted every line on disk (plus those deleted before) and then for one more commit
    /// interval, so the deleted lines are in its committed state. Returns the new deleted count.
    private static func settleBeforeDeletion(
        _ generation: String, deletedSoFar: Int, settlingFailed failed: inout Bool, _ workspace: RotationWorkspace,
        _ daemon: DaemonUnderTest, _ writer: BackgroundProcess, _ log: inout EventLog
    ) throws -> Int {
        writer.send(SIGSTOP)
        defer { writer.send(SIGCONT) }
        let target = deletedSoFar + (try LinesOnDisk.newlineCount(workspace.logs))
        let counted = try awaitCount(target, orMore: true, workspace, daemon, timeout: 20, stableFor: 20)
        if counted < target {
            failed = true
            let message =
                "the daemon counted \(counted) of \(target) lines within 20 s, with the writer paused; "
                + "logrotate now deletes \(generation), so the ledger no longer holds"
            Issue.record("\(message)")
        }
        usleep(1_500_000)  // one commit interval (1 s) and some: the lines counted are committed
        try daemon.checkAlive()
        let deleted = try LinesOnDisk.newlineCount(workspace.logs, only: [generation])
        log.note("settled at \(counted)/\(target) lines; the next rotation deletes \(generation) (\(deleted) lines)")
        return deletedSoFar + deleted
    }

    /// Waits until the daemon's snapshot (one written by the running incarnation) counts
    /// `expected` requests, or its count has not moved for a while; returns the last count.
    static func awaitCatchUp(
        expected: Int64, _ workspace: RotationWorkspace, _ daemon: DaemonUnderTest, _ log: inout EventLog
    ) throws -> Int64 {
        let counted = try awaitCount(Int(expected), orMore: false, workspace, daemon, timeout: 40, stableFor: 6)
        if counted != expected { log.note("gave up waiting: counted \(counted) of \(expected)") }
        return Int64(counted)
    }

    private static func awaitCount(
        _ target: Int, orMore: Bool, _ workspace: RotationWorkspace, _ daemon: DaemonUnderTest, timeout: Double,
        stableFor: Double
    ) throws -> Int {
        let deadline = Date().addingTimeInterval(timeout)
        var last = -1
        var lastChange = Date()
        while Date() < deadline {
            try daemon.checkAlive()
            if let startedAt = daemon.current?.startedAt, let snapshot = try? DaemonSnapshot.read(workspace.snapshots),
                let modified = snapshot.indexModified, modified > startedAt
            {
                let counted = Int(snapshot.totals.requests)
                if counted == target || (orMore && counted > target) { return counted }
                if counted != last {
                    last = counted
                    lastChange = Date()
                } else if Date().timeIntervalSince(lastChange) >= stableFor {
                    return counted
                }
            }
            usleep(200_000)
        }
        return last
    }
}

/// Every logrotate mode a gateway host uses, live, with SIGKILLs: zero lost, zero counted twice.
@Suite("Rotation: exactly once through logrotate and SIGKILL", .serialized)
struct RotationExactlyOnceTests {
    @Test
    func rotationWithCreateCompressDelaycompressLosesNoLine() throws {
        try RotationRun.run(
            RotationScenario(
                mode: "create+compress+delaycompress",
                directives: ["rotate 100", "create 0644 root root", "compress", "delaycompress"],
                seed: scenarioSeed(1_101)))
    }

    @Test
    func rotationWithCreateCompressLosesNoLine() throws {
        try RotationRun.run(
            RotationScenario(
                mode: "create+compress",
                directives: ["rotate 100", "create 0644 root root", "compress"],
                seed: scenarioSeed(1_202)))
    }

    @Test
    func rotationWithCopytruncateCountsEveryLineOnDisk() throws {
        try RotationRun.run(
            RotationScenario(
                mode: "copytruncate",
                directives: ["rotate 100", "copytruncate"],
                seed: scenarioSeed(1_303), reference: .linesOnDisk))
    }

    @Test
    func rotationWithCopytruncateCompressCountsEveryLineOnDisk() throws {
        try RotationRun.run(
            RotationScenario(
                mode: "copytruncate+compress",
                directives: ["rotate 100", "copytruncate", "compress"],
                seed: scenarioSeed(1_404), reference: .linesOnDisk))
    }

    @Test
    func rotationWithDateextNamesLosesNoLine() throws {
        // `-%s` gives each rotation within a day its own name, so rotations stay over a second apart.
        try RotationRun.run(
            RotationScenario(
                mode: "dateext+create+compress+delaycompress",
                directives: [
                    "rotate 100", "create 0644 root root", "compress", "delaycompress", "dateext",
                    "dateformat -%Y%m%d-%s",
                ],
                seed: scenarioSeed(1_505), rotationEvery: 1.2...2.0))
    }

    @Test
    func rotationDeletingOldGenerationsLosesNoLineItHadRead() throws {
        // `rotate 2`: every rotation from the third on deletes the oldest generation. The daemon
        // is only ever down for a moment, and each deleting rotation waits until it has caught up.
        try RotationRun.run(
            RotationScenario(
                mode: "create+compress+delaycompress+rotate2",
                directives: ["rotate 2", "create 0644 root root", "compress", "delaycompress"],
                seed: scenarioSeed(1_606), downAcrossRotations: false, deletedGeneration: "access.log.2.gz"))
    }
}
