import Foundation
import Testing

/// `tokentally merge`: generated logs split across three hosts, each replayed with its own
/// `host`, merged into one fleet directory, and compared with the independent oracle over all
/// lines: every counter of every bucket exactly, every quantile within its stated error.
@Suite("Fleet: merge")
struct FleetTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// Splits the rotated set's lines, in order, across `hosts` files (line i to host i mod n).
    static func split(_ logs: URL, into root: URL, hosts: Int) throws -> [URL] {
        var parts = [[UInt8]](repeating: [], count: hosts)
        var line = 0
        for file in try rotatedSetOldestFirst(in: logs) {
            for piece in try decompressedContents(of: file).bytes.split(
                separator: 0x0A, omittingEmptySubsequences: false)
            where !piece.isEmpty {
                parts[line % hosts] += piece + [0x0A]
                line += 1
            }
        }
        return try parts.enumerated().map { number, bytes in
            let url = root.appendingPathComponent("gw-\(number + 1).log")
            try Data(bytes).write(to: url)
            return url
        }
    }

    static func replay(_ log: URL, into directory: URL, host: String, environment: [String: String] = [:])
        throws
    {
        let outcome = try TokentallyBinary.run(
            ["replay", "--no-journal", "--snapshot-dir", directory.path, log.path],
            environment: environment.merging(["TOKENTALLY_HOST": host]) { $1 })
        try #require(outcome.status == 0, "replay \(host): \(outcome.summary)")
    }

    /// Generated logs counted by the oracle, split across three hosts, each replayed with its
    /// own `host` (gw-1, gw-2, gw-3) into `root/host-N`.
    static func threeHosts(in root: URL, lines: Int, files: Int, keys: Int) throws -> (
        expected: OracleResult, hosts: [URL]
    ) {
        let logs = root.appendingPathComponent("logs")
        try ReplayExactnessTests.generate(
            into: logs, format: .tokentally, lines: lines, days: 10, files: files, keys: keys)
        var oracle = UsageOracle(format: .tokentally)
        for file in try rotatedSetOldestFirst(in: logs) { try oracle.read(file: file) }
        var hosts: [URL] = []
        for (number, part) in try split(logs, into: root, hosts: 3).enumerated() {
            let directory = root.appendingPathComponent("host-\(number + 1)")
            try replay(part, into: directory, host: "gw-\(number + 1)")
            hosts.append(directory)
        }
        return (try oracle.result(), hosts)
    }

    static func merge(_ directories: [URL], out: URL) throws -> ProcessOutcome {
        try TokentallyBinary.run(["merge", "--out", out.path] + directories.map(\.path))
    }

    @Test
    func threeHostsMergeAsOneAndInAnyOrder() throws {
        try withScratchDirectory("fleet") { root in
            let (expected, hosts) = try Self.threeHosts(in: root, lines: 9_000, files: 5, keys: 60)
            let merged = root.appendingPathComponent("fleet")
            let outcome = try Self.merge([hosts[2], hosts[0], hosts[1]], out: merged)
            try #require(outcome.status == 0, "\(outcome.summary)")
            #expect(outcome.stdoutText.contains("merged 3 hosts"))

            // Every figure as the oracle has it; series rows' latency_ms_mean within 0.001 ms
            // (docs/fleet.md, "What merges exactly").
            var scope = ComparisonScope()
            scope.seriesMeanSlack = 0.001
            let mismatches = SnapshotComparison.compare(
                expected, try SnapshotDirectory.load(from: merged), scope: scope)
            #expect(mismatches.isEmpty, "\(SnapshotComparison.report(mismatches))")

            // index.json names each host with its own generated_at.
            let index = try JSONReader.parse(Array(try Data(contentsOf: merged.appendingPathComponent("index.json"))))
            let listed = index["hosts"]?.arrayValue?.compactMap { $0["host"]?.stringValue }
            #expect(listed == ["gw-1", "gw-2", "gw-3"])
            #expect(index["hosts"]?.arrayValue?.allSatisfy { $0["generated_at"]?.stringValue != nil } == true)

            // The fleet's files match the same schemas as one host's.
            let schemas = Self.repository.appendingPathComponent("docs/schemas")
            let validation = try ProcessLauncher.run(
                URL(fileURLWithPath: "/usr/bin/env"),
                [
                    "python3", "-c",
                    "import json,sys,jsonschema\nfor s,f in zip(sys.argv[1::2],sys.argv[2::2]): jsonschema.Draft202012Validator(json.load(open(s))).validate(json.load(open(f)))",
                    schemas.appendingPathComponent("index.schema.json").path,
                    merged.appendingPathComponent("index.json").path,
                    schemas.appendingPathComponent("bucket-v2.schema.json").path,
                    merged.appendingPathComponent("month/\(try #require(expected.buckets[.month]?.keys.max())).json")
                        .path,
                ])
            #expect(validation.status == 0, "\(validation.summary)")

            // Another order gives the same bytes, generated_at aside.
            let again = root.appendingPathComponent("fleet-again")
            #expect(try Self.merge([hosts[1], hosts[2], hosts[0]], out: again).status == 0)
            for period in ["day", "week", "month", "."] {
                let folder = merged.appendingPathComponent(period)
                for name in try FileManager.default.contentsOfDirectory(atPath: folder.path)
                where name.hasSuffix(".json") {
                    func text(_ base: URL) throws -> String {
                        try String(
                            contentsOf: base.appendingPathComponent(period).appendingPathComponent(name),
                            encoding: .utf8
                        )
                        .replacing(/"generated_at": ?"[^"]*"/, with: "")
                    }
                    #expect(try text(merged) == text(again), "\(period)/\(name) depends on the order of the hosts")
                }
            }

            // `report` and `serve` read the fleet like any host.
            let report = try TokentallyBinary.run(["report", "--snapshot-dir", merged.path, "--format", "json"])
            try #require(report.status == 0, "\(report.summary)")
            let document = try JSONReader.parse(Array(report.stdout))
            #expect(document["hosts"]?.arrayValue?.count == 3)
            let month = document["bucket"]?.stringValue ?? ""
            let oracleMonth = try #require(expected.buckets[.month]?[month])
            #expect(
                document.value(at: ["totals", "requests"])?.numberText == String(oracleMonth.totals.counters.requests))
            let server = try ServeProcess(snapshots: merged, outputDirectory: root)
            defer { server.stop() }
            let page = try httpGet("\(server.base)/?period=month&bucket=\(month)&tab=usage").body
            #expect(page.contains(#"data-metric="requests" data-value="\#(oracleMonth.totals.counters.requests)""#))
            #expect(page.contains("gw-1, gw-2, gw-3"))
        }
    }

    @Test
    func directoriesThatCannotMergeAreRefusedWithOneLine() throws {
        try withScratchDirectory("fleet-refused") { root in
            let logs = root.appendingPathComponent("logs")
            try ReplayExactnessTests.generate(
                into: logs, format: .tokentally, lines: 1_500, days: 3, files: 2, keys: 10)
            let parts = try Self.split(logs, into: root, hosts: 2)
            let utc = root.appendingPathComponent("utc")
            let other = root.appendingPathComponent("other")
            try Self.replay(parts[0], into: utc, host: "gw-1")
            try Self.replay(parts[1], into: other, host: "gw-2")
            let zoned = root.appendingPathComponent("zoned")
            try Self.replay(
                parts[1], into: zoned, host: "gw-3", environment: ["TOKENTALLY_TIMEZONE": "America/New_York"])
            let v1 = root.appendingPathComponent("v1")
            try Self.replay(parts[1], into: v1, host: "gw-4", environment: ["TOKENTALLY_SNAPSHOT_SCHEMA": "1"])
            let copy = root.appendingPathComponent("copy-of-gw-1")
            try FileManager.default.copyItem(at: utc, to: copy)

            // Sketches of other parameters: a copy whose files say another accuracy.
            let tuned = root.appendingPathComponent("tuned")
            try FileManager.default.copyItem(at: other, to: tuned)
            for period in ["day", "week", "month"] {
                let folder = tuned.appendingPathComponent(period)
                for name in try FileManager.default.contentsOfDirectory(atPath: folder.path) {
                    let file = folder.appendingPathComponent(name)
                    try String(contentsOf: file, encoding: .utf8)
                        .replacingOccurrences(of: "\"relative_accuracy\": 0.01", with: "\"relative_accuracy\": 0.02")
                        .write(to: file, atomically: true, encoding: .utf8)
                }
            }
            let tunedIndex = tuned.appendingPathComponent("index.json")
            try String(contentsOf: tunedIndex, encoding: .utf8).replacingOccurrences(of: "\"gw-2\"", with: "\"gw-5\"")
                .write(to: tunedIndex, atomically: true, encoding: .utf8)

            let cases: [([URL], String)] = [
                ([utc, tuned], "different parameters"),
                ([utc, zoned], "different time zones"),
                ([utc, v1], "different bucket schemas"),
                ([utc, copy], "host gw-1 is in both"),
            ]
            for (directories, message) in cases {
                let out = root.appendingPathComponent("out-\(UUID().uuidString)")
                let outcome = try Self.merge(directories, out: out)
                #expect(outcome.status == 2, "\(outcome.summary)")
                #expect(outcome.stderrLines.count == 1 && outcome.stderrText.contains(message), "\(outcome.summary)")
                #expect(!FileManager.default.fileExists(atPath: out.appendingPathComponent("index.json").path))
            }
            // A fleet merged again with a host it already holds is refused too.
            let fleet = root.appendingPathComponent("fleet")
            #expect(try Self.merge([utc, other], out: fleet).status == 0)
            let twice = try Self.merge([fleet, other], out: root.appendingPathComponent("twice"))
            #expect(twice.status == 2 && twice.stderrText.contains("host gw-2 is in both"), "\(twice.summary)")
        }
    }
}
