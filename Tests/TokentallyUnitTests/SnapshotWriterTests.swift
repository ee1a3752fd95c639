import Foundation
import Synchronization
import Testing

@testable import TokentallySystem
@testable import TokentallyReading
@testable import TokentallyCounting
@testable import TokentallyOutput
@testable import TokentallyConfiguration
@testable import TokentallyReplay
@testable import TokentallyDaemon
@testable import TokentallySamples

#if canImport(Glibc)
    import Glibc
#endif

/// The permission bits of a file, read with lstat.
private func permissions(_ path: String) -> UInt32? {
    var status = stat()
    guard lstat(path, &status) == 0 else { return nil }
    return UInt32(status.st_mode) & 0o7777
}

private func contents(_ path: String) -> [UInt8]? {
    FileManager.default.contents(atPath: path).map { Array($0) }
}

/// Every name under `directory`, recursively, relative to it.
private func allNames(_ directory: String) throws -> [String] {
    try FileManager.default.subpathsOfDirectory(atPath: directory).sorted()
}

private func report(_ period: Period, _ label: String, generatedAt: Int64 = SnapshotFixtures.day) -> BucketReport {
    var report = SnapshotFixtures.report()
    report.period = period
    report.label = label
    report.generatedAtEpochSeconds = generatedAt
    return report
}

@Test func writerCreatesTheLayoutAndWritesFilesWithTheConfiguredMode() throws {
    let root = try SnapshotFixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: root) }
    let directory = root + "/nested/snapshots"

    let writer = try SnapshotWriter(directory: directory)
    #expect(writer.fileMode == 0o640)
    for folder in ["", "/day", "/week", "/month"] {
        var isDirectory: ObjCBool = false
        #expect(
            FileManager.default.fileExists(atPath: directory + folder, isDirectory: &isDirectory)
                && isDirectory.boolValue)
        #expect(permissions(directory + folder) == 0o750, "\(folder)")
    }

    let bucket = SnapshotFixtures.report()
    try writer.write(bucket)
    try writer.write(SnapshotFixtures.index())
    #expect(contents(directory + "/day/2026-11-28.json") == SnapshotEncoder.encode(bucket))
    #expect(contents(directory + "/index.json") == SnapshotEncoder.encode(SnapshotFixtures.index()))
    #expect(permissions(directory + "/day/2026-11-28.json") == 0o640)
    #expect(permissions(directory + "/index.json") == 0o640)
    #expect(try allNames(directory) == ["day", "day/2026-11-28.json", "index.json", "month", "week"])

    // The files written are the ones the schemas describe.
    #expect(
        try SnapshotFixtures.validate(
            file: directory + "/day/2026-11-28.json", schema: SnapshotFixtures.schemaPath("bucket-v2.schema.json")
        ).valid)
    #expect(
        try SnapshotFixtures.validate(
            file: directory + "/index.json", schema: SnapshotFixtures.schemaPath("index.schema.json")
        ).valid)
}

@Test(arguments: [0o600, 0o644, 0o640] as [UInt16])
func otherFileModesAreApplied(mode: UInt16) throws {
    let directory = try SnapshotFixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let writer = try SnapshotWriter(directory: directory, fileMode: mode)
    try writer.write(report(.month, "2026-11"))
    #expect(permissions(directory + "/month/2026-11.json") == UInt32(mode))
}

@Test func rewritingReplacesTheWholeFileAndLeavesNoTemporaryFile() throws {
    let directory = try SnapshotFixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let writer = try SnapshotWriter(directory: directory)
    let big = SnapshotFixtures.report(seriesCount: 500)
    let small = SnapshotFixtures.report(seriesCount: 1)
    try writer.write(big)
    try writer.write(small)
    #expect(contents(directory + "/day/2026-11-28.json") == SnapshotEncoder.encode(small))
    #expect(try allNames(directory) == ["day", "day/2026-11-28.json", "month", "week"])
}

/// Replaces one bucket file over and over on its own thread until told to stop.
private final class RewritingThread: Sendable {
    private struct State {
        var stop = false
        var rounds = 0
        var failure: String?
    }
    private let state = Mutex(State())
    private let finished = DispatchSemaphore(value: 0)

    init(writer: SnapshotWriter, versions: [BucketReport]) {
        // A thread of its own: the test's reading loop may hold one of the few task threads.
        Thread.detachNewThread { [self] in
            var round = 0
            while !state.withLock({ $0.stop }) {
                do {
                    try writer.write(versions[round % versions.count])
                } catch {
                    state.withLock { $0.failure = "\(error)" }
                    break
                }
                round += 1
                state.withLock { $0.rounds = round }
            }
            finished.signal()
        }
    }

    /// Stops the thread and returns how many files it wrote and its error, if any.
    func stop() -> (rounds: Int, failure: String?) {
        state.withLock { $0.stop = true }
        finished.wait()
        return state.withLock { ($0.rounds, $0.failure) }
    }
}

/// A reader that opens the file while it is being replaced sees the old or the new document,
/// never a mixture or a short file.
@Test func aReaderNeverSeesAPartialFile() throws {
    let directory = try SnapshotFixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let writer = try SnapshotWriter(directory: directory)
    let versions = [SnapshotFixtures.report(seriesCount: 1000), SnapshotFixtures.report(seriesCount: 3)]
    let encoded = versions.map { SnapshotEncoder.encode($0) }
    try writer.write(versions[0])
    let path = directory + "/day/2026-11-28.json"

    let rewriting = RewritingThread(writer: writer, versions: versions)
    var torn = 0
    var seen = Set<Int>()
    for _ in 0..<1000 {
        guard let bytes = contents(path) else {
            torn += 1
            continue
        }
        if let version = encoded.firstIndex(of: bytes) { seen.insert(version) } else { torn += 1 }
    }
    let (rounds, failure) = rewriting.stop()
    #expect(failure == nil)
    #expect(torn == 0, "\(torn) of 1000 reads saw a missing or partial file")
    #expect(rounds > 1)
    print("reader saw versions \(seen.sorted()) while the writer replaced the file \(rounds) times")
}

@Test func removeBucketsRemovesOnlyUnretainedBucketFiles() throws {
    let directory = try SnapshotFixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let writer = try SnapshotWriter(directory: directory)
    for label in ["2026-11-26", "2026-11-27", "2026-11-28"] { try writer.write(report(.day, label)) }
    for label in ["2026-W47", "2026-W48"] { try writer.write(report(.week, label)) }
    try writer.write(report(.month, "2026-11"))
    try writer.write(SnapshotFixtures.index())

    // Files that are not bucket files of their folder, which must survive.
    let decoys = [
        "day/notes.txt", "day/2026-13-01.json", "day/2026-11-27.json.bak", "day/.2026-11-25.json.tmp-999",
        "day/2026-11-2.json", "week/2026-11-28.json", "month/2026-W48.json", "README",
    ]
    for decoy in decoys {
        #expect(FileManager.default.createFile(atPath: directory + "/" + decoy, contents: Data("x".utf8)))
    }
    // A directory and a symbolic link with bucket names are not regular files: left alone too.
    try FileManager.default.createDirectory(
        atPath: directory + "/day/2026-11-20.json", withIntermediateDirectories: false)
    try FileManager.default.createSymbolicLink(
        atPath: directory + "/day/2026-11-21.json", withDestinationPath: directory + "/index.json")

    let removed = try writer.removeBuckets(except: [.day: ["2026-11-28", "2026-11-01"], .week: ["2026-W48"]])

    #expect(removed == ["day/2026-11-26.json", "day/2026-11-27.json", "month/2026-11.json", "week/2026-W47.json"])
    let expected =
        ([
            "day", "week", "month", "index.json", "day/2026-11-28.json", "week/2026-W48.json", "day/2026-11-20.json",
            "day/2026-11-21.json",
        ] + decoys).sorted()
    #expect(try allNames(directory) == expected)

    // Nothing left to remove the second time.
    #expect(try writer.removeBuckets(except: [.day: ["2026-11-28"], .week: ["2026-W48"]]).isEmpty)
}

@Test func staleTemporaryFilesOfOtherProcessesAreRemoved() throws {
    let directory = try SnapshotFixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let writer = try SnapshotWriter(directory: directory)
    let ownTemporary = "day/.2026-11-28.json.tmp-\(getpid())"
    let files = [
        ".index.json.tmp-999999", "day/.2026-11-27.json.tmp-1", ownTemporary, ".keep", "day/.tmp-12",
        "week/.2026-W48.json.tmp-12x", "month/2026-11.json",
    ]
    for file in files {
        #expect(FileManager.default.createFile(atPath: directory + "/" + file, contents: Data("x".utf8)))
    }
    let removed = try writer.removeStaleTemporaryFiles()
    #expect(removed == [".index.json.tmp-999999", "day/.2026-11-27.json.tmp-1"])
    #expect(
        try allNames(directory)
            == [
                "day", ".keep", ownTemporary, "day/.tmp-12", "month", "month/2026-11.json", "week",
                "week/.2026-W48.json.tmp-12x",
            ].sorted())
}

@Test func aMissingPeriodFolderIsMadeAgainOnWrite() throws {
    let directory = try SnapshotFixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let writer = try SnapshotWriter(directory: directory)
    try FileManager.default.removeItem(atPath: directory + "/week")
    try writer.write(report(.week, "2026-W48"))
    #expect(contents(directory + "/week/2026-W48.json") != nil)
}

@Test func aDirectoryThatCannotBeMadeIsAClearError() throws {
    let root = try SnapshotFixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: root) }
    #expect(FileManager.default.createFile(atPath: root + "/plain-file", contents: Data()))

    let underAFile = #expect(throws: SnapshotError.self) {
        try SnapshotWriter(directory: root + "/plain-file/snapshots")
    }
    #expect(underAFile?.code == .notADirectory)
    #expect(underAFile?.path == root + "/plain-file")

    let isAFile = #expect(throws: SnapshotError.self) { try SnapshotWriter(directory: root + "/plain-file") }
    let description = isAFile?.description ?? ""
    #expect(description.contains(root + "/plain-file"))
    #expect(description.contains("configure another snapshot.directory"))
    #expect(!description.contains("\n"))

    // A period folder that is a file.
    try FileManager.default.createDirectory(atPath: root + "/snap", withIntermediateDirectories: false)
    #expect(FileManager.default.createFile(atPath: root + "/snap/week", contents: Data()))
    let periodIsAFile = #expect(throws: SnapshotError.self) { try SnapshotWriter(directory: root + "/snap") }
    #expect(periodIsAFile?.path == root + "/snap/week")
}

@Test func systemErrorsAreNamedInTheDescription() {
    let error = SnapshotError(
        code: .writeFile, path: "/x/day/.a.json.tmp-1", message: "could not write /x/day/.a.json.tmp-1",
        errnoCode: ENOSPC)
    #expect(
        error.description
            == "could not write /x/day/.a.json.tmp-1: No space left on device (errno 28); free space on that file "
            + "system; the daemon writes the snapshot again at the next interval")
}

@Test func aLabelThatIsNotABucketLabelIsRefused() throws {
    let root = try SnapshotFixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: root) }
    let writer = try SnapshotWriter(directory: root + "/snap")
    for (period, label) in [(Period.day, "../../escape"), (.day, "2026-W48"), (.week, "2026-11-28"), (.month, "")] {
        let error = #expect(throws: SnapshotError.self) { try writer.write(report(period, label)) }
        #expect(error?.code == .invalidBucketLabel)
    }
    #expect(try allNames(root) == ["snap", "snap/day", "snap/month", "snap/week"])
}

@Test func bucketLabelsAreRecognisedByPeriod() {
    #expect(SnapshotWriter.isBucketLabel("2026-11-28", of: .day))
    #expect(SnapshotWriter.isBucketLabel("2026-W01", of: .week))
    #expect(SnapshotWriter.isBucketLabel("2026-W53", of: .week))
    #expect(SnapshotWriter.isBucketLabel("2026-12", of: .month))
    for (label, period) in [
        ("2026-11-28", Period.week), ("2026-11-28", .month), ("2026-00-01", .day), ("2026-11-32", .day),
        ("2026-W54", .week), ("2026-W00", .week), ("2026-13", .month), ("2026-1", .month), ("２０26-11", .month),
        ("2026-11-28 ", .day), ("", .day),
    ] {
        #expect(!SnapshotWriter.isBucketLabel(label, of: period), "\(label) as \(period)")
    }
}

/// Counters holding one request per key on each of 1–9 November 2026, through the real parser.
private func countersOfNineDays(keys: Int) throws -> UsageCounters {
    let counters = UsageCounters(
        calendar: try #require(BucketCalendar(timeZoneIdentifier: "UTC")), retention: RetentionConfiguration(),
        maxSeries: 1_000, redactor: try KeyRedactor(secretPattern: "^sk-"))
    let parser = RecordParser(mapping: FormatPreset.tokentally.mapping)
    for day in 1...9 {
        for key in 0..<keys {
            var line =
                #"{"ts":"2026-11-0\#(day)T10:00:00Z","api_key":"k\#(key)","model":"m","provider":"p","input_tokens":1}"#
            let outcome = line.withUTF8 { parser.parse(UnsafeRawBufferPointer($0)) }
            guard case .accepted = outcome else { throw Rejected(outcome: "\(outcome)") }
            counters.add(parser.record, redaction: .auto)
        }
    }
    return counters
}

private struct Rejected: Error {
    var outcome: String
}

/// Reports are written on a queue while the next is built: a write that fails there must still
/// fail the publish with its error, whichever period it hits; the index is written all the same,
/// listing only the bucket files that exist and saying in its status what failed.
@Test(arguments: [Period.day, .week, .month])
func aWriteFailureOnTheWriterQueueStopsThePublish(failing period: Period) throws {
    let directory = try SnapshotFixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let counters = try countersOfNineDays(keys: 1)
    let writer = try SnapshotWriter(directory: directory)
    // The period's folder becomes a file: writing any of its buckets fails.
    try FileManager.default.removeItem(atPath: directory + "/" + period.rawValue)
    #expect(FileManager.default.createFile(atPath: directory + "/" + period.rawValue, contents: Data()))
    let publisher = SnapshotPublisher(writer: writer, host: "h", timezone: "UTC", minRequests: 1)
    let failure = #expect(throws: SnapshotError.self) {
        try publisher.publish(counters, status: IngestStatus(), now: SnapshotFixtures.day)
    }
    #expect(failure?.path.hasPrefix(directory + "/" + period.rawValue + "/") == true)
    let index = try #require(contents(directory + "/index.json"))
    let json = try #require(try JSONSerialization.jsonObject(with: Data(index)) as? [String: Any])
    let listed = try #require(json["buckets"] as? [String: [String]])
    #expect(listed[period.rawValue] == [], "\(period) buckets are listed but could not be written")
    for other in Period.allCases where other != period {
        #expect(listed[other.rawValue]?.isEmpty == false)
    }
    let writes = try #require((json["status"] as? [String: Any])?["snapshot_writes"] as? [String: Any])
    #expect((writes["last_error"] as? String)?.contains(directory + "/" + period.rawValue) == true)
    #expect(writes["consecutive_failures"] as? Int == 1)
}

/// At high cardinality a snapshot is written in batches of about `rowBudget` series rows;
/// every batch's index lists only bucket files that exist once the batch is written.
@Test func aSnapshotOverItsRowBudgetIsWrittenInBatchesWhoseIndexListsOnlyWrittenFiles() throws {
    let directory = try SnapshotFixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    // 9 day buckets of 10 rows, 3 ISO weeks (W44 ends on 1 November) and 1 month.
    let counters = try countersOfNineDays(keys: 10)
    let publisher = SnapshotPublisher(
        writer: try SnapshotWriter(directory: directory), host: "h", timezone: "UTC", minRequests: 1,
        pruneUnknownBuckets: false)
    var batches = 0
    var written = 0
    var tracker = ChangeTracker()
    var pending = tracker.changedBuckets(in: counters)
    while true {
        let batch = publisher.prepare(
            counters, status: IngestStatus(), now: SnapshotFixtures.day, rowBudget: 25, tracker: &tracker,
            pending: &pending)
        batches += 1
        written += batch.reports.count
        // 25 rows: three day buckets of 10 rows reach it (at least one report per batch).
        #expect(batch.reports.count <= 3)
        try publisher.write(batch)
        for period in Period.allCases {
            for label in batch.index.buckets[period] ?? [] {
                #expect(
                    contents(directory + "/\(period.rawValue)/\(label).json") != nil, "\(label) listed, not written")
            }
        }
        if batch.isComplete { break }
        #expect(batches < 20, "the batches never finish")
        if batches >= 20 { break }
    }
    #expect(written == 13)
    // Days 3 + 3 + 3, then W44 and W45 (10 + 70 rows), then W46 and the month.
    #expect(batches == 5)
    let index = try #require(contents(directory + "/index.json"))
    let json = try #require(try JSONSerialization.jsonObject(with: Data(index)) as? [String: Any])
    let listed = try #require(json["buckets"] as? [String: [String]])
    #expect(listed["day"]?.count == 9 && listed["week"]?.count == 3 && listed["month"]?.count == 1)
}

/// A snapshot in batches covers the buckets changed when it began: lines that change buckets
/// meanwhile (again, or for the first time) wait for the next snapshot, so that it ends, and
/// it takes the bucket written longest ago first.
@Test func aSnapshotInBatchesEndsWhileNewLinesKeepChangingBuckets() throws {
    let directory = try SnapshotFixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let counters = try countersOfNineDays(keys: 10)
    let parser = RecordParser(mapping: FormatPreset.tokentally.mapping)
    func addLine(day: Int) {
        var line = #"{"ts":"2026-11-0\#(day)T11:00:00Z","api_key":"late","model":"m","provider":"p","input_tokens":1}"#
        guard case .accepted = line.withUTF8({ parser.parse(UnsafeRawBufferPointer($0)) }) else {
            Issue.record("line rejected")
            return
        }
        counters.add(parser.record, redaction: .auto)
    }
    let publisher = SnapshotPublisher(
        writer: try SnapshotWriter(directory: directory), host: "h", timezone: "UTC", minRequests: 1,
        pruneUnknownBuckets: false)
    // The buckets changed when the snapshot begins.
    var tracker = ChangeTracker()
    var pending = tracker.changedBuckets(in: counters)
    var written: [String] = []
    var batches = 0
    while true {
        let batch = publisher.prepare(
            counters, status: IngestStatus(), now: SnapshotFixtures.day, rowBudget: 25, tracker: &tracker,
            pending: &pending)
        batches += 1
        written += batch.reports.map { "\($0.period.rawValue)/\($0.label)" }
        try publisher.write(batch)
        // After every batch a line changes 1 November again, which the first batch wrote.
        addLine(day: 1)
        if batch.isComplete || batches >= 20 { break }
    }
    #expect(batches == 5, "the snapshot did not end: \(written)")
    #expect(written.count == 13)
    #expect(written.first == "day/2026-11-01")
    // The next snapshot takes what changed meanwhile, and nothing else.
    var changed = tracker.changedBuckets(in: counters)
    let next = publisher.prepare(
        counters, status: IngestStatus(), now: SnapshotFixtures.day, rowBudget: 25, tracker: &tracker,
        pending: &changed)
    #expect(
        Set(next.reports.map { "\($0.period.rawValue)/\($0.label)" })
            == ["day/2026-11-01", "week/2026-W44", "month/2026-11"])
    #expect(next.isComplete)
}
