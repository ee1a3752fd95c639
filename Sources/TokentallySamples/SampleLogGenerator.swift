#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
import TokentallySystem
import TokentallyReading

// MARK: - Options, summary, errors

/// What `tokentally generate` makes: how many lines, over which time range, in which format and
/// how many rotated files.
///
/// The same options always produce the same bytes (the generator draws everything from its own
/// seeded generator, never from the system), so the README demo, the tests and the benchmarks can
/// rely on the content.
public struct SampleLogOptions: Sendable, Hashable {
    /// Lines over the whole rotated set.
    public var lines: Int
    /// Days the timestamps spread over, ending at ``end``.
    public var days: Int
    /// Files in the rotated set, live file included (1 means only the live file).
    public var files: Int
    /// Distinct API keys to draw from (Zipf-skewed: a few keys make most of the traffic).
    public var keys: Int
    /// Seed of the pseudo-random generator; a different seed gives different content.
    public var seed: UInt64
    /// Which gateway's field names the lines use.
    public var format: FormatPreset
    /// The exclusive end of the time range, in epoch seconds; every timestamp is earlier.
    public var end: Int64
    /// The live file's name; rotated files add `.1`, `.2.gz` and so on.
    public var baseName: String

    /// 2026-11-28T00:00:00Z, the default end of the time range.
    public static let defaultEnd: Int64 = 1_795_824_000

    /// Makes options; every parameter has the default `tokentally generate` uses.
    public init(
        lines: Int = 100_000,
        days: Int = 7,
        files: Int = 4,
        keys: Int = 200,
        seed: UInt64 = 42,
        format: FormatPreset = .tokentally,
        end: Int64 = SampleLogOptions.defaultEnd,
        baseName: String = "access.log"
    ) {
        self.lines = lines
        self.days = days
        self.files = files
        self.keys = keys
        self.seed = seed
        self.format = format
        self.end = end
        self.baseName = baseName
    }
}

/// What a generator wrote.
public struct SampleLogSummary: Sendable, Hashable {
    /// One file of the rotated set.
    public struct File: Sendable, Hashable {
        /// The file name inside the target directory, such as `access.log.2.gz`.
        public var name: String
        /// Lines in the file (after decompression).
        public var lines: Int
        /// Whether the file was opened as a gzip sink.
        public var isGzip: Bool
        /// Gzip members in the file: 1 or 2 for gzip files, 0 for plain files.
        public var gzipMembers: Int
        /// Uncompressed bytes written, line ends included.
        public var bytes: Int

        /// Makes a file entry.
        public init(name: String, lines: Int, isGzip: Bool, gzipMembers: Int, bytes: Int) {
            self.name = name
            self.lines = lines
            self.isGzip = isGzip
            self.gzipMembers = gzipMembers
            self.bytes = bytes
        }
    }

    /// The files written, oldest first (the order a reader of the rotated set reads them in).
    public var files: [File]

    /// Lines over all files.
    public var totalLines: Int { files.reduce(0) { $0 + $1.lines } }
    /// Uncompressed bytes over all files.
    public var totalBytes: Int { files.reduce(0) { $0 + $1.bytes } }

    /// Makes a summary of these files, oldest first.
    public init(files: [File]) {
        self.files = files
    }
}

/// Why sample logs could not be written: bad options, or a file that could not be opened, written
/// or closed.
public struct SampleLogError: Error, CustomStringConvertible, Sendable {
    /// What went wrong.
    public enum Code: String, Sendable, Hashable, CaseIterable {
        /// An option out of range (no lines file, zero days, a base name with a slash...).
        case invalidOptions = "invalid_options"
        /// A file could not be created.
        case openFailed = "open_failed"
        /// Writing (or compressing) failed.
        case writeFailed = "write_failed"
        /// Finishing or closing a file failed.
        case closeFailed = "close_failed"
    }

    /// What went wrong.
    public var code: Code
    /// The file concerned; empty for ``Code/invalidOptions``.
    public var path: String
    /// What is wrong and what to do, for a person.
    public var message: String
    /// The `errno` behind it, when there was one.
    public var errno: Int32?

    /// Makes an error.
    public init(code: Code, path: String, message: String, errno: Int32? = nil) {
        self.code = code
        self.path = path
        self.message = message
        self.errno = errno
    }

    /// Builds an error from a failed system call, with the system's text for `errno`.
    public static func system(_ code: Code, path: String, doing action: String, errno err: Int32) -> SampleLogError {
        let reason = String(cString: strerror(err))
        return SampleLogError(code: code, path: path, message: "\(action) failed: \(reason)", errno: err)
    }

    /// One line: `PATH: MESSAGE`, or only the message when no file is concerned.
    public var description: String { path.isEmpty ? message : "\(path): \(message)" }
}

// MARK: - Sinks

/// Where the generator writes one file's bytes. A sink is owned by one holder and used from one
/// task; the generator opens one per file, writes the file's lines in order and closes it.
public protocol LogFileSink {
    /// Appends bytes to the file. The bytes are only borrowed for the call.
    mutating func write(_ bytes: UnsafeRawBufferPointer) throws
    /// Ends the current gzip member and starts another in the same file, so that the file holds
    /// concatenated members as `cat a.gz b.gz` makes. Plain sinks ignore it (the default).
    mutating func startNewMember() throws
    /// Writes out everything buffered and closes the file. Nothing may be written afterwards.
    mutating func close() throws
}

extension LogFileSink {
    /// Does nothing: a plain file has no members.
    public mutating func startNewMember() throws {}
}

/// A plain file written through a 1 MiB buffer with `open`/`write`, created or truncated on open.
///
/// Bytes reach the file when the buffer fills and on ``close()``; a sink dropped without `close`
/// loses what is buffered and leaks its descriptor. Not for copying: copies share the descriptor.
public struct PlainFileSink: LogFileSink {
    /// The file's path, for error messages.
    public let path: String
    private var descriptor: Int32
    private var buffer: [UInt8]
    private static let bufferCapacity = 1 << 20

    /// Creates (or truncates) the file at `path` with permission bits `mode`.
    public init(path: String, mode: UInt32 = 0o644) throws {
        self.path = path
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode_t(mode))
        guard fd >= 0 else {
            throw SampleLogError.system(.openFailed, path: path, doing: "creating the file", errno: errno)
        }
        descriptor = fd
        buffer = []
        buffer.reserveCapacity(Self.bufferCapacity)
    }

    /// Buffers `bytes`, writing the buffer out whenever it fills.
    public mutating func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard descriptor >= 0 else {
            throw SampleLogError(code: .writeFailed, path: path, message: "write after close")
        }
        if buffer.count + bytes.count > Self.bufferCapacity {
            try flush()
        }
        if bytes.count >= Self.bufferCapacity {
            // Larger than the whole buffer: copying it first would only cost time.
            try Self.writeAll(bytes, to: descriptor, path: path)
        } else if let base = bytes.baseAddress {
            buffer.append(
                contentsOf: UnsafeBufferPointer(start: base.assumingMemoryBound(to: UInt8.self), count: bytes.count))
        }
    }

    /// Writes out the buffer and closes the file; closing twice does nothing.
    public mutating func close() throws {
        guard descriptor >= 0 else { return }
        defer { descriptor = -1 }
        do {
            try flush()
        } catch {
            _ = closeDescriptor(descriptor)
            throw error
        }
        if closeDescriptor(descriptor) != 0 {
            throw SampleLogError.system(.closeFailed, path: path, doing: "closing the file", errno: errno)
        }
    }

    private mutating func flush() throws {
        guard !buffer.isEmpty else { return }
        try buffer.withUnsafeBytes { try Self.writeAll($0, to: descriptor, path: path) }
        buffer.removeAll(keepingCapacity: true)
    }

    private static func writeAll(_ bytes: UnsafeRawBufferPointer, to fd: Int32, path: String) throws {
        if let error = Syscall.writeAll(fd, bytes) {
            throw SampleLogError.system(.writeFailed, path: path, doing: "writing", errno: error.code)
        }
    }
}

// The sink's own `close()` and `write(_:)` hide the C functions inside its methods.
private func closeDescriptor(_ fd: Int32) -> Int32 { close(fd) }

// MARK: - Generator

/// Writes a realistic rotated set of gateway request logs, the same bytes for the same options.
///
/// The set is laid out as logrotate leaves it with `compress` and `delaycompress`: with `files`
/// = F, the oldest lines go to `access.log.{F-1}.gz`, ..., `access.log.2.gz`, then the plain
/// `access.log.1`, then the live `access.log`. Lines are spread evenly over the files in time
/// order. `access.log.2.gz` (when F ≥ 3) holds two concatenated gzip members.
///
/// Timestamps (the field the format's `ts` comes from) lie in `[end - days, end)`, follow a daily
/// and weekly traffic curve in UTC, and increase from file to file; inside a file about 3% of the
/// lines are logged up to 400 ms late, so they are slightly out of order, as with several gateway
/// workers writing one file.
///
/// Every line is one JSON object that the format's preset mapping accepts. The records behind
/// the lines do not depend on the format: for one seed the three formats describe the same
/// requests (same keys, models, tokens, costs and times), only the field names, the number
/// spellings and the extra fields differ. Failed requests (about 3%) carry no tokens and no cost.
///
/// Lines are built as bytes in a reused buffer, with no Foundation and no per-line `String`.
public struct SampleLogGenerator: Sendable {
    /// The options this generator writes with.
    public let options: SampleLogOptions
    private let catalog: Catalog

    /// Makes a generator for `options`; the key table and the string tables are built here.
    public init(options: SampleLogOptions) {
        self.options = options
        self.catalog = Catalog(keys: max(options.keys, 1), seed: options.seed)
    }

    /// The file names of the rotated set, oldest first, for `files` files named after `baseName`.
    public static func fileNames(baseName: String, files: Int) -> [String] {
        guard files > 0 else { return [] }
        return (0..<files).map { position in
            let number = files - 1 - position
            switch number {
            case 0: return baseName
            case 1: return baseName + ".1"
            default: return baseName + ".\(number).gz"
            }
        }
    }

    /// Writes the rotated set into `directory` (which must exist), oldest file first, opening
    /// each file with `openSink(path, gzip)`; `gzip` is true for the `.gz` names. Each sink is
    /// closed before the next file is opened. Returns what was written.
    public func write(
        into directory: String,
        openSink: (_ path: String, _ gzip: Bool) throws -> any LogFileSink
    ) throws -> SampleLogSummary {
        try validate()
        let names = Self.fileNames(baseName: options.baseName, files: options.files)
        let prefix = directory.isEmpty ? "" : (directory.hasSuffix("/") ? directory : directory + "/")
        let startSeconds = options.end - Int64(options.days) * 86_400

        var random = Xoshiro256(seed: options.seed)
        var timeline = Timeline(
            startSeconds: startSeconds, days: options.days, lines: options.lines, seed: options.seed)
        // Flushed at the threshold, so a line always has `maximumLineBytes` of room.
        var line = LineBuffer(capacity: Self.flushThreshold + LineBuffer.maximumLineBytes)
        let idKey = mixUnique(options.seed ^ 0x5EED_1D5E_ED1D_5EED)
        var lineIndex: UInt64 = 0
        var files: [SampleLogSummary.File] = []

        for (position, name) in names.enumerated() {
            let count = options.lines / options.files + (position < options.lines % options.files ? 1 : 0)
            let gzip = name.hasSuffix(".gz")
            // The newest compressed file gets the second member: it is the one a `cat` of two
            // rotations, or a copytruncate race, would have produced.
            let twoMembers = gzip && name == options.baseName + ".2.gz"
            var sink = try openSink(prefix + name, gzip)
            var bytes = 0
            do {
                var floor: Int64 = 0
                for index in 0..<count {
                    if twoMembers && index == count / 2 {
                        bytes += line.count
                        try flush(&line, to: &sink)
                        try sink.startNewMember()
                    }
                    let completed = timeline.next(&random)
                    if index == 0 { floor = completed }
                    var record = catalog.draw(&random, completedMicros: completed)
                    // Logged late: out of order inside the file, never before the file's first line
                    // (so files stay in order).
                    if record.lateMicros > 0 {
                        record.completedMicros = max(floor, completed - record.lateMicros)
                    }
                    record.uniqueID = mixUnique(lineIndex &+ idKey)
                    lineIndex &+= 1
                    switch options.format {
                    case .tokentally: catalog.renderTokentally(record, into: &line)
                    case .litellm: catalog.renderLiteLLM(record, into: &line)
                    case .zenmux: catalog.renderZenMux(record, into: &line)
                    case .openrouter: catalog.renderOpenRouter(record, into: &line)
                    case .kong: catalog.renderKong(record, into: &line)
                    case .envoyAIGateway: catalog.renderEnvoy(record, into: &line)
                    }
                    line.byte(0x0A)
                    if line.count >= Self.flushThreshold {
                        bytes += line.count
                        try flush(&line, to: &sink)
                    }
                }
                if twoMembers && count == 0 { try sink.startNewMember() }
                bytes += line.count
                try flush(&line, to: &sink)
                try sink.close()
            } catch {
                try? sink.close()
                throw error
            }
            files.append(
                SampleLogSummary.File(
                    name: name, lines: count, isGzip: gzip, gzipMembers: gzip ? (twoMembers ? 2 : 1) : 0,
                    bytes: bytes))
        }
        return SampleLogSummary(files: files)
    }

    /// Lines are handed to the sink in chunks of about this many bytes.
    private static let flushThreshold = 256 * 1024

    private func flush(_ line: inout LineBuffer, to sink: inout any LogFileSink) throws {
        guard line.count > 0 else { return }
        try sink.write(line.written)
        line.removeAll()
    }

    private func validate() throws {
        func invalid(_ message: String) -> SampleLogError {
            SampleLogError(code: .invalidOptions, path: "", message: message)
        }
        guard options.lines >= 0 else { throw invalid("lines must be 0 or more, got \(options.lines)") }
        guard (1...3660).contains(options.days) else {
            throw invalid("days must be from 1 to 3660, got \(options.days)")
        }
        guard (1...1000).contains(options.files) else {
            throw invalid("files must be from 1 to 1000, got \(options.files)")
        }
        guard (1...1_000_000).contains(options.keys) else {
            throw invalid("keys must be from 1 to 1000000, got \(options.keys)")
        }
        guard !options.baseName.isEmpty, !options.baseName.contains("/") else {
            throw invalid("the base name must be a file name without '/', got \"\(options.baseName)\"")
        }
        let start = options.end - Int64(options.days) * 86_400
        guard start >= 0, options.end <= 253_402_300_799 else {
            throw invalid("the time range must lie between 1970 and 9999; choose another end or fewer days")
        }
    }
}

// MARK: - Pseudo-random numbers

/// SplitMix64: seeds xoshiro and mixes 64-bit values (its finalizer is a bijection).
private struct SplitMix64 {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return mixUnique(state)
    }
}

/// A bijection on 64-bit integers: distinct inputs give distinct, random-looking outputs, which
/// makes request ids unique without remembering the ones already used.
private func mixUnique(_ value: UInt64) -> UInt64 {
    var z = value
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
}

/// xoshiro256**: the generator behind every random choice, so the output depends on the seed
/// alone (not on the platform's or the standard library's random algorithms).
private struct Xoshiro256 {
    var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64
    /// The second normal value of the last polar-method pair, not yet used.
    private var spareNormal: Double?

    init(seed: UInt64) {
        var seeder = SplitMix64(state: seed)
        s0 = seeder.next()
        s1 = seeder.next()
        s2 = seeder.next()
        s3 = seeder.next()
    }

    @inline(__always)
    mutating func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = s3 << 45 | s3 >> 19
        return result
    }

    /// Uniform in [0, 1).
    @inline(__always)
    mutating func unit() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    /// Uniform in 0..<bound (bound > 0).
    @inline(__always)
    mutating func below(_ bound: Int) -> Int {
        Int(truncatingIfNeeded: UInt64(bound).multipliedFullWidth(by: next()).high)
    }

    @inline(__always)
    mutating func chance(_ probability: Double) -> Bool { unit() < probability }

    mutating func uniform(_ low: Double, _ high: Double) -> Double { low + (high - low) * unit() }

    /// Standard normal (Marsaglia's polar method: two values per logarithm, no trigonometry).
    mutating func normal() -> Double {
        if let spare = spareNormal {
            spareNormal = nil
            return spare
        }
        while true {
            let x = 2 * unit() - 1
            let y = 2 * unit() - 1
            let square = x * x + y * y
            guard square > 0 && square < 1 else { continue }
            let factor = (-2 * log(square) / square).squareRoot()
            spareNormal = y * factor
            return x * factor
        }
    }

    /// Log-normal with the given median and log-space standard deviation.
    mutating func logNormal(median: Double, sigma: Double) -> Double { median * exp(sigma * normal()) }
}

/// Draws ranks 0..<n with probability proportional to 1 / (rank + 1)^exponent.
private struct ZipfTable: Sendable {
    private let cumulative: [Double]

    init(count: Int, exponent: Double) {
        var sums: [Double] = []
        sums.reserveCapacity(count)
        var total = 0.0
        for rank in 1...max(count, 1) {
            total += 1 / pow(Double(rank), exponent)
            sums.append(total)
        }
        cumulative = sums.map { $0 / total }
    }

    /// Draws from explicit weights instead of a Zipf law.
    init(weights: [Double]) {
        let total = weights.reduce(0, +)
        var running = 0.0
        cumulative = weights.map {
            running += $0
            return running / total
        }
    }

    func draw(_ random: inout Xoshiro256) -> Int {
        let u = random.unit()
        var low = 0
        var high = cumulative.count - 1
        while low < high {
            let middle = (low + high) / 2
            if cumulative[middle] > u { high = middle } else { low = middle + 1 }
        }
        return low
    }
}

// MARK: - Time of the requests

/// Hands out completion times in increasing order whose density follows a traffic curve.
///
/// The range is cut into 5-minute buckets weighted by a UTC daily curve (a broad daytime peak
/// around 14:30 UTC, a smaller one for Asia-Pacific mornings, a quiet European night), quieter
/// weekends, some noise and rare bursts of batch traffic. Line k of n gets the quantile
/// (k + u) / n of that distribution, with u uniform in [0, 1): times are random but never go
/// backwards, and the walk over the cumulative weights is linear in lines plus buckets.
private struct Timeline {
    private static let bucketSeconds: Int64 = 300
    private let cumulative: [Double]
    private let startMicros: Int64
    private let endMicros: Int64
    private let lines: Int
    private var index = 0
    private var bucket = 0

    init(startSeconds: Int64, days: Int, lines: Int, seed: UInt64) {
        var noise = Xoshiro256(seed: seed ^ 0x7131_E11E_D0C7_A11C)
        let buckets = days * Int(86_400 / Self.bucketSeconds)
        var sums = [0.0]
        sums.reserveCapacity(buckets + 1)
        var total = 0.0
        for bucket in 0..<buckets {
            let seconds = startSeconds + Int64(bucket) * Self.bucketSeconds
            let hour = Double(seconds % 86_400) / 3600
            let weekday = (seconds / 86_400 + 4) % 7  // 1970-01-01 was a Thursday; 0 is Sunday.
            var weight = 0.22
            weight += exp(-(hour - 14.5) * (hour - 14.5) / (2 * 3.6 * 3.6))
            weight += 0.35 * exp(-(hour - 2.5) * (hour - 2.5) / (2 * 2.2 * 2.2))
            weight += 0.35 * exp(-(hour - 26.5) * (hour - 26.5) / (2 * 2.2 * 2.2))  // the same, wrapped
            if weekday == 0 || weekday == 6 { weight *= 0.55 }
            weight *= 0.85 + 0.3 * noise.unit()
            if noise.chance(0.004) { weight *= 2.5 + 3 * noise.unit() }
            total += weight
            sums.append(total)
        }
        cumulative = sums
        startMicros = startSeconds * 1_000_000
        endMicros = startMicros + Int64(days) * 86_400_000_000
        self.lines = lines
    }

    /// The next completion time, in epoch microseconds, in [start, end).
    mutating func next(_ random: inout Xoshiro256) -> Int64 {
        let total = cumulative[cumulative.count - 1]
        let target = (Double(index) + random.unit()) / Double(max(lines, 1)) * total
        index += 1
        let last = cumulative.count - 2
        while bucket < last && cumulative[bucket + 1] <= target { bucket += 1 }
        let width = cumulative[bucket + 1] - cumulative[bucket]
        let fraction = width > 0 ? min(max((target - cumulative[bucket]) / width, 0), 0.999_999_9) : 0
        let bucketMicros = Self.bucketSeconds * 1_000_000
        let time = startMicros + Int64(bucket) * bucketMicros + Int64(fraction * Double(bucketMicros))
        return min(max(time, startMicros), endMicros - 1)
    }
}

// MARK: - What a line says

/// One request, drawn once and then written in the chosen format.
private struct SampleRecord {
    var completedMicros: Int64 = 0
    var lateMicros: Int64 = 0
    var uniqueID: UInt64 = 0
    var randomID: UInt64 = 0
    var key = 0
    var model = 0
    var provider = 0  // index into the provider table
    var stream = false
    var status = 200  // HTTP status; 200 for every success
    var inputTokens: Int64 = 0
    var outputTokens: Int64 = 0  // reasoning tokens included
    var cachedTokens: Int64 = 0
    var cacheWrite5mTokens: Int64 = 0
    var cacheWrite1hTokens: Int64 = 0
    var reasoningTokens: Int64 = 0
    var webSearchCalls: Int64 = 0
    var ttftMicros: Int64 = 0
    var generationMicros: Int64 = 0
    var latencyMicros: Int64 = 0
    var costNanos: Int64 = 0
    var finishReason = 0
    var tagsStart = 0
    var tagsCount = 0
    // How the numbers and strings are spelled; drawn for every format so that the requests stay
    // the same whichever format is written.
    var timestampAsEpoch = false
    var costSpelling = 0  // 0 number, 1 decimal string, 2 number with exponent, 3 string with exponent
    var fractionalMillis = false
    var statusSpelling = 0  // 0 integer, 1 true, 2 "ok"
    var writesGenerationTime = true
    var escapeNonASCII = false

    var failed: Bool { status != 200 }
    var cacheWriteTokens: Int64 { cacheWrite5mTokens + cacheWrite1hTokens }
}

/// How a model caches prompts.
private enum Caching {
    /// No prompt caching.
    case none
    /// Automatic prefix caching (OpenAI style): reads only, in 128-token steps.
    case automatic
    /// Explicit cache breakpoints (Anthropic style): reads and billed writes.
    case explicit
}

private struct ModelProfile {
    let slug: String
    /// Providers (indexes into the provider table) and their shares of the model's traffic.
    let providers: [(provider: Int, share: Double)]
    /// Share of requests that use reasoning (extended thinking).
    let reasoning: Double
    let caching: Caching
    let medianInput: Double
    let medianOutput: Double
    /// Dollars per million tokens: input, output, cache read, cache write (5-minute; 1-hour
    /// writes cost 1.6 times as much).
    let prices: (input: Double, output: Double, cacheRead: Double, cacheWrite: Double)
    /// Multiplies the provider's generation speed.
    let speed: Double
    /// Multiplies the provider's time to first token.
    let firstTokenFactor: Double
}

private struct ProviderProfile {
    let slug: String
    let medianFirstTokenMillis: Double
    let tokensPerSecond: Double
    let priceFactor: Double
}

/// Up to four providers of one model with their cumulative shares: a plain value, so drawing
/// one per line copies nothing that is reference-counted.
private struct ProviderChoice {
    var providers: (Int, Int, Int, Int) = (0, 0, 0, 0)
    var cumulative: (Double, Double, Double, Double) = (1, 1, 1, 1)

    init(_ shares: [(provider: Int, share: Double)]) {
        precondition((1...4).contains(shares.count))
        let total = shares.reduce(0) { $0 + $1.share }
        var running = 0.0
        var ids = [0, 0, 0, 0]
        var sums = [1.0, 1.0, 1.0, 1.0]
        for (index, entry) in shares.enumerated() {
            running += entry.share / total
            ids[index] = entry.provider
            sums[index] = index == shares.count - 1 ? 1 : running
        }
        for index in shares.count..<4 { ids[index] = ids[shares.count - 1] }
        providers = (ids[0], ids[1], ids[2], ids[3])
        cumulative = (sums[0], sums[1], sums[2], sums[3])
    }

    func draw(_ random: inout Xoshiro256) -> Int {
        let u = random.unit()
        if u < cumulative.0 { return providers.0 }
        if u < cumulative.1 { return providers.1 }
        if u < cumulative.2 { return providers.2 }
        return providers.3
    }
}

/// Strings encoded once as JSON string tokens (quotes and escapes included), stored end to end
/// in one array so that writing one costs a copy and no reference counting.
private struct StringTable: Sendable {
    private var storage: [UInt8] = []
    private var bounds: [Range<Int>] = []

    init(_ names: [String] = [], asciiOnly: Bool = false) {
        for name in names { append(name, asciiOnly: asciiOnly) }
    }

    mutating func append(_ name: String, asciiOnly: Bool = false) {
        let start = storage.count
        storage += jsonString(name, asciiOnly: asciiOnly)
        bounds.append(start..<storage.count)
    }

    var count: Int { bounds.count }

    @inline(__always)
    func write(_ index: Int, into line: inout LineBuffer) {
        let range = bounds[index]
        storage.withUnsafeBufferPointer { line.copy(UnsafeBufferPointer(rebasing: $0[range])) }
    }
}

/// Everything that stays the same between lines: models, providers, the key table and every
/// string a line may hold.
private struct Catalog: Sendable {
    /// Per key, what its traffic looks like. Plain values only (see `ProviderChoice`).
    struct KeyProfile: Sendable {
        var favoriteModel: Int
        var streamShare: Double
        var userAgent: Int
        var region: Int
        var app: Int
        var environment: Int
    }

    /// A model's numbers, without its strings.
    struct ModelNumbers: Sendable {
        var reasoning: Double
        var caching: Caching
        var medianInput: Double
        var medianOutput: Double
        var inputPrice: Double
        var outputPrice: Double
        var cacheReadPrice: Double
        var cacheWritePrice: Double
        var speed: Double
        var firstTokenFactor: Double
        var providers: ProviderChoice
    }

    let keys: [KeyProfile]
    let keyValues: StringTable
    let keyZipf: ZipfTable
    let modelZipf: ZipfTable
    let models: [ModelNumbers]
    let providers: [ProviderProfileNumbers]
    let modelNames: StringTable
    let providerNames: StringTable
    let userAgents: StringTable
    let regions: StringTable
    let apps: StringTable
    let appsEscaped: StringTable
    let environments: StringTable
    let tags: StringTable
    let finishReasons: StringTable

    /// A provider's numbers, without its strings.
    struct ProviderProfileNumbers: Sendable {
        var medianFirstTokenMillis: Double
        var tokensPerSecond: Double
        var priceFactor: Double
    }

    static let modelProfiles: [ModelProfile] = [
        ModelProfile(
            slug: "anthropic/claude-sonnet-4.5", providers: [(0, 0.52), (1, 0.33), (2, 0.15)], reasoning: 0.2,
            caching: .explicit, medianInput: 3500, medianOutput: 420, prices: (3, 15, 0.3, 3.75), speed: 1.0,
            firstTokenFactor: 1.0),
        ModelProfile(
            slug: "openai/gpt-5", providers: [(4, 0.74), (5, 0.26)], reasoning: 1.0, caching: .automatic,
            medianInput: 2500, medianOutput: 380, prices: (1.25, 10, 0.125, 0), speed: 0.8, firstTokenFactor: 1.3),
        ModelProfile(
            slug: "google/gemini-2.5-flash", providers: [(2, 0.62), (3, 0.38)], reasoning: 0.5,
            caching: .automatic, medianInput: 1800, medianOutput: 330, prices: (0.3, 2.5, 0.075, 0), speed: 2.0,
            firstTokenFactor: 0.6),
        ModelProfile(
            slug: "openai/gpt-5-mini", providers: [(4, 0.8), (5, 0.2)], reasoning: 1.0, caching: .automatic,
            medianInput: 1200, medianOutput: 280, prices: (0.25, 2, 0.025, 0), speed: 1.4, firstTokenFactor: 0.8),
        ModelProfile(
            slug: "anthropic/claude-haiku-4.5", providers: [(0, 0.6), (1, 0.4)], reasoning: 0, caching: .explicit,
            medianInput: 1500, medianOutput: 260, prices: (1, 5, 0.1, 1.25), speed: 1.8, firstTokenFactor: 0.6),
        ModelProfile(
            slug: "google/gemini-2.5-pro", providers: [(2, 0.7), (3, 0.3)], reasoning: 1.0, caching: .automatic,
            medianInput: 4000, medianOutput: 450, prices: (1.25, 10, 0.31, 0), speed: 0.9, firstTokenFactor: 1.4),
        ModelProfile(
            slug: "deepseek/deepseek-r1", providers: [(8, 0.35), (6, 0.3), (7, 0.2), (11, 0.15)], reasoning: 1.0,
            caching: .automatic, medianInput: 1500, medianOutput: 400, prices: (0.55, 2.19, 0.14, 0), speed: 0.7,
            firstTokenFactor: 1.5),
        ModelProfile(
            slug: "meta-llama/llama-4-maverick", providers: [(9, 0.45), (6, 0.25), (7, 0.2), (8, 0.1)],
            reasoning: 0, caching: .none, medianInput: 1000, medianOutput: 300, prices: (0.27, 0.85, 0, 0),
            speed: 1.3, firstTokenFactor: 0.7),
        ModelProfile(
            slug: "qwen/qwen3-coder", providers: [(12, 0.4), (6, 0.25), (7, 0.2), (8, 0.15)], reasoning: 0,
            caching: .automatic, medianInput: 9000, medianOutput: 650, prices: (0.4, 1.6, 0.04, 0), speed: 1.0,
            firstTokenFactor: 1.0),
        ModelProfile(
            slug: "x-ai/grok-4", providers: [(10, 0.8), (5, 0.2)], reasoning: 1.0, caching: .automatic,
            medianInput: 2000, medianOutput: 420, prices: (3, 15, 0.75, 0), speed: 0.8, firstTokenFactor: 1.5),
        ModelProfile(
            slug: "anthropic/claude-opus-4.1", providers: [(0, 0.55), (1, 0.3), (2, 0.15)], reasoning: 0.3,
            caching: .explicit, medianInput: 5000, medianOutput: 520, prices: (15, 75, 1.5, 18.75), speed: 0.55,
            firstTokenFactor: 1.6),
        ModelProfile(
            slug: "mistralai/mistral-medium-3", providers: [(13, 0.7), (5, 0.3)], reasoning: 0, caching: .none,
            medianInput: 1500, medianOutput: 350, prices: (0.4, 2, 0, 0), speed: 1.1, firstTokenFactor: 0.8),
    ]

    static let providerProfiles: [ProviderProfile] = [
        ProviderProfile(slug: "anthropic", medianFirstTokenMillis: 650, tokensPerSecond: 75, priceFactor: 1),
        ProviderProfile(slug: "amazon-bedrock", medianFirstTokenMillis: 850, tokensPerSecond: 65, priceFactor: 1),
        ProviderProfile(slug: "google-vertex", medianFirstTokenMillis: 700, tokensPerSecond: 90, priceFactor: 1),
        ProviderProfile(slug: "google-ai-studio", medianFirstTokenMillis: 600, tokensPerSecond: 110, priceFactor: 1),
        ProviderProfile(slug: "openai", medianFirstTokenMillis: 500, tokensPerSecond: 85, priceFactor: 1),
        ProviderProfile(slug: "azure", medianFirstTokenMillis: 600, tokensPerSecond: 80, priceFactor: 1),
        ProviderProfile(slug: "together", medianFirstTokenMillis: 420, tokensPerSecond: 140, priceFactor: 1),
        ProviderProfile(slug: "fireworks", medianFirstTokenMillis: 350, tokensPerSecond: 180, priceFactor: 0.9),
        ProviderProfile(slug: "deepinfra", medianFirstTokenMillis: 480, tokensPerSecond: 110, priceFactor: 0.7),
        ProviderProfile(slug: "groq", medianFirstTokenMillis: 180, tokensPerSecond: 450, priceFactor: 0.8),
        ProviderProfile(slug: "xai", medianFirstTokenMillis: 700, tokensPerSecond: 70, priceFactor: 1),
        ProviderProfile(slug: "deepseek", medianFirstTokenMillis: 1200, tokensPerSecond: 35, priceFactor: 1),
        ProviderProfile(slug: "alibaba", medianFirstTokenMillis: 700, tokensPerSecond: 90, priceFactor: 0.9),
        ProviderProfile(slug: "mistral", medianFirstTokenMillis: 380, tokensPerSecond: 120, priceFactor: 1),
    ]

    static let userAgentNames = [
        "openai-python/1.109.1", "OpenAI/NodeJS/5.23.2", "anthropic-sdk-python/0.69.0", "litellm/1.77.7",
        "curl/8.5.0", "langchain-openai/0.3.33", "Go-http-client/2.0", "ai-sdk/5.0.60",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) Chrome/141.0 Safari/537.36",
    ]
    static let regionNames = [
        "us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-northeast-1", "ap-southeast-2",
    ]
    // Some names need escapes or are not ASCII, as real metadata does.
    static let appNames = [
        "support-bot", "code-review", "search-summarizer", "café-assistant", "data \"etl\" nightly", "翻訳-pipeline",
        "agent 🚀 runner", "docs-qa", "sales-copilot", "eval-harness", "back\\office\tsync",
    ]
    static let environmentNames = ["prod", "staging", "dev"]
    static let tagNames = ["chat", "batch", "tool-use", "rag", "tier-1", "tier-2", "internal", "experiment"]
    static let finishReasonNames = ["stop", "length", "tool_calls", "content_filter"]

    init(keys count: Int, seed: UInt64) {
        models = Self.modelProfiles.map {
            ModelNumbers(
                reasoning: $0.reasoning, caching: $0.caching, medianInput: $0.medianInput,
                medianOutput: $0.medianOutput, inputPrice: $0.prices.input, outputPrice: $0.prices.output,
                cacheReadPrice: $0.prices.cacheRead, cacheWritePrice: $0.prices.cacheWrite, speed: $0.speed,
                firstTokenFactor: $0.firstTokenFactor, providers: ProviderChoice($0.providers))
        }
        providers = Self.providerProfiles.map {
            ProviderProfileNumbers(
                medianFirstTokenMillis: $0.medianFirstTokenMillis, tokensPerSecond: $0.tokensPerSecond,
                priceFactor: $0.priceFactor)
        }
        modelNames = StringTable(Self.modelProfiles.map(\.slug))
        providerNames = StringTable(Self.providerProfiles.map(\.slug))
        userAgents = StringTable(Self.userAgentNames)
        regions = StringTable(Self.regionNames)
        apps = StringTable(Self.appNames)
        appsEscaped = StringTable(Self.appNames, asciiOnly: true)
        environments = StringTable(Self.environmentNames)
        tags = StringTable(Self.tagNames)
        finishReasons = StringTable(Self.finishReasonNames)
        modelZipf = ZipfTable(count: Self.modelProfiles.count, exponent: 1.1)
        keyZipf = ZipfTable(count: count, exponent: 1.05)

        // The key table has its own stream, so it does not change with the number of lines.
        var random = Xoshiro256(seed: seed ^ 0x0A91_CE75_EC2E_7000)
        let agentZipf = ZipfTable(count: Self.userAgentNames.count, exponent: 0.9)
        let streamShares = ZipfTable(weights: [0.45, 0.35, 0.2])
        var seen = Set<String>()
        var values = StringTable()
        var table: [KeyProfile] = []
        table.reserveCapacity(count)
        while table.count < count {
            let value = Self.drawKey(&random)
            guard seen.insert(value).inserted else { continue }
            values.append(value)
            table.append(
                KeyProfile(
                    favoriteModel: modelZipf.draw(&random),
                    streamShare: [0.95, 0.7, 0.15][streamShares.draw(&random)],
                    userAgent: agentZipf.draw(&random),
                    region: random.below(Self.regionNames.count),
                    app: random.below(Self.appNames.count),
                    environment: random.chance(0.8) ? 0 : (random.chance(0.75) ? 1 : 2)))
        }
        keys = table
        keyValues = values
    }

    /// A key value: about a third look like raw secrets, the rest like key identifiers.
    static func drawKey(_ random: inout Xoshiro256) -> String {
        let alphanumerics = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789".utf8)
        let hex = Array("0123456789abcdef".utf8)
        func run(_ prefix: String, _ alphabet: [UInt8], _ count: Int) -> String {
            prefix + String(decoding: (0..<count).map { _ in alphabet[random.below(alphabet.count)] }, as: UTF8.self)
        }
        if random.chance(1.0 / 3) {
            switch random.below(10) {
            case 0..<5: return run("sk-live-", alphanumerics, 40)
            case 5..<8: return run("sk_proj_", alphanumerics, 48)
            default: return run("sk-or-v1-", hex, 64)
            }
        }
        return run("key-", hex, 16)
    }

    /// Draws one request completed at `completedMicros`.
    func draw(_ random: inout Xoshiro256, completedMicros: Int64) -> SampleRecord {
        var record = SampleRecord()
        record.completedMicros = completedMicros
        record.randomID = random.next()
        record.key = keyZipf.draw(&random)
        let key = keys[record.key]
        record.model = random.chance(0.55) ? key.favoriteModel : modelZipf.draw(&random)
        let model = models[record.model]
        record.provider = model.providers.draw(&random)
        let provider = providers[record.provider]
        record.stream = random.chance(key.streamShare)
        record.lateMicros = random.chance(0.03) ? Int64(1 + random.below(400_000)) : 0

        record.timestampAsEpoch = random.chance(0.05)
        let spelling = random.unit()
        record.costSpelling = spelling < 0.85 ? 0 : spelling < 0.93 ? 1 : spelling < 0.98 ? 2 : 3
        record.fractionalMillis = random.chance(0.4)
        let statusSpelling = random.unit()
        record.statusSpelling = statusSpelling < 0.94 ? 0 : statusSpelling < 0.97 ? 1 : 2
        record.writesGenerationTime = random.chance(0.85)
        record.escapeNonASCII = random.chance(0.1)
        record.tagsStart = random.below(tags.count)
        record.tagsCount = 1 + random.below(3)

        if random.chance(0.03) {
            let kind = random.unit()
            let (status, median, sigma): (Int, Double, Double) =
                kind < 0.45
                ? (429, 60, 0.5) : kind < 0.65 ? (500, 900, 0.8) : kind < 0.8 ? (502, 4000, 0.9) : (400, 120, 0.5)
            record.status = status
            record.latencyMicros = Int64(min(random.logNormal(median: median, sigma: sigma), 120_000) * 1000)
            return record
        }

        var input = Int64(min(max(random.logNormal(median: model.medianInput, sigma: 1.1), 1), 400_000))
        var cached: Int64 = 0
        var write5m: Int64 = 0
        var write1h: Int64 = 0
        switch model.caching {
        case .none:
            break
        case .automatic:
            if input >= 1024 && random.chance(0.35) {
                cached = Int64(Double(input) * random.uniform(0.3, 0.95)) / 128 * 128
            }
        case .explicit:
            if input >= 1024 && random.chance(0.45) {
                cached = Int64(Double(input) * random.uniform(0.3, 0.95))
            }
            if input >= 1024 && random.chance(0.18) {
                let written = Int64(Double(input - cached) * random.uniform(0.5, 0.98))
                if random.chance(0.2) { write1h = written } else { write5m = written }
            }
        }
        let visible = Int64(min(max(random.logNormal(median: model.medianOutput, sigma: 0.9), 1), 16_000))
        let reasoning =
            random.chance(model.reasoning) ? Int64(min(max(random.logNormal(median: 700, sigma: 1.0), 16), 24_000)) : 0
        let output = visible + reasoning
        let webSearch: Int64 = random.chance(0.05) ? Int64(1 + random.below(3)) : 0
        input = max(input, cached + write5m + write1h)

        var firstTokenMillis =
            random.logNormal(median: provider.medianFirstTokenMillis * model.firstTokenFactor, sigma: 0.45)
            + Double(input) * 0.012 + Double(webSearch) * random.uniform(400, 1500)
        if random.chance(0.01) { firstTokenMillis *= random.uniform(3, 10) }  // queued upstream
        let tokensPerSecond = random.logNormal(median: provider.tokensPerSecond * model.speed, sigma: 0.3)
        let generationMillis = max(Double(output) / tokensPerSecond * 1000, 1)
        let overheadMillis = 3 + random.logNormal(median: 12, sigma: 0.6)
        record.ttftMicros = Int64(firstTokenMillis * 1000)
        record.generationMicros = Int64(generationMillis * 1000)
        record.latencyMicros = record.ttftMicros + record.generationMicros + Int64(overheadMillis * 1000)

        // Prices are dollars per million tokens, so dollars per million × 1000 is nano-dollars
        // per token.
        let uncached = Double(input - cached - write5m - write1h)
        var cost = uncached * model.inputPrice + Double(cached) * model.cacheReadPrice
        cost += Double(write5m) * model.cacheWritePrice + Double(write1h) * model.cacheWritePrice * 1.6
        cost += Double(output) * model.outputPrice
        record.costNanos = Int64((cost * 1000 * provider.priceFactor).rounded()) + webSearch * 10_000_000

        record.inputTokens = input
        record.outputTokens = output
        record.cachedTokens = cached
        record.cacheWrite5mTokens = write5m
        record.cacheWrite1hTokens = write1h
        record.reasoningTokens = reasoning
        record.webSearchCalls = webSearch
        let finish = random.unit()
        record.finishReason = finish < 0.86 ? 0 : finish < 0.9 ? 1 : finish < 0.995 ? 2 : 3
        return record
    }

    private func writeApp(_ record: SampleRecord, into line: inout LineBuffer) {
        let index = keys[record.key].app
        if record.escapeNonASCII {
            appsEscaped.write(index, into: &line)
        } else {
            apps.write(index, into: &line)
        }
    }

    private func writeTags(_ record: SampleRecord, into line: inout LineBuffer) {
        line.byte(0x5B)  // [
        for offset in 0..<record.tagsCount {
            if offset > 0 { line.byte(0x2C) }
            tags.write((record.tagsStart + offset * 3) % tags.count, into: &line)
        }
        line.byte(0x5D)  // ]
    }

    // MARK: Formats

    /// The canonical record under its own field names, with `stream`, user agent, region and a
    /// nested `metadata` object as extras. Optional token fields appear only when not zero.
    func renderTokentally(_ record: SampleRecord, into line: inout LineBuffer) {
        let key = keys[record.key]
        line.text("{\"ts\":")
        if record.timestampAsEpoch {
            line.integer(record.completedMicros / 1000)
        } else {
            line.byte(0x22)
            line.rfc3339(micros: record.completedMicros)
            line.byte(0x22)
        }
        line.text(",\"request_id\":\"req_")
        line.hex(record.uniqueID, digits: 16)
        line.hex(record.randomID, digits: 4)
        line.text("\",\"api_key\":")
        keyValues.write(record.key, into: &line)
        line.text(",\"model\":")
        modelNames.write(record.model, into: &line)
        line.text(",\"provider\":")
        providerNames.write(record.provider, into: &line)
        line.text(",\"status\":")
        if record.failed || record.statusSpelling == 0 {
            line.integer(Int64(record.status))
        } else if record.statusSpelling == 1 {
            line.text("true")
        } else {
            line.text("\"ok\"")
        }
        line.text(",\"stream\":")
        line.text(record.stream ? "true" : "false")
        if !record.failed {
            line.text(",\"input_tokens\":")
            line.integer(record.inputTokens)
            line.text(",\"output_tokens\":")
            line.integer(record.outputTokens)
            if record.cachedTokens > 0 {
                line.text(",\"cached_tokens\":")
                line.integer(record.cachedTokens)
            }
            if record.cacheWriteTokens > 0 {
                line.text(",\"cache_write_tokens\":")
                line.integer(record.cacheWriteTokens)
            }
            if record.reasoningTokens > 0 {
                line.text(",\"reasoning_tokens\":")
                line.integer(record.reasoningTokens)
            }
            if record.webSearchCalls > 0 {
                line.text(",\"web_search_calls\":")
                line.integer(record.webSearchCalls)
            }
        }
        line.text(",\"latency_ms\":")
        line.milliseconds(record.latencyMicros, fractional: record.fractionalMillis)
        if !record.failed {
            if record.stream {
                line.text(",\"ttft_ms\":")
                line.milliseconds(record.ttftMicros, fractional: record.fractionalMillis)
            }
            if record.writesGenerationTime {
                line.text(",\"generation_ms\":")
                line.milliseconds(record.generationMicros, fractional: record.fractionalMillis)
            }
        }
        line.text(",\"cost_usd\":")
        switch record.costSpelling {
        case 0: line.fixed(record.costNanos, scale: 9, minimumFractionDigits: 0)
        case 1:
            line.byte(0x22)
            line.fixed(record.costNanos, scale: 9, minimumFractionDigits: 0)
            line.byte(0x22)
        case 2: line.scientific(record.costNanos, scale: 9)
        default:
            line.byte(0x22)
            line.scientific(record.costNanos, scale: 9)
            line.byte(0x22)
        }
        line.text(",\"user_agent\":")
        userAgents.write(key.userAgent, into: &line)
        line.text(",\"region\":")
        regions.write(key.region, into: &line)
        line.text(",\"metadata\":{\"app\":")
        writeApp(record, into: &line)
        line.text(",\"env\":")
        environments.write(key.environment, into: &line)
        line.text(",\"tags\":")
        writeTags(record, into: &line)
        line.byte(0x7D)
        if record.failed {
            line.text(",\"error\":{\"type\":")
            switch record.status {
            case 429: line.text("\"rate_limit_error\",\"message\":\"Too many requests, retry after 2s\"")
            case 400: line.text("\"invalid_request_error\",\"message\":\"max_tokens: must be at most 32000\"")
            case 502: line.text("\"upstream_error\",\"message\":\"Bad gateway: upstream closed the stream\"")
            default: line.text("\"api_error\",\"message\":\"Internal server error\"")
            }
            line.byte(0x7D)
        }
        line.byte(0x7D)
    }

    /// LiteLLM's `StandardLoggingPayload`: epoch-second floats for the times, the key hash and
    /// usage details under `metadata`, `"status":"success"` or `"failure"`.
    func renderLiteLLM(_ record: SampleRecord, into line: inout LineBuffer) {
        let started = max(record.completedMicros - record.latencyMicros, 0)
        line.text("{\"id\":\"chatcmpl-")
        line.hex(record.uniqueID >> 32, digits: 8)
        line.byte(0x2D)
        line.hex(record.uniqueID >> 16, digits: 4)
        line.byte(0x2D)
        line.hex(record.uniqueID, digits: 4)
        line.text("-4")
        line.hex(record.randomID >> 48, digits: 3)
        line.byte(0x2D)
        line.hex(record.randomID, digits: 12)
        line.text("\",\"stream\":")
        line.text(record.stream ? "true" : "false")
        line.text(",\"status\":")
        line.text(record.failed ? "\"failure\"" : "\"success\"")
        line.text(",\"startTime\":")
        line.fixed(started, scale: 6, minimumFractionDigits: 1)
        line.text(",\"endTime\":")
        line.fixed(record.completedMicros, scale: 6, minimumFractionDigits: 1)
        // LiteLLM sets it to the end time when nothing was streamed. A failed request never had
        // a first token: the field is left out, so no time to first token is derived from it.
        if !record.failed {
            line.text(",\"completionStartTime\":")
            line.fixed(
                record.stream ? started + record.ttftMicros : record.completedMicros, scale: 6, minimumFractionDigits: 1
            )
        }
        line.text(",\"model\":")
        modelNames.write(record.model, into: &line)
        line.text(",\"custom_llm_provider\":")
        providerNames.write(record.provider, into: &line)
        line.text(",\"prompt_tokens\":")
        line.integer(record.inputTokens)
        line.text(",\"completion_tokens\":")
        line.integer(record.outputTokens)
        line.text(",\"total_tokens\":")
        line.integer(record.inputTokens + record.outputTokens)
        line.text(",\"response_cost\":")
        line.pythonFloat(record.costNanos, scale: 9)
        line.text(",\"metadata\":{\"user_api_key_hash\":")
        keyValues.write(record.key, into: &line)
        line.text(",\"user_api_key_alias\":")
        writeApp(record, into: &line)
        line.text(",\"tags\":")
        writeTags(record, into: &line)
        line.text(",\"usage_object\":{\"prompt_tokens_details\":{\"cached_tokens\":")
        line.integer(record.cachedTokens)
        line.text("},\"completion_tokens_details\":{\"reasoning_tokens\":")
        line.integer(record.reasoningTokens)
        line.text("}}},\"error_str\":")
        switch record.status {
        case 200: line.text("null")
        case 429: line.text("\"litellm.RateLimitError: Rate limit reached, retry in 2s\"")
        case 400: line.text("\"litellm.BadRequestError: max_tokens is too large\"")
        case 502: line.text("\"litellm.APIConnectionError: upstream closed the connection\"")
        default: line.text("\"litellm.InternalServerError: upstream returned 500\"")
        }
        line.byte(0x7D)
    }

    /// ZenMux's generation record: camelCase names, token counts under `nativeTokens`, cache
    /// writes under `nativeFeeTokens` (models that bill them), the bill as a decimal string, and
    /// `cancelled` instead of a status.
    func renderZenMux(_ record: SampleRecord, into line: inout LineBuffer) {
        line.text("{\"generationId\":\"gen-")
        line.integer(record.completedMicros / 1_000_000)
        line.byte(0x2D)
        line.hex(record.uniqueID, digits: 16)
        line.hex(record.randomID, digits: 4)
        line.text("\",\"createdAt\":\"")
        line.rfc3339(micros: record.completedMicros)
        line.text("\",\"apiKeyId\":")
        keyValues.write(record.key, into: &line)
        line.text(",\"modelSlug\":")
        modelNames.write(record.model, into: &line)
        line.text(",\"providerSlug\":")
        providerNames.write(record.provider, into: &line)
        line.text(",\"streaming\":")
        line.text(record.stream ? "true" : "false")
        line.text(",\"latency\":")
        // Time to first token; a failed request never had one, so the whole time is reported.
        line.integer((record.failed ? record.latencyMicros : record.ttftMicros) / 1000)
        line.text(",\"generationTime\":")
        line.integer(record.failed ? 0 : record.generationMicros / 1000)
        line.text(",\"nativeTokens\":{\"prompt_tokens\":")
        line.integer(record.inputTokens)
        line.text(",\"completion_tokens\":")
        line.integer(record.outputTokens)
        line.text(",\"prompt_tokens_details\":{\"cached_tokens\":")
        line.integer(record.cachedTokens)
        line.text("},\"completion_tokens_details\":{\"reasoning_tokens\":")
        line.integer(record.reasoningTokens)
        line.text("}}")
        if models[record.model].caching == .explicit {
            line.text(",\"nativeFeeTokens\":{\"input_cache_write_5_min\":")
            line.integer(record.cacheWrite5mTokens)
            line.text(",\"input_cache_write_1_h\":")
            line.integer(record.cacheWrite1hTokens)
            line.byte(0x7D)
        }
        line.text(",\"billAmount\":\"")
        line.fixed(record.costNanos, scale: 9, minimumFractionDigits: 0)
        line.text("\",\"cancelled\":")
        line.text(record.failed ? "true" : "false")
        line.text(",\"finishReason\":")
        if record.failed {
            line.text("null")
        } else {
            finishReasons.write(record.finishReason, into: &line)
        }
        line.text(",\"appName\":")
        writeApp(record, into: &line)
        line.byte(0x7D)
    }
}

extension Catalog {
    /// OpenRouter's generation record, `{"data": {...}}`: no key; `latency` the time to the first
    /// token and `generation_time` the whole generation (docs/log-format.md); cost in USD.
    func renderOpenRouter(_ record: SampleRecord, into line: inout LineBuffer) {
        line.text("{\"data\":{\"id\":\"gen-")
        line.integer(record.completedMicros / 1_000_000)
        line.byte(0x2D)
        line.hex(record.uniqueID, digits: 16)
        line.text("\",\"created_at\":\"")
        line.rfc3339(micros: record.completedMicros, openRouterStyle: true)
        line.text("\",\"model\":")
        modelNames.write(record.model, into: &line)
        line.text(",\"provider_name\":")
        providerNames.write(record.provider, into: &line)
        line.text(",\"streamed\":")
        line.text(record.stream ? "true" : "false")
        line.text(",\"cancelled\":")
        line.text(record.failed ? "true" : "false")
        line.text(",\"latency\":")
        line.integer((record.failed ? record.latencyMicros : record.ttftMicros) / 1000)
        line.text(",\"generation_time\":")
        line.integer(record.latencyMicros / 1000)
        line.text(",\"tokens_prompt\":")
        line.integer(record.inputTokens)
        line.text(",\"tokens_completion\":")
        line.integer(record.outputTokens)
        line.text(",\"native_tokens_prompt\":")
        line.integer(record.inputTokens)
        line.text(",\"native_tokens_completion\":")
        line.integer(record.outputTokens)
        line.text(",\"native_tokens_cached\":")
        line.integer(record.cachedTokens)
        line.text(",\"native_tokens_reasoning\":")
        line.integer(record.reasoningTokens)
        line.text(",\"total_cost\":")
        line.pythonFloat(record.costNanos, scale: 9)
        line.text(",\"usage\":")
        line.pythonFloat(record.costNanos, scale: 9)
        line.text(",\"finish_reason\":")
        if record.failed { line.text("\"error\"") } else { finishReasons.write(record.finishReason, into: &line) }
        line.text("}}")
    }

    /// Kong's file-log entry with the AI Proxy plugin's statistics under `ai.proxy`; the
    /// consumer is the key (left out for a tenth of the requests: anonymous traffic).
    func renderKong(_ record: SampleRecord, into line: inout LineBuffer) {
        let started = max(record.completedMicros - record.latencyMicros, 0)
        line.text("{\"started_at\":")
        line.integer(started / 1000)
        line.text(",\"request\":{\"id\":\"")
        line.hex(record.uniqueID, digits: 16)
        line.hex(record.randomID, digits: 16)
        line.text("\",\"method\":\"POST\",\"uri\":\"/v1/chat/completions\"},\"response\":{\"status\":")
        line.integer(Int64(record.status))
        line.text("},\"latencies\":{\"request\":")
        line.integer(record.latencyMicros / 1000)
        line.text(",\"kong\":1,\"proxy\":")
        line.integer(max(record.latencyMicros / 1000 - 1, 0))
        line.byte(0x7D)
        if record.uniqueID % 10 != 0 {
            line.text(",\"consumer\":{\"username\":")
            keyValues.write(record.key, into: &line)
            line.byte(0x7D)
        }
        line.text(",\"ai\":{\"proxy\":{\"meta\":{\"provider_name\":")
        providerNames.write(record.provider, into: &line)
        line.text(",\"request_model\":")
        modelNames.write(record.model, into: &line)
        line.text(",\"response_model\":")
        modelNames.write(record.model, into: &line)
        line.text(",\"llm_latency\":")
        line.integer(record.latencyMicros / 1000)
        line.text("},\"usage\":{\"prompt_tokens\":")
        line.integer(record.inputTokens)
        line.text(",\"completion_tokens\":")
        line.integer(record.outputTokens)
        line.text(",\"total_tokens\":")
        line.integer(record.inputTokens + record.outputTokens)
        if record.stream && !record.failed {
            line.text(",\"time_to_first_token\":")
            line.integer(record.ttftMicros / 1000)
        }
        line.text(",\"cost\":")
        line.pythonFloat(record.costNanos, scale: 9)
        line.text(",\"prompt_tokens_details\":{\"cached_tokens\":")
        line.integer(record.cachedTokens)
        line.text("},\"completion_tokens_details\":{\"reasoning_tokens\":")
        line.integer(record.reasoningTokens)
        line.text("}}}}}")
    }

    /// Envoy AI Gateway's JSON access log as its documentation writes it (dotted top-level keys);
    /// the tenant header names the key.
    func renderEnvoy(_ record: SampleRecord, into line: inout LineBuffer) {
        let started = max(record.completedMicros - record.latencyMicros, 0)
        line.text("{\"start_time\":\"")
        line.rfc3339(micros: started)
        line.text("\",\"duration\":")
        line.integer(record.latencyMicros / 1000)
        line.text(",\"response_code\":")
        line.integer(Int64(record.status))
        line.text(",\"x-request-id\":\"")
        line.hex(record.uniqueID, digits: 16)
        line.text("\",\"x-tenant-id\":")
        keyValues.write(record.key, into: &line)
        line.text(",\"gen_ai.request.model\":")
        modelNames.write(record.model, into: &line)
        line.text(",\"gen_ai.provider.name\":")
        providerNames.write(record.provider, into: &line)
        if record.failed {
            line.text(",\"gen_ai.usage.input_tokens\":null,\"gen_ai.usage.output_tokens\":null}")
            return
        }
        line.text(",\"gen_ai.usage.input_tokens\":")
        line.integer(record.inputTokens)
        line.text(",\"gen_ai.usage.output_tokens\":")
        line.integer(record.outputTokens)
        line.text(",\"gen_ai.usage.cache_read.input_tokens\":")
        line.integer(record.cachedTokens)
        line.text(",\"gen_ai.usage.reasoning_tokens\":")
        line.integer(record.reasoningTokens)
        line.byte(0x7D)
    }
}

// MARK: - Bytes

/// A JSON string token (quotes included) for `text`: `"`, `\` and control characters escaped;
/// with `asciiOnly`, everything beyond ASCII as `\uXXXX` (surrogate pairs above U+FFFF).
private func jsonString(_ text: String, asciiOnly: Bool) -> [UInt8] {
    let hex = Array("0123456789abcdef".utf8)
    var out: [UInt8] = [0x22]
    func escape(_ unit: UInt16) {
        out += [0x5C, 0x75]
        for shift in stride(from: 12, through: 0, by: -4) { out.append(hex[Int(unit >> UInt16(shift)) & 0xF]) }
    }
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": out += [0x5C, 0x22]
        case "\\": out += [0x5C, 0x5C]
        case "\n": out += [0x5C, 0x6E]
        case "\t": out += [0x5C, 0x74]
        case "\r": out += [0x5C, 0x72]
        default:
            if scalar.value < 0x20 {
                escape(UInt16(scalar.value))
            } else if scalar.value < 0x80 || !asciiOnly {
                out += Array(String(scalar).utf8)
            } else {
                for unit in String(scalar).utf16 { escape(unit) }
            }
        }
    }
    out.append(0x22)
    return out
}

/// The chunk of lines being built, and the byte formatters that build them: integers, fixed
/// and scientific decimals from scaled integers, RFC 3339 times and hex, with no `String`.
///
/// This is the hot path: a fixed allocation written through a pointer, without the bounds and
/// uniqueness checks of `Array.append`. The generator flushes it before fewer than
/// `maximumLineBytes` remain, and no line comes close to that (the longest strings are table
/// entries of at most a few hundred bytes), so writes stay inside the allocation.
private struct LineBuffer: ~Copyable {
    /// More than any line needs; see the type's comment.
    static let maximumLineBytes = 64 * 1024

    private let base: UnsafeMutablePointer<UInt8>
    private let capacity: Int
    /// Bytes written since the last `removeAll()`.
    private(set) var count = 0

    init(capacity: Int) {
        base = .allocate(capacity: capacity)
        self.capacity = capacity
    }

    deinit { base.deallocate() }

    /// The bytes written, valid until the next write or `removeAll()`.
    var written: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    mutating func removeAll() { count = 0 }

    @inline(__always)
    mutating func byte(_ value: UInt8) {
        assert(count < capacity)
        base[count] = value
        count &+= 1
    }

    @inline(__always)
    mutating func copy(_ source: UnsafeBufferPointer<UInt8>) {
        assert(count + source.count <= capacity)
        guard let start = source.baseAddress else { return }
        (base + count).update(from: start, count: source.count)
        count &+= source.count
    }

    @inline(__always)
    mutating func text(_ value: StaticString) {
        copy(UnsafeBufferPointer(start: value.utf8Start, count: value.utf8CodeUnitCount))
    }

    /// Decimal digits of a value ≥ 0.
    @inline(__always)
    mutating func integer(_ value: Int64) {
        precondition(value >= 0)
        digits(UInt64(value), minimumCount: 1)
    }

    /// The digits of `value`, zero-padded to `minimumCount`.
    mutating func digits(_ value: UInt64, minimumCount: Int) {
        var length = 1
        var limit: UInt64 = 10
        while length < 20 && value >= limit {
            length += 1
            limit = limit &* 10
        }
        length = max(length, minimumCount)
        assert(count + length <= capacity)
        var rest = value
        var position = count + length
        while position > count {
            position -= 1
            base[position] = UInt8(truncatingIfNeeded: 0x30 &+ rest % 10)
            rest /= 10
        }
        count &+= length
    }

    /// `value / 10^scale` in plain decimal, trailing fraction zeros dropped, at least
    /// `minimumFractionDigits` (0 or 1) fraction digits: 1234500 at scale 6 is `1.2345`.
    mutating func fixed(_ value: Int64, scale: Int, minimumFractionDigits: Int) {
        precondition(value >= 0)
        var divisor: Int64 = 1
        for _ in 0..<scale { divisor *= 10 }
        integer(value / divisor)
        var fraction = value % divisor
        var count = scale
        while count > 0 && fraction % 10 == 0 && fraction != 0 {
            fraction /= 10
            count -= 1
        }
        if fraction == 0 {
            if minimumFractionDigits > 0 { text(".0") }
            return
        }
        byte(0x2E)
        digits(UInt64(fraction), minimumCount: count)
    }

    /// `value / 10^scale` as `d.ddde-NN` (`7.335e-05`); zero as `0.0`.
    mutating func scientific(_ value: Int64, scale: Int) {
        precondition(value >= 0)
        guard value > 0 else {
            text("0.0")
            return
        }
        var mantissa = value
        var trailingZeros = 0
        while mantissa % 10 == 0 {
            mantissa /= 10
            trailingZeros += 1
        }
        var count = 1
        var power: Int64 = 1
        while mantissa / power >= 10 {
            power *= 10
            count += 1
        }
        let exponent = count - 1 + trailingZeros - scale
        integer(mantissa / power)
        if count > 1 {
            byte(0x2E)
            digits(UInt64(mantissa % power), minimumCount: count - 1)
        }
        byte(0x65)  // e
        byte(exponent < 0 ? 0x2D : 0x2B)
        digits(UInt64(abs(exponent)), minimumCount: 2)
    }

    /// A float the way Python's `repr` would show it: exponent below 1e-4, else plain decimal
    /// with at least one fraction digit.
    mutating func pythonFloat(_ value: Int64, scale: Int) {
        var oneTenThousandth: Int64 = 1
        for _ in 0..<max(scale - 4, 0) { oneTenThousandth *= 10 }
        if value > 0 && value < oneTenThousandth {
            scientific(value, scale: scale)
        } else {
            fixed(value, scale: scale, minimumFractionDigits: 1)
        }
    }

    /// Milliseconds from microseconds: whole (`1234`) or with up to three decimals (`1234.567`).
    mutating func milliseconds(_ micros: Int64, fractional: Bool) {
        if fractional {
            fixed(micros, scale: 3, minimumFractionDigits: 0)
        } else {
            integer(micros / 1000)
        }
    }

    /// `2026-11-27T14:03:12.345Z` for epoch microseconds ≥ 0 (milliseconds, truncated); with
    /// `openRouterStyle`, `2026-11-27T14:03:12.345678+00:00`, as OpenRouter writes its times.
    mutating func rfc3339(micros: Int64, openRouterStyle: Bool = false) {
        let seconds = micros / 1_000_000
        let days = seconds / 86_400
        let secondOfDay = seconds % 86_400
        let (year, month, day) = CivilCalendar.date(fromDays: days)
        digits(UInt64(year), minimumCount: 4)
        byte(0x2D)
        digits(UInt64(month), minimumCount: 2)
        byte(0x2D)
        digits(UInt64(day), minimumCount: 2)
        byte(0x54)
        digits(UInt64(secondOfDay / 3600), minimumCount: 2)
        byte(0x3A)
        digits(UInt64(secondOfDay / 60 % 60), minimumCount: 2)
        byte(0x3A)
        digits(UInt64(secondOfDay % 60), minimumCount: 2)
        byte(0x2E)
        if openRouterStyle {
            digits(UInt64(micros % 1_000_000), minimumCount: 6)
            text("+00:00")
            return
        }
        digits(UInt64(micros % 1_000_000 / 1000), minimumCount: 3)
        byte(0x5A)
    }

    /// The low `digits` hex digits of `value`, lowercase.
    @inline(__always)
    mutating func hex(_ value: UInt64, digits length: Int) {
        assert(count + length <= capacity)
        var rest = value
        var position = count + length
        while position > count {
            position -= 1
            let nibble = UInt8(truncatingIfNeeded: rest) & 0xF
            base[position] = nibble < 10 ? 0x30 &+ nibble : 0x57 &+ nibble
            rest >>= 4
        }
        count &+= length
    }
}
