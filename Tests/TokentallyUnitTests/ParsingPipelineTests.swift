import Foundation
import Logging
import Testing

@testable import TokentallySystem
@testable import TokentallyReading
@testable import TokentallyCounting
@testable import TokentallyOutput
@testable import TokentallyConfiguration
@testable import TokentallyReplay
@testable import TokentallyDaemon
@testable import TokentallySamples

/// Bytes handed out a few at a time, optionally failing after `failAfter` bytes.
private final class MemorySource: ByteSource {
    let bytes: [UInt8]
    let chunk: Int
    let failAfter: Int?
    var offset = 0
    var damage: Damage? { nil }

    init(_ bytes: [UInt8], chunk: Int, failAfter: Int? = nil) {
        self.bytes = bytes
        self.chunk = chunk
        self.failAfter = failAfter
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws(FileReadError) -> Int {
        if let failAfter, offset >= failAfter {
            throw FileReadError(code: .readFailed, path: "memory", message: "read failed on purpose")
        }
        var n = min(chunk, buffer.count, bytes.count - offset)
        if let failAfter { n = min(n, failAfter - offset) }
        for i in 0..<n { buffer[i] = bytes[offset + i] }
        offset += n
        return n
    }
}

/// Keeps every message logged, with its metadata, in order.
private final class LogRecorder: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []

    var messages: [String] { lock.withLock { lines } }

    func append(_ line: String) { lock.withLock { lines.append(line) } }

    var logger: Logger {
        Logger(label: "test") { _ in Handler(recorder: self) }
    }

    struct Handler: LogHandler {
        let recorder: LogRecorder
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let fields = (event.metadata ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
            recorder.append("\(event.level) \(event.message) \(fields.joined(separator: " "))")
        }
    }
}

/// A log of `count` request lines with, mixed in, every kind of line the pipeline must keep
/// in order: strings with escapes (decoded into the batch), rejects of several reasons, empty
/// lines, CRLF endings, a line over the limit, and a last line without a newline.
private func mixedLog(count: Int) -> [UInt8] {
    var random = SplitMix64(state: 42)
    var text = ""
    for index in 0..<count {
        let second = index % 60
        let day = 1 + index % 5
        let key = "key-\(random.next() % 40)"
        let model = ["gpt-4o", "claude-sonnet", "gemini-pro"][Int(random.next() % 3)]
        switch index % 23 {
        case 3:
            // Escapes in every kept string: they are decoded out of the line into the batch.
            text +=
                #"{"ts":"2026-11-0\#(day)T10:00:\#(String(format: "%02d", second))Z","api_key":"k\u0065y-\#(index % 7)","model":"\#(model)\/v2","provider":"op\u00e9n","input_tokens":\#(index % 1000),"latency_ms":\#(index % 900)}"#
        case 5:
            text += #"{"ts":"2026-11-0\#(day)T10:00:00Z","api_key":"#  // invalid JSON
        case 7:
            text += ""  // an empty line
        case 11:
            text += #"{"ts":"not a time","api_key":"k","model":"m","provider":"p"}"#
        case 13:
            text += #"{"ts":"2026-11-0\#(day)T10:00:00Z","model":"m","provider":"p"}"#  // no api_key
        case 17:
            text += "{\"pad\":\"" + String(repeating: "x", count: 300) + "\"}"  // over the limit
        default:
            text +=
                #"{"ts":"2026-11-0\#(day)T11:\#(String(format: "%02d", second)):07.25Z","api_key":"\#(key)","model":"\#(model)","provider":"openai","input_tokens":\#(random.next() % 5000),"output_tokens":\#(random.next() % 900),"latency_ms":\#(random.next() % 9000),"ttft_ms":\#(random.next() % 800),"cost_usd":0.00\#(random.next() % 10000)}"#
        }
        text += index % 29 == 0 ? "\r\n" : "\n"
    }
    text += #"{"ts":"2026-11-05T23:59:59Z","api_key":"last","model":"m","provider":"p","input_tokens":5}"#
    return Array(text.utf8)
}

/// What one way of reading a log came to: every figure the counters hold (a digest of their
/// state encoding, which holds them all), the line statistics, the file outcome and the log
/// messages.
private struct Result: Equatable {
    var stateDigest: String
    var stateBytes: Int
    var linesRead: UInt64
    var linesEmpty: UInt64
    var rejected: [String: UInt64]
    var fileLinesRead: UInt64
    var fileLinesRejected: UInt64
    var contentOffset: UInt64
    var messages: [String]
}

private func read(
    _ log: [UInt8], parserCount: Int?, chunkBytes: Int = 1 << 10, sourceChunk: Int = 777, failAfter: Int? = nil,
    maxLineBytes: Int = 256
) throws -> (Result, (any Error)?) {
    let counters = UsageCounters(
        calendar: try #require(BucketCalendar(timeZoneIdentifier: "UTC")), retention: RetentionConfiguration(),
        maxSeries: 100, redactor: try KeyRedactor(secretPattern: "^sk-"))
    let recorder = LogRecorder()
    var mappings: [String: FieldMapping] = [:]
    for preset in FormatPreset.allCases { mappings[preset.rawValue] = preset.mapping }
    // nil: everything on the calling thread (`--threads 0`), reading the default chunks.
    let ingestor = LogIngestor(
        counters: counters, mappings: mappings, maxLineBytes: maxLineBytes, parserThreads: parserCount ?? 0,
        chunkBytes: parserCount == nil ? 256 << 10 : chunkBytes, logger: recorder.logger)
    #expect(ingestor.parserThreads == parserCount ?? 0)
    ingestor.rejectLogLimit = 1_000
    let source = MemorySource(log, chunk: sourceChunk, failAfter: failAfter)
    var outcome = LogIngestor.FileOutcome(linesRead: 0, linesRejected: 0, contentOffset: 0, damage: nil)
    var failure: (any Error)?
    do {
        outcome = try ingestor.ingest(source, displayPath: "mixed.log", format: "tokentally", redaction: .auto)
    } catch {
        failure = error
    }
    var writer = StateWriter()
    counters.encode(into: &writer)
    let result = Result(
        stateDigest: SHA256.hex(writer.bytes.withUnsafeBytes { SHA256.hash($0) }), stateBytes: writer.bytes.count,
        linesRead: ingestor.linesRead, linesEmpty: ingestor.linesEmpty,
        rejected: ingestor.rejectedByCode, fileLinesRead: outcome.linesRead, fileLinesRejected: outcome.linesRejected,
        contentOffset: outcome.contentOffset, messages: recorder.messages)
    return (result, failure)
}

@Suite struct ParsingPipelineTests {
    @Test(arguments: [(1, 1 << 10), (2, 1 << 10), (3, 300), (2, 64 << 10)])
    func parallelReadingCountsExactlyWhatOneThreadCounts(parserCount: Int, chunkBytes: Int) throws {
        let log = mixedLog(count: 3_000)
        let (expected, sequentialError) = try read(log, parserCount: nil)
        let (actual, parallelError) = try read(log, parserCount: parserCount, chunkBytes: chunkBytes)
        #expect(sequentialError == nil && parallelError == nil)
        // The oracle's own sanity: the mix really holds escapes, rejects, empties and a long line.
        #expect(expected.linesRead == 3_001)
        #expect(expected.rejected["line_too_long"] == 130)
        #expect(expected.rejected["invalid_json"] == 131)
        #expect(expected.linesEmpty == 131)
        #expect(expected.contentOffset == UInt64(log.count))
        #expect(actual == expected)
    }

    @Test func linesFarLongerThanABatchAreCopiedWhole() throws {
        // Lines of 200 KiB, within the limit, read in chunks of 1 KiB into batches of 65 KiB:
        // the batches must grow to hold them, and the strings parsed from them stay right.
        var log = mixedLog(count: 400)
        for index in 0..<3 {
            let agent = String(repeating: "a", count: 200 << 10)
            let line =
                #"{"ts":"2026-11-02T10:00:00Z","api_key":"long-\#(index)","model":"m\u00e9","provider":"p","input_tokens":7,"user_agent":"\#(agent)"}"#
            log.insert(contentsOf: Array((line + "\n").utf8), at: 0)
        }
        let (expected, sequentialError) = try read(log, parserCount: nil, maxLineBytes: 1 << 20)
        let (actual, parallelError) = try read(log, parserCount: 2, chunkBytes: 1 << 10, maxLineBytes: 1 << 20)
        #expect(sequentialError == nil && parallelError == nil)
        #expect(expected.rejected["line_too_long"] == nil)
        #expect(expected.linesRead == 404)
        #expect(actual == expected)
    }

    @Test func aReadErrorIsThrownAfterEveryLineBeforeIt() throws {
        let log = mixedLog(count: 2_000)
        let failAfter = log.count / 2
        let (expected, sequentialError) = try read(log, parserCount: nil, failAfter: failAfter)
        let (actual, parallelError) = try read(log, parserCount: 2, failAfter: failAfter)
        #expect((sequentialError as? FileReadError)?.code == .readFailed)
        #expect((parallelError as? FileReadError)?.code == .readFailed)
        // Half the lines were read before the failure, and both ways counted the same ones.
        #expect(expected.linesRead > 900 && expected.linesRead < 1_100)
        #expect(actual == expected)
    }

    @Test func anEmptySourceGivesNoLines() throws {
        let (empty, error) = try read([], parserCount: 2)
        #expect(error == nil)
        #expect(empty.linesRead == 0)
        #expect(empty.contentOffset == 0)
    }

    /// Fails by hanging (and hitting the time limit) if deinit cannot stop the parsers.
    @Test(.timeLimit(.minutes(1)))
    func abandoningThePipelineMidFileStopsItsThreads() throws {
        struct Abandon: Error {}
        let log = mixedLog(count: 5_000)
        var pipeline: ParsingPipeline? = ParsingPipeline(parserThreads: 3, chunkBytes: 512)
        let stream = LineStream(source: MemorySource(log, chunk: 4_096), maxLineBytes: 256)
        var firstLine: UInt64? = nil
        // The ring (32 batches of about 512 bytes) holds far less than the file: the parsers are
        // waiting for a free batch when the read is abandoned, and the read, and then deinit,
        // must still return.
        #expect(throws: Abandon.self) {
            _ = try pipeline?.read(
                stream, parser: ParserChoice(name: "t", mapping: FormatPreset.tokentally.mapping), finishAtEnd: true
            ) { batch in
                firstLine = batch.parsed.first?.lineNumber
                throw Abandon()
            }
        }
        #expect(firstLine == 1)
        #expect(stream.reader.committedOffset < UInt64(log.count))
        pipeline = nil
    }

    /// The pipeline against an oracle of its own: the line reader's lines parsed and counted one
    /// by one, as the daemon did before it used the pipeline.
    @Test(arguments: [0, 2])
    func thePipelineCountsWhatLineByLineCountingCounts(parserThreads: Int) throws {
        let log = mixedLog(count: 3_000)
        let (piped, error) = try read(log, parserCount: parserThreads == 0 ? nil : parserThreads)
        #expect(error == nil)

        let counters = UsageCounters(
            calendar: try #require(BucketCalendar(timeZoneIdentifier: "UTC")), retention: RetentionConfiguration(),
            maxSeries: 100, redactor: try KeyRedactor(secretPattern: "^sk-"))
        let parser = RecordParser(mapping: FormatPreset.tokentally.mapping)
        var reader = LineReader(maxLineBytes: 256, readSize: 4_096)
        var lines: UInt64 = 0
        var empty: UInt64 = 0
        var rejected: [String: UInt64] = [:]
        func count(_ event: LineEvent, _ lineNumber: UInt64) {
            lines += 1
            switch event {
            case .tooLong:
                rejected[RejectReason.lineTooLong.code, default: 0] += 1
            case .line(let bytes):
                switch parser.parse(bytes) {
                case .accepted: counters.add(parser.record, redaction: .auto)
                case .empty: empty += 1
                case .rejected(let rejection): rejected[rejection.reason.code, default: 0] += 1
                }
            }
        }
        let source = MemorySource(log, chunk: 777)
        try reader.read(from: source, count)
        reader.finish(count)
        var writer = StateWriter()
        counters.encode(into: &writer)
        #expect(piped.stateDigest == SHA256.hex(writer.bytes.withUnsafeBytes { SHA256.hash($0) }))
        #expect(piped.linesRead == lines)
        #expect(piped.linesEmpty == empty)
        #expect(piped.rejected == rejected)
        #expect(piped.contentOffset == reader.committedOffset)
    }
}
