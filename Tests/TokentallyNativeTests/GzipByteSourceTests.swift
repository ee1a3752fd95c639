import Foundation
import Testing
import TokentallyReading
import TokentallyNative

/// Runs `/bin/sh -c script` in `directory` and fails the test if it exits non-zero.
private func shell(_ script: String, in directory: String) throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/sh")
    process.arguments = ["-c", script]
    process.currentDirectoryURL = URL(fileURLWithPath: directory)
    try process.run()
    process.waitUntilExit()
    #expect(process.terminationStatus == 0, "sh -c \(script)")
}

/// Everything a `GzipByteSource` gives for `path`, read in pieces of `chunk` bytes, and its damage.
private func inflate(_ path: String, chunk: Int = 7_919) throws -> (bytes: [UInt8], damage: Damage?) {
    let source = try GzipByteSource(compressed: FileByteSource(path: path), inputBufferSize: 4_096)
    var out: [UInt8] = []
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 16)
    defer { buffer.deallocate() }
    while true {
        let n = try source.read(into: buffer)
        if n == 0 { break }
        out += buffer[0..<n]
    }
    return (out, source.damage)
}

private func bytes(_ path: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) }

/// The inflater against the host's gzip(1) on the shapes rotated logs take.
@Suite("GzipByteSource")
struct GzipByteSourceTests {
    let directory: String

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("tokentally-igzip-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        // 3 MB of log-like text, different on every line, and a second, smaller text.
        try shell(
            "seq 1 60000 | awk '{printf \"{\\\"n\\\":%d,\\\"v\\\":%d,\\\"k\\\":\\\"key-%d\\\"}\\n\", $1, ($1*7919)%100003, $1%97}' > a.txt"
                + " && seq 1 5000 > b.txt",
            in: directory)
    }

    @Test func oneMemberInflatesToGzipsBytes() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try shell("gzip -6 -c a.txt > a.gz", in: directory)
        let result = try inflate(directory + "/a.gz")
        #expect(result.damage == nil)
        #expect(result.bytes == (try bytes(directory + "/a.txt")))
    }

    @Test func membersPaddingAndLevelsAreOneStream() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // Two members at other levels, then zero padding: gzip -dc gives the concatenation.
        try shell(
            "gzip -1 -c a.txt > m.gz && gzip -9 -c b.txt >> m.gz && head -c 512 /dev/zero >> m.gz"
                + " && gzip -dc m.gz > m.txt",
            in: directory)
        let result = try inflate(directory + "/m.gz", chunk: 65_536)
        #expect(result.damage == nil)
        #expect(result.bytes == (try bytes(directory + "/m.txt")))
    }

    @Test func trailingGarbageIsReportedAfterEveryByteBeforeIt() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try shell("gzip -c b.txt > g.gz && printf 'not gzip' >> g.gz", in: directory)
        let result = try inflate(directory + "/g.gz")
        #expect(result.damage == .trailingData)
        #expect(result.bytes == (try bytes(directory + "/b.txt")))
    }

    @Test func aFileCutShortGivesItsPrefixAndSaysSo() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // zcat of a cut file writes what it could inflate before the error: the same prefix.
        try shell(
            "gzip -c a.txt > full.gz && head -c $(( $(stat -c %s full.gz) / 2 )) full.gz > cut.gz"
                + " && (zcat cut.gz > cut.txt 2>/dev/null; true)",
            in: directory)
        let result = try inflate(directory + "/cut.gz")
        let expected = try bytes(directory + "/cut.txt")
        guard case .cutShort(let inflated?) = result.damage else {
            Issue.record("expected cutShort, got \(String(describing: result.damage))")
            return
        }
        #expect(Int(inflated) == result.bytes.count)
        // igzip may hold back the last partial window that zcat flushed, and the reverse.
        let common = min(expected.count, result.bytes.count)
        #expect(common > 1_000_000)
        #expect(Array(result.bytes[0..<common]) == Array(expected[0..<common]))
    }

    @Test func aWrongChecksumIsCorruptData() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // Flip a byte of the CRC-32 in the trailer (the last 8 bytes are CRC-32, then length).
        try shell(
            "gzip -c b.txt > c.gz && size=$(stat -c %s c.gz)"
                + " && printf '\\377' | dd of=c.gz bs=1 seek=$((size - 8)) conv=notrunc status=none",
            in: directory)
        let result = try inflate(directory + "/c.gz")
        #expect(result.damage == .corrupt(detail: "incorrect data check"))
    }
}
