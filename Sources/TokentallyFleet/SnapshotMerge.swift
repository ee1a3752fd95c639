import TokentallyCounting
import TokentallyOutput
import TokentallySystem
import TokentallyViews

/// `tokentally merge`: the snapshot directories of several hosts into one fleet snapshot
/// directory in the same format, as if one tokentally had read every host's logs. Counters are
/// summed exactly from the series rows; quantiles come from the merged sketches (the bucket
/// files' `sketches`), so they keep the same 1% bound; the highlights are recomputed over the
/// fleet. Hosts are merged in the order of their names, whatever the order given, so the
/// result is the same bytes (but for `generated_at`) for every order.
public struct SnapshotMerge {
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var message: String
        public var description: String { message }
    }

    /// One input directory: its index and where it is.
    struct Input {
        var path: String
        var directory: SnapshotDirectory
        var index: SnapshotIndex
        var schema: String?
    }

    let inputs: [Input]
    let host: String

    /// Reads every input's index and checks that they can merge: one time zone, one bucket
    /// schema, one sketch mapping, no host twice.
    public init(directories: [String], host: String) throws(Failure) {
        guard directories.count >= 1 else { throw Failure(message: "merge: give at least one snapshot directory") }
        var inputs: [Input] = []
        for path in directories {
            let directory = SnapshotDirectory(path: path)
            let index: SnapshotIndex
            do { index = try directory.index() } catch { throw Failure(message: "merge: \(error)") }
            inputs.append(Input(path: path, directory: directory, index: index, schema: nil))
        }
        var owner: [String: String] = [:]
        for input in inputs {
            for name in input.index.hosts.map(\.name) {
                if let other = owner[name] {
                    throw Failure(
                        message:
                            "merge: host \(name) is in both \(other) and \(input.path); merging a host twice would count it twice, so give each host's directory once"
                    )
                }
                owner[name] = input.path
            }
        }
        let zones = Set(inputs.map(\.index.timezone))
        if zones.count > 1 {
            let listed = inputs.map { "\($0.path): \($0.index.timezone)" }.joined(separator: ", ")
            throw Failure(
                message:
                    "merge: the directories count in different time zones (\(listed)); their buckets are different periods and cannot be added"
            )
        }
        // The bucket schema and the sketch mapping, from each input's first bucket file.
        var mapping: [String: JSONValue] = [:]
        for (number, input) in inputs.enumerated() {
            guard let (period, label) = Self.firstBucket(input.index) else { continue }
            let file: BucketFile
            do { file = try input.directory.bucket(period: period, label: label) } catch {
                throw Failure(message: "merge: \(error)")
            }
            inputs[number].schema = file.schema
            guard case .object = file.sketches else {
                throw Failure(
                    message:
                        "merge: \(input.path)/\(period)/\(label).json has no sketches (written by a tokentally before them); replay or run this version there first"
                )
            }
            mapping[input.path] = file.sketches["mapping"] ?? .null
        }
        let schemas = Set(inputs.compactMap(\.schema))
        if schemas.count > 1 {
            let listed = inputs.map { "\($0.path): \($0.schema ?? "none")" }.joined(separator: ", ")
            throw Failure(
                message:
                    "merge: the directories have different bucket schemas (\(listed)); set the same snapshot.schema on every host"
            )
        }
        if Set(mapping.values.map { "\($0)" }).count > 1 {
            throw Failure(
                message:
                    "merge: the directories' sketches have different parameters (\(mapping.keys.sorted().joined(separator: ", "))); their quantiles cannot merge exactly"
            )
        }
        self.inputs = inputs.sorted {
            ($0.index.hosts.first?.name ?? "", $0.path) < ($1.index.hosts.first?.name ?? "", $1.path)
        }
        self.host = host
    }

    static func firstBucket(_ index: SnapshotIndex) -> (String, String)? {
        for period in SnapshotIndex.periods { if let label = index.buckets[period]?.first { return (period, label) } }
        return nil
    }

    /// Writes the fleet directory: every bucket of every period, then index.json.
    public func write(to out: String, now: Int64) throws -> (buckets: Int, hosts: Int) {
        let schema: SnapshotEncoder.SchemaVersion = inputs.contains { $0.schema == "tokentally.bucket/v1" } ? .v1 : .v2
        let writer = try SnapshotWriter(directory: out, schema: schema)
        var labels: [Period: [String]] = [:]
        var written = 0
        for period in Period.allCases {
            let all = Set(inputs.flatMap { $0.index.buckets[period.rawValue] ?? [] }).sorted()
            for label in all {
                var files: [BucketFile] = []
                for input in inputs where input.index.buckets[period.rawValue]?.contains(label) == true {
                    do { files.append(try input.directory.bucket(period: period.rawValue, label: label)) } catch {
                        throw Failure(message: "merge: \(error)")
                    }
                }
                try writer.write(try merged(files, period: period, now: now))
                written += 1
            }
            labels[period] = all
        }
        var index = IndexReport(
            generatedAtEpochSeconds: now, host: host, timezone: inputs[0].index.timezone, buckets: labels,
            status: mergedStatus(), lifetime: mergedLifetime())
        index.hosts = inputs.flatMap { input in
            input.index.hosts.map { ($0.name, Timestamps.epoch($0.generatedAt) ?? 0) }
        }.sorted { $0.host < $1.host }
        try writer.write(index)
        return (written, index.hosts?.count ?? 0)
    }

    // MARK: - One bucket

    private struct SeriesKey: Hashable {
        var key: String
        var model: String
        var provider: String
    }

    func merged(_ files: [BucketFile], period: Period, now: Int64) throws -> BucketReport {
        let first = files[0]
        var series: [SeriesKey: CounterValues] = [:]
        var byModel: [String: CounterValues] = [:]
        var byProvider: [String: CounterValues] = [:]
        var byPair: [SeriesKey: CounterValues] = [:]
        var byKey: [String: CounterValues] = [:]
        var totals = CounterValues()
        for file in files {
            for row in file.series {
                let key = SeriesKey(
                    key: file.keyNames[Int(row.key)], model: file.modelNames[Int(row.model)],
                    provider: file.providerNames[Int(row.provider)])
                let values = Self.values(row)
                series[key, default: CounterValues()].add(values)
                byModel[key.model, default: CounterValues()].add(values)
                byProvider[key.provider, default: CounterValues()].add(values)
                byPair[SeriesKey(key: "", model: key.model, provider: key.provider), default: CounterValues()].add(
                    values)
                byKey[key.key, default: CounterValues()].add(values)
                totals.add(values)
            }
        }
        // Sketches, merged per rollup in host order.
        func sketches(_ path: (JSONValue) -> JSONValue?) throws -> PerformanceAccumulator {
            var merged = PerformanceAccumulator()
            for file in files {
                guard let set = path(file.sketches) else { continue }
                merged.add(try Self.accumulator(set, in: "\(file.period)/\(file.bucket).json"))
            }
            return merged
        }
        let modelRows = try byModel.keys.sorted().map { name in
            (
                name: name,
                rollup: RollupReport(counters: byModel[name]!, sketches: try sketches { $0["by_model"]?[name] })
            )
        }
        let providerRows = try byProvider.keys.sorted().map { name in
            (
                name: name,
                rollup: RollupReport(counters: byProvider[name]!, sketches: try sketches { $0["by_provider"]?[name] })
            )
        }
        let pairRows = try byPair.map { pair, values in
            let rollup = RollupReport(
                counters: values,
                sketches: try sketches { sketches in
                    sketches["by_model_provider"]?.elements.first {
                        $0["model"]?.string == pair.model && $0["provider"]?.string == pair.provider
                    }
                })
            return (model: pair.model, provider: pair.provider, rollup: rollup)
        }.sorted { a, b in
            a.rollup.counters.requests != b.rollup.counters.requests
                ? a.rollup.counters.requests > b.rollup.counters.requests
                : (a.model, a.provider) < (b.model, b.provider)
        }
        let seriesRows = SeriesReport.rows(series.map { ($0.key.key, $0.key.model, $0.key.provider, $0.value) })
        var highlights = HighlightsReport.ranking(
            models: modelRows, providers: providerRows, minRequests: Int(first.minRequests))
        // The fleet's fastest and slowest request: the extreme of the hosts' own (the first
        // host in name order wins a tie, as the first read does on one host).
        func request(_ request: HighlightedRequest) -> RequestHighlight {
            RequestHighlight(
                requestID: request.requestID, model: request.model, provider: request.provider,
                latencyMs: request.latencyMs)
        }
        highlights.fastestRequest = files.compactMap(\.fastestRequest).min { $0.latencyMs < $1.latencyMs }.map(request)
        highlights.slowestRequest = files.compactMap(\.slowestRequest).max { $0.latencyMs < $1.latencyMs }.map(request)
        return BucketReport(
            period: period, label: first.bucket, startEpochSeconds: Timestamps.epoch(first.start) ?? 0,
            endEpochSeconds: Timestamps.epoch(first.end) ?? 0, timezone: first.timezone, host: host,
            generatedAtEpochSeconds: now,
            totals: RollupReport(counters: totals, sketches: try sketches { $0["totals"] }),
            byModel: modelRows, byProvider: providerRows, byModelProvider: pairRows,
            byKey: byKey.keys.sorted().map { ($0, byKey[$0]!) }, series: seriesRows, highlights: highlights)
    }

    /// A series row's counters as the counting engine keeps them. `latency_ms_mean` merges
    /// weighted by requests: exact when every request has a latency, as gateways log them.
    static func values(_ row: SeriesRow) -> CounterValues {
        var values = CounterValues()
        let c = row.counters.integers
        values.requests = c[0]
        values.succeeded = c[1]
        values.failed = c[2]
        values.inputTokens = c[3]
        values.outputTokens = c[4]
        values.cachedTokens = c[6]
        values.cacheWriteTokens = c[7]
        values.reasoningTokens = c[8]
        values.webSearchRequests = c[9]
        values.webSearchCalls = c[10]
        values.webSearchInputTokens = c[11]
        values.webSearchOutputTokens = c[12]
        values.costNanoUSD = row.counters.costNanos
        if let mean = row.latencyMean {
            values.latencyCount = c[0]
            values.latencySumMs = mean * Double(c[0])
        }
        return values
    }

    /// A sketch set of a bucket file as an accumulator.
    static func accumulator(_ set: JSONValue, in place: String) throws(Failure) -> PerformanceAccumulator {
        func sketch(_ name: String) throws(Failure) -> QuantileSketch {
            guard let value = set[name], let count = value["count"]?.unsigned, let sum = value["sum"]?.double,
                let min = value["min"]?.double, let max = value["max"]?.double,
                let zeros = value["zero_count"]?.unsigned, let offset = value["offset"]?.double,
                let sketch = QuantileSketch(
                    QuantileSketch.State(
                        count: count, sum: sum, min: min, max: max, zeroCount: zeros, offset: Int32(offset),
                        counts: value["counts"]?.elements.compactMap { $0.unsigned.map { UInt32(clamping: $0) } } ?? [])
                )
            else { throw Failure(message: "merge: \(place): a \(name) sketch is not a valid sketch state") }
            return sketch
        }
        return PerformanceAccumulator(
            latency: try sketch("latency_ms"), ttft: try sketch("ttft_ms"), throughput: try sketch("throughput_tps"),
            outputTokens: set["throughput_output_tokens"]?.unsigned ?? 0,
            generationSeconds: set["throughput_generation_seconds"]?.double ?? 0)
    }

    // MARK: - The index

    /// The hosts' line statistics added up; a fleet has no files of its own.
    func mergedStatus() -> IngestStatus {
        var status = IngestStatus()
        for input in inputs {
            let s = input.index.status
            status.linesRead &+= s["lines_read"]?.unsigned ?? 0
            status.linesCounted &+= s["lines_counted"]?.unsigned ?? 0
            status.linesEmpty &+= s["lines_empty"]?.unsigned ?? 0
            for (reason, count) in s["rejected"]?.members ?? [] {
                status.rejected[reason, default: 0] &+= count.unsigned ?? 0
            }
            for period in Period.allCases {
                status.lateDropped[period, default: 0] &+= s["late_dropped"]?[period.rawValue]?.unsigned ?? 0
            }
            status.overflowRecords &+= s["series"]?["overflow_records"]?.unsigned ?? 0
            status.seriesLimit += Int(s["series"]?["limit"]?.unsigned ?? 0)
        }
        return status
    }

    /// The hosts' lifetime counters added up per (key, model, provider).
    func mergedLifetime() -> [LifetimeCounters.Entry] {
        var entries: [String: LifetimeCounters.Entry] = [:]
        for input in inputs {
            for entry in input.index.lifetime["entries"]?.elements ?? [] {
                let key = entry["api_key"]?.string ?? ""
                let model = entry["model"]?.string ?? ""
                let provider = entry["provider"]?.string ?? ""
                let id = [key, model, provider].joined(separator: "\u{0}")
                var merged = entries[id] ?? LifetimeCounters.Entry(key: key, model: model, provider: provider)
                func add(_ name: String, _ target: inout UInt64) { target &+= entry[name]?.unsigned ?? 0 }
                add("succeeded", &merged.values.succeeded)
                add("failed", &merged.values.failed)
                add("input_tokens", &merged.values.inputTokens)
                add("output_tokens", &merged.values.outputTokens)
                add("cached_tokens", &merged.values.cachedTokens)
                add("cache_write_tokens", &merged.values.cacheWriteTokens)
                add("reasoning_tokens", &merged.values.reasoningTokens)
                add("web_search_calls", &merged.values.webSearchCalls)
                merged.values.costNanoUSD &+= entry["cost_usd"]?.number.flatMap { Money.nanos($0) } ?? 0
                for (name, path) in [
                    ("duration_seconds", \LifetimeCounters.Values.duration), ("ttft_seconds", \.ttft),
                ] as [(String, WritableKeyPath<LifetimeCounters.Values, LifetimeCounters.Histogram>)] {
                    let counts = entry[name]?["counts"]?.elements.compactMap(\.unsigned) ?? []
                    guard counts.count == merged.values[keyPath: path].counts.count else { continue }
                    for (bucket, count) in counts.enumerated() { merged.values[keyPath: path].counts[bucket] &+= count }
                    merged.values[keyPath: path].sumSeconds += entry[name]?["sum"]?.double ?? 0
                }
                entries[id] = merged
            }
        }
        return Array(entries.values)
    }
}
