import TokentallySystem
import Foundation

/// Reads and parses one file's lines on `parserCount` threads of their own, handing the parsed
/// batches back to the caller in file order: the caller counts them, so counting sees the lines
/// in exactly the order a single thread would, while reading, inflating and parsing, which
/// depend on nothing but the line, use the other cores.
///
/// Each parser thread in turn takes the file (one `LineReader` over the source, under a lock),
/// reads one chunk's complete lines into the next free `RecordBatch` of a ring, lets go of the
/// file and parses the batch with its own `RecordParser`; the core that parses a batch is the
/// one that just copied its bytes. `next` hands out the oldest batch once it is parsed; while
/// it is not, the caller takes the file and parses the next batch itself rather than wait, so
/// that with `parserCount` one fewer than the cores every core is busy and no thread has to
/// share one. A batch is reused once the caller `release`s it, so at most
/// `8 × (parserCount + 1)` batches are in flight and memory stays bounded however far the
/// parsers could run ahead. (Eight per parsing thread let them run far enough ahead that
/// counting rarely waits: measured 5–10% faster than two on two cores.)
///
/// The source belongs to the pipeline from `init` on. A read error of the source is thrown by
/// the `next` that reaches it, after every batch before it. Deinitialising the pipeline stops
/// its threads and waits for them.
public final class ParsingPipeline {
    private let ring: Ring
    /// The batch `next` handed out and not yet released.
    private var current: Int?
    /// The parser `next` uses to parse batches itself while it would otherwise wait.
    private let callerParser: RecordParser

    /// - Parameters:
    ///   - parserCount: threads that read and parse; at least 1.
    ///   - chunkBytes: bytes read from the source at a time, the lines of one batch.
    public init(
        source: any ByteSource, mapping: FieldMapping, maxLineBytes: Int, parserCount: Int, chunkBytes: Int = 256 << 10,
        naiveTimezone: String? = nil, notAfterEpochSeconds: Double = .infinity
    ) {
        let parserCount = max(parserCount, 1)
        @Sendable func makeParser() -> RecordParser {
            let parser = RecordParser(mapping: mapping, naiveTimezone: naiveTimezone)
            parser.notAfterEpochSeconds = notAfterEpochSeconds
            return parser
        }
        callerParser = makeParser()
        // One read's lines, and the partial line held back from the read before when it is not
        // very long: a batch grows only for longer lines.
        let batchBytes = chunkBytes + (64 << 10)
        ring = Ring(
            batches: (0..<(8 * (parserCount + 1))).map { _ in
                RecordBatch(lines: LineBatch(capacity: batchBytes))
            },
            input: Input(source: source, reader: LineReader(maxLineBytes: maxLineBytes, readSize: chunkBytes)),
            threadCount: parserCount)
        let ring = self.ring
        for _ in 0..<parserCount {
            let parser = Thread { ring.work(with: makeParser()) }
            parser.name = "tokentally parser"
            parser.start()
        }
    }

    deinit {
        ring.stopAndWait()
    }

    /// The next batch in file order, once parsed; nil after the last. Call `release` when done
    /// with it, before the next call.
    public func next() throws -> RecordBatch? {
        if current != nil { release() }
        guard let index = try ring.nextParsed(helpingWith: callerParser) else { return nil }
        current = index
        return ring.batch(index)
    }

    /// Gives the batch `next` returned back to the parsers.
    public func release() {
        guard let index = current else { return }
        current = nil
        ring.release(index)
    }

    /// Content bytes through the last complete line; final once `next` returned nil.
    public var committedOffset: UInt64 { ring.outcome.committedOffset }

    /// The source's damage; final once `next` returned nil.
    public var damage: String? { ring.outcome.damage }

    /// The file being read: used by one parser thread at a time, under `Ring.readLock`.
    private final class Input {
        let source: any ByteSource
        var reader: LineReader
        /// The source reached its end or failed: nothing more to read.
        var done = false

        init(source: any ByteSource, reader: consuming LineReader) {
            self.source = source
            self.reader = reader
        }
    }

    /// The batches and their state, shared by the threads. `readLock` guards `input`, and is
    /// held while a batch is filled, so that batches are filled in file order; every other
    /// field is read and written under `condition`, except the batches' contents, which belong
    /// to one thread at a time (a parser between claiming a batch and `parsed`, the caller
    /// between `nextParsed` and `release`).
    private final class Ring: @unchecked Sendable {
        private let batches: [RecordBatch]
        private let input: Input
        private let readLock = NSLock()
        private let condition = NSCondition()
        /// Batches filled by parsers and released by the caller so far; batch `n` lives at
        /// index `n % batches.count`.
        private var filled = 0
        private var released = 0
        private var parsed: [Bool]
        private var ended = false
        private var error: (any Error)?
        private var finalOutcome: (committedOffset: UInt64, damage: String?) = (0, nil)
        private var stopping = false
        private var runningThreads: Int

        init(batches: [RecordBatch], input: Input, threadCount: Int) {
            self.batches = batches
            self.input = input
            parsed = Array(repeating: false, count: batches.count)
            runningThreads = threadCount
        }

        func batch(_ index: Int) -> RecordBatch { batches[index] }

        /// The reader's final offset and the source's damage.
        var outcome: (committedOffset: UInt64, damage: String?) {
            condition.lock()
            defer { condition.unlock() }
            return finalOutcome
        }

        // MARK: Parser threads

        func work(with parser: RecordParser) {
            while let index = fillNextBatch(waiting: true) {
                parse(index, with: parser)
            }
            condition.changing { runningThreads -= 1 }
        }

        private func parse(_ index: Int, with parser: RecordParser) {
            batches[index].parse(with: parser)
            condition.changing { parsed[index] = true }
        }

        /// Takes the next free batch and fills it with the complete lines of one read; nil when
        /// the file is done or the pipeline stops. Unless `waiting`, also nil at once when
        /// another thread is reading or no batch is free.
        private func fillNextBatch(waiting: Bool) -> Int? {
            if waiting {
                readLock.lock()
            } else if !readLock.try() {
                return nil
            }
            defer { readLock.unlock() }
            if input.done { return nil }
            condition.lock()
            if !waiting && filled - released == batches.count {
                condition.unlock()
                return nil
            }
            while filled - released == batches.count && !stopping { condition.wait() }
            let stop = stopping
            condition.unlock()
            if stop { return nil }

            let index = filled % batches.count
            let lines = batches[index].lines
            lines.removeAll()
            func add(_ event: LineEvent, _ lineNumber: UInt64) {
                lines.append(event, lineNumber: lineNumber)
            }
            var failure: (any Error)?
            do {
                if try input.reader.read(from: input.source, budget: 1, add) {
                    // The end: the last line may have no newline (the file is taken as complete).
                    input.reader.finish(add)
                    input.done = true
                }
            } catch {
                // The lines before the error are counted, as when reading on one thread.
                failure = error
                input.done = true
            }

            condition.changing {
                filled += 1
                if input.done {
                    ended = true
                    self.error = failure
                    finalOutcome = (input.reader.committedOffset, input.source.damage)
                }
            }
            return index
        }

        // MARK: The caller

        /// The oldest batch once parsed; nil after the last. While it is not parsed yet, the
        /// caller reads and parses the next unread batch itself with `parser` when it can,
        /// rather than wait: so the caller's core, between counting batches, parses too.
        func nextParsed(helpingWith parser: RecordParser) throws -> Int? {
            while true {
                condition.lock()
                if released < filled {
                    let index = released % batches.count
                    if parsed[index] {
                        condition.unlock()
                        return index
                    }
                } else if ended {
                    condition.unlock()
                    if let error { throw error }
                    return nil
                }
                condition.unlock()

                if let index = fillNextBatch(waiting: false) {
                    parse(index, with: parser)
                    continue
                }

                condition.lock()
                let ready = released < filled ? parsed[released % batches.count] : ended
                if !ready { condition.wait() }
                condition.unlock()
            }
        }

        func release(_ index: Int) {
            condition.changing {
                parsed[index] = false
                released += 1
            }
        }

        func stopAndWait() {
            condition.changing { stopping = true }
            condition.lock()
            while runningThreads > 0 { condition.wait() }
            condition.unlock()
        }
    }
}

extension NSCondition {
    /// Runs `change` under the lock and wakes every waiting thread, which re-checks its
    /// condition: the one way the threads that share a condition tell each other of a change.
    func changing<T>(_ change: () throws -> T) rethrows -> T {
        lock()
        defer {
            broadcast()
            unlock()
        }
        return try change()
    }
}
