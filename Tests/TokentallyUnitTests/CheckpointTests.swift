import Logging
import Testing

@testable import TokentallyConfiguration
@testable import TokentallyCounting
@testable import TokentallyDaemon
@testable import TokentallyReading
@testable import TokentallySystem

/// The state payload's codec, in memory: no file, no clock.
@Suite struct CheckpointTests {
    private func ingestor() throws -> LogIngestor {
        try makeTestIngestor(zone: "Europe/Berlin", maxSeries: 100)
    }

    private static let log = """
        {"ts":"2026-11-02T10:00:00Z","api_key":"sk-one","model":"gpt-4o","provider":"openai","input_tokens":12,"output_tokens":3,"latency_ms":420,"cost_usd":0.0012}
        {"ts":"2026-11-09T23:30:00Z","api_key":"team-b","model":"claude","provider":"anthropic","input_tokens":7,"status":500}
        not json

        {"ts":"2026-10-31T23:59:59Z","api_key":"sk-two","model":"gpt-4o","provider":"openai","ttft_ms":80}

        """

    private static let files = [
        FileRecord(
            fingerprint: ContentFingerprint(length: 1_024, hash: 0xDEAD_BEEF),
            identity: ContentFingerprint(length: 65_536, hash: 0x1234_5678_9ABC_DEF0), offset: 9_000,
            tail: ContentFingerprint(length: 64, hash: 42), path: "/var/log/gw/access.log", isGzip: false, device: 2049,
            inode: 77, lastSeen: 1_764_000_000),
        FileRecord(
            fingerprint: ContentFingerprint(length: 300, hash: 7), offset: 300, finished: true,
            path: "/var/log/gw/access.log.2.gz", isGzip: true, device: 2049, inode: 78, lastSeen: 1_763_999_000,
            damage: "gzip data cut short after 300 decompressed bytes"),
    ]

    private func encoded(_ checkpoint: Checkpoint, _ ingestor: LogIngestor) -> [UInt8] {
        var writer = StateWriter()
        checkpoint.encode(lines: ingestor, into: &writer)
        writer.finish()
        return writer.bytes
    }

    private func countersBytes(_ counters: UsageCounters) -> [UInt8] {
        var writer = StateWriter()
        counters.encode(into: &writer)
        return writer.bytes
    }

    @Test func aCheckpointReadsBackAsItWasWritten() throws {
        let source = try ingestor()
        _ = try source.ingest(TextSource(Self.log), displayPath: "t", format: "tokentally", redaction: .auto)
        #expect(source.linesRead == 5 && source.linesEmpty == 1 && source.linesRejected == 1)
        let checkpoint = Checkpoint(
            commitTime: 1_764_000_123, inputs: ["/var/log/gw/access.log*", "/srv/other/*.log"], files: Self.files)
        let bytes = encoded(checkpoint, source)

        let target = try ingestor()
        var reader = StateReader(bytes)
        reader.formatVersion = Checkpoint.formatVersion
        let decoded = try Checkpoint.decode(from: &reader, into: target)
        #expect(decoded == checkpoint)
        #expect(target.linesRead == 5 && target.linesEmpty == 1 && target.rejectedByCode == ["invalid_json": 1])
        #expect(target.counters.recordsCounted == 3)
        #expect(countersBytes(target.counters) == countersBytes(source.counters))
        // Written again, it is the same bytes.
        #expect(encoded(decoded, target) == bytes)
    }

    @Test func aCheckpointWithoutFilesOrInputsReadsBack() throws {
        let source = try ingestor()
        let checkpoint = Checkpoint(commitTime: 0, inputs: [], files: [])
        var reader = StateReader(encoded(checkpoint, source))
        reader.formatVersion = Checkpoint.formatVersion
        #expect(try Checkpoint.decode(from: &reader, into: try ingestor()) == checkpoint)
    }

    @Test func aPayloadCutShortOrWithBytesLeftOverIsRefused() throws {
        let source = try ingestor()
        _ = try source.ingest(TextSource(Self.log), displayPath: "t", format: "tokentally", redaction: .auto)
        let bytes = encoded(Checkpoint(commitTime: 5, inputs: ["/a"], files: Self.files), source)
        for cut in [bytes.count - 1, bytes.count / 2, 9] {
            var reader = StateReader(Array(bytes[..<cut]))
            reader.formatVersion = Checkpoint.formatVersion
            #expect(throws: StateDecodingError.self) { try Checkpoint.decode(from: &reader, into: try ingestor()) }
        }
        var longer = StateReader(bytes + [0])
        longer.formatVersion = Checkpoint.formatVersion
        #expect(throws: StateDecodingError.self) { try Checkpoint.decode(from: &longer, into: try ingestor()) }
    }

    /// The checksum is part of the format: these values were taken when format 3 was made, and
    /// a change to `StateChecksum` that moves them makes every committed state unreadable.
    @Test func theStateChecksumIsFrozen() {
        let payload = Array("tokentally state payload, format 3".utf8)
        let words = [UInt8](0..<64)
        #expect(payload.withUnsafeBytes { StateChecksum.of($0, formatVersion: 3) } == 17_998_441_536_081_145_980)
        #expect(words.withUnsafeBytes { StateChecksum.of($0, formatVersion: 3) } == 4_669_275_978_477_447_150)
        #expect([UInt8]().withUnsafeBytes { StateChecksum.of($0, formatVersion: 3) } == 4_180_030_828_858_467_635)
        #expect(payload.withUnsafeBytes { StateChecksum.of($0, formatVersion: 1) } == 1_303_030_541_037_240_583)
        // Format 4 (the lifetime counters) frames its payload with the same checksum.
        #expect(payload.withUnsafeBytes { StateChecksum.of($0, formatVersion: 4) } == 17_998_441_536_081_145_980)
        #expect(Checkpoint.formatVersion == 4 && StateStore.version == Checkpoint.formatVersion)
    }
}
