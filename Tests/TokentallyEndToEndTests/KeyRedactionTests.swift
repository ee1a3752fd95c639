import Foundation
import Testing

/// Raw API keys never reach a snapshot; their `key_` hashes are the documented SHA-256 prefix.
@Suite("Key redaction")
struct KeyRedactionTests {
    static let secrets = [
        "sk-live-4f3c2a1b9e8d7c6b5a4f3e2d1c0b9a8f",
        "sk_test_51HxYzABCDEF0123456789",
        "pk-proj-abcdef0123456789abcdef",
        "rk_live_0011223344556677ZZ",
    ]
    /// Identifiers that do not match `^(sk|pk|rk)[-_]` and are written as they are.
    static let identifiers = ["team-alpha", "key_existing_identifier", "mysk-notasecret", "skeleton"]

    /// Every substring of a secret long enough to identify it (its distinctive tail included).
    static func leakMarkers(_ secret: String) -> [String] {
        [secret, String(secret.dropFirst(3))]
    }

    @Test
    func noRawSecretIsWrittenAndHashesAreTheSHA256Prefix() throws {
        try withScratchDirectory("secrets") { root in
            var lines: [String] = []
            for (number, key) in (Self.secrets + Self.identifiers).enumerated() {
                for hour in 0..<3 {
                    lines.append(
                        canonicalLine(
                            ts: "\"2026-11-20T1\(hour):00:00Z\"", apiKey: key,
                            fields: [
                                "input_tokens": "\(number * 10 + hour)", "output_tokens": "5", "latency_ms": "120",
                            ]))
                }
            }
            // Rejected lines carrying a secret: a rejection report must not leak it either.
            lines.append(
                canonicalLine(ts: "\"2026-11-20T11:00:00Z\"", apiKey: Self.secrets[0], fields: ["input_tokens": "-1"]))
            lines.append(canonicalLine(ts: "\"garbage\"", apiKey: Self.secrets[1]))
            lines.append("{\"api_key\":\"\(Self.secrets[2])\",\"broken\":")
            let logFile = root.appendingPathComponent("secrets.log")
            try logBytes(lines).write(to: logFile)

            let snapshots = root.appendingPathComponent("snapshots")
            let outcome = try TokentallyBinary.replay([logFile.path], snapshotDirectory: snapshots)
            try #require(outcome.status == 0, "replay failed: \(outcome.summary)")

            let actual = try SnapshotDirectory.load(from: snapshots)
            let files = try actual.allFileContents()
            #expect(files.count >= 4, "snapshot files: \(files.keys.sorted())")
            let outputs = ["stdout": outcome.stdout, "stderr": outcome.stderr].merging(files) { first, _ in first }
            for secret in Self.secrets {
                for marker in Self.leakMarkers(secret) {
                    for (name, bytes) in outputs where bytes.range(of: Data(marker.utf8)) != nil {
                        Issue.record("raw key material \"\(marker)\" appears in \(name)")
                    }
                }
            }

            var expectedKeys = Set(Self.identifiers)
            for secret in Self.secrets {
                expectedKeys.insert("key_" + String(try HostTools.sha256Hex(secret).prefix(16)))
            }
            #expect(actual.writtenKeys == expectedKeys)

            var oracle = UsageOracle(format: .tokentally)
            oracle.read(bytes: [UInt8](try Data(contentsOf: logFile)))
            let mismatches = SnapshotComparison.compare(try oracle.result(), actual)
            #expect(mismatches.isEmpty, "\(SnapshotComparison.report(mismatches))")
        }
    }

    @Test
    func generatedSecretKeysAreNeverWrittenRaw() throws {
        try withScratchDirectory("generated-secrets") { root in
            let logs = root.appendingPathComponent("logs")
            try ReplayExactnessTests.generate(
                into: logs, format: .tokentally, lines: 3_000, days: 3, keys: 30, seed: 99)
            var oracle = UsageOracle(format: .tokentally)
            for file in try rotatedSetOldestFirst(in: logs) { try oracle.read(file: file) }
            let expected = try oracle.result()
            let rawSecrets = Set(expected.records.map(\.rawAPIKey).filter(KeyRedaction.isSecret))
            #expect(!rawSecrets.isEmpty, "the generator wrote no secret-looking key: this test would prove nothing")

            let snapshots = root.appendingPathComponent("snapshots")
            let outcome = try TokentallyBinary.replay([logs.path], snapshotDirectory: snapshots)
            try #require(outcome.status == 0, "replay failed: \(outcome.summary)")
            let actual = try SnapshotDirectory.load(from: snapshots)
            var outputs = try actual.allFileContents()
            outputs["stdout"] = outcome.stdout
            outputs["stderr"] = outcome.stderr
            for secret in rawSecrets {
                for (name, bytes) in outputs where bytes.range(of: Data(secret.utf8)) != nil {
                    Issue.record("raw generated key \"\(secret)\" appears in \(name)")
                }
            }
            let mismatches = SnapshotComparison.compare(expected, actual)
            #expect(mismatches.isEmpty, "\(SnapshotComparison.report(mismatches))")
        }
    }
}
