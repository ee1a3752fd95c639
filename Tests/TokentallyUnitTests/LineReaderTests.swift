import Testing

@testable import TokentallySystem
@testable import TokentallyReading
@testable import TokentallyCounting
@testable import TokentallyOutput
@testable import TokentallyConfiguration
@testable import TokentallyReplay
@testable import TokentallyDaemon
@testable import TokentallySamples

/// A byte source that hands out its bytes in chunks of chosen sizes.
private final class ChunkedSource: ByteSource {
    let bytes: [UInt8]
    let chunk: Int
    var offset = 0
    /// How far into the buffer, from where the first read began, any read filled bytes.
    private var firstStart: UnsafeMutableRawPointer?
    private(set) var reach = 0
    var damage: Damage? { nil }

    init(_ bytes: [UInt8], chunk: Int) {
        self.bytes = bytes
        self.chunk = chunk
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws(FileReadError) -> Int {
        let n = min(chunk, buffer.count, bytes.count - offset)
        if firstStart == nil { firstStart = buffer.baseAddress }
        reach = max(reach, firstStart!.distance(to: buffer.baseAddress! + n))
        for i in 0..<n { buffer[i] = bytes[offset + i] }
        offset += n
        return n
    }
}

private enum Seen: Equatable {
    case line(String)
    case tooLong(Int)
}

private func lines(_ text: [UInt8], chunk: Int, max: Int = 64, readSize: Int = 16) throws -> [Seen] {
    var reader = LineReader(maxLineBytes: max, readSize: readSize)
    var seen: [Seen] = []
    let collect: (LineEvent, UInt64) -> Void = { event, _ in
        switch event {
        case .line(let bytes): seen.append(.line(String(decoding: bytes, as: UTF8.self)))
        case .tooLong(let n): seen.append(.tooLong(n))
        }
    }
    try reader.read(from: ChunkedSource(text, chunk: chunk), collect)
    reader.finish(collect)
    return seen
}

@Suite struct LineReaderTests {
    @Test(arguments: [1, 2, 3, 7, 16])
    func linesSplitAtAnyByteComeOutWhole(chunk: Int) throws {
        let text = Array("alpha\nbeta\r\n\ngamma delta\nlast".utf8)
        #expect(
            try lines(text, chunk: chunk) == [
                .line("alpha"), .line("beta"), .line(""), .line("gamma delta"), .line("last"),
            ])
    }

    @Test(arguments: [1, 5, 16])
    func overLongLinesAreSkippedToTheirEnd(chunk: Int) throws {
        // The long line holds what looks like JSON lines but no newline: none may come out.
        let long = String(repeating: "{\"a\":1}", count: 40)
        let text = Array("ok1\n\(long)\nok2\n".utf8)
        let seen = try lines(text, chunk: chunk, max: 32)
        #expect(seen == [.line("ok1"), .tooLong(long.utf8.count), .line("ok2")])
    }

    /// The buffer has room for a line of up to the limit besides a read, but lines shorter than
    /// a read never make it use that room: its pages stay untouched, so not resident.
    @Test func shortLinesKeepReadsInTheFirstTwoReadsOfTheBuffer() throws {
        let text = Array((0..<2_000).map { "line \($0) \(String(repeating: "x", count: $0 % 50))\n" }.joined().utf8)
        var reader = LineReader(maxLineBytes: 4_096, readSize: 64)
        let source = ChunkedSource(text, chunk: 64)
        var count = 0
        try reader.read(from: source) { _, _ in count += 1 }
        #expect(count == 2_000)
        #expect(source.reach <= 2 * 64)
    }

    @Test func committedOffsetStopsAtTheLastNewline() throws {
        var reader = LineReader(maxLineBytes: 64, readSize: 8)
        let source = ChunkedSource(Array("one\ntwo\nthr".utf8), chunk: 5)
        var count = 0
        try reader.read(from: source) { _, _ in count += 1 }
        #expect(count == 2)
        #expect(reader.committedOffset == 8)
        #expect(reader.pendingBytes == 3)
    }
}
