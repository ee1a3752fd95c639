#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
import TokentallySystem
import TokentallyReading

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
    let options: SampleLogOptions
    private let catalog: Catalog

    /// Makes a generator for `options`; the key table and the string tables are built here.
    public init(options: SampleLogOptions) {
        self.options = options
        self.catalog = Catalog(keys: max(options.keys, 1), seed: options.seed)
    }

    /// The file names of the rotated set, oldest first, for `files` files named after `baseName`.
    static func fileNames(baseName: String, files: Int) -> [String] {
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
