import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

extension RotationExactlyOnceTests {
    /// A start after downtime: three rotations with `compress` (no delaycompress) happened while
    /// the daemon was down, so it finds three `.gz` generations, two of which it had partly read
    /// from their plain files before it was SIGKILLed. It is killed once more in the middle of
    /// catching up. The counts must still be exact.
    @Test
    func rotationCatchUpFromThreeGzipGenerationsPartlyReadBefore() throws {
        let seed = scenarioSeed(1_707)
        try RotationRun.withWorkspace(
            mode: "catch-up: 3 gz generations partly read", seed: seed,
            directives: ["rotate 100", "create 0644 root root", "compress"]
        ) { workspace, daemon, log, report in
            var random = SeededGenerator(seed: seed)
            let total = 40_000
            var ledgers: [WriterLedger] = []

            /// Writes lines `first ..< first + lines` and waits for the writer; SIGKILLs the
            /// daemon `killAfter` seconds in, while the lines are still coming.
            func write(_ phase: String, first: Int, lines: Int, rate: Double, killAfter: Double? = nil) throws {
                let ledgerURL = workspace.root.appendingPathComponent("ledger-\(phase).json")
                let writer = try workspace.startWriter(
                    seed: seed, first: first, lines: lines, total: total, rate: rate, ledger: ledgerURL,
                    name: "writer-\(phase)")
                defer { writer.killAndReap() }
                log.note("writer \(phase): lines \(first)..<\(first + lines) at \(Int(rate))/s")
                if let killAfter {
                    let killAt = Date().addingTimeInterval(killAfter)
                    while Date() < killAt {
                        try daemon.checkAlive()
                        usleep(5_000)
                    }
                    daemon.killHard()
                    log.note(String(format: "daemon SIGKILLed %.2f s into phase %@", killAfter, phase))
                }
                guard writer.waitForExit(seconds: 60), writer.exitedCleanly else {
                    throw ScenarioAbort("writer \(phase) failed (\(writer.endDescription)): \(writer.stderrTail())")
                }
                ledgers.append(try WriterLedger.load(ledgerURL))
            }

            func rotate() throws {
                try workspace.rotateNow(number: report.rotations + 1)
                report.rotations += 1
                log.note("rotation \(report.rotations): \(workspace.generationNames().joined(separator: " "))")
            }

            try daemon.start()
            log.note("daemon \(daemon.incarnations) started")
            try write("A", first: 0, lines: 16_000, rate: 5_000, killAfter: random.seconds(in: 0.8...2.5))
            try rotate()  // A → access.log.1.gz, the daemon down
            try daemon.start()
            log.note("daemon \(daemon.incarnations) started")
            try write("B", first: 16_000, lines: 10_000, rate: 5_000, killAfter: random.seconds(in: 0.3...1.5))
            try rotate()  // B → access.log.1.gz, A → access.log.2.gz
            try write("C", first: 26_000, lines: 10_000, rate: 20_000)
            try rotate()  // C → .1.gz, B → .2.gz, A → .3.gz
            try write("D", first: 36_000, lines: 4_000, rate: 20_000)

            report.downAcrossRotations = report.rotations
            let generations = workspace.generationNames()
            #expect(
                generations == ["access.log", "access.log.1.gz", "access.log.2.gz", "access.log.3.gz"],
                "generations before the restart: \(generations)")

            let ledger = WriterLedger.merged(ledgers)
            report.linesWritten = ledger.linesWritten
            report.splitWrites = ledger.splitWrites
            let onDisk = try LinesOnDisk.read(workspace.logs)
            let harness = TotalsComparison(expected: ledger.totals, counted: onDisk.totals)
            let differences = harness.differences.prefix(20).joined(separator: "\n")
            #expect(harness.isExact, "harness: the lines on disk differ from the writers' ledgers:\n\(differences)")

            // Back up with everything rotated and gzipped; killed once more while catching up.
            try daemon.start()
            let killAfter = random.seconds(in: 0.1...0.6)
            log.note(String(format: "daemon %d started; SIGKILL in %.2f s", daemon.incarnations, killAfter))
            usleep(useconds_t(killAfter * 1_000_000))
            try daemon.checkAlive()
            daemon.killHard()
            try daemon.start()
            log.note("daemon \(daemon.incarnations) started to finish the catch-up")

            try RotationRun.catchUpAndCompare(
                expected: ledger.totals, reference: "the lines written", workspace, daemon, &log, &report)
        }
    }
}
