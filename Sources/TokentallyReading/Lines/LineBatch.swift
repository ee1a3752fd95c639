import TokentallySystem
/// Complete lines copied out of a `LineReader` into one block of memory, so that another thread
/// can parse them while the reader goes on.
///
/// A batch is filled by one thread, then handed whole to the next; its storage is allocated
/// once and reused batch after batch, so filling and emptying it allocates nothing per line.
/// It grows when a line does not fit (a line longer than what is left), which only lines far
/// longer than usual make it do; it keeps its size afterwards.
public final class LineBatch {
    /// One line of the batch: where its bytes are, or that it was over the limit.
    public struct Line {
        /// Offset and length of the line's bytes in the batch (zero for an over-long line).
        var offset: Int
        public var length: Int
        /// The line's 1-based number in its file, as the line reader counted it.
        public var lineNumber: UInt64
        /// The over-long line's size; nil for a line that was kept.
        var tooLongByteCount: Int?
    }

    @exclusivity(unchecked) private var storage: UnsafeMutableRawBufferPointer
    @exclusivity(unchecked) private var used = 0
    @exclusivity(unchecked) public private(set) var lines: [Line] = []

    /// - Parameter capacity: bytes of line content the batch holds before it must grow.
    public init(capacity: Int) {
        storage = .allocate(byteCount: max(capacity, 1), alignment: 64)
        lines.reserveCapacity(storage.count / 256)
    }

    deinit { storage.deallocate() }

    /// Bytes the batch can hold in all.
    var capacity: Int { storage.count }

    /// True when no line was added since the last `removeAll`.
    var isEmpty: Bool { lines.isEmpty }

    /// Adds a line as the line reader handed it out. Its bytes are copied; the batch grows if
    /// they do not fit. (Lines are located by offset, so growing moves nothing that was handed
    /// out: a batch is only read once it is full.)
    func append(_ event: LineEvent, lineNumber: UInt64) {
        switch event {
        case .tooLong(let byteCount):
            lines.append(Line(offset: used, length: 0, lineNumber: lineNumber, tooLongByteCount: byteCount))
        case .line(let bytes):
            if bytes.count > storage.count - used { grow(toHold: used + bytes.count) }
            if let source = bytes.baseAddress {
                (storage.baseAddress! + used).copyMemory(from: source, byteCount: bytes.count)
            }
            lines.append(Line(offset: used, length: bytes.count, lineNumber: lineNumber, tooLongByteCount: nil))
            used += bytes.count
        }
    }

    private func grow(toHold byteCount: Int) {
        let grown = UnsafeMutableRawBufferPointer.allocate(byteCount: max(byteCount, storage.count * 2), alignment: 64)
        grown.baseAddress!.copyMemory(from: storage.baseAddress!, byteCount: used)
        storage.deallocate()
        storage = grown
    }

    /// The line at `index` as the line reader handed it out; its bytes are valid until the
    /// batch is emptied.
    @inline(__always)
    func event(at index: Int) -> LineEvent {
        let line = lines[index]
        if let byteCount = line.tooLongByteCount { return .tooLong(byteCount: byteCount) }
        return .line(UnsafeRawBufferPointer(start: storage.baseAddress! + line.offset, count: line.length))
    }

    /// True when `bytes` lie inside the batch's storage.
    @inline(__always)
    func holds(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let start = bytes.baseAddress else { return true }
        let base = UnsafeRawPointer(storage.baseAddress!)
        return start >= base && start + bytes.count <= base + storage.count
    }

    /// Empties the batch and gives its memory back; it grows again when next filled.
    func release() {
        removeAll()
        storage.deallocate()
        storage = .allocate(byteCount: 1, alignment: 64)
        lines = []
    }

    /// Empties the batch, keeping its memory.
    func removeAll() {
        used = 0
        lines.removeAll(keepingCapacity: true)
    }
}
