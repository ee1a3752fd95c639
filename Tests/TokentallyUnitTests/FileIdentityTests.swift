import Foundation
import Testing

@testable import TokentallySystem
@testable import TokentallyReading
@testable import TokentallyCounting
@testable import TokentallyOutput
@testable import TokentallyConfiguration
@testable import TokentallyReplay
@testable import TokentallyDaemon
@testable import TokentallySamples

@Suite struct FileIdentityTests {
    @Test func crc64IsTheECMA182CheckValue() {
        #expect(CRC64.checksum(Array("123456789".utf8)) == 0x6C40_DF5F_0B49_7347)
        #expect(CRC64.checksum([]) == 0)
    }

    @Test func crc64ContinuesOverPiecesAsOverTheWhole() {
        var random = SplitMix64(state: 9)
        let bytes = (0..<5_000).map { _ in UInt8.random(in: 0...255, using: &random) }
        let whole = CRC64.checksum(bytes)
        for cut in [0, 1, 7, 8, 9, 1_023, 4_999, 5_000] {
            let first = bytes[..<cut].withUnsafeBytes { CRC64.update(0, $0) }
            let both = bytes[cut...].withUnsafeBytes { CRC64.update(first, $0) }
            #expect(both == whole, "cut at \(cut)")
        }
    }

    /// States of formats 1 and 2 hold fingerprints of the old in-memory hash; they must still
    /// match their files after an upgrade, or every followed file would be read again.
    @Test func legacyFingerprintsStillMatchTheirFiles() {
        let prefix = Array(#"{"ts":"2026-11-28T10:00:00Z","api_key":"k","model":"m","provider":"p"}"#.utf8)
        let legacy = prefix.withUnsafeBytes {
            ContentFingerprint(length: $0.count, hash: FrozenHash.legacy($0), algorithm: .legacy)
        }
        // The value the hash gave before it was frozen here (ByteStringInterner.hash).
        #expect(legacy.hash == prefix.withUnsafeBytes { ByteStringInterner.hash($0) })
        #expect(prefix.withUnsafeBytes { legacy.matches(prefix: $0) })
        let crc = prefix.withUnsafeBytes { ContentFingerprint(prefix: $0) }
        #expect(crc.algorithm == .crc64 && crc.hash == CRC64.checksum(prefix))
        #expect(crc.description.hasPrefix(String(crc.hash, radix: 16).leftPadded(to: 16)))
        #expect(legacy.description.hasPrefix("legacy:"))
    }

    @Test func anExtendedFingerprintEqualsOneTakenOfTheLongerPrefix() {
        let bytes = Array(repeating: Array("abcdefgh".utf8), count: 100).flatMap { $0 }
        let short = bytes[..<300].withUnsafeBytes { ContentFingerprint(prefix: $0, limit: 1 << 16) }
        let extended = bytes[300...].withUnsafeBytes { short.extended(by: $0) }
        let whole = bytes.withUnsafeBytes { ContentFingerprint(prefix: $0, limit: 1 << 16) }
        #expect(extended == whole)
    }

    /// A file record of format 2 (no algorithm byte, no identity) reads as legacy; format 3
    /// round-trips with its identity.
    @Test func fileRecordsOfEveryFormatDecode() throws {
        var old = StateWriter()
        old.write(UInt32(1_024))
        old.write(UInt64(0xABCD))
        old.write(UInt64(4_096))
        old.write(true)
        old.write(UInt32(64))
        old.write(UInt64(0x1234))
        old.write(false)
        old.write("/var/log/gw/access.log")
        old.write(false)
        old.write(UInt64(2049))
        old.write(UInt64(77))
        old.write(Int64(1_764_000_000))
        old.write(false)
        var reader = StateReader(old.bytes)
        let legacy = try FileRecord.decode(from: &reader, formatVersion: 2)
        #expect(legacy.fingerprint == ContentFingerprint(length: 1_024, hash: 0xABCD, algorithm: .legacy))
        #expect(legacy.tail?.algorithm == .legacy && legacy.identity == nil && legacy.offset == 4_096)
        #expect(reader.isAtEnd)

        let record = FileRecord(
            fingerprint: ContentFingerprint(length: 1_024, hash: 1),
            identity: ContentFingerprint(length: 65_536, hash: 2),
            offset: 99, tail: ContentFingerprint(length: 64, hash: 3), finished: true, path: "/l/access.log.1",
            isGzip: true, device: 1, inode: 2, lastSeen: 3, damage: "cut short")
        var writer = StateWriter()
        record.encode(into: &writer)
        var again = StateReader(writer.bytes)
        #expect(try FileRecord.decode(from: &again, formatVersion: 3) == record)
        #expect(again.isAtEnd)
    }

    @Test func aLockedDirectoryRefusesASecondLockNamingItsHolder() throws {
        let directory = NSTemporaryDirectory() + "tokentally-lock-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let first = try DirectoryLock(directory: directory, name: "lock", setting: "state.directory")
        #expect(throws: DirectoryLock.Failure.self) {
            _ = try DirectoryLock(directory: directory, name: "lock", setting: "state.directory")
        }
        do {
            _ = try DirectoryLock(directory: directory, name: "lock", setting: "state.directory")
        } catch {
            #expect(error.holder == getpid())
            #expect(error.description.contains("is in use by another tokentally (process \(getpid())"))
        }
        #expect(first.isStillInPlace)
        // Released with its owner: the next one gets it.
        withExtendedLifetime(first) {}
    }

    @Test func aStateOfOtherInputsIsForeignButAnEditIsNot() {
        let record = FileRecord(
            fingerprint: ContentFingerprint(length: 1, hash: 1), offset: 1, path: "/var/log/gw-a/access.log.1",
            isGzip: false, device: 1, inode: 1, lastSeen: 0)
        let committed = ["/var/log/gw-a/access.log*"]
        // Another gateway's logs: nothing shared.
        #expect(
            Checkpoint(commitTime: 0, inputs: committed, files: [record]).foreignStateProblem(
                configured: ["/var/log/gw-b/access.log*"], directory: "/s")?
                .contains("adopt-state") == true)
        // The same glob among others, or a rewritten glob that matches its files: an edit.
        #expect(
            Checkpoint(commitTime: 0, inputs: committed, files: []).foreignStateProblem(
                configured: ["/x/*.log", "/var/log/gw-a/access.log*"], directory: "/s") == nil)
        #expect(
            Checkpoint(commitTime: 0, inputs: committed, files: [record]).foreignStateProblem(
                configured: ["/var/log/gw-a/*"], directory: "/s") == nil)
        // States from before inputs were recorded are taken as they are.
        #expect(
            Checkpoint(commitTime: 0, inputs: [], files: []).foreignStateProblem(configured: ["/b"], directory: "/s")
                == nil)
        #expect(
            Checkpoint(commitTime: 0, inputs: nil, files: [record]).foreignStateProblem(
                configured: ["/b"], directory: "/s") == nil)
    }
}
