import Foundation
import Testing
import TokentallyReading
import TokentallySamples
import TokentallyNative

/// A fresh directory under the system's temporary directory, removed by `remove()`.
private struct ScratchDirectory {
    let path: String

    init() throws {
        path =
            FileManager.default.temporaryDirectory.appendingPathComponent("tokentally-gzip-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// Runs the host's gzip(1) with `arguments` and returns its exit status and standard output.
private func gzip(_ arguments: [String]) throws -> (status: Int32, output: Data) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/gzip")
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    // Read before waiting, so a large output cannot fill the pipe and stall gzip.
    let output = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, output)
}

/// Text that compresses like a log: repetitive, with some variation on every line.
private func sampleText(lines: Int, tag: String) -> [UInt8] {
    var text = ""
    for index in 0..<lines {
        text += "{\"line\":\(index),\"tag\":\"\(tag)\",\"value\":\(index &* 2_654_435_761 % 1_000_003)}\n"
    }
    return Array(text.utf8)
}

private func write(_ bytes: [UInt8], to sink: GzipFileSink) throws {
    try bytes.withUnsafeBytes { try sink.write($0) }
}

@Suite("GzipFileSink")
struct GzipFileSinkTests {
    @Test func twoMembersDecompressWithGzipToExactlyTheBytesWritten() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        // Large enough to fill the sink's output buffer several times.
        let first = sampleText(lines: 40_000, tag: "first")
        let second = sampleText(lines: 25_000, tag: "second")

        let twoMembers = scratch.path + "/two.gz"
        let sink = try GzipFileSink(path: twoMembers)
        try write(first, to: sink)
        try sink.startNewMember()
        try write(second, to: sink)
        try sink.close()

        let (status, output) = try gzip(["-dc", twoMembers])
        #expect(status == 0)
        // Compared as one Bool: a failure message with megabytes of bytes would help no one.
        let decompressedAsWritten = Array(output) == first + second
        #expect(decompressedAsWritten, "gzip -dc gave \(output.count) bytes for \(first.count + second.count) written")

        // The same first part alone makes one member; the two-member file starts with exactly
        // that member, and the second member's gzip header follows it.
        let oneMember = scratch.path + "/one.gz"
        let single = try GzipFileSink(path: oneMember)
        try write(first, to: single)
        try single.close()
        let oneBytes = Array(try Data(contentsOf: URL(fileURLWithPath: oneMember)))
        let twoBytes = Array(try Data(contentsOf: URL(fileURLWithPath: twoMembers)))
        try #require(twoBytes.count > oneBytes.count + 2)
        let startsWithTheFirstMember = twoBytes.starts(with: oneBytes)
        #expect(startsWithTheFirstMember)
        #expect(twoBytes[oneBytes.count] == 0x1F && twoBytes[oneBytes.count + 1] == 0x8B)
    }

    @Test func aFileWithNothingWrittenIsAnEmptyGzipFile() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let path = scratch.path + "/empty.gz"
        try GzipFileSink(path: path).close()
        let (status, output) = try gzip(["-dc", path])
        #expect(status == 0)
        #expect(output.isEmpty)
    }

    @Test func openingInAMissingDirectoryFailsWithOpenFailed() throws {
        #expect {
            _ = try GzipFileSink(path: "/nonexistent-tokentally-dir/access.log.2.gz")
        } throws: { error in
            (error as? SampleLogError)?.code == .openFailed && (error as? SampleLogError)?.errno == ENOENT
        }
    }

    @Test func generatedRotatedSetReadsBackWithGzipAndPlainReads() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let options = SampleLogOptions(lines: 5000, days: 2, files: 4, seed: 9)
        let summary = try SampleLogGenerator(options: options).write(into: scratch.path, openSink: GzipFileSink.open)

        var total = 0
        for file in summary.files {
            let path = scratch.path + "/" + file.name
            let raw = try Data(contentsOf: URL(fileURLWithPath: path))
            let content: Data
            if file.isGzip {
                #expect(Array(raw.prefix(2)) == [0x1F, 0x8B], "\(file.name) is not gzip")
                let (status, output) = try gzip(["-dc", path])
                #expect(status == 0)
                content = output
            } else {
                #expect(Array(raw.prefix(1)) == [0x7B], "\(file.name) does not start with a JSON object")
                content = raw
            }
            #expect(content.count == file.bytes)
            let lines = content.split(separator: 0x0A, omittingEmptySubsequences: false)
            #expect(lines.last?.isEmpty == true)
            #expect(lines.count - 1 == file.lines)
            total += lines.count - 1
        }
        #expect(total == 5000)
        #expect(summary.files.map(\.name) == ["access.log.3.gz", "access.log.2.gz", "access.log.1", "access.log"])
    }
}
