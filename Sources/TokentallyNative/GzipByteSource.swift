import TokentallySystem
import TokentallyReading
import TokentallySamples
import CZlib

/// The decompressed content of a gzip file, member after member (`cat a.gz b.gz` is one stream).
///
/// A file cut short, or corrupt data, ends the stream and sets `damage`: every byte inflated
/// before that point is still returned, so the lines before the damage are counted.
public final class GzipByteSource: ByteSource {
    private let compressed: FileByteSource
    /// Heap-allocated: zlib keeps the stream's address and checks it never moves.
    private let streamPointer: UnsafeMutablePointer<z_stream>
    private var stream: z_stream {
        get { streamPointer.pointee }
        _modify { yield &streamPointer.pointee }
    }
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
        self.streamPointer = .allocate(capacity: 1)
        streamPointer.initialize(to: z_stream())
        // 15 + 32: a 32 KiB window and automatic gzip/zlib header detection.
        let status = CZlib_inflateInit2(streamPointer, 15 + 32)
        guard status == Z_OK else {
            input.deallocate()
            streamPointer.deallocate()
            throw FileReadError(
                code: .decompressorFailed, path: compressed.path, message: "zlib could not start (code \(status))")
        }
    }

    deinit {
        inflateEnd(streamPointer)
        streamPointer.deallocate()
        input.deallocate()
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(FileReadError) -> Int {
        guard !finished, buffer.count > 0 else { return 0 }
        stream.next_out = buffer.baseAddress!.assumingMemoryBound(to: Bytef.self)
        stream.avail_out = UInt32(buffer.count)
        while stream.avail_out > 0 {
            if stream.avail_in == 0 && !inputEnd {
                let n = try compressed.read(into: input)
                if n == 0 {
                    inputEnd = true
                } else {
                    stream.next_in = input.baseAddress!.assumingMemoryBound(to: Bytef.self)
                    stream.avail_in = UInt32(n)
                }
            }
            if memberEnded {
                // Between members: another member must start with the gzip magic; anything else
                // is trailing garbage (gzip(1) warns about it and ignores it, and so do we).
                guard stream.avail_in > 0 else {
                    if inputEnd {
                        finished = true
                        break
                    }
                    continue
                }
                if stream.next_in[0] == 0 {
                    // Zero padding after the last member (tape-style) is harmless.
                    stream.next_in += 1
                    stream.avail_in -= 1
                    continue
                }
                if stream.next_in[0] != 0x1F {
                    damage = .trailingData
                    finished = true
                    break
                }
                inflateReset(streamPointer)
                memberEnded = false
            }
            if stream.avail_in == 0 && inputEnd {
                damage = .cutShort(decompressedBytes: bytesInflated + UInt64(buffer.count) - UInt64(stream.avail_out))
                finished = true
                break
            }
            let status = inflate(streamPointer, Z_NO_FLUSH)
            switch status {
            case Z_OK:
                continue
            case Z_STREAM_END:
                memberEnded = true
            case Z_BUF_ERROR:
                // No progress possible: more input is needed (handled at the top of the loop).
                if stream.avail_in == 0 && inputEnd {
                    damage = .cutShort(decompressedBytes: nil)
                    finished = true
                }
                if finished { break }
                continue
            default:
                let detail = stream.msg.map { String(cString: $0) } ?? "code \(status)"
                damage = .corrupt(detail: detail)
                finished = true
            }
            if finished { break }
        }
        let produced = buffer.count - Int(stream.avail_out)
        bytesInflated += UInt64(produced)
        return produced
    }
}
