import Foundation
import Logging
import Testing

@testable import TokentallyConfiguration
@testable import TokentallyCounting
@testable import TokentallyDaemon
@testable import TokentallyReading

/// The follower on real files in a temporary directory, stepped by hand: a copytruncate that
/// happens between two of its reads, with the gateway writing past the old read position
/// before the follower looks again (a daemon busy catching up, or stopped for a moment); and a
/// file that starts like a record's file but is not it.
@Suite("FileFollower: real files, stepped by hand")
struct FileFollowerTests {
    static func lines(_ prefix: String, _ count: Int, padding: Int) -> String {
        (0..<count).map {
            "{\"ts\":\"2026-11-27T10:00:00Z\",\"model\":\"gpt-4o\",\"provider\":\"openai\",\"request_id\":\"\(prefix)-\($0)\",\"pad\":\"\(String(repeating: "x", count: padding))\"}\n"
        }
        .joined()
    }

    /// A follower of `directory/access.log*` and the ingestor it feeds (plain files only).
    static func follower(_ directory: String) throws -> FileFollower {
        let ingestor = try makeTestIngestor(zone: "UTC", maxSeries: 1_000)
        let opener = LogFileOpener { file throws(FileReadError) in
            throw FileReadError(code: .readFailed, path: file.path, message: "no gzip in this test")
        }
        return FileFollower(
            inputs: [InputConfiguration(path: directory + "/access.log*")], ingestor: ingestor, opener: opener,
            logger: Logger(label: "test"), maxLineBytes: 4_096)
    }

    static func step(_ follower: FileFollower, now: Int64) throws {
        follower.scan(now: now)
        for _ in 0..<4 { _ = try follower.read(budget: 1 << 30, now: now) }
    }

    /// A scratch directory for one test, removed after it.
    static func withDirectory(_ body: (String) throws -> Void) throws {
        let directory = NSTemporaryDirectory() + "tokentally-follower-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try body(directory)
    }

    /// `access.log` holding 200 lines, and a follower that has read them all.
    static func followedLiveFile(_ directory: String) throws -> (old: String, follower: FileFollower) {
        let old = lines("old", 200, padding: 100)
        try old.write(toFile: directory + "/access.log", atomically: false, encoding: .utf8)
        let follower = try follower(directory)
        try step(follower, now: 0)
        return (old, follower)
    }

    /// logrotate's copytruncate by hand: `old` copied to `access.log.1`, `access.log` truncated
    /// in place, and the gateway (O_APPEND) writing `new` at its new start.
    static func copyTruncate(_ directory: String, old: String, new: String) throws {
        try old.write(toFile: directory + "/access.log.1", atomically: false, encoding: .utf8)
        let handle = try #require(FileHandle(forWritingAtPath: directory + "/access.log"))
        try handle.truncate(atOffset: 0)
        try handle.write(contentsOf: Data(new.utf8))
        try handle.close()
    }

    /// The copy's record must describe the bytes counted, not what the live file holds at that
    /// offset after the truncation: otherwise the copy fails its tail check when it is found,
    /// is taken for another file and counted again from its start.
    @Test(arguments: [false, true])
    func copyIsResumedWhenTheLiveFileGrewPastTheOldOffset(commitBetween: Bool) throws {
        try Self.withDirectory { directory in
            var (old, follower) = try Self.followedLiveFile(directory)
            #expect(follower.ingestor.linesRead == 200)
            // The gateway writes more than was read before the follower looks again.
            try Self.copyTruncate(directory, old: old, new: Self.lines("new", 300, padding: 120))

            if commitBetween {
                // The state committed now (before the truncation was noticed) and a restart.
                let records = follower.records(now: 1)
                #expect(records.allSatisfy { $0.tail == nil || $0.offset == 0 })
                follower = try Self.follower(directory)
                follower.restore(records)
            } else {
                try Self.step(follower, now: 1)
            }
            for now in Int64(2)...4 { try Self.step(follower, now: now) }
            // Once each: the old lines before the truncation (by the first follower), the new
            // ones from the live file's new start; nothing of the copy, which holds only
            // counted lines.
            #expect(follower.ingestor.linesRead == (commitBetween ? 300 : 500))
            #expect(follower.files.count == 2)
        }
    }

    /// A file that starts like a record's file but has other bytes before the record's offset
    /// (its tail check fails) is read as a new file, once: it is its own tombstone that later
    /// scans find, not the record it only starts like, again and again.
    @Test func aFileThatFailsARecordsTailCheckIsReadOnce() throws {
        try Self.withDirectory { directory in
            let text = Self.lines("rotated", 300, padding: 100)
            try text.write(toFile: directory + "/access.log.1", atomically: false, encoding: .utf8)
            let bytes = Array(text.utf8)
            let head = bytes.prefix(ContentFingerprint.fullLength).withUnsafeBytes { ContentFingerprint(prefix: $0) }
            let otherTail = Array(repeating: UInt8(ascii: "z"), count: FollowedFile.tailLength).withUnsafeBytes {
                ContentFingerprint(prefix: $0, limit: FollowedFile.tailLength)
            }
            let follower = try Self.follower(directory)
            follower.restore([
                FileRecord(
                    fingerprint: head, offset: UInt64(bytes.count / 2), tail: otherTail, path: directory + "/gone.log",
                    isGzip: false, device: 0, inode: 0, lastSeen: 0)
            ])
            for now in stride(from: Int64(0), through: 120, by: 15) { try Self.step(follower, now: now) }
            #expect(follower.ingestor.linesRead == 300)
            #expect(follower.files.isEmpty, "the rotated file is finished once quiet")
            #expect(follower.ledger.contains { $0.finished && $0.offset == UInt64(bytes.count) })
        }
    }

    /// logrotate may truncate the live file after a scan looked for a truncation and before it
    /// looks at the copy: the copy is still the open file's, by the bytes its identity was
    /// taken from, and not a new file to read from its start.
    @Test func theCopyIsTheOpenFilesWhenTheTruncationComesMidScan() throws {
        try Self.withDirectory { directory in
            let (old, follower) = try Self.followedLiveFile(directory)
            let file = try #require(follower.files.values.first)
            try Self.copyTruncate(directory, old: old, new: Self.lines("new", 10, padding: 10))
            let copy = directory + "/access.log.1"
            let leading = try ContentFingerprint.leadingBytes(of: copy, opener: follower.opener)
            let candidate = FileFollower.Candidate(
                path: copy, name: RotatedFileName("access.log.1"), prefix: leading.bytes, isGzip: false,
                key: FileFollower.FileKey(device: 0, inode: 0), size: UInt64(old.utf8.count), opener: follower.opener)
            #expect(follower.isCopy(candidate, of: file))

            // An unrelated file that only starts like it is not its copy.
            let other = directory + "/other.log"
            try (String(old.prefix(2_000)) + Self.lines("other", 50, padding: 100)).write(
                toFile: other, atomically: false, encoding: .utf8)
            let otherLeading = try ContentFingerprint.leadingBytes(of: other, opener: follower.opener)
            let stranger = FileFollower.Candidate(
                path: other, name: RotatedFileName("other.log"), prefix: otherLeading.bytes, isGzip: false,
                key: FileFollower.FileKey(device: 0, inode: 1), size: 0, opener: follower.opener)
            #expect(!follower.isCopy(stranger, of: file))
        }
    }
}
