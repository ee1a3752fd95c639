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

private func temporaryDirectory() throws -> String {
    let path = NSTemporaryDirectory() + "tokentally-state-" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// A payload of every kind of value the state holds, big enough to take many 1 MiB pieces.
private func encodeSample(_ writer: inout StateWriter, count: Int) {
    writer.write(Int64(1_795_000_000))
    writer.write("a string with ünïcode")
    for index in 0..<count {
        writer.write(UInt32(index))
        writer.write(UInt8(truncatingIfNeeded: index))
        writer.write(index % 3 == 0)
        writer.write(Double(index) / 7)
    }
    writer.write([1, 2, 3] as [UInt32])
}

private func decodeSample(_ reader: inout StateReader, count: Int) throws {
    #expect(try reader.read(Int64.self) == 1_795_000_000)
    #expect(try reader.readString() == "a string with ünïcode")
    for index in 0..<count {
        guard try reader.read(UInt32.self) == UInt32(index), try reader.readUInt8() == UInt8(truncatingIfNeeded: index),
            try reader.readBool() == (index % 3 == 0), try reader.readDouble() == Double(index) / 7
        else {
            Issue.record("value \(index) differs")
            return
        }
    }
    #expect(try reader.readUInt32Array() == [1, 2, 3])
    try reader.finish()
}

/// Writes a state file by hand: the header of `version` with `payload`'s checksum in that
/// version's way (format 1 is what tokentally wrote before commits were streamed).
private func writeStateFile(_ path: String, version: UInt32, payload: [UInt8]) throws {
    var header = StateWriter()
    header.write(version)
    header.write(UInt64(payload.count))
    header.write(payload.withUnsafeBytes { StateChecksum.of($0, formatVersion: version) })
    try Data(StateStore.magic + header.bytes + payload).write(to: URL(fileURLWithPath: path))
}

@Suite struct StateStoreTests {
    @Test func aStreamedCommitLoadsBackWhole() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try StateStore(directory: directory)
        // About 2.5 MB: several pieces on the way out and on the way in.
        try store.commit { encodeSample(&$0, count: 180_000) }
        var reader = try #require(try store.load())
        try decodeSample(&reader, count: 180_000)
        #expect(!FileManager.default.fileExists(atPath: directory + "/.state.bin.tmp"))
    }

    @Test func theRunningChecksumIsTheSameInAnyPieces() {
        var random = SplitMix64(state: 9)
        let bytes = (0..<10_007).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        for version: UInt32 in [1, 2] {
            let whole = bytes.withUnsafeBytes { StateChecksum.of($0, formatVersion: version) }
            for piece in [8, 64, 4_096] {
                var running = StateChecksum.Running(formatVersion: version, length: UInt64(bytes.count))
                bytes.withUnsafeBytes { raw in
                    var start = 0
                    while start < raw.count {
                        let end = min(start + piece, raw.count)
                        running.add(UnsafeRawBufferPointer(rebasing: raw[start..<end]))
                        start = end
                    }
                }
                #expect(running.value == whole, "version \(version), pieces of \(piece)")
            }
        }
        // Format 1's checksum is the one tokentally wrote before.
        #expect(bytes.withUnsafeBytes { StateChecksum.of($0, formatVersion: 1) } == StateChecksum.of(bytes))
        #expect(
            bytes.withUnsafeBytes { StateChecksum.of($0, formatVersion: 1) }
                != bytes.withUnsafeBytes { StateChecksum.of($0, formatVersion: 2) })
    }

    @Test func aFormatOneFileIsStillRead() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var writer = StateWriter()
        encodeSample(&writer, count: 50_000)
        try writeStateFile(directory + "/state.bin", version: 1, payload: writer.bytes)
        var reader = try #require(try StateStore(directory: directory).load())
        try decodeSample(&reader, count: 50_000)
    }

    @Test func aFlippedByteIsCaughtByTheChecksum() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try StateStore(directory: directory)
        try store.commit { encodeSample(&$0, count: 100_000) }
        var bytes = try Array(Data(contentsOf: URL(fileURLWithPath: store.path)))
        // One bit in the middle of the payload, read as plain bytes: only the checksum can tell.
        bytes[StateStore.headerSize + bytes.count / 3] ^= 0x01
        try Data(bytes).write(to: URL(fileURLWithPath: store.path))
        var reader = try #require(try store.load())
        let failure = #expect(throws: StateDecodingError.self) {
            while !reader.isAtEnd { _ = try reader.readUInt8() }
            try reader.finish()
        }
        #expect(failure?.message.contains("corrupt") == true)
    }

    @Test func aBadHeaderAnUnknownVersionAndAWrongLengthAreRefusedAtLoad() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try StateStore(directory: directory)

        try Data("not a state file at all, but long enough".utf8).write(to: URL(fileURLWithPath: store.path))
        do {
            _ = try store.load()
            Issue.record("a file without the magic was accepted")
        } catch {
            #expect(error.code == .corrupt)
            #expect(error.description.contains("Rebuilding state"))
        }

        try writeStateFile(store.path, version: 9, payload: [1, 2, 3])
        do {
            _ = try store.load()
            Issue.record("version 9 was accepted")
        } catch {
            #expect(error.code == .unknownVersion)
        }

        try writeStateFile(store.path, version: 2, payload: Array(repeating: 7, count: 100))
        var truncated = try Array(Data(contentsOf: URL(fileURLWithPath: store.path)))
        truncated.removeLast(10)
        try Data(truncated).write(to: URL(fileURLWithPath: store.path))
        do {
            _ = try store.load()
            Issue.record("a truncated file was accepted")
        } catch {
            #expect(error.code == .corrupt)
        }
    }

    @Test func noFileMeansNoState() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(try StateStore(directory: directory).load() == nil)
    }
}
