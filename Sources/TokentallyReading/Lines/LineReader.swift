#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
import TokentallySystem

/// What the line reader hands to its consumer for each line.
public enum LineEvent {
    /// A complete line, without its `\n` (and without a `\r` before it). The bytes are valid
    /// only during the call.
    case line(UnsafeRawBufferPointer)
    /// A line longer than the limit: it was skipped to its end and is not read as new lines.
    case tooLong(byteCount: Int)
}

/// Splits a byte stream into lines.
///
/// Lines are handed out as slices of one reusable buffer: nothing is copied or allocated per
/// line. A line cut by a read boundary is moved to the front of the buffer and completed by the
/// next read. A line longer than `maxLineBytes` is dropped as it streams past, so it never
/// needs more memory than the limit, and the bytes after the limit are never taken for lines.
public struct LineReader: ~Copyable {
    public let maxLineBytes: Int
    private let readSize: Int
    private var buffer: UnsafeMutableRawBufferPointer
    /// Start of the unconsumed bytes (the current partial line).
    private var start = 0
    /// End of the valid bytes.
    private var end = 0
    /// While skipping the remainder of an over-long line: how many bytes were skipped.
    private var skippedBytes: Int? = nil
    /// 1-based number of the last line handed out (including empty and over-long ones).
    public private(set) var lineNumber: UInt64 = 0
    /// Content bytes consumed through the end of the last complete line: the offset a reader
    /// may safely resume at.
    public private(set) var committedOffset: UInt64 = 0

    public init(maxLineBytes: Int, readSize: Int = 1 << 20) {
        self.maxLineBytes = maxLineBytes
        self.readSize = readSize
        // Room for one partial line of up to the limit plus a whole read.
        self.buffer = .allocate(byteCount: readSize + min(maxLineBytes, 4 << 20) + 1, alignment: 64)
    }

    deinit { buffer.deallocate() }

    /// Bytes of an unfinished last line held back (no newline yet).
    public var pendingBytes: Int { skippedBytes ?? (end - start) }

    /// Reads `source` until it has nothing more (or `budget` bytes were read), calling `body`
    /// for each complete line, in order. A last line without a newline is held back until its
    /// newline arrives; call `finish` to hand it out when the file will not grow. Returns true
    /// when the source had nothing more to give.
    @discardableResult
    public mutating func read(
        from source: any ByteSource, budget: Int = .max, _ body: (LineEvent, _ lineNumber: UInt64) throws -> Void
    ) throws -> Bool {
        var spent = 0
        while spent < budget {
            try makeRoomForRead()
            let n = try source.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[end..<(end + readSize)]))
            if n == 0 { return true }
            spent += n
            end += n
            try splitBufferedLines(body)
        }
        return false
    }

    /// Starts over at `offset` of a file, as when resuming it after a restart: line numbers
    /// are unknown (counted from there) and nothing is pending.
    public mutating func reset(toOffset offset: UInt64) {
        reset()
        committedOffset = offset
    }

    /// Hands out a final line that has no newline (at the end of a file that will not grow),
    /// and resets for the next file.
    public mutating func finish(_ body: (LineEvent, _ lineNumber: UInt64) throws -> Void) rethrows {
        if let skipped = skippedBytes {
            lineNumber += 1
            committedOffset += UInt64(skipped)
            skippedBytes = nil
            try body(.tooLong(byteCount: skipped), lineNumber)
        } else if end > start {
            lineNumber += 1
            var length = end - start
            committedOffset += UInt64(length)
            if buffer[start + length - 1] == 0x0D { length -= 1 }
            try body(.line(UnsafeRawBufferPointer(rebasing: buffer[start..<(start + length)])), lineNumber)
        }
        start = 0
        end = 0
    }

    /// Starts over for a new file: line numbers and offsets from zero.
    public mutating func reset() {
        start = 0
        end = 0
        skippedBytes = nil
        lineNumber = 0
        committedOffset = 0
    }

    private mutating func makeRoomForRead() throws {
        if start == end {
            start = 0
            end = 0
            return
        }
        let pending = end - start
        // Move the partial line to the front: always when it is shorter than a read (less than
        // a line copied per read), so that reads land in the first two reads' worth of the
        // buffer and its room for a line of up to the limit is never touched, so never resident,
        // unless such a line comes; a longer one only when no read fits after it. It is at most
        // maxLineBytes long (or we would be skipping), and the buffer was sized for that plus a
        // read.
        if buffer.count - end >= readSize && (start == 0 || pending > readSize) { return }
        if pending + readSize > buffer.count {
            let grown = UnsafeMutableRawBufferPointer.allocate(byteCount: pending + readSize, alignment: 64)
            grown.baseAddress!.copyMemory(from: buffer.baseAddress! + start, byteCount: pending)
            buffer.deallocate()
            buffer = grown
        } else {
            memmove(buffer.baseAddress!, buffer.baseAddress! + start, pending)
        }
        start = 0
        end = pending
    }

    private mutating func splitBufferedLines(_ body: (LineEvent, _ lineNumber: UInt64) throws -> Void) throws {
        let base = buffer.baseAddress!
        while start < end {
            let found = memchr(base + start, 0x0A, end - start)
            guard let newline = found else { break }
            let lineEnd = UnsafeRawPointer(base).distance(to: UnsafeRawPointer(newline))
            if let skipped = skippedBytes {
                // The end of an over-long line: drop through its newline.
                let total = skipped + (lineEnd - start)
                skippedBytes = nil
                lineNumber += 1
                committedOffset += UInt64(total + 1)
                start = lineEnd + 1
                try body(.tooLong(byteCount: total), lineNumber)
                continue
            }
            var length = lineEnd - start
            lineNumber += 1
            committedOffset += UInt64(length + 1)
            if length > 0 && base.load(fromByteOffset: lineEnd - 1, as: UInt8.self) == 0x0D { length -= 1 }
            let line = UnsafeRawBufferPointer(start: base + start, count: length)
            start = lineEnd + 1
            if length > maxLineBytes {
                try body(.tooLong(byteCount: length), lineNumber)
            } else {
                try body(.line(line), lineNumber)
            }
        }
        // No newline in what is left: either a partial line still within the limit, or the
        // start (or continuation) of a line that is already too long.
        let pending = end - start
        if let skipped = skippedBytes {
            skippedBytes = skipped + pending
            start = 0
            end = 0
        } else if pending > maxLineBytes + 1 {
            // +1: a `\r` that may precede the newline is not part of the line.
            skippedBytes = pending
            start = 0
            end = 0
        }
    }
}
