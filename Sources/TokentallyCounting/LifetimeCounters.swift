import TokentallySystem
import TokentallyReading

/// Monotonic counters since the state began, per (model, provider), and per key too when
/// `lifetime.keys` allows it: what Prometheus wants (issue 13), where the calendar buckets
/// expire. They are committed with the state, so they count every request exactly once
/// across restarts, and no bucket's expiry resets them. index.json carries them as
/// `lifetime` (docs/snapshot-format.md).
///
/// The histograms use OpenTelemetry's GenAI bucket boundaries, in seconds:
/// `gen_ai.client.operation.duration` for the whole request and
/// `gen_ai.server.time_to_first_token` for the first token.
public final class LifetimeCounters {
    public static let durationBounds: [Double] = [
        0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
    ]
    public static let ttftBounds: [Double] = [
        0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
    ]
    /// The key label of requests whose key is beyond `keyLimit`.
    public static let otherKeys = "__other__"

    /// One histogram: counts per bucket (not cumulative; the last is +Inf), their sum in seconds.
    public struct Histogram: Equatable, Sendable {
        public var counts: [UInt64]
        public var sumSeconds: Double = 0
        init(buckets: Int) { counts = [UInt64](repeating: 0, count: buckets + 1) }

        public var count: UInt64 { counts.reduce(0, &+) }

        mutating func add(_ seconds: Double, bounds: [Double]) {
            var index = bounds.count
            // Prometheus buckets are "less than or equal": the first bound at or above the value.
            for (position, bound) in bounds.enumerated() where seconds <= bound {
                index = position
                break
            }
            counts[index] &+= 1
            sumSeconds += seconds
        }
    }

    public struct Values: Equatable, Sendable {
        public var succeeded: UInt64 = 0
        public var failed: UInt64 = 0
        public var inputTokens: UInt64 = 0
        public var outputTokens: UInt64 = 0
        public var cachedTokens: UInt64 = 0
        public var cacheWriteTokens: UInt64 = 0
        public var reasoningTokens: UInt64 = 0
        public var webSearchCalls: UInt64 = 0
        public var costNanoUSD: Int64 = 0
        public var duration = Histogram(buckets: LifetimeCounters.durationBounds.count)
        public var ttft = Histogram(buckets: LifetimeCounters.ttftBounds.count)

        public init() {}
    }

    /// One entry: its key label ("" when counters are not kept per key), model and provider.
    public struct Entry: Sendable {
        public var key: String
        public var model: String
        public var provider: String
        public var values = Values()

        public init(key: String, model: String, provider: String, values: Values = Values()) {
            self.key = key
            self.model = model
            self.provider = provider
            self.values = values
        }
    }

    /// How many keys get their own label; 0 keeps no per-key counters (the default).
    public let keyLimit: Int
    public private(set) var entries: [Entry] = []
    /// Entry index by (label index, pair): the label is 0 without keys, else 1 + the key's label.
    private var slots: [Int64: Int32] = [:]
    /// The entry of each pair when there are no per-key counters: the per-record path.
    private var slotByPair: [Int32] = []
    /// Per key id: its label index (1-based; the last is `otherKeys`), or 0 before it was seen.
    private var labelOfKey: [Int32] = []
    private var labels: [String] = []
    /// Entries changed since the last commit (`markCommitted`).
    private var changed: [Bool] = []
    private var changedList: [Int32] = []

    public init(keyLimit: Int) { self.keyLimit = keyLimit }

    /// Counts one record of series dimensions (`key`, `pair`), with the names to create its
    /// entry the first time.
    @inline(__always)
    func add(
        _ record: GatewayRecord, key: Int32, pair: Int32, names: () -> (key: String, model: String, provider: String)
    ) {
        let slot = self.slot(key: key, pair: pair, names: names)
        entries.withUnsafeMutableBufferPointer { entries in
            let values = withUnsafeMutablePointer(to: &entries[Int(slot)].values) { $0 }
            if record.succeeded { values.pointee.succeeded &+= 1 } else { values.pointee.failed &+= 1 }
            values.pointee.inputTokens &+= record.inputTokens
            values.pointee.outputTokens &+= record.outputTokens
            values.pointee.cachedTokens &+= record.cachedTokens
            values.pointee.cacheWriteTokens &+= record.cacheWriteTokens
            values.pointee.reasoningTokens &+= record.reasoningTokens
            values.pointee.webSearchCalls &+= record.webSearchCalls
            values.pointee.costNanoUSD &+= record.costNanoUSD
            if !record.latencyMs.isNaN {
                values.pointee.duration.add(record.latencyMs / 1000, bounds: Self.durationBounds)
            }
            if !record.ttftMs.isNaN { values.pointee.ttft.add(record.ttftMs / 1000, bounds: Self.ttftBounds) }
        }
        if !changed[Int(slot)] {
            changed[Int(slot)] = true
            changedList.append(slot)
        }
    }

    @inline(__always)
    private func slot(key: Int32, pair: Int32, names: () -> (key: String, model: String, provider: String)) -> Int32 {
        if keyLimit == 0 {
            if Int(pair) < slotByPair.count, slotByPair[Int(pair)] >= 0 { return slotByPair[Int(pair)] }
            let slot = newEntry(label: "", names: names)
            while slotByPair.count <= Int(pair) { slotByPair.append(-1) }
            slotByPair[Int(pair)] = slot
            return slot
        }
        while labelOfKey.count <= Int(key) { labelOfKey.append(0) }
        if labelOfKey[Int(key)] == 0 {
            let name = names().key
            if labels.count < keyLimit {
                labels.append(name)
                labelOfKey[Int(key)] = Int32(labels.count)
            } else {
                labelOfKey[Int(key)] = Int32(keyLimit + 1)
            }
        }
        let label = labelOfKey[Int(key)]
        let index = Int64(label) << 32 | Int64(pair)
        if let slot = slots[index] { return slot }
        let slot = newEntry(label: label > keyLimit ? Self.otherKeys : labels[Int(label) - 1], names: names)
        slots[index] = slot
        return slot
    }

    private func newEntry(label: String, names: () -> (key: String, model: String, provider: String)) -> Int32 {
        let (_, model, provider) = names()
        entries.append(Entry(key: label, model: model, provider: provider))
        changed.append(false)
        return Int32(entries.count - 1)
    }

    // MARK: - State

    /// Writes every entry (a full state).
    func encode(into writer: inout StateWriter) {
        writer.write(UInt32(entries.count))
        for entry in entries { Self.write(entry, into: &writer) }
        writer.write(UInt32(labels.count))
        for label in labels { writer.write(label) }
    }

    /// Writes the entries changed since the last commit, with their absolute values: applying
    /// a record twice gives the same counters.
    func encodeChanges(into writer: inout StateWriter) {
        writer.write(UInt32(entries.count))
        writer.write(UInt32(changedList.count))
        for slot in changedList {
            writer.write(slot)
            Self.write(entries[Int(slot)], into: &writer)
        }
        writer.write(UInt32(labels.count))
        for label in labels { writer.write(label) }
    }

    func markCommitted() {
        for slot in changedList { changed[Int(slot)] = false }
        changedList.removeAll(keepingCapacity: true)
    }

    /// Reads what `encode` wrote; `resolve` turns an entry's names into its (key id, pair) for
    /// the per-record index (nil for a label that is not a key name: `otherKeys`, or "").
    func restore(from reader: inout StateReader, resolve: (Entry) -> (key: Int32?, pair: Int32?))
        throws(StateDecodingError)
    {
        let count = try reader.readCount(minimumItemSize: 12)
        entries.removeAll()
        for _ in 0..<count { entries.append(try Self.read(from: &reader)) }
        changed = [Bool](repeating: false, count: entries.count)
        try readLabels(from: &reader)
        rebuildIndex(resolve)
    }

    /// Applies what `encodeChanges` wrote.
    func applyChanges(from reader: inout StateReader, resolve: (Entry) -> (key: Int32?, pair: Int32?))
        throws(StateDecodingError)
    {
        let total = Int(try reader.read(UInt32.self))
        let count = try reader.readCount(minimumItemSize: 16)
        var updated = entries
        for _ in 0..<count {
            let slot = Int(try reader.read(Int32.self))
            let entry = try Self.read(from: &reader)
            guard slot >= 0, slot < total, slot <= updated.count else {
                throw StateDecodingError("the journal's lifetime counters do not follow the state")
            }
            if slot == updated.count { updated.append(entry) } else { updated[slot] = entry }
        }
        guard updated.count == total else { throw StateDecodingError("the journal's lifetime counters have gaps") }
        entries = updated
        changed = [Bool](repeating: false, count: entries.count)
        try readLabels(from: &reader)
        rebuildIndex(resolve)
    }

    private func readLabels(from reader: inout StateReader) throws(StateDecodingError) {
        let count = try reader.readCount(minimumItemSize: 4)
        labels = []
        for _ in 0..<count { labels.append(try reader.readString()) }
    }

    private func rebuildIndex(_ resolve: (Entry) -> (key: Int32?, pair: Int32?)) {
        slots = [:]
        slotByPair = []
        labelOfKey = []
        for (index, entry) in entries.enumerated() {
            let (key, found) = resolve(entry)
            guard let pair = found else { continue }
            if keyLimit == 0 {
                guard entry.key.isEmpty else { continue }  // kept per key before: not resumed per pair
                while slotByPair.count <= Int(pair) { slotByPair.append(-1) }
                slotByPair[Int(pair)] = Int32(index)
                continue
            }
            let label: Int32
            if entry.key == Self.otherKeys {
                label = Int32(keyLimit + 1)
            } else if let position = labels.firstIndex(of: entry.key), position < keyLimit {
                label = Int32(position + 1)
            } else {
                continue
            }
            if let key {
                while labelOfKey.count <= Int(key) { labelOfKey.append(0) }
                labelOfKey[Int(key)] = label
            }
            slots[Int64(label) << 32 | Int64(pair)] = Int32(index)
        }
    }

    private static func write(_ entry: Entry, into writer: inout StateWriter) {
        writer.write(entry.key)
        writer.write(entry.model)
        writer.write(entry.provider)
        let v = entry.values
        for number in [
            v.succeeded, v.failed, v.inputTokens, v.outputTokens, v.cachedTokens, v.cacheWriteTokens, v.reasoningTokens,
            v.webSearchCalls,
        ] {
            writer.write(number)
        }
        writer.write(v.costNanoUSD)
        for histogram in [v.duration, v.ttft] {
            writer.write(UInt32(histogram.counts.count))
            for count in histogram.counts { writer.write(count) }
            writer.write(histogram.sumSeconds.bitPattern)
        }
    }

    private static func read(from reader: inout StateReader) throws(StateDecodingError) -> Entry {
        var entry = Entry(
            key: try reader.readString(), model: try reader.readString(), provider: try reader.readString())
        var numbers: [UInt64] = []
        for _ in 0..<8 { numbers.append(try reader.read(UInt64.self)) }
        entry.values.succeeded = numbers[0]
        entry.values.failed = numbers[1]
        entry.values.inputTokens = numbers[2]
        entry.values.outputTokens = numbers[3]
        entry.values.cachedTokens = numbers[4]
        entry.values.cacheWriteTokens = numbers[5]
        entry.values.reasoningTokens = numbers[6]
        entry.values.webSearchCalls = numbers[7]
        entry.values.costNanoUSD = try reader.read(Int64.self)
        for (index, bounds) in [durationBounds, ttftBounds].enumerated() {
            let count = try reader.readCount(minimumItemSize: 8)
            guard count == bounds.count + 1 else { throw StateDecodingError("a lifetime histogram has other buckets") }
            var histogram = Histogram(buckets: bounds.count)
            for bucket in 0..<count { histogram.counts[bucket] = try reader.read(UInt64.self) }
            histogram.sumSeconds = Double(bitPattern: try reader.read(UInt64.self))
            if index == 0 { entry.values.duration = histogram } else { entry.values.ttft = histogram }
        }
        return entry
    }
}
