import TokentallySystem
import TokentallyReading
import TokentallySamples
import CIsal

/// The decompressed content of a gzip file, member after member (`cat a.gz b.gz` is one stream).
///
/// Inflated by ISA-L's igzip, which decodes deflate several times faster than zlib (gzip replay
/// is bound by it); it checks each member's header, CRC-32 and length as gzip(1) does.
///
/// A file cut short, or corrupt data, ends the stream and sets `damage`: every byte inflated
/// before that point is still returned, so the lines before the damage are counted.
public final class GzipByteSource: ByteSource {
    private let compressed: FileByteSource
    /// Heap-allocated: the state holds its own 64 KiB window and must not move.
    private let state: UnsafeMutablePointer<inflate_state>
    @exclusivity(unchecked) private var input: UnsafeMutableRawBufferPointer
    @exclusivity(unchecked) private var inputEnd = false
    @exclusivity(unchecked) private var memberEnded = false
    @exclusivity(unchecked) private var finished = false
    @exclusivity(unchecked) public private(set) var damage: Damage?
    /// Decompressed bytes returned so far.
    @exclusivity(unchecked) private(set) var bytesInflated: UInt64 = 0

    /// A `GunzipFactory` for `LogFileOpener`.
    public static let factory: GunzipFactory = { (file) throws(FileReadError) -> any ByteSource in
        try GzipByteSource(compressed: file)
    }

    public init(compressed: FileByteSource, inputBufferSize: Int = 256 * 1024) throws(FileReadError) {
        self.compressed = compressed
        self.input = .allocate(byteCount: inputBufferSize, alignment: 16)
        self.state = .allocate(capacity: 1)
        Self.startMember(state)
    }

    deinit {
        state.deallocate()
        input.deallocate()
    }

    /// Resets the decoder for a gzip member: header, deflate data, CRC-32 and length trailer.
    private static func startMember(_ state: UnsafeMutablePointer<inflate_state>) {
        isal_inflate_init(state)
        state.pointee.crc_flag = UInt32(ISAL_GZIP)
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(FileReadError) -> Int {
        guard !finished, buffer.count > 0 else { return 0 }
        state.pointee.next_out = buffer.baseAddress!.assumingMemoryBound(to: UInt8.self)
        state.pointee.avail_out = UInt32(buffer.count)
        while state.pointee.avail_out > 0 {
            if state.pointee.avail_in == 0 && !inputEnd {
                let n = try compressed.read(into: input)
                if n == 0 {
                    inputEnd = true
                } else {
                    state.pointee.next_in = input.baseAddress!.assumingMemoryBound(to: UInt8.self)
                    state.pointee.avail_in = UInt32(n)
                }
            }
            if memberEnded {
                // Between members: another member must start with the gzip magic; anything else
                // is trailing garbage (gzip(1) warns about it and ignores it, and so do we).
                guard state.pointee.avail_in > 0 else {
                    if inputEnd {
                        finished = true
                        break
                    }
                    continue
                }
                let next = state.pointee.next_in!
                if next[0] == 0 {
                    // Zero padding after the last member (tape-style) is harmless.
                    state.pointee.next_in = next + 1
                    state.pointee.avail_in -= 1
                    continue
                }
                if next[0] != 0x1F {
                    damage = .trailingData
                    finished = true
                    break
                }
                // Initialising clears the buffers it was given: hand them back.
                let (pending, output, room) = (state.pointee.avail_in, state.pointee.next_out, state.pointee.avail_out)
                Self.startMember(state)
                state.pointee.next_in = next
                state.pointee.avail_in = pending
                state.pointee.next_out = output
                state.pointee.avail_out = room
                memberEnded = false
            }
            let outBefore = state.pointee.avail_out
            let inBefore = state.pointee.avail_in
            let status = isal_inflate(state)
            if status < 0 {
                damage = .corrupt(detail: Self.describe(status))
                finished = true
                break
            }
            if state.pointee.block_state == ISAL_BLOCK_FINISH {
                memberEnded = true
                continue
            }
            let progressed = state.pointee.avail_out != outBefore || state.pointee.avail_in != inBefore
            if state.pointee.avail_in == 0 && inputEnd && !progressed {
                // The input is over and the decoder has nothing left to give: the member stops in
                // the middle (a file cut short, or one still being written).
                damage = .cutShort(
                    decompressedBytes: bytesInflated + UInt64(buffer.count) - UInt64(state.pointee.avail_out))
                finished = true
                break
            }
        }
        let produced = buffer.count - Int(state.pointee.avail_out)
        bytesInflated += UInt64(produced)
        return produced
    }

    /// What igzip's error codes mean, in gzip(1)'s words where it has them.
    private static func describe(_ status: Int32) -> String {
        switch status {
        case ISAL_INVALID_BLOCK: "invalid block type"
        case ISAL_INVALID_SYMBOL: "invalid code in the compressed data"
        case ISAL_INVALID_LOOKBACK: "invalid distance too far back"
        case ISAL_INVALID_WRAPPER: "not a gzip header"
        case ISAL_UNSUPPORTED_METHOD: "unknown compression method"
        case ISAL_INCORRECT_CHECKSUM: "incorrect data check"
        default: "igzip error \(status)"
        }
    }
}
