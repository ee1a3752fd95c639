import Foundation
import Testing

/// The JSON Schemas in docs/schemas describe what the real binary writes, not only what the
/// encoder's unit tests feed it: every file of a real replay is validated against them.
@Suite struct SnapshotSchemaTests {
    private static let schemas = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("docs/schemas")

    /// Validates files with python3's jsonschema; returns the failures, one line each.
    private func validate(_ files: [URL], schema: URL) throws -> [String] {
        let script = """
            import json, sys, jsonschema
            schema = json.load(open(sys.argv[1]))
            jsonschema.Draft202012Validator.check_schema(schema)
            validator = jsonschema.Draft202012Validator(schema)
            for path in sys.argv[2:]:
                for error in validator.iter_errors(json.load(open(path))):
                    print(path + ": " + error.message[:300])
            """
        let outcome = try ProcessLauncher.run(
            URL(fileURLWithPath: "/usr/bin/env"), ["python3", "-c", script, schema.path] + files.map(\.path))
        #expect(outcome.status == 0, "python3 jsonschema failed: \(outcome.summary)")
        return outcome.stdoutText.split(separator: "\n").map(String.init)
    }

    /// `report --format json` matches docs/schemas/report.schema.json under every kind of
    /// filter, and reads v1 and v2 snapshot files alike: the same counts give the same report.
    @Test
    func reportsMatchTheirSchemaAndReadBothSnapshotVersions() throws {
        try withScratchDirectory("schema-report") { root in
            let logs = root.appendingPathComponent("logs")
            let generated = try TokentallyBinary.run(["generate", "--out", logs.path, "--lines", "3000", "--days", "9"])
            #expect(generated.status == 0, "\(generated.summary)")
            var reports: [String: [URL]] = [:]
            for version in ["1", "2"] {
                let snapshots = root.appendingPathComponent("snapshots-v\(version)")
                let replay = try TokentallyBinary.run(
                    ["replay", "--no-journal", "--snapshot-dir", snapshots.path, logs.path],
                    environment: ["TOKENTALLY_SNAPSHOT_SCHEMA": version])
                #expect(replay.status == 0, "\(replay.summary)")
                let week =
                    try JSONReader.parse(Array(try Data(contentsOf: snapshots.appendingPathComponent("index.json"))))
                    .value(at: ["buckets", "week"])?.arrayValue?.last?.stringValue ?? ""
                let csv = try TokentallyBinary.run(["report", "--snapshot-dir", snapshots.path, "--format", "csv"])
                let key = csv.stdoutText.split(separator: "\r\n").dropFirst().first?.split(separator: ",").first
                let selections: [[String]] = [
                    [], ["--period", "day"], ["--period", "week", "--bucket", week],
                    ["--model", "openai/gpt-5"], ["--model", "openai/gpt-5", "--provider", "openai"],
                    ["--provider", "openai", "--provider", "azure"], ["--key", String(key ?? "")],
                ]
                for (number, selection) in selections.enumerated() {
                    let outcome = try TokentallyBinary.run(
                        ["report", "--snapshot-dir", snapshots.path, "--format", "json"] + selection)
                    try #require(outcome.status == 0, "\(selection): \(outcome.summary)")
                    let file = root.appendingPathComponent("report-v\(version)-\(number).json")
                    try outcome.stdout.write(to: file)
                    reports[version, default: []].append(file)
                }
            }
            let schema = Self.schemas.appendingPathComponent("report.schema.json")
            #expect(try validate(reports["2"]! + reports["1"]!, schema: schema) == [])
            for (v1, v2) in zip(reports["1"]!, reports["2"]!) {
                func withoutTimes(_ url: URL) throws -> String {
                    try String(contentsOf: url, encoding: .utf8).replacing(/"generated_at": "[^"]*"/, with: "")
                }
                #expect(try withoutTimes(v1) == withoutTimes(v2), "\(v1.lastPathComponent) differs between v1 and v2")
            }
            // Not vacuous: a report without its totals' requests is refused.
            let broken = root.appendingPathComponent("broken.json")
            try String(contentsOf: reports["2"]![0], encoding: .utf8)
                .replacingOccurrences(of: "\"requests\":", with: "\"requestz\":").write(
                    to: broken, atomically: true, encoding: .utf8)
            #expect(try !validate([broken], schema: schema).isEmpty)
        }
    }

    @Test(arguments: ["tokentally", "litellm", "zenmux"])
    func everyFileOfARealReplayMatchesItsSchema(format: String) throws {
        try withScratchDirectory("schema-\(format)") { root in
            let logs = root.appendingPathComponent("logs")
            let snapshots = root.appendingPathComponent("snapshots")
            let generated = try TokentallyBinary.run([
                "generate", "--out", logs.path, "--lines", "3000", "--days", "9", "--files", "4", "--format", format,
            ])
            #expect(generated.status == 0, "\(generated.summary)")
            // A few hostile lines, so that the index's reject section is not empty.
            let hostile = Data("garbage\n{\"ts\":1}\n[1]\n".utf8)
            try hostile.write(to: root.appendingPathComponent("hostile.log"))
            let replay = try TokentallyBinary.replay(
                [logs.path, root.appendingPathComponent("hostile.log").path], snapshotDirectory: snapshots,
                options: ["--format", format])
            #expect(replay.status == 0, "\(replay.summary)")

            var buckets: [URL] = []
            for period in ["day", "week", "month"] {
                let folder = snapshots.appendingPathComponent(period)
                buckets += try FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil)
            }
            #expect(buckets.count >= 9 + 2 + 1)
            #expect(try validate(buckets, schema: Self.schemas.appendingPathComponent("bucket-v2.schema.json")) == [])
            // v2 is not v1: its rows are arrays.
            #expect(
                try !validate([buckets[0]], schema: Self.schemas.appendingPathComponent("bucket.schema.json")).isEmpty)

            // `snapshot.schema: 1` still writes v1 files, with the same content as the v2 ones.
            let v1Snapshots = root.appendingPathComponent("snapshots-v1")
            let v1Replay = try TokentallyBinary.run(
                [
                    "replay", "--no-journal", "--snapshot-dir", v1Snapshots.path, "--format", format, logs.path,
                    root.appendingPathComponent("hostile.log").path,
                ],
                environment: ["TOKENTALLY_SNAPSHOT_SCHEMA": "1"])
            #expect(v1Replay.status == 0, "\(v1Replay.summary)")
            var v1Buckets: [URL] = []
            for period in ["day", "week", "month"] {
                let folder = v1Snapshots.appendingPathComponent(period)
                v1Buckets += try FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil)
            }
            #expect(try validate(v1Buckets, schema: Self.schemas.appendingPathComponent("bucket.schema.json")) == [])
            var v2Read = try SnapshotDirectory.load(from: snapshots).buckets
            let v1Read = try SnapshotDirectory.load(from: v1Snapshots).buckets
            for (period, files) in v2Read {
                for label in files.keys {
                    guard case .object(var members) = files[label]! else { continue }
                    members["schema"] = .string("tokentally.bucket/v1")
                    v2Read[period]![label] = .object(members)
                }
            }
            for (period, files) in v1Read {
                for (label, v1File) in files {
                    let v2File = v2Read[period]?[label]
                    // Everything but when each file was written.
                    let differing = (v1File.objectValue ?? [:]).keys
                        .filter { $0 != "generated_at" && v1File[$0] != v2File?[$0] }.sorted()
                    #expect(differing.isEmpty, "\(period.rawValue)/\(label): v1 and v2 differ in \(differing)")
                }
            }
            #expect(Set(v2Read.keys) == Set(v1Read.keys))

            let index = snapshots.appendingPathComponent("index.json")
            #expect(try validate([index], schema: Self.schemas.appendingPathComponent("index.schema.json")) == [])
            // The schema is not vacuous: a bucket file is not an index.
            #expect(
                try !validate([buckets[0]], schema: Self.schemas.appendingPathComponent("index.schema.json")).isEmpty)
        }
    }
}
