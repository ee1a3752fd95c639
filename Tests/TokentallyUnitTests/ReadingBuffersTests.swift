import Logging
import Testing

@testable import TokentallyConfiguration
@testable import TokentallyCounting
@testable import TokentallyReading
@testable import TokentallySystem

/// Replay gives the reading buffers back before it writes its snapshots; a read after that
/// grows them again and counts the same.
@Suite struct ReadingBuffersTests {
    private func ingestor(threads: Int) throws -> LogIngestor {
        try makeTestIngestor(zone: "UTC", maxSeries: 10_000, parserThreads: threads)
    }

    private static func log(_ tag: String) -> String {
        (0..<20_000).map { index in
            """
            {"ts":"2026-11-\(10 + index % 9)T10:00:00Z","api_key":"k-\(index % 50)","model":"m-\(index % 3)",\
            "provider":"p","input_tokens":\(index),"note":"\(tag)\\u00e9\(index)"}
            """
        }.joined(separator: "\n") + "\n"
    }

    private func state(_ counters: UsageCounters) -> [UInt8] {
        var writer = StateWriter()
        counters.encode(into: &writer)
        return writer.bytes
    }

    @Test(arguments: [0, 1]) func readingAfterReleasingCountsTheSame(threads: Int) throws {
        let released = try ingestor(threads: threads)
        let kept = try ingestor(threads: threads)
        for tag in ["a", "b"] {
            _ = try released.ingest(TextSource(Self.log(tag)), displayPath: tag, format: "tokentally", redaction: .auto)
            released.releaseReadingBuffers()
            _ = try kept.ingest(TextSource(Self.log(tag)), displayPath: tag, format: "tokentally", redaction: .auto)
        }
        #expect(released.linesRead == 40_000 && released.counters.recordsCounted == 40_000)
        #expect(state(released.counters) == state(kept.counters))
    }
}
