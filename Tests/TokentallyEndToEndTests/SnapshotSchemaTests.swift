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
            #expect(try validate(buckets, schema: Self.schemas.appendingPathComponent("bucket.schema.json")) == [])
            let index = snapshots.appendingPathComponent("index.json")
            #expect(try validate([index], schema: Self.schemas.appendingPathComponent("index.schema.json")) == [])
            // The schema is not vacuous: a bucket file is not an index.
            #expect(
                try !validate([buckets[0]], schema: Self.schemas.appendingPathComponent("index.schema.json")).isEmpty)
        }
    }
}
