/// A distribution of a rollup (`latency_ms`, `ttft_ms`, `throughput_tps`), its figures kept
/// as the file wrote them (measurements rounded to 3 decimals) so that views repeat them
/// exactly.
public struct Distribution: Sendable, Equatable {
    /// The figures in file order: `count`, `mean`, `min`, `max`, `p50`, `p90`, `p99`, and for
    /// throughput `aggregate`; nil for `null`.
    public var figures: [(name: String, text: String?)]

    public static func == (lhs: Distribution, rhs: Distribution) -> Bool {
        lhs.figures.map(\.name) == rhs.figures.map(\.name) && lhs.figures.map(\.text) == rhs.figures.map(\.text)
    }

    public var count: UInt64 { figures.first { $0.name == "count" }?.text.flatMap { UInt64($0) } ?? 0 }

    public func text(_ name: String) -> String? { figures.first { $0.name == name }?.text ?? nil }

    public func value(_ name: String) -> Double? { text(name).flatMap { Double($0) } }

    init(_ value: JSONValue) {
        figures = value.members.map { name, figure in
            if case .number(let text) = figure { return (name, text) }
            return (name, nil)
        }
    }
}

/// A rollup's PERFORMANCE (docs/snapshot-format.md): its three distributions.
public struct Performance: Sendable, Equatable {
    public var latencyMs: Distribution
    public var ttftMs: Distribution
    public var throughputTPS: Distribution

    /// The names the snapshot and the report give them, in order.
    public static let names = ["latency_ms", "ttft_ms", "throughput_tps"]

    public var all: [(name: String, distribution: Distribution)] {
        [("latency_ms", latencyMs), ("ttft_ms", ttftMs), ("throughput_tps", throughputTPS)]
    }
}

/// One rollup of a bucket file: COUNTERS and PERFORMANCE.
public struct Rollup: Sendable, Equatable {
    public var counters: Counters
    public var performance: Performance
}

/// One `series` row: a (key, model, provider) triple, by ids into the file's name tables.
public struct SeriesRow: Sendable {
    public var key: Int32
    public var model: Int32
    public var provider: Int32
    public var counters: Counters
    /// `latency_ms_mean`, nil when no request of the row had a latency.
    public var latencyMean: Double? = nil
}

/// A highlighted request (`fastest_request`, `slowest_request`).
public struct HighlightedRequest: Sendable, Equatable {
    public var requestID: String?
    public var model: String
    public var provider: String
    public var latencyText: String
    public var latencyMs: Double { Double(latencyText) ?? 0 }
}

/// What the views need of a bucket file (`day/2026-11-28.json`, ...), in either schema:
/// the header, the rollups with their performance, the series rows and the highlighted
/// requests. `by_key` is not kept: it is the sum of the series rows by key.
public struct BucketFile: Sendable {
    public var schema: String
    public var period: String
    public var bucket: String
    public var start: String
    public var end: String
    public var timezone: String
    public var host: String
    public var generatedAt: String
    public var totals: Rollup
    /// Sorted by name, as the file writes them.
    public var byModel: [(name: String, rollup: Rollup)]
    public var byProvider: [(name: String, rollup: Rollup)]
    public var byModelProvider: [(model: String, provider: String, rollup: Rollup)]
    /// Most requests first, as in the file; nil when read without rows (`rows: false`).
    public var series: [SeriesRow]
    public var keyNames: [String] = []
    public var modelNames: [String] = []
    public var providerNames: [String] = []
    /// Each name table's ids in name order, and each id's place in it: sorted once when the
    /// file is read, so that a report sorts rows by integers.
    public var keyOrder: [Int32] = []
    public var modelOrder: [Int32] = []
    public var providerOrder: [Int32] = []
    public var keyRank: [Int32] = []
    public var modelRank: [Int32] = []
    public var providerRank: [Int32] = []
    public var fastestRequest: HighlightedRequest?
    public var slowestRequest: HighlightedRequest?
    /// `highlights.min_requests`: how many requests a model or provider needs to be compared.
    public var minRequests: UInt64
    /// Whether `series` was read (a summary read skips it, for the days of a trend).
    public var hasRows: Bool
    /// `sketches`, as read with the rows; `.null` in a summary read or a file without them.
    public var sketches: JSONValue = .null

    /// Reads a bucket file's bytes; `rows: false` skips `series` and `by_key`.
    public static func decode(_ bytes: [UInt8], rows: Bool = true) throws(BucketFileError) -> BucketFile {
        var decoder = Decoder(rows: rows)
        var reader = JSONReader(bytes)
        do {
            try decoder.run(&reader)
        } catch let error as SnapshotJSONError {
            throw BucketFileError(message: error.description)
        } catch let error as BucketFileError {
            throw error
        } catch {
            throw BucketFileError(message: "\(error)")
        }
        return try decoder.file()
    }

    private struct Decoder {
        let rows: Bool
        var header: [String: String] = [:]
        var totals: Rollup?
        var byModel: [(name: String, rollup: Rollup)] = []
        var byProvider: [(name: String, rollup: Rollup)] = []
        var byModelProvider: [(model: String, provider: String, rollup: Rollup)] = []
        var series: [SeriesRow] = []
        /// What each value of a v2 series row is, from `columns.series`, decided once.
        var columns: [Column]?
        enum Column {
            case key, model, provider, cost, latencyMean, skip
            case counter(Int)

            init(_ name: String) {
                switch name {
                case "api_key": self = .key
                case "model": self = .model
                case "provider": self = .provider
                case "cost_usd": self = .cost
                case "latency_ms_mean": self = .latencyMean
                default:
                    if let index = Counters.names.firstIndex(of: name), index < Counters.integerCount {
                        self = .counter(index)
                    } else {
                        self = .skip
                    }
                }
            }
        }
        var keys = NameTable()
        var models = NameTable()
        var providers = NameTable()
        var highlights: JSONValue = .null
        var sketches: JSONValue = .null
        var sawSeries = false

        mutating func run(_ reader: inout JSONReader) throws {
            try reader.readObject { (reader, name) throws(SnapshotJSONError) in
                do {
                    try self.member(name, &reader)
                } catch let error as SnapshotJSONError {
                    throw error
                } catch {
                    // A BucketFileError inside a member: carry it out as a JSON error of its place.
                    throw SnapshotJSONError(offset: reader.position, expected: "\(error)")
                }
            }
            reader.skipWhitespace()
            guard reader.position == reader.bytes.count else { throw reader.fail("the end of the file") }
        }

        private mutating func member(_ name: String, _ reader: inout JSONReader) throws {
            switch name {
            case "schema", "period", "bucket", "start", "end", "timezone", "host", "generated_at":
                header[name] = try reader.readValue().string
            case "totals": totals = try rollup(try reader.readValue(), "totals")
            case "by_model":
                try reader.readObject { (reader, model) throws(SnapshotJSONError) in
                    let value = try reader.readValue()
                    guard let rollup = try? Self.rollupOf(value) else {
                        throw reader.fail("by_model.\(model) with COUNTERS and PERFORMANCE")
                    }
                    self.byModel.append((model, rollup))
                }
            case "by_provider":
                try reader.readObject { (reader, provider) throws(SnapshotJSONError) in
                    let value = try reader.readValue()
                    guard let rollup = try? Self.rollupOf(value) else {
                        throw reader.fail("by_provider.\(provider) with COUNTERS and PERFORMANCE")
                    }
                    self.byProvider.append((provider, rollup))
                }
            case "by_model_provider":
                try reader.readArray { (reader) throws(SnapshotJSONError) in
                    let value = try reader.readValue()
                    guard let model = value["model"]?.string, let provider = value["provider"]?.string,
                        let rollup = try? Self.rollupOf(value)
                    else { throw reader.fail("a by_model_provider row with model, provider and COUNTERS") }
                    self.byModelProvider.append((model, provider, rollup))
                }
            case "columns":
                let value = try reader.readValue()
                columns = value["series"]?.elements.compactMap(\.string).map(Column.init)
            case "series":
                sawSeries = true
                guard rows else { return try reader.skipValue() }
                try reader.readArray { (reader) throws(SnapshotJSONError) in
                    if try reader.peek() == UInt8(ascii: "[") {
                        try self.arrayRow(&reader)
                    } else {
                        try self.objectRow(try reader.readValue(), &reader)
                    }
                }
            case "highlights": highlights = try reader.readValue()
            case "sketches":
                if rows { sketches = try reader.readValue() } else { try reader.skipValue() }
            default: try reader.skipValue()
            }
        }

        /// A v2 row, read value by value in the order of `columns.series`.
        private mutating func arrayRow(_ reader: inout JSONReader) throws(SnapshotJSONError) {
            guard let columns else { throw reader.fail("columns before series (tokentally.bucket/v2)") }
            var row = SeriesRow(key: -1, model: -1, provider: -1, counters: Counters())
            var index = 0
            try reader.readArray { (reader) throws(SnapshotJSONError) in
                let column = index < columns.count ? columns[index] : .skip
                index += 1
                switch column {
                case .key: row.key = self.keys.id(try reader.readString())
                case .model: row.model = self.models.id(try reader.readString())
                case .provider: row.provider = self.providers.id(try reader.readString())
                case .cost:
                    let text = try reader.readNumberText()
                    guard let nanos = Money.nanos(text) else { throw reader.fail("cost_usd in nano-dollars") }
                    row.counters.costNanos = nanos
                case .counter(let counter): row.counters.integers[counter] = try reader.readUnsigned()
                case .latencyMean: row.latencyMean = try reader.readValue().double
                case .skip: try reader.skipValue()
                }
            }
            guard row.key >= 0, row.model >= 0, row.provider >= 0 else {
                throw reader.fail("a series row with api_key, model and provider")
            }
            series.append(row)
        }

        /// A v1 row: an object with named members.
        private mutating func objectRow(_ value: JSONValue, _ reader: inout JSONReader) throws(SnapshotJSONError) {
            guard let key = value["api_key"]?.string, let model = value["model"]?.string,
                let provider = value["provider"]?.string, let counters = try? Self.counters(value)
            else { throw reader.fail("a series row with api_key, model, provider and COUNTERS") }
            series.append(
                SeriesRow(
                    key: keys.id(key), model: models.id(model), provider: providers.id(provider), counters: counters,
                    latencyMean: value["latency_ms_mean"]?.double))
        }

        private func rollup(_ value: JSONValue, _ place: String) throws -> Rollup {
            do { return try Self.rollupOf(value) } catch { throw BucketFileError(message: "\(place): \(error)") }
        }

        static func rollupOf(_ value: JSONValue) throws(BucketFileError) -> Rollup {
            let counters = try counters(value)
            func distribution(_ name: String) throws(BucketFileError) -> Distribution {
                guard let member = value[name], case .object = member else {
                    throw BucketFileError(message: "no \(name) distribution")
                }
                return Distribution(member)
            }
            return Rollup(
                counters: counters,
                performance: Performance(
                    latencyMs: try distribution("latency_ms"), ttftMs: try distribution("ttft_ms"),
                    throughputTPS: try distribution("throughput_tps")))
        }

        static func counters(_ value: JSONValue) throws(BucketFileError) -> Counters {
            var counters = Counters()
            for (index, name) in Counters.names.enumerated() {
                guard case .number(let text)? = value[name] else { throw BucketFileError(message: "no \(name)") }
                if index < Counters.integerCount {
                    guard let number = UInt64(text) else {
                        throw BucketFileError(message: "\(name) \(text) is not a counter")
                    }
                    counters.integers[index] = number
                } else {
                    guard let nanos = Money.nanos(text) else {
                        throw BucketFileError(message: "cost_usd \(text) is not exact")
                    }
                    counters.costNanos = nanos
                }
            }
            return counters
        }

        func file() throws(BucketFileError) -> BucketFile {
            for name in ["schema", "period", "bucket", "start", "end", "timezone", "host", "generated_at"]
            where header[name] == nil {
                throw BucketFileError(message: "no \(name)")
            }
            guard let schema = header["schema"], schema.hasPrefix("tokentally.bucket/") else {
                throw BucketFileError(message: "schema is not tokentally.bucket/v1 or /v2")
            }
            guard let totals else { throw BucketFileError(message: "no totals") }
            guard sawSeries else { throw BucketFileError(message: "no series") }
            func request(_ value: JSONValue?) -> HighlightedRequest? {
                guard let value, let model = value["model"]?.string, let provider = value["provider"]?.string,
                    case .number(let latency)? = value["latency_ms"]
                else { return nil }
                return HighlightedRequest(
                    requestID: value["request_id"]?.string, model: model, provider: provider, latencyText: latency)
            }
            var file = BucketFile(
                schema: schema, period: header["period"]!, bucket: header["bucket"]!, start: header["start"]!,
                end: header["end"]!, timezone: header["timezone"]!, host: header["host"]!,
                generatedAt: header["generated_at"]!, totals: totals, byModel: byModel, byProvider: byProvider,
                byModelProvider: byModelProvider, series: series,
                fastestRequest: request(highlights["fastest_request"]),
                slowestRequest: request(highlights["slowest_request"]),
                minRequests: highlights["min_requests"]?.unsigned ?? 20, hasRows: rows)
            file.sketches = sketches
            file.keyNames = keys.names
            file.modelNames = models.names
            file.providerNames = providers.names
            (file.keyOrder, file.keyRank) = Self.order(keys.names)
            (file.modelOrder, file.modelRank) = Self.order(models.names)
            (file.providerOrder, file.providerRank) = Self.order(providers.names)
            return file
        }

        static func order(_ names: [String]) -> (order: [Int32], rank: [Int32]) {
            let order = names.indices.sorted { names[$0] < names[$1] }.map { Int32($0) }
            var rank = [Int32](repeating: 0, count: names.count)
            for (place, id) in order.enumerated() { rank[Int(id)] = Int32(place) }
            return (order, rank)
        }
    }
}

/// Why a bucket file could not be read.
public struct BucketFileError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var description: String { message }
}

/// Names to dense ids, in order of first appearance.
struct NameTable {
    private var ids: [String: Int32] = [:]
    private(set) var names: [String] = []

    mutating func id(_ name: String) -> Int32 {
        if let id = ids[name] { return id }
        let id = Int32(names.count)
        ids[name] = id
        names.append(name)
        return id
    }
}
