import TokentallyReading

/// How a file the scan found relates, by content, to a record whose head fingerprint it matches.
enum Kinship: Equatable, Sendable {
    /// The same file (as far as the first 64 KiB tell).
    case same
    /// Another file that starts with the same bytes (a banner).
    case other
    /// Too short to tell: it may be a copy still being written.
    case undecided
}

/// What a scan found of a file that is not open: the facts the rotation decision rests on,
/// gathered from the file system by `FileFollower` and decided on here, without it.
struct CandidateFacts: Equatable, Sendable {
    /// The set's live name (`access.log`), which is never finished.
    var isLive: Bool
    var isGzip: Bool
    /// It holds no content bytes yet.
    var isEmpty: Bool
    /// Its size on disk (for a plain file, its content size).
    var size: UInt64
    /// Its bytes are an open file's as far as both go: copytruncate's copy, or a gzip being made
    /// of it. It is read through the open file.
    var isCopyOfOpenFile: Bool
    /// (gzip) A plain file of its set starts with the same bytes: logrotate is compressing it.
    var hasPlainTwin: Bool
    /// The ledger's records whose head fingerprint it matches, in ledger order.
    var records: [RecordMatch]
}

/// A ledger record a candidate's head fingerprint matches.
struct RecordMatch: Equatable, Sendable {
    /// Its position in the ledger.
    var index: Int
    var kinship: Kinship
    var finished: Bool
    /// Content bytes counted of it.
    var offset: UInt64
    /// Another candidate of this scan took it already.
    var claimed: Bool
    /// A plain file of the candidate's set matches the record's head: logrotate is still
    /// compressing it, and the plain twin is read instead of the gzip.
    var plainTwinInSet: Bool
}

/// What to do with a candidate.
enum ScanDecision: Equatable, Sendable {
    /// Nothing now: an empty rotated file, or a gzip whose plain twin is read instead.
    case ignore
    /// The same content as an open file: read through the open file.
    case copyOfOpenFile
    /// A file never seen: read it from its start.
    case openNew
    /// The file of `record`: read it from the record's offset. It is another file after all,
    /// read from its start, when the bytes before that offset are not the record's.
    case resume(record: Int)
    /// The file of a finished record that has not grown: done with.
    case done(record: Int)
    /// The gzip of `record` while its plain twin exists: wait for logrotate to finish.
    case waitForCompression(record: Int)
    /// A plain copy of `record` shorter than what was counted of it (copytruncate's copy being
    /// written): wait until it reaches the counted offset.
    case waitForCopy(record: Int)

    /// The record the candidate was found to be, if any (the scan marks it seen).
    var record: Int? {
        switch self {
        case .resume(let record), .done(let record), .waitForCompression(let record), .waitForCopy(let record):
            record
        case .ignore, .copyOfOpenFile, .openNew:
            nil
        }
    }
}

/// What is known of an open file that has been read to its end.
struct EndFacts: Equatable, Sendable {
    var isGzip: Bool
    var damage: Damage?
    /// Seconds since the file was last modified.
    var secondsSinceModified: Int64
    /// Whether its path is still the set's live one.
    var isLive: Bool
    /// Its link count: 0 once unlinked.
    var links: UInt64
    /// Seconds since it last grew.
    var secondsSinceGrowth: Int64
}

/// What to do with an open file read to its end.
enum EndDecision: Equatable, Sendable {
    /// It may still grow: keep it open.
    case keepFollowing
    /// Done: count a last line without newline, record it finished and close it.
    case finish
    /// A gzip file that ends early but changed recently: probably still being written. Close it
    /// and resume it from the counted offset at a later scan.
    case closeAndResumeLater
}

/// The rotation decisions, as pure functions of what was seen: table-driven tests cover them
/// without a file system (`RotationDeciderTests`).
///
/// How files are told apart: while a file is open it is known by device and inode, so renames
/// change nothing; in the committed state, and for files not open, by its content (a head
/// fingerprint of the first KiB, and a longer identity of up to 64 KiB), so `access.log.1.gz` is
/// the `access.log.1` it was made from, and an inode reused by a new file inherits nothing. A
/// finished file leaves a tombstone, so its other copies are skipped.
enum RotationDecider {
    /// How long a rotated, unlinked file must stay unchanged before it is taken as finished
    /// (the gateway may write to it for a moment after the rename, until it reopens).
    static let unlinkedQuietSeconds: Int64 = 2
    /// The same for a rotated file still linked (delaycompress's `.1`, copytruncate's copies).
    /// Should the gateway write to it even later, the growth is noticed and read.
    static let rotatedQuietSeconds: Int64 = 10
    /// How long a gzip file that ends early is waited for before it is taken as damaged.
    static let incompleteGzipSeconds: Int64 = 60

    /// The decision for a file a scan found and that is not open.
    static func decide(_ candidate: CandidateFacts) -> ScanDecision {
        if candidate.isEmpty {
            // An empty file has no identity yet; only the live one is worth holding open.
            return candidate.isLive && !candidate.isGzip ? .openNew : .ignore
        }
        if candidate.isCopyOfOpenFile { return .copyOfOpenFile }
        guard let record = matchingRecord(candidate) else {
            // A gzip being made of a plain file this scan also found: read the plain one.
            return candidate.isGzip && candidate.hasPlainTwin ? .ignore : .openNew
        }
        if record.finished {
            // A finished plain file that grew afterwards (a gateway that kept writing to the
            // rotated file) is resumed where it was finished; anything else is done.
            return !candidate.isGzip && candidate.size > record.offset
                ? .resume(record: record.index) : .done(record: record.index)
        }
        if candidate.isGzip && record.plainTwinInSet { return .waitForCompression(record: record.index) }
        if !candidate.isGzip && candidate.size < record.offset { return .waitForCopy(record: record.index) }
        return .resume(record: record.index)
    }

    /// The record a candidate is: the first unclaimed one whose longer identity agrees, or that
    /// it is too short to tell from, unless a finished one that a plain file shorter than it
    /// cannot be (a finished file does not shrink).
    static func matchingRecord(_ candidate: CandidateFacts) -> RecordMatch? {
        for record in candidate.records where !record.claimed {
            switch record.kinship {
            case .same:
                return record
            case .other:
                continue
            case .undecided:
                if record.finished && !candidate.isGzip && candidate.size < record.offset { continue }
                return record
            }
        }
        return nil
    }

    /// The decision for an open file that was read to its end.
    static func atEnd(_ file: EndFacts) -> EndDecision {
        if file.isGzip {
            if case .cutShort? = file.damage, file.secondsSinceModified < incompleteGzipSeconds {
                return .closeAndResumeLater
            }
            return .finish
        }
        // The live file is never finished; a rotated one is once it is quiet.
        guard !file.isLive else { return .keepFollowing }
        let quiet = file.links == 0 ? unlinkedQuietSeconds : rotatedQuietSeconds
        return file.secondsSinceGrowth >= quiet ? .finish : .keepFollowing
    }

    /// Whether a live plain file was truncated (copytruncate): it shrank below what was read, or
    /// its first bytes are no longer the ones fingerprinted. The one test of truncation, made at
    /// each scan and, through `ContentGuard`, after each read.
    static func isTruncated(size: UInt64, readPosition: UInt64, headStillMatches: Bool) -> Bool {
        size < readPosition || !headStillMatches
    }
}
