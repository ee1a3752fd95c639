import TokentallyConfiguration
import TokentallyCounting
import TokentallyReading
import TokentallySystem

/// One commit's content: the counters and the files' counted offsets of one moment, and what
/// they were committed for. The one owner of the state payload's layout: `encode` writes it and
/// `decode` reads it back, in every format `StateStore` reads; `StateStore` only frames it (a
/// header with the format version and `StateChecksum`, a frozen hash of its own) and writes it
/// atomically. `CheckpointTests` round-trip it in memory, without a file or a clock.
///
/// Payload layout, format 3 (`StateWriter` encoding, little-endian):
///
/// | Field | Since |
/// |---|---|
/// | commit time, Unix seconds (Int64) | 1 |
/// | input globs committed for (count, strings) | 3 |
/// | line statistics (`LogIngestor.encode`) | 1 |
/// | counters (`UsageCounters.encode`; retention anchors since 3) | 1 |
/// | file records (count, `FileRecord.encode`; identities and fingerprint algorithms since 3) | 1 |
struct Checkpoint: Equatable, Sendable {
    /// The payload format `encode` writes. Bumped whenever the layout (or the checksum) changes;
    /// other versions are refused, not guessed at.
    static let formatVersion: UInt32 = 4

    /// When it was committed (Unix seconds).
    var commitTime: Int64
    /// The input globs it was committed for; nil in a state from before format 3.
    var inputs: [String]?
    /// The files' records: open files at their counted offsets, tombstones, unfinished files.
    var files: [FileRecord]

    /// Writes the payload: this checkpoint's fields around the ingestor's line statistics and
    /// its counters.
    func encode(lines ingestor: LogIngestor, into writer: inout StateWriter) {
        encode(lines: ingestor, into: &writer) { ingestor.counters.encode(into: &$0) }
    }

    /// A journal record (`StateJournal`): the same fields as `encode`, with the counters of what
    /// changed since the last commit (`UsageCounters.encodeChanges`) instead of all of them.
    func encodeChanges(lines ingestor: LogIngestor, into writer: inout StateWriter) {
        encode(lines: ingestor, into: &writer) { ingestor.counters.encodeChanges(into: &$0) }
    }

    private func encode(
        lines ingestor: LogIngestor, into writer: inout StateWriter, counters: (inout StateWriter) -> Void
    ) {
        writer.write(commitTime)
        let inputs = self.inputs ?? []
        writer.write(UInt32(inputs.count))
        for input in inputs { writer.write(input) }
        ingestor.encode(into: &writer)
        counters(&writer)
        writer.write(UInt32(files.count))
        for record in files { record.encode(into: &writer) }
    }

    /// Reads a payload of `reader.formatVersion`, restoring the line statistics and the counters
    /// into `ingestor` (and its counters), and returns the rest. Checks the payload's checksum
    /// at its end (`StateReader.finish`).
    static func decode(from reader: inout StateReader, into ingestor: LogIngestor) throws(StateDecodingError)
        -> Checkpoint
    {
        let version = reader.formatVersion
        return try decode(from: &reader, into: ingestor) { (reader) throws(StateDecodingError) in
            try ingestor.counters.restore(from: &reader, formatVersion: version)
        }
    }

    /// Applies a journal record of `encodeChanges` (format `formatVersion`) to `ingestor`,
    /// restored to the commit before it, and returns the record's checkpoint.
    static func decodeChanges(from reader: inout StateReader, into ingestor: LogIngestor) throws(StateDecodingError)
        -> Checkpoint
    {
        try decode(from: &reader, into: ingestor) { (reader) throws(StateDecodingError) in
            try ingestor.counters.applyChanges(from: &reader)
        }
    }

    private static func decode(
        from reader: inout StateReader, into ingestor: LogIngestor,
        counters: (inout StateReader) throws(StateDecodingError) -> Void
    ) throws(StateDecodingError) -> Checkpoint {
        let version = reader.formatVersion
        let commitTime = try reader.read(Int64.self)
        var inputs: [String]? = nil
        if version >= 3 {
            let count = try reader.readCount(minimumItemSize: 4)
            var globs: [String] = []
            for _ in 0..<count { globs.append(try reader.readString()) }
            inputs = globs
        }
        try ingestor.restore(from: &reader)
        try counters(&reader)
        let count = try reader.readCount(minimumItemSize: 40)
        var files: [FileRecord] = []
        for _ in 0..<count { files.append(try FileRecord.decode(from: &reader, formatVersion: version)) }
        try reader.finish()
        return Checkpoint(commitTime: commitTime, inputs: inputs, files: files)
    }

    /// Why this checkpoint must not be resumed by a configuration with inputs `configured`, or
    /// nil: it was committed for inputs that share nothing with them (no glob in common, and
    /// none of its files matched by a configured glob). That is a configuration copied for
    /// another gateway with `state.directory` left as it was: resuming would merge two gateways'
    /// counts. Ordinary edits (a glob added, removed or rewritten to match the same files)
    /// share something, and work as they do on reload. A state from before format 3 says
    /// nothing of its inputs and is resumed.
    func foreignStateProblem(configured: [String], directory: String) -> String? {
        guard let committed = inputs, !committed.isEmpty else { return nil }
        if !Set(committed).isDisjoint(with: configured) { return nil }
        if files.contains(where: { record in configured.contains { FileGlob.matches($0, record.path) } }) {
            return nil
        }
        return
            "state.directory \(directory) holds the counts of other inputs (\(committed.joined(separator: ", "))), which share nothing with the configured \(configured.joined(separator: ", ")); resuming would merge two gateways' counts. Give this configuration its own state.directory, or, if these inputs really are the same logs moved, adopt the state once with: tokentally adopt-state --config FILE (docs/operations.md)"
    }
}
