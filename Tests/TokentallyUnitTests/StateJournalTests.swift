import Foundation
import Logging
import Testing

@testable import TokentallyConfiguration
@testable import TokentallyCounting
@testable import TokentallyDaemon
@testable import TokentallyReading
@testable import TokentallySystem

/// Journal commits: what changed since a commit, applied to that commit, is the whole state now.
@Suite struct StateJournalTests {
    private func ingestor() throws -> LogIngestor {
        let ingestor = try makeTestIngestor(zone: "UTC", maxSeries: 1_000)
        ingestor.counters.tracksChanges = true
        return ingestor
    }

    /// Lines over `days` days from 2026-11-`firstDay`, keys and models cycling.
    private func log(lines: Int, firstDay: Int, days: Int, keys: Int, tag: String) -> String {
        (0..<lines).map { index in
            let day = firstDay + index % days
            let key = index % 3 == 0 ? "sk-\(tag)-\(index % keys)" : "team-\(index % keys)"
            return """
                {"ts":"2026-11-\(String(format: "%02d", day))T\(String(format: "%02d", index % 24)):00:00Z",\
                "api_key":"\(key)","model":"m-\(index % 4)","provider":"p-\(index % 3)","input_tokens":\(index),\
                "output_tokens":\(index % 17),"latency_ms":\(100 + index % 900),"ttft_ms":\(10 + index % 90),\
                "cost_usd":0.00\(index % 10)1,"status":\(index % 11 == 0 ? 500 : 200),"request_id":"\(tag)-\(index)"}
                """
        }.joined(separator: "\n") + "\n"
    }

    private func ingest(_ ingestor: LogIngestor, _ text: String) throws {
        _ = try ingestor.ingest(TextSource(text), displayPath: "t", format: "tokentally", redaction: .auto)
    }

    private func countersBytes(_ counters: UsageCounters) -> [UInt8] {
        var writer = StateWriter()
        counters.encode(into: &writer)
        return writer.bytes
    }

    @Test func recordsAppliedToTheirCommitGiveTheWholeStateNow() throws {
        let source = try ingestor()
        try ingest(source, log(lines: 600, firstDay: 1, days: 5, keys: 40, tag: "a"))
        let checkpoint = Checkpoint(commitTime: 1, inputs: ["/logs/*"], files: [])
        var full = StateWriter()
        checkpoint.encode(lines: source, into: &full)
        full.finish()
        source.counters.markCommitted()

        // New keys and days, lines in days already committed, then a shorter retention that
        // evicts buckets, and a rejected line.
        var records: [[UInt8]] = []
        func commitChanges() {
            var writer = StateWriter()
            Checkpoint(commitTime: Int64(records.count + 2), inputs: ["/logs/*"], files: []).encodeChanges(
                lines: source, into: &writer)
            writer.finish()
            records.append(writer.bytes)
            source.counters.markCommitted()
        }
        try ingest(source, log(lines: 300, firstDay: 4, days: 6, keys: 70, tag: "b") + "not json\n")
        commitChanges()
        commitChanges()  // nothing changed: a record of no cells
        source.counters.retention = RetentionConfiguration(days: 4, weeks: 2, months: 3)
        try ingest(source, log(lines: 200, firstDay: 8, days: 4, keys: 90, tag: "c"))
        commitChanges()
        #expect(records[1].count < records[0].count / 4, "an empty record is not small")

        func replay(_ count: Int) throws -> LogIngestor {
            let target = try ingestor()
            target.counters.retention = source.counters.retention
            var reader = StateReader(full.bytes)
            reader.formatVersion = Checkpoint.formatVersion
            _ = try Checkpoint.decode(from: &reader, into: target)
            target.counters.markCommitted()
            for record in records.prefix(count) {
                var reader = StateReader(record)
                reader.formatVersion = Checkpoint.formatVersion
                let decoded = try Checkpoint.decodeChanges(from: &reader, into: target)
                #expect(decoded.inputs == ["/logs/*"])
            }
            return target
        }
        let replayed = try replay(records.count)
        #expect(countersBytes(replayed.counters) == countersBytes(source.counters))
        // The lifetime counters too: every line counted once, whatever retention evicted.
        let lifetime = replayed.counters.lifetime.entries
        #expect(lifetime.map(\.values) == source.counters.lifetime.entries.map(\.values) && !lifetime.isEmpty)
        #expect(lifetime.reduce(0) { $0 + $1.values.succeeded + $1.values.failed } == 1_100)
        #expect(replayed.linesRead == source.linesRead && replayed.linesRejected == 1)
        // Not vacuous: without the last record the state is another one.
        #expect(countersBytes(try replay(records.count - 1).counters) != countersBytes(source.counters))
    }

    @Test func aRecordCutShortIsIgnoredAndCutOff() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tokentally-journal-\(UUID())")
            .path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let journal = StateJournal(directory: directory)
        try journal.startOver(base: 7)
        let payloads: [[UInt8]] = [Array("one".utf8), Array(repeating: 9, count: 5_000), Array("three".utf8)]
        for payload in payloads { try journal.append(payload) }
        let whole = journal.size

        func load(base: UInt64) throws -> [[UInt8]] {
            var seen: [[UInt8]] = []
            _ = try StateJournal(directory: directory).load(base: base) { seen.append($0) }
            return seen
        }
        #expect(try load(base: 7) == payloads)
        // Another state file's journal is not applied.
        let other = StateJournal(directory: directory)
        #expect(try other.load(base: 8) { _ in Issue.record("applied a record of another state") } == 0)
        #expect(!other.isUsable)

        // A crash in the middle of the last append: the record is cut short.
        #expect(truncate(journal.path, off_t(whole - 2)) == 0)
        let reopened = StateJournal(directory: directory)
        var seen: [[UInt8]] = []
        #expect(try reopened.load(base: 7) { seen.append($0) } == 2)
        #expect(seen == Array(payloads.prefix(2)))
        // It was cut off: the next record follows the second, and all three read back.
        try reopened.append(Array("again".utf8))
        #expect(try load(base: 7) == Array(payloads.prefix(2)) + [Array("again".utf8)])

        // A crash after a payload was written but before its frame: zeros where the frame goes.
        let framed = try #require(FileHandle(forUpdatingAtPath: journal.path))
        try framed.seekToEnd()
        try framed.write(contentsOf: Data(repeating: 0, count: 16) + Data("lost".utf8))
        try framed.close()
        let afterCrash = StateJournal(directory: directory)
        #expect(try afterCrash.load(base: 7) { _ in } == 3)
        try afterCrash.append(Array("four".utf8))
        #expect(try load(base: 7) == Array(payloads.prefix(2)) + [Array("again".utf8), Array("four".utf8)])

        // A flipped byte in a payload fails its checksum and ends the journal there.
        let handle = try #require(FileHandle(forUpdatingAtPath: journal.path))
        try handle.seek(toOffset: UInt64(StateJournal.headerSize + 16 + 1))
        try handle.write(contentsOf: Data([0x58]))
        try handle.close()
        #expect(try load(base: 7).isEmpty)
    }
}
