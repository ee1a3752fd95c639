import TokentallySystem
import TokentallyReading
import TokentallyCounting
import TokentallyOutput
import TokentallyConfiguration
import Foundation
import Logging

/// `tokentally replay`: one pass over given files into a fresh set of snapshots.
public struct ReplayJob {
    /// One file to read, with how to read it.
    public struct Source: Sendable {
        public var path: String
        var format: String
        public var redaction: KeyRedaction
        /// The zone of timestamps without an offset (nil: the format's).
        public var naiveTimezone: String? = nil
    }

    let configuration: Configuration
    public let sources: [Source]
    let opener: LogFileOpener
    let logger: Logger
    let clock: @Sendable () -> Int64
    /// Where the newest day's entries go after the snapshots are written (nil: nowhere).
    let journal: JournalSink?
    /// Threads that read and parse besides this one, which counts (and parses too whenever it
    /// would wait: `ParsingPipeline`); 0 reads, parses and counts on this thread alone.
    public let parserThreads: Int

    /// Parser threads by default: one fewer than the cores, up to 4, so that with the counting
    /// thread every core is busy and none is shared; none on a single core.
    public static var defaultParserThreads: Int {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        return min(max(cores - 1, 0), 4)
    }

    /// Validates everything before reading anything: the time zone, the formats, the secret
    /// pattern and that every path exists. Paths are files (`-` for standard input) or
    /// directories (their rotated sets, oldest first); with no paths, the configured inputs'
    /// globs are read.
    /// - Parameter naiveTimezone: the zone of timestamps without an offset in the named `paths`
    ///   (`--naive-timezone`); the configured inputs carry their own.
    public init(
        configuration: Configuration, paths: [String], format: String?, opener: LogFileOpener, logger: Logger,
        journal: JournalSink? = nil, parserThreads: Int = ReplayJob.defaultParserThreads, naiveTimezone: String? = nil,
        clock: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970) }
    ) throws(CommandError) {
        self.configuration = configuration
        self.journal = journal
        self.parserThreads = parserThreads
        self.opener = opener
        self.logger = logger
        self.clock = clock
        if let naiveTimezone, NaiveTimeZone(identifier: naiveTimezone) == nil {
            throw .usage(
                "--naive-timezone: unknown time zone \"\(naiveTimezone)\"; use an IANA name such as UTC or Europe/Berlin, or local"
            )
        }
        if let format, configuration.mapping(forFormat: format) == nil {
            let known = (FormatPreset.allCases.map(\.rawValue) + configuration.formats.keys.sorted())
            throw .usage(
                "--format: unknown format \"\(format)\"; use one of \(known.joined(separator: ", ")) or define it under formats: in the config"
            )
        }
        var sources: [Source] = []
        if paths.isEmpty {
            guard !configuration.inputs.isEmpty else {
                throw .usage("replay: no paths given and no inputs configured; name files or directories to read")
            }
            for input in configuration.inputs {
                let matches = FileGlob.expand(input.path)
                guard !matches.isEmpty else {
                    throw .io("\(input.path): no file matches this input; check the path in inputs:")
                }
                for set in RotatedFileSet.group(matches) {
                    for path in set.paths {
                        sources.append(
                            Source(
                                path: path, format: format ?? input.format, redaction: input.redactKeys,
                                naiveTimezone: naiveTimezone ?? input.naiveTimezone))
                    }
                }
            }
        } else {
            let defaultInput = configuration.inputs.first
            let chosenFormat = format ?? defaultInput?.format ?? FormatPreset.tokentally.rawValue
            let redaction = defaultInput?.redactKeys ?? .auto
            let zone = naiveTimezone ?? defaultInput?.naiveTimezone
            for path in paths {
                if path == "-" {
                    sources.append(Source(path: path, format: chosenFormat, redaction: redaction, naiveTimezone: zone))
                    continue
                }
                var isDirectory: ObjCBool = false
                guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                    throw .io("\(path): no such file or directory; check the path")
                }
                if isDirectory.boolValue {
                    let sets: [RotatedFileSet]
                    do { sets = try RotatedFileSet.discover(inDirectory: path) } catch { throw .io(error.description) }
                    for set in sets {
                        for file in set.paths {
                            sources.append(
                                Source(path: file, format: chosenFormat, redaction: redaction, naiveTimezone: zone))
                        }
                    }
                } else {
                    sources.append(Source(path: path, format: chosenFormat, redaction: redaction, naiveTimezone: zone))
                }
            }
        }
        self.sources = sources
    }

    /// What a replay did.
    public struct Summary: Sendable {
        public var status: IngestStatus
        public var bucketsWritten: Int
        public var seconds: Double
    }

    /// Reads every source in order, then writes the snapshots.
    public func run() throws(CommandError) -> Summary {
        let started = Date()
        // The one ingest pipeline, with its parsing threads (none: this thread does it all).
        // Made first: a bad time zone or secret pattern is said before anything is written.
        let ingestor = try configuration.makeIngestor(parserThreads: parserThreads, logger: logger)
        let writer: SnapshotWriter
        let lock: DirectoryLock
        do {
            writer = try SnapshotWriter(
                directory: configuration.snapshot.directory, fileMode: configuration.snapshot.fileMode,
                schema: configuration.snapshotSchema)
            // A daemon (or another replay) writing the same directory would interleave files of
            // two different countings.
            lock = try DirectoryLock(
                directory: writer.directory, name: SnapshotWriter.lockFileName, setting: "snapshot.directory")
        } catch { throw .io("\(error)") }
        defer { withExtendedLifetime(lock) {} }

        var files: [FileStatus] = []
        for source in sources {
            let opened: LogFileOpener.OpenedFile
            do { opened = try opener.open(source.path) } catch {
                throw .io(error.description, code: .readFailed, cause: error)
            }
            let identity = opened.file.identity
            // On one thread, inflating takes about as long as counting: overlap them at least.
            let content = opened.isGzip && parserThreads == 0 ? ReadAheadByteSource(opened.content) : opened.content
            let outcome: LogIngestor.FileOutcome
            do {
                outcome = try ingestor.ingest(
                    content, displayPath: source.path, format: source.format, redaction: source.redaction,
                    naiveTimezone: source.naiveTimezone)
            } catch let error as FileReadError {
                throw .io(error.description, code: .readFailed, cause: error)
            } catch {
                throw .io("\(source.path): \(error)", code: .readFailed, cause: error)
            }
            files.append(
                FileStatus(
                    path: source.path, device: identity?.device, inode: identity?.inode, fingerprint: nil,
                    compressed: opened.isGzip, offset: outcome.contentOffset, lagBytes: 0, finished: true,
                    damage: outcome.damage))
        }

        ingestor.logLateDrops(force: true)
        // Every file is read: the snapshots, not the reading buffers, need the memory now.
        ingestor.releaseReadingBuffers()
        let elapsed = Date().timeIntervalSince(started)
        var status = IngestStatus(counting: ingestor)
        status.linesPerSecond = elapsed > 0 ? Double(ingestor.linesRead) / elapsed : nil
        status.files = files

        let publisher = configuration.snapshotPublisher(writer: writer, pruneUnknownBuckets: true)
        let published: SnapshotPublisher.Published
        // Nothing is counted after this: each bucket's memory goes back once its report is built.
        do {
            published = try publisher.publish(ingestor.counters, status: status, now: clock(), releasingBuckets: true)
        } catch {
            throw .io("writing snapshots to \(configuration.snapshot.directory) failed: \(error)")
        }
        let written = published.bucketsWritten
        if let journal, let day = published.newestDay {
            do {
                for entry in JournalEntries.entries(for: day, top: configuration.journal.top) {
                    try journal.send(entry)
                }
            } catch {
                logger.warning(
                    "journald is not reachable; the snapshot entries were not written to the journal: \(error)")
            }
        }
        return Summary(status: status, bucketsWritten: written, seconds: Date().timeIntervalSince(started))
    }
}
