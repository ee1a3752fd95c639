import Foundation
import Testing

/// Generated rotated sets, replayed by the real binary, against the independent oracle.
@Suite("Replay counts exactly")
struct ReplayExactnessTests {
    /// `tokentally generate` into `directory`; fails the test when the command fails.
    static func generate(
        into directory: URL, format: LogFormat, lines: Int, days: Int = 10, files: Int = 5, keys: Int = 50,
        seed: Int = 20_261_128
    ) throws {
        let outcome = try TokentallyBinary.run([
            "generate", "--out", directory.path, "--lines", String(lines), "--days", String(days),
            "--files", String(files), "--keys", String(keys), "--seed", String(seed), "--format", format.rawValue,
        ])
        try #require(outcome.status == 0, "generate failed: \(outcome.summary)")
    }

    static func formatOptions(_ format: LogFormat) -> [String] {
        format == .tokentally ? [] : ["--format", format.rawValue]
    }

    @Test(arguments: LogFormat.allCases)
    func replayMatchesIndependentCountsForEveryFormat(format: LogFormat) throws {
        try withScratchDirectory("exact-\(format)") { root in
            let logs = root.appendingPathComponent("logs")
            let snapshots = root.appendingPathComponent("snapshots")
            try Self.generate(into: logs, format: format, lines: 20_000)

            let files = try rotatedSetOldestFirst(in: logs)
            #expect(
                files.map(\.lastPathComponent)
                    == ["access.log.4.gz", "access.log.3.gz", "access.log.2.gz", "access.log.1", "access.log"])
            var oracle = UsageOracle(format: format)
            for file in files { try oracle.read(file: file) }
            let expected = try oracle.result()
            // The generator wrote what it was asked for: about 20k counted lines over the 10 days
            // before 2026-11-28 (UTC).
            #expect(expected.linesCounted > 18_000, "oracle counted only \(expected.linesCounted) lines")
            let days = (expected.buckets[.day] ?? [:]).keys.sorted()
            #expect(days.count >= 9 && days.allSatisfy { $0 >= "2026-11-18" && $0 <= "2026-11-27" }, "days: \(days)")
            // OpenRouter's records name no key: all are the placeholder's.
            #expect(Set(expected.records.map(\.rawAPIKey)).count > (format == .openrouter ? 0 : 10))

            // The default (parser threads besides the counting one), one thread alone, and more
            // parser threads than this machine has cores.
            for threads in [nil, "0", "3"] {
                let directory = snapshots.appendingPathComponent(threads ?? "default")
                let replay = try TokentallyBinary.replay(
                    [logs.path], snapshotDirectory: directory,
                    options: Self.formatOptions(format) + (threads.map { ["--threads", $0] } ?? []))
                try #require(replay.status == 0, "replay (threads \(threads ?? "default")) failed: \(replay.summary)")
                let actual = try SnapshotDirectory.load(from: directory)
                let mismatches = SnapshotComparison.compare(expected, actual)
                #expect(mismatches.isEmpty, "threads \(threads ?? "default"): \(SnapshotComparison.report(mismatches))")
                let listedFiles = actual.index.value(at: ["status", "files"])?.arrayValue?.count
                #expect(listedFiles == 5, "status.files lists \(listedFiles.map(String.init) ?? "nothing")")
            }
        }
    }

    @Test
    func replayingTheSameLinesAnyWayGivesTheSameCounters() throws {
        try withScratchDirectory("repeat") { root in
            let logs = root.appendingPathComponent("logs")
            try Self.generate(into: logs, format: .tokentally, lines: 4_000, days: 4, seed: 7)
            let files = try rotatedSetOldestFirst(in: logs)

            func replay(_ name: String, _ paths: [String], stdin: Data? = nil) throws -> SnapshotDirectory {
                let snapshots = root.appendingPathComponent(name)
                let outcome = try TokentallyBinary.replay(paths, snapshotDirectory: snapshots, stdin: stdin)
                try #require(outcome.status == 0, "replay \(name) failed: \(outcome.summary)")
                return try SnapshotDirectory.load(from: snapshots)
            }

            let first = try replay("first", [logs.path])
            let second = try replay("second", [logs.path])
            let explicit = try replay("explicit", files.map(\.path))
            var plain = Data()
            for file in files { plain.append(contentsOf: try decompressedContents(of: file).bytes) }
            let piped = try replay("stdin", ["-"], stdin: plain)

            var oracle = UsageOracle(format: .tokentally)
            for file in files { try oracle.read(file: file) }
            let mismatches = SnapshotComparison.compare(try oracle.result(), first)
            #expect(mismatches.isEmpty, "\(SnapshotComparison.report(mismatches))")

            let reference = first.counterProjection()
            #expect(reference.count > 100, "projection too small to mean anything: \(reference.count)")
            for (name, other) in [("second replay", second), ("explicit files", explicit), ("stdin", piped)] {
                let differences = projectionDifferences(reference, other.counterProjection())
                #expect(
                    differences.isEmpty,
                    "\(name) differs from the directory replay:\n\(differences.joined(separator: "\n"))")
            }

            // A gzip file on standard input is found by its magic bytes, as a named file is.
            let gzipFile = try #require(files.first { $0.lastPathComponent.hasSuffix(".gz") })
            let byName = try replay("gzip-by-name", [gzipFile.path])
            let byStdin = try replay("gzip-by-stdin", ["-"], stdin: try Data(contentsOf: gzipFile))
            let gzipDifferences = projectionDifferences(byName.counterProjection(), byStdin.counterProjection())
            #expect(gzipDifferences.isEmpty, "gzip on stdin differs:\n\(gzipDifferences.joined(separator: "\n"))")
        }
    }
}
