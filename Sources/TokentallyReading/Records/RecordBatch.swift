import TokentallySystem
/// The lines of a `LineBatch` and what parsing made of each, in line order: the unit that
/// parsing threads hand to the counting thread.
///
/// An accepted record's strings point into the batch: into the lines themselves, or, for a
/// string that held escapes, into the batch's own arena of decoded text (the parser's decoding
/// buffers are reused at its next line). They are valid until the batch is refilled. All the
/// memory is kept from batch to batch, so steady-state parsing allocates nothing per line.
public final class RecordBatch {
    /// What one line came to.
    public struct ParsedLine {
        public var outcome: RecordParser.Outcome
        /// The record, when `outcome` is `.accepted`.
        public var record: GatewayRecord
        public var lineNumber: UInt64
    }

    public let lines: LineBatch
    @exclusivity(unchecked) public private(set) var parsed: [ParsedLine] = []
    @exclusivity(unchecked) private var decodedText = TextArena()

    public init(lines: LineBatch) {
        self.lines = lines
        parsed.reserveCapacity(lines.lines.capacity)
    }

    deinit { decodedText.deallocate() }

    /// Parses every line of `lines` with `parser`, replacing what an earlier parse left.
    /// Gives back the memory of the lines, the parsed records and the decoded text, while the
    /// batch is not in use; it grows again when next filled.
    func release() {
        lines.release()
        parsed = []
        decodedText.release()
    }

    public func parse(with parser: RecordParser) {
        parsed.removeAll(keepingCapacity: true)
        decodedText.removeAll()
        for index in lines.lines.indices {
            let lineNumber = lines.lines[index].lineNumber
            switch lines.event(at: index) {
            case .tooLong:
                parsed.append(
                    ParsedLine(
                        outcome: .rejected(Rejection(.lineTooLong)), record: GatewayRecord(), lineNumber: lineNumber))
            case .line(let bytes):
                let outcome = parser.parse(bytes)
                var record = GatewayRecord()
                if case .accepted = outcome {
                    record = parser.record
                    keep(&record.apiKey)
                    keep(&record.model)
                    keep(&record.provider)
                    keep(&record.requestID)
                }
                parsed.append(ParsedLine(outcome: outcome, record: record, lineNumber: lineNumber))
            }
        }
    }

    /// Reads a byte of every accepted record's dimension strings, so that the lines they lie in
    /// move into the calling core's cache all at once instead of one miss at a time while the
    /// records are counted: the lines were written by other cores, and counting, which hashes
    /// the strings first, stalls on each. (Measured: half of counting's time went there.)
    public func warmDimensions() {
        var touched: UInt8 = 0
        for line in parsed {
            touched ^= line.record.apiKey.first ?? 0
            touched ^= line.record.model.first ?? 0
            touched ^= line.record.provider.first ?? 0
        }
        // Kept, so that the reads are not optimised away.
        warmth = touched
    }
    @exclusivity(unchecked) private var warmth: UInt8 = 0

    /// Moves a string decoded into the parser's buffers into the batch.
    @inline(__always)
    private func keep(_ text: inout UnsafeRawBufferPointer) {
        if lines.holds(text) { return }
        text = decodedText.copy(text)
    }
}

/// Room for the decoded strings of one batch: blocks of memory that are filled in turn and kept
/// for the next batch. A block is never moved or resized, so the copies stay where they are.
private struct TextArena {
    private static let blockSize = 64 << 10
    private var blocks: [UnsafeMutableRawBufferPointer] = []
    /// The block being filled, and how far.
    private var block = 0
    private var used = 0

    mutating func copy(_ text: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        while block < blocks.count && blocks[block].count - used < text.count {
            block += 1
            used = 0
        }
        if block == blocks.count {
            blocks.append(.allocate(byteCount: max(Self.blockSize, text.count), alignment: 16))
            used = 0
        }
        let target = blocks[block].baseAddress! + used
        if let source = text.baseAddress { target.copyMemory(from: source, byteCount: text.count) }
        used += text.count
        return UnsafeRawBufferPointer(start: target, count: text.count)
    }

    mutating func removeAll() {
        block = 0
        used = 0
    }

    /// Frees the blocks and starts over empty.
    mutating func release() {
        deallocate()
        self = TextArena()
    }

    /// Frees the blocks; the arena must not be used afterwards.
    func deallocate() {
        for block in blocks { block.deallocate() }
    }
}
