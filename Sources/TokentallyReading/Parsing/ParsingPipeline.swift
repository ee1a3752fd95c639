import Foundation
import TokentallySystem

/// A byte source being read as lines: the source, and the line reader that holds its partial
/// last line between reads. A followed file keeps one as long as it is open; replay makes one
/// per file.
public final class LineStream {
    public let source: any ByteSource
    @exclusivity(unchecked) public var reader: LineReader

    public init(source: any ByteSource, maxLineBytes: Int, readSize: Int = 256 << 10) {
        self.source = source
        self.reader = LineReader(maxLineBytes: maxLineBytes, readSize: readSize)
    }
}

/// Which parser a read needs: a format's mapping (with the zone of its offset-less times) under
/// a name that tells parsers apart, and the latest time a record may have.
public struct ParserChoice: Sendable {
    /// Parsers are made once per thread and name, and kept.
    public var name: String
    public var mapping: FieldMapping
    public var naiveTimezone: String?
    /// `RecordParser.notAfterEpochSeconds`, set before each batch is parsed.
    public var notAfterEpochSeconds: Double

    public init(
        name: String, mapping: FieldMapping, naiveTimezone: String? = nil, notAfterEpochSeconds: Double = .infinity
    ) {
        self.name = name
        self.mapping = mapping
        self.naiveTimezone = naiveTimezone
        self.notAfterEpochSeconds = notAfterEpochSeconds
    }
}

/// The one way lines become records, for both drivers (replay's one pass and the daemon's live
/// following): batches of a stream's complete lines are read in file order and parsed on
/// `parserThreads` threads of the pipeline's own, and handed back to the caller in file order,
/// who counts them; so counting sees the lines exactly as one thread would, while reading,
/// inflating and parsing use the other cores. With no threads, the caller reads and parses each
/// batch itself: the same path, on one core.
///
/// The threads are made once and wait between reads, so the daemon, which reads a little at a
/// time, pays for no thread per read. In a read, each thread in turn takes the stream (under a
/// lock), reads one chunk's complete lines into the next free `RecordBatch` of a ring, lets go
/// and parses the batch with its own `RecordParser`. While the oldest batch is not parsed yet,
/// the caller reads and parses the next one itself rather than wait, so that with
/// `parserThreads` one fewer than the cores every core is busy. A batch is reused once the
/// caller is done with it, so at most `8 × (parserThreads + 1)` batches are in flight and memory
/// stays bounded however far the threads could run ahead. (Eight per thread let them run far
/// enough ahead that counting rarely waits: measured 5–10% faster than two on two cores.)
///
/// One read at a time; not for several callers at once.
public final class ParsingPipeline {
    public let parserThreads: Int
    private let ring: Ring
    /// The caller's own parsers, for the batches it parses itself.
    @exclusivity(unchecked) private var callerParsers = ParserCache()

    /// - Parameter chunkBytes: bytes read from a stream at a time, the lines of one batch.
    public init(parserThreads: Int, chunkBytes: Int = 256 << 10) {
        self.parserThreads = max(parserThreads, 0)
        // One read's lines, and the partial line held back from the read before when it is not
        // very long: a batch grows only for longer lines.
        let batchBytes = chunkBytes + (64 << 10)
        ring = Ring(
            batches: (0..<(8 * (self.parserThreads + 1))).map { _ in
                RecordBatch(lines: LineBatch(capacity: batchBytes))
            },
            threadCount: self.parserThreads)
        let ring = self.ring
        for _ in 0..<self.parserThreads {
            let thread = Thread { ring.work() }
            thread.name = "tokentally parser"
            thread.start()
        }
    }

    deinit {
        ring.stopAndWait()
    }

    /// What a read came to.
    public enum Outcome: Sendable, Equatable {
        /// The stream had nothing more (for now).
        case atEnd
        /// `budget` bytes were read; more may be there.
        case budgetSpent
    }

    /// Reads `stream` until it has nothing more, or about `budget` bytes were read, and calls
    /// `body` with each parsed batch in file order (its records are valid during the call).
    /// With `finishAtEnd`, a last line without a newline is taken too when the stream ends (the
    /// file is complete); otherwise it stays in the stream's reader until its newline comes.
    /// With `finishOnly`, nothing is read: only that last line is taken. A read error of the
    /// stream is thrown after every batch before it was handed to `body`.
    ///
    /// Unless `parallel`, the pipeline's threads are not woken: the caller reads and parses
    /// alone, through the same batches. For a read of a few hundred lines (the daemon following
    /// a live file), handing batches between threads costs more than parsing them: measured,
    /// the daemon following 5k lines/s spent about a fifth of its time switching threads.
    public func read(
        _ stream: LineStream, parser: ParserChoice, budget: Int = .max, finishAtEnd: Bool, finishOnly: Bool = false,
        parallel: Bool = true, _ body: (RecordBatch) throws -> Void
    ) throws -> Outcome {
        ring.begin(
            Ring.Session(
                stream: stream, parser: parser, budget: budget, finishAtEnd: finishAtEnd || finishOnly,
                finishOnly: finishOnly, parallel: parallel && parserThreads > 0))
        defer { ring.end() }
        while let index = try ring.nextParsed(helpingWith: &callerParsers) {
            defer { ring.release(index) }
            try body(ring.batch(index))
        }
        return ring.outcome
    }

    /// Gives back the memory of the batches (about 10 MB once they were all used), between
    /// reads: replay does once it read every file, so that it does not hold them while it
    /// builds and writes its snapshots. A later read grows them again.
    public func releaseBuffers() {
        ring.releaseBatches()
    }
}

/// A thread's parsers, by `ParserChoice.name`.
private struct ParserCache {
    private var parsers: [String: RecordParser] = [:]
    /// The one used last: a followed file asks for the same parser many times a second.
    private var last: (name: String, parser: RecordParser)?

    mutating func parser(for choice: ParserChoice) -> RecordParser {
        if let last, last.name == choice.name {
            last.parser.notAfterEpochSeconds = choice.notAfterEpochSeconds
            return last.parser
        }
        let parser: RecordParser
        defer { last = (choice.name, parser) }
        if let existing = parsers[choice.name] {
            parser = existing
        } else {
            parser = RecordParser(mapping: choice.mapping, naiveTimezone: choice.naiveTimezone)
            parsers[choice.name] = parser
        }
        parser.notAfterEpochSeconds = choice.notAfterEpochSeconds
        return parser
    }
}

/// The batches and their state, shared by the threads. `readLock` guards the session's stream
/// and is held while a batch is filled, so that batches are filled in file order; every other
/// field is read and written under `condition`, except the batches' contents, which belong to
/// one thread at a time (a parser between claiming a batch and `parsed`, the caller between
/// `nextParsed` and `release`). That division is why it is `@unchecked Sendable`.
private final class Ring: @unchecked Sendable {
    struct Session {
        let stream: LineStream
        let parser: ParserChoice
        let budget: Int
        let finishAtEnd: Bool
        let finishOnly: Bool
        /// Whether the threads take part (otherwise they sleep on through it).
        let parallel: Bool
    }

    /// Gives back the batches' memory. Only between reads (no session in progress).
    func releaseBatches() {
        condition.lock()
        defer { condition.unlock() }
        precondition(session == nil, "releasing the batches of a read in progress")
        for batch in batches { batch.release() }
    }

    private let batches: [RecordBatch]
    private let readLock = NSLock()
    private let condition = NSCondition()
    /// Where idle threads sleep between parallel sessions, so that the broadcasts of a session
    /// the caller reads alone wake none of them. `parallelSessions` and `idleStopping` are
    /// under it.
    private let idle = NSCondition()
    private var parallelSessions = 0
    private var idleStopping = false
    /// The read in progress, and a number that tells one read from the next.
    private var session: Session?
    private var sessionNumber = 0
    /// Under `readLock`: bytes read in this session, and whether it read all it will.
    private var spent = 0
    private var inputDone = false
    /// Batches filled by threads and released by the caller so far in this session; batch `n`
    /// lives at index `n % batches.count`.
    private var filled = 0
    private var released = 0
    private var parsed: [Bool]
    private var ended = false
    private var error: (any Error)?
    private(set) var outcome = ParsingPipeline.Outcome.atEnd
    private var stopping = false
    /// Threads between claiming a batch and `parsed` (the caller waits for them before a
    /// session ends, so that none is left parsing a batch of the read before).
    private var busy = 0
    private var runningThreads: Int

    init(batches: [RecordBatch], threadCount: Int) {
        self.batches = batches
        parsed = Array(repeating: false, count: batches.count)
        runningThreads = threadCount
    }

    func batch(_ index: Int) -> RecordBatch { batches[index] }

    // MARK: Sessions

    func begin(_ new: Session) {
        readLock.lock()
        spent = 0
        inputDone = false
        readLock.unlock()
        condition.changing {
            session = new
            sessionNumber &+= 1
            filled = 0
            released = 0
            ended = false
            error = nil
            outcome = .atEnd
            for index in parsed.indices { parsed[index] = false }
        }
        if new.parallel {
            idle.changing { parallelSessions &+= 1 }
        }
    }

    /// Ends the read: the threads finish the batches they hold and wait for the next.
    func end() {
        condition.lock()
        session = nil
        // A thread waiting for a free batch holds the read lock: it must see the end, and let go.
        condition.broadcast()
        while busy > 0 { condition.wait() }
        condition.unlock()
    }

    // MARK: Parser threads

    func work() {
        var parsers = ParserCache()
        var seen = 0
        while true {
            idle.lock()
            while !idleStopping && parallelSessions == seen { idle.wait() }
            let stop = idleStopping
            seen = parallelSessions
            idle.unlock()
            if stop {
                condition.changing { runningThreads -= 1 }
                return
            }
            condition.lock()
            // The session may be over already (the caller read it all), or be a later one.
            guard let current = session, current.parallel, !ended else {
                condition.unlock()
                continue
            }
            let number = sessionNumber
            condition.unlock()
            while let (index, choice) = fillNextBatch(waiting: true, session: number) {
                parse(index, with: parsers.parser(for: choice))
            }
        }
    }

    private func parse(_ index: Int, with parser: RecordParser) {
        batches[index].parse(with: parser)
        condition.changing {
            parsed[index] = true
            busy -= 1
        }
    }

    /// Takes the next free batch of session `number` and fills it with the complete lines of
    /// one read; nil when the session read all it will, or is over. Unless `waiting`, also nil
    /// at once when another thread is reading or no batch is free.
    private func fillNextBatch(waiting: Bool, session number: Int) -> (Int, ParserChoice)? {
        if waiting {
            readLock.lock()
        } else if !readLock.try() {
            return nil
        }
        defer { readLock.unlock() }
        condition.lock()
        while sessionNumber == number && session != nil && !inputDone && !stopping
            && filled - released == batches.count
        {
            if !waiting {
                condition.unlock()
                return nil
            }
            condition.wait()
        }
        guard sessionNumber == number, let current = session, !inputDone, !stopping else {
            condition.unlock()
            return nil
        }
        busy += 1
        condition.unlock()

        let index = filled % batches.count
        let lines = batches[index].lines
        lines.removeAll()
        func add(_ event: LineEvent, _ lineNumber: UInt64) {
            lines.append(event, lineNumber: lineNumber)
        }
        let stream = current.stream
        var failure: (any Error)?
        var reachedEnd = false
        if current.finishOnly {
            stream.reader.finish(add)
            reachedEnd = true
        } else {
            do {
                let before = stream.reader.committedOffset + UInt64(stream.reader.pendingBytes)
                if try stream.reader.read(from: stream.source, budget: 1, add) {
                    reachedEnd = true
                    // The end: with `finishAtEnd`, the last line may have no newline.
                    if current.finishAtEnd { stream.reader.finish(add) }
                }
                let after = stream.reader.committedOffset + UInt64(stream.reader.pendingBytes)
                spent += Int(after &- before)
            } catch {
                // The lines before the error are counted, as when reading on one thread.
                failure = error
                reachedEnd = true
            }
        }
        let budgetSpent = !reachedEnd && spent >= current.budget
        inputDone = reachedEnd || budgetSpent

        condition.changing {
            filled += 1
            if inputDone {
                ended = true
                self.error = failure
                outcome = budgetSpent ? .budgetSpent : .atEnd
            }
        }
        return (index, current.parser)
    }

    // MARK: The caller

    /// The oldest batch once parsed; nil after the last. While it is not parsed yet, the
    /// caller reads and parses the next unread batch itself with its own parser when it can,
    /// rather than wait: so the caller's core, between counting batches, parses too.
    func nextParsed(helpingWith parsers: inout ParserCache) throws -> Int? {
        while true {
            condition.lock()
            let number = sessionNumber
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

            if let (index, choice) = fillNextBatch(waiting: false, session: number) {
                parse(index, with: parsers.parser(for: choice))
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
        idle.changing { idleStopping = true }
        condition.lock()
        while runningThreads > 0 { condition.wait() }
        condition.unlock()
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
