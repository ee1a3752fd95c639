// Micro-benchmarks of tokentally's hot path, one stage at a time (issue 5, docs/performance.md).
//
// Run them with
//   TOKENTALLY_BENCHMARKS=1 swift package --scratch-path .build-bench benchmark
// (the target exists only when TOKENTALLY_BENCHMARKS is set; see the end of Package.swift).
//
// Per-line benchmarks use `scalingFactor: .kilo` over a corpus of exactly 1,000 lines, so the
// figures marked `*` in the output are per line: time, instructions and, above all,
// `Malloc (total)`, whose goal is 0 per line in steady state.

import Benchmark
import Logging
import TokentallySystem
import TokentallyReading
import TokentallyCounting
import TokentallyOutput
import TokentallySamples
import TokentallyNative

#if canImport(Glibc)
    import Glibc
#endif

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal],
        warmupIterations: 5,
        scalingFactor: .kilo,
        maxDuration: .seconds(2),
        maxIterations: 100_000
    )

    // MARK: Lines

    let tokentally = Corpus(format: .tokentally)
    do {
        var reader = LineReader(maxLineBytes: 1 << 20)
        let source = MemoryByteSource(tokentally.bytes)
        Benchmark("LineReader: split 1k lines (per line)") { benchmark in
            source.rewind()
            reader.reset()
            var lines = 0
            try? reader.read(from: source) { _, _ in lines &+= 1 }
            precondition(lines == Corpus.lineCount)
        }
    }

    // MARK: Records

    for corpus in [tokentally, Corpus(format: .litellm), Corpus(format: .zenmux)] {
        let parser = RecordParser(mapping: corpus.format.mapping)
        Benchmark("RecordParser: extract a record, \(corpus.format.rawValue) preset (per line)") { benchmark in
            var accepted = 0
            for line in corpus.lines {
                if case .accepted = parser.parse(line) { accepted &+= 1 }
            }
            precondition(accepted == corpus.lines.count, "every generated line is accepted")
            blackHole(accepted)
        }
    }

    // MARK: Timestamps

    for (name, text) in [
        ("RFC 3339 UTC", "2026-11-26T23:23:45.632Z"),
        ("RFC 3339 with offset", "2026-11-26T18:23:45.632104-05:00"),
        ("LiteLLM", "2026-11-26 23:23:45.632104"),
        ("epoch seconds string", "1795219193.334492"),
    ] {
        let bytes = Array(text.utf8)
        Benchmark("Timestamp.parse: \(name) (per call)") { benchmark in
            bytes.withUnsafeBytes { raw in
                for _ in benchmark.scaledIterations { blackHole(Timestamp.parse(text: raw)) }
            }
        }
    }

    // MARK: Counters

    do {
        let records = StableRecords(tokentally)
        let counters = makeCounters()
        // Warm: every series and bucket of the corpus exists before measuring.
        for record in records.records { counters.add(record, redaction: .auto) }
        Benchmark("UsageCounters.add: count a record, 3 buckets (per record)") { benchmark in
            for record in records.records { counters.add(record, redaction: .auto) }
        }
    }

    do {
        let values = tokentally.latencies()
        var sketch = QuantileSketch()
        for value in values { sketch.add(value) }
        Benchmark("QuantileSketch.add: one latency (per value)") { benchmark in
            for value in values { sketch.add(value) }
            blackHole(sketch.count)
        }
        let indexes = values.map { QuantileSketch.bucketIndex(for: $0) }
        Benchmark("QuantileSketch.add(_:bucketIndex:): index precomputed (per value)") { benchmark in
            for (value, index) in zip(values, indexes) { sketch.add(value, bucketIndex: index) }
            blackHole(sketch.count)
        }
    }

    // MARK: The whole hot path

    for corpus in [tokentally] {
        let counters = makeCounters()
        let ingestor = LogIngestor(
            counters: counters, mappings: [corpus.format.rawValue: corpus.format.mapping], maxLineBytes: 1 << 20,
            logger: Logger(label: "bench"))
        let source = MemoryByteSource(corpus.bytes)
        let stream = LineStream(source: source, maxLineBytes: 1 << 20)
        var progress = LogIngestor.FileProgress(displayPath: "bench", format: corpus.format.rawValue, redaction: .auto)
        // Warm: series, buckets, sketches and parser buffers exist before measuring.
        for _ in 0..<3 {
            source.rewind()
            try? ingestor.consume(stream, progress: &progress)
        }
        Benchmark("LogIngestor: bytes to counters, one thread, \(corpus.format.rawValue) (per line)") { benchmark in
            source.rewind()
            try? ingestor.consume(stream, progress: &progress)
            precondition(ingestor.linesRejected == 0)
        }
    }

    // The same on two cores, as `replay` reads a file: one parser thread reads and parses while
    // this thread counts (and parses too when it would wait). The pipeline's thread and batches
    // are made once, as in replay and the daemon.
    do {
        let counters = makeCounters()
        let ingestor = LogIngestor(
            counters: counters, mappings: [tokentally.format.rawValue: tokentally.format.mapping],
            maxLineBytes: 1 << 20, parserThreads: 1, chunkBytes: 64 << 10, logger: Logger(label: "bench"))
        let source = MemoryByteSource(tokentally.bytes)
        Benchmark("LogIngestor: one parser thread and the caller, 1k lines (per line)") { benchmark in
            source.rewind()
            let outcome = try? ingestor.ingest(
                source, displayPath: "bench", format: tokentally.format.rawValue, redaction: .auto)
            precondition(outcome?.linesRead == UInt64(Corpus.lineCount) && outcome?.linesRejected == 0)
        }
    }

    // MARK: Gzip

    do {
        // 1,000 lines, as one gzip file: inflating alone, then inflating on a read-ahead thread
        // while this one splits the lines (what `replay` does with a .gz file).
        let directory = makeTemporaryDirectory()
        let path = directory + "/corpus.log.gz"
        var sink = try! GzipFileSink(path: path)
        try! tokentally.bytes.withUnsafeBytes { try sink.write($0) }
        try! sink.close()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 64)
        Benchmark("GzipByteSource: inflate 1k lines (per line)") { benchmark in
            let source = try! GzipByteSource(compressed: try! FileByteSource(path: path))
            var total = 0
            while true {
                let n = try! source.read(into: buffer)
                if n == 0 { break }
                total += n
            }
            precondition(total == tokentally.bytes.count)
        }
        var reader = LineReader(maxLineBytes: 1 << 20)
        Benchmark("ReadAheadByteSource: inflate and split 1k lines on two threads (per line)") { benchmark in
            let source = ReadAheadByteSource(
                try! GzipByteSource(compressed: try! FileByteSource(path: path)), chunkSize: 64 * 1024)
            reader.reset()
            var lines = 0
            try? reader.read(from: source) { _, _ in lines &+= 1 }
            precondition(lines == Corpus.lineCount)
        }
    }

    // MARK: Snapshots

    do {
        let seriesCount = 100_000
        let counters = makeCounters()
        let records = SyntheticSeries(count: seriesCount)
        for record in records.records { counters.add(record, redaction: .none) }
        let day = counters.bucketOrdinals(.day).last!
        let heavy = Benchmark.Configuration(
            metrics: [.wallClock, .cpuUser, .mallocCountTotal, .peakMemoryResidentDelta],
            warmupIterations: 1, scalingFactor: .one, maxDuration: .seconds(10), maxIterations: 10)
        func report() -> BucketReport {
            counters.report(.day, ordinal: day, host: "bench", timezone: "UTC", generatedAt: 0, minRequests: 20)!
        }
        let built = report()
        precondition(built.series.count == seriesCount)
        Benchmark("Snapshot: build the report of a 100k-series day", configuration: heavy) { benchmark in
            blackHole(report())
        }
        Benchmark("Snapshot: encode a 100k-series day", configuration: heavy) { benchmark in
            blackHole(SnapshotEncoder.encode(built))
        }
        let directory = makeTemporaryDirectory()
        let writer = try! SnapshotWriter(directory: directory)
        Benchmark(
            "Snapshot: report, encode and write (fsync, rename) a 100k-series day", configuration: heavy
        ) { benchmark in
            try! writer.write(report())
        }
    }
}

// MARK: - Fixtures

/// 1,000 generated lines of one format, in memory, and each line's bytes.
final class Corpus: @unchecked Sendable {
    static let lineCount = 1_000
    let format: FormatPreset
    let bytes: [UInt8]
    /// Views into `storage`, which lives as long as the corpus.
    let lines: [UnsafeRawBufferPointer]
    private let storage: UnsafeMutableRawBufferPointer

    init(format: FormatPreset) {
        self.format = format
        let box = ByteBox()
        let generator = SampleLogGenerator(
            options: SampleLogOptions(lines: Self.lineCount, days: 1, files: 1, keys: 200, format: format))
        _ = try! generator.write(into: "") { _, _ in MemorySink(box: box) }
        bytes = box.bytes
        storage = .allocate(byteCount: bytes.count, alignment: 64)
        storage.copyMemory(from: UnsafeRawBufferPointer(start: bytes, count: bytes.count))
        var lines: [UnsafeRawBufferPointer] = []
        var start = 0
        for index in 0..<bytes.count where bytes[index] == 0x0A {
            lines.append(UnsafeRawBufferPointer(rebasing: storage[start..<index]))
            start = index + 1
        }
        self.lines = lines
        precondition(lines.count == Self.lineCount)
    }

    /// Each line's latency, as parsed.
    func latencies() -> [Double] {
        let parser = RecordParser(mapping: format.mapping)
        return lines.compactMap { line in
            guard case .accepted = parser.parse(line), !parser.record.latencyMs.isNaN else { return nil }
            return parser.record.latencyMs
        }
    }
}

/// The corpus's records with their strings copied out of the parser's buffers, so they stay
/// valid while the benchmark adds them again and again.
final class StableRecords: @unchecked Sendable {
    private(set) var records: [GatewayRecord] = []

    init(_ corpus: Corpus) {
        let parser = RecordParser(mapping: corpus.format.mapping)
        for line in corpus.lines {
            guard case .accepted = parser.parse(line) else { continue }
            var record = parser.record
            record.apiKey = Self.copy(record.apiKey)
            record.model = Self.copy(record.model)
            record.provider = Self.copy(record.provider)
            record.requestID = Self.copy(record.requestID)
            records.append(record)
        }
    }

    static func copy(_ bytes: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes.count, 1), alignment: 1)
        if bytes.count > 0 { copy.copyMemory(from: bytes) }
        return UnsafeRawBufferPointer(rebasing: copy[0..<bytes.count])
    }
}

/// One record per series: `count` keys over 20 models and 4 providers, all on one day.
final class SyntheticSeries: @unchecked Sendable {
    private(set) var records: [GatewayRecord] = []

    init(count: Int) {
        let models = (0..<20).map { StableRecords.copy(bytes("vendor/model-\($0)")) }
        let providers = (0..<4).map { StableRecords.copy(bytes("provider-\($0)")) }
        var random: UInt64 = 0x1234_5678
        for index in 0..<count {
            random = random &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            var record = GatewayRecord()
            record.epochSeconds = 1_795_737_600 + Double(index % 86_400)
            record.apiKey = StableRecords.copy(bytes("key-\(index)"))
            record.model = models[index % models.count]
            record.provider = providers[(index / models.count) % providers.count]
            record.requestID = StableRecords.copy(bytes("req-\(index)"))
            record.inputTokens = random >> 50
            record.outputTokens = random >> 54
            record.costNanoUSD = Int64(random >> 40)
            record.latencyMs = Double(random >> 44) / 1000
            record.ttftMs = record.latencyMs / 3
            record.generationMs = record.latencyMs - record.ttftMs
            records.append(record)
        }
    }

    private func bytes(_ text: String) -> UnsafeRawBufferPointer {
        let array = Array(text.utf8)
        return array.withUnsafeBytes { StableRecords.copy($0) }
    }
}

func makeCounters() -> UsageCounters {
    UsageCounters(
        calendar: BucketCalendar(timeZoneIdentifier: "UTC")!, retention: RetentionConfiguration(),
        maxSeries: 1_000_000, redactor: try! KeyRedactor(secretPattern: "^(sk|pk|rk)[-_]"))
}

func makeTemporaryDirectory() -> String {
    var template = Array("/tmp/tokentally-bench-XXXXXX".utf8CString)
    let path = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
    return String(cString: path!)
}

/// A `ByteSource` over bytes in memory, read in 1 MiB pieces like a file.
final class MemoryByteSource: ByteSource {
    private let bytes: [UInt8]
    private var offset = 0
    var damage: Damage? { nil }

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    func rewind() { offset = 0 }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws(FileReadError) -> Int {
        let count = min(buffer.count, bytes.count - offset)
        guard count > 0 else { return 0 }
        bytes.withUnsafeBytes { raw in
            buffer.baseAddress!.copyMemory(from: raw.baseAddress! + offset, byteCount: count)
        }
        offset += count
        return count
    }
}

final class ByteBox: @unchecked Sendable {
    var bytes: [UInt8] = []
}

/// Collects what the generator writes.
struct MemorySink: LogFileSink {
    let box: ByteBox
    mutating func write(_ bytes: UnsafeRawBufferPointer) throws { box.bytes.append(contentsOf: bytes) }
    mutating func close() throws {}
}
