import TokentallySystem
import Foundation

/// Reads another `ByteSource` ahead on a thread of its own, so that producing bytes and
/// consuming them overlap on two cores: a gzip file is inflated on one while its lines are
/// parsed and counted on the other (inflating alone takes about as long as parsing).
///
/// The wrapped source belongs to the read-ahead thread from `init` on: nothing else may touch
/// it. The thread fills a ring of `chunkCount` buffers of `chunkSize` bytes and waits while all
/// are full; `read` hands their bytes out in order. A read error of the wrapped source is
/// thrown by the `read` that reaches it, after every byte before it. Deinitialising the reader
/// stops the thread and waits for it, so the wrapped source is released on the caller's side.
public final class ReadAheadByteSource: ByteSource {
    private let ring: Ring
    /// The chunk being handed out, and how far.
    @exclusivity(unchecked) private var current: (index: Int, offset: Int, count: Int)?

    public init(_ source: any ByteSource, chunkSize: Int = 1 << 20, chunkCount: Int = 4) {
        ring = Ring(chunkSize: chunkSize, chunkCount: chunkCount)
        let ring = self.ring
        let producer = Producer(source: source)
        let thread = Thread { ring.fill(from: producer) }
        thread.name = "tokentally read-ahead"
        thread.start()
    }

    deinit {
        ring.stopAndWait()
    }

    /// The wrapped source's damage, known once every byte was read.
    public var damage: Damage? { ring.finalDamage }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(FileReadError) -> Int {
        guard buffer.count > 0 else { return 0 }
        if current == nil {
            guard let chunk = try ring.nextFilledChunk() else { return 0 }
            current = (chunk.index, 0, chunk.count)
        }
        let (index, offset, count) = current!
        let n = min(buffer.count, count - offset)
        buffer.baseAddress!.copyMemory(from: ring.chunk(index).baseAddress! + offset, byteCount: n)
        if offset + n == count {
            current = nil
            ring.releaseChunk()
        } else {
            current = (index, offset + n, count)
        }
        return n
    }

    /// Hands the wrapped source to the read-ahead thread. `@unchecked Sendable`: once handed
    /// over, the read-ahead thread alone uses the source, until it ends.
    private final class Producer: @unchecked Sendable {
        let source: any ByteSource
        init(source: any ByteSource) { self.source = source }
    }

    /// The chunks and their state, shared by the two threads: every field is read and written
    /// under `condition`, except the chunks' bytes, which belong to one side at a time (the
    /// producer between `claim` and `publish`, the consumer between `nextFilledChunk` and
    /// `release`). That division is what its `@unchecked Sendable` rests on.
    private final class Ring: @unchecked Sendable {
        let chunkSize: Int
        private let chunks: [UnsafeMutableRawBufferPointer]
        private var counts: [Int]
        private let condition = NSCondition()
        /// Chunks published and released so far; chunk `n` lives at index `n % chunks.count`.
        private var published = 0
        private var released = 0
        private var ended = false
        private var error: FileReadError?
        private var damage: Damage?
        private var stopping = false
        private var producerDone = false

        init(chunkSize: Int, chunkCount: Int) {
            self.chunkSize = chunkSize
            chunks = (0..<max(chunkCount, 2)).map { _ in .allocate(byteCount: chunkSize, alignment: 64) }
            counts = Array(repeating: 0, count: chunks.count)
        }

        deinit {
            for chunk in chunks { chunk.deallocate() }
        }

        func chunk(_ index: Int) -> UnsafeMutableRawBufferPointer { chunks[index] }

        var finalDamage: Damage? {
            condition.lock()
            defer { condition.unlock() }
            return damage
        }

        /// The producer's loop: fill each free chunk completely (or up to the end), publish it.
        func fill(from producer: Producer) {
            var sequence = 0
            while true {
                condition.lock()
                while published - released == chunks.count && !stopping { condition.wait() }
                let stop = stopping
                condition.unlock()
                if stop { break }

                let index = sequence % chunks.count
                let chunk = chunks[index]
                var filled = 0
                var failure: FileReadError?
                var atEnd = false
                while filled < chunk.count {
                    do {
                        let n = try producer.source.read(
                            into: UnsafeMutableRawBufferPointer(rebasing: chunk[filled...]))
                        if n == 0 {
                            atEnd = true
                            break
                        }
                        filled += n
                    } catch {
                        failure = error
                        break
                    }
                }

                condition.lock()
                counts[index] = filled
                if filled > 0 {
                    published += 1
                    sequence += 1
                }
                if atEnd || failure != nil {
                    ended = true
                    error = failure
                    damage = producer.source.damage
                }
                condition.broadcast()
                condition.unlock()
                if atEnd || failure != nil { break }
            }
            condition.changing { producerDone = true }
        }

        /// The next published chunk, waiting for it; nil at the end.
        func nextFilledChunk() throws(FileReadError) -> (index: Int, count: Int)? {
            condition.lock()
            defer { condition.unlock() }
            while published == released && !ended { condition.wait() }
            if published > released {
                let index = released % chunks.count
                return (index, counts[index])
            }
            if let error { throw error }
            return nil
        }

        /// Gives the chunk handed out by `nextFilledChunk` back to the producer.
        func releaseChunk() {
            condition.changing { released += 1 }
        }

        func stopAndWait() {
            condition.changing { stopping = true }
            condition.lock()
            while !producerDone { condition.wait() }
            condition.unlock()
        }
    }
}
