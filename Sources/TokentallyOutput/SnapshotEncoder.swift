import TokentallySystem
import TokentallyReading
import TokentallyCounting
/// Turns reports into the bytes of snapshot files, in the layout of docs/snapshot-format.md
/// (schemas `tokentally.bucket/v2`, `tokentally.bucket/v1` and `tokentally.index/v1`).
///
/// v2 writes `by_key` and `series` rows as arrays of values in the order of the file's
/// `columns`, instead of objects that repeat every counter's name: at high cardinality those rows
/// are nearly the whole file, and the names were most of each row. Everything else is as in v1.
///
/// The output is UTF-8 JSON ending with a newline, pretty-printed with a two-space indent, except
/// that each `by_key` entry, each `series` row, each distribution (`latency_ms`, ...) and each
/// highlighted request is one line: a bucket with 100,000 series stays about 40 MiB and is
/// written in one pass over the report, without building any intermediate values.
///
/// Members are written in the report's order (the counting engine sorts rows); the encoder
/// neither sorts nor removes duplicates, except `rejected` in index.json, whose keys it sorts.
public enum SnapshotEncoder {
    /// The `schema` value of bucket files, by version.
    static func bucketSchema(_ version: SchemaVersion) -> String {
        version == .v1 ? "tokentally.bucket/v1" : "tokentally.bucket/v2"
    }

    /// The bucket file layouts this encoder writes (`snapshot.schema`).
    public enum SchemaVersion: Int, Sendable, CaseIterable {
        /// Rows as objects with named members.
        case v1 = 1
        /// `by_key` and `series` rows as arrays in the order of `columns`.
        case v2 = 2
    }

    /// COUNTERS in the order v2 writes them in `by_key` rows and, after `api_key`, `model` and
    /// `provider`, in `series` rows (which end with `latency_ms_mean`).
    static let counterColumns: [StaticString] = [
        "requests", "succeeded", "failed", "input_tokens", "output_tokens", "total_tokens", "cached_tokens",
        "cache_write_tokens", "reasoning_tokens", "web_search_requests", "web_search_calls",
        "web_search_input_tokens", "web_search_output_tokens", "cost_usd",
    ]
    /// The `schema` value of index.json.
    static let indexSchema = "tokentally.index/v1"

    /// The bytes of one bucket file (`day/2026-11-28.json`, ...).
    public static func encode(_ report: BucketReport, schema: SchemaVersion = .v2) -> [UInt8] {
        // A series row takes about 450 bytes and a rollup about 1 KiB; growing the buffer copies it.
        let estimate =
            4096 + report.series.count * 512 + report.keyRowCountBound * 512
            + (report.byModel.count + report.byProvider.count + report.byModelProvider.count) * 1200
        var json = JSONWriter(capacity: estimate)
        encode(report, into: &json, schema: schema)
        return json.bytes
    }

    /// The bytes of index.json.
    public static func encode(_ index: IndexReport) -> [UInt8] {
        var json = JSONWriter(capacity: 4096 + index.status.files.count * 300)
        encode(index, into: &json)
        return json.bytes
    }

    /// Appends one bucket file's bytes to `json`; call `json.reset()` first to reuse its buffer
    /// for another file.
    public static func encode(_ report: BucketReport, into json: inout JSONWriter, schema: SchemaVersion = .v2) {
        encode(report, into: &json, schema: schema, drainingAt: .max) { _ in }
    }

    /// Encodes one bucket file in pieces: whenever `json` holds `threshold` bytes or more
    /// between two rows of `by_key` or `series`, it calls `drain`, which must take the bytes out
    /// (`JSONWriter.drain(_:)`). A bucket of 100,000 series so needs a buffer of about
    /// `threshold` bytes instead of one of its whole file (about 45 MB). Whatever is left at the
    /// end stays in `json`.
    public static func encode(
        _ report: BucketReport, into json: inout JSONWriter, schema: SchemaVersion = .v2, drainingAt threshold: Int,
        _ drain: (inout JSONWriter) throws -> Void
    ) rethrows {
        json.beginObject()
        json.field("schema")
        json.string(bucketSchema(schema))
        json.field("period")
        json.string(report.period.rawValue)
        json.field("bucket")
        json.string(report.label)
        json.field("start")
        json.timestamp(epochSeconds: report.startEpochSeconds)
        json.field("end")
        json.timestamp(epochSeconds: report.endEpochSeconds)
        json.field("timezone")
        json.string(report.timezone)
        json.field("host")
        json.string(report.host)
        json.field("generated_at")
        json.timestamp(epochSeconds: report.generatedAtEpochSeconds)

        json.field("totals")
        json.beginObject()
        writeRollupMembers(report.totals, to: &json)
        json.endObject()

        json.field("by_model")
        json.beginObject()
        for row in report.byModel {
            json.key(row.name)
            json.beginObject()
            writeRollupMembers(row.rollup, to: &json)
            json.endObject()
        }
        json.endObject()

        json.field("by_provider")
        json.beginObject()
        for row in report.byProvider {
            json.key(row.name)
            json.beginObject()
            writeRollupMembers(row.rollup, to: &json)
            json.endObject()
        }
        json.endObject()

        json.field("by_model_provider")
        json.beginArray()
        for row in report.byModelProvider {
            json.beginObject()
            json.field("model")
            json.string(row.model)
            json.field("provider")
            json.string(row.provider)
            writeRollupMembers(row.rollup, to: &json)
            json.endObject()
        }
        json.endArray()

        if schema == .v2 {
            json.field("columns")
            json.beginObject()
            json.field("by_key")
            json.beginArray(compact: true)
            for name in counterColumns { json.string(name) }
            json.endArray()
            json.field("series")
            json.beginArray(compact: true)
            json.string("api_key" as StaticString)
            json.string("model" as StaticString)
            json.string("provider" as StaticString)
            for name in counterColumns { json.string(name) }
            json.string("latency_ms_mean" as StaticString)
            json.endArray()
            json.endObject()
        }

        json.field("by_key")
        json.beginObject()
        try report.forEachKeyRow { name, counters in
            json.key(name)
            if schema == .v2 {
                json.beginArray(compact: true)
                writeCounterValues(counters, to: &json)
                json.endArray()
            } else {
                json.beginObject(compact: true)
                writeCounterMembers(counters, to: &json)
                json.endObject()
            }
            if json.bytes.count >= threshold { try drain(&json) }
        }
        json.endObject()

        json.field("series")
        json.beginArray()
        if schema == .v2, let names = report.sharedSeriesNames {
            try writeSeriesRows(report.series, names: names, to: &json, drainingAt: threshold, drain)
        } else {
            try writeSeriesRows(report.series, schema: schema, to: &json, drainingAt: threshold, drain)
        }
        json.endArray()

        json.field("highlights")
        writeHighlights(report.highlights, to: &json)
        writeSketches(report, to: &json)
        json.endObject()
        json.finishLine()
    }

    private static func latencyMean(_ counters: CounterValues) -> Double? {
        counters.latencyCount > 0 ? counters.latencySumMs / Double(counters.latencyCount) : nil
    }

    /// v2 `series` rows that share one name table (a report built from counters), read in place:
    /// the model and provider names escaped once for the report, not once a row, and no row
    /// copied out of the array (a copy retains and releases its name table).
    private static func writeSeriesRows(
        _ series: [SeriesReport], names: SeriesNames, to json: inout JSONWriter, drainingAt threshold: Int,
        _ drain: (inout JSONWriter) throws -> Void
    ) rethrows {
        let models = EscapedNames(names.models)
        let providers = EscapedNames(names.providers)
        try names.keys.withUnsafeBufferPointer { keys in
            try series.withUnsafeBufferPointer { rows in
                for index in rows.indices {
                    let counters = rows[index].counters
                    json.beginArray(compact: true)
                    json.string(keys[Int(rows[index].keyIndex)])
                    json.escapedString(models[rows[index].modelIndex])
                    json.escapedString(providers[rows[index].providerIndex])
                    writeCounterValues(counters, to: &json, afterMembers: true)
                    json.number(latencyMean(counters))
                    json.endArray()
                    if json.bytes.count >= threshold { try drain(&json) }
                }
            }
        }
    }

    /// `series` rows one by one, in either schema.
    private static func writeSeriesRows(
        _ series: [SeriesReport], schema: SchemaVersion, to json: inout JSONWriter, drainingAt threshold: Int,
        _ drain: (inout JSONWriter) throws -> Void
    ) rethrows {
        for row in series {
            let counters = row.counters
            let latencyMean = latencyMean(counters)
            if schema == .v2 {
                json.beginArray(compact: true)
                json.string(row.apiKey)
                json.string(row.model)
                json.string(row.provider)
                writeCounterValues(counters, to: &json, afterMembers: true)
                json.number(latencyMean)
                json.endArray()
            } else {
                json.beginObject(compact: true)
                json.field("api_key")
                json.string(row.apiKey)
                json.field("model")
                json.string(row.model)
                json.field("provider")
                json.string(row.provider)
                writeCounterMembers(counters, to: &json)
                json.field("latency_ms_mean")
                json.number(latencyMean)
                json.endObject()
            }
            if json.bytes.count >= threshold { try drain(&json) }
        }
    }

    /// `sketches`: the state of every rollup's quantile sketches, so that the buckets of several
    /// hosts merge exactly (docs/snapshot-format.md, "sketches"). Rollups without sketches (a
    /// report built from summaries alone) are left out.
    private static func writeSketches(_ report: BucketReport, to json: inout JSONWriter) {
        json.field("sketches")
        json.beginObject()
        json.field("mapping")
        json.beginObject(compact: true)
        json.field("kind")
        json.string("ddsketch_logarithmic")
        json.field("relative_accuracy")
        json.exactNumber(QuantileSketch.relativeAccuracy)
        json.field("gamma")
        json.exactNumber(QuantileSketch.gamma)
        json.field("min_index")
        json.integer(Int(QuantileSketch.minIndex))
        json.field("max_index")
        json.integer(Int(QuantileSketch.maxIndex))
        json.endObject()
        json.field("totals")
        writeSketchSet(report.totals.sketches ?? PerformanceAccumulator(), to: &json)
        for (field, rows) in [("by_model", report.byModel), ("by_provider", report.byProvider)] {
            json.key(field)
            json.beginObject()
            for row in rows where row.rollup.sketches != nil {
                json.key(row.name)
                writeSketchSet(row.rollup.sketches!, to: &json)
            }
            json.endObject()
        }
        json.field("by_model_provider")
        json.beginArray()
        for row in report.byModelProvider where row.rollup.sketches != nil {
            writeSketchSet(row.rollup.sketches!, to: &json, model: row.model, provider: row.provider)
        }
        json.endArray()
        json.endObject()
    }

    private static func writeSketchSet(
        _ sketches: PerformanceAccumulator, to json: inout JSONWriter, model: String? = nil, provider: String? = nil
    ) {
        json.beginObject()
        if let model, let provider {
            json.field("model")
            json.string(model)
            json.field("provider")
            json.string(provider)
        }
        let states = sketches.states
        for (field, state) in [
            ("latency_ms", states.latency), ("ttft_ms", states.ttft), ("throughput_tps", states.throughput),
        ] {
            json.key(field)
            json.beginObject(compact: true)
            json.field("count")
            json.integer(state.count)
            json.field("sum")
            json.exactNumber(state.sum)
            json.field("min")
            json.exactNumber(state.min)
            json.field("max")
            json.exactNumber(state.max)
            json.field("zero_count")
            json.integer(state.zeroCount)
            json.field("offset")
            json.integer(Int(state.offset))
            json.field("counts")
            json.beginArray(compact: true)
            for count in state.counts { json.integer(UInt64(count)) }
            json.endArray()
            json.endObject()
        }
        let sums = sketches.aggregateSums
        json.field("throughput_output_tokens")
        json.integer(sums.outputTokens)
        json.field("throughput_generation_seconds")
        json.exactNumber(sums.generationSeconds)
        json.endObject()
    }

    /// Appends index.json's bytes to `json`; call `json.reset()` first to reuse its buffer.
    public static func encode(_ index: IndexReport, into json: inout JSONWriter) {
        json.beginObject()
        json.field("schema")
        json.string(indexSchema)
        json.field("generated_at")
        json.timestamp(epochSeconds: index.generatedAtEpochSeconds)
        json.field("host")
        json.string(index.host)
        json.field("timezone")
        json.string(index.timezone)
        if let hosts = index.hosts {
            json.field("hosts")
            json.beginArray()
            for host in hosts {
                json.beginObject(compact: true)
                json.field("host")
                json.string(host.host)
                json.field("generated_at")
                json.timestamp(epochSeconds: host.generatedAtEpochSeconds)
                json.endObject()
            }
            json.endArray()
        }

        json.field("buckets")
        json.beginObject()
        for period in Period.allCases {
            json.key(period.rawValue)
            json.beginArray()
            for label in index.buckets[period] ?? [] { json.string(label) }
            json.endArray()
        }
        json.endObject()

        let status = index.status
        json.field("status")
        json.beginObject()
        json.field("lines_read")
        json.integer(status.linesRead)
        json.field("lines_counted")
        json.integer(status.linesCounted)
        json.field("lines_empty")
        json.integer(status.linesEmpty)
        json.field("lines_rejected")
        json.integer(status.rejected.values.reduce(0, &+))
        json.field("rejected")
        json.beginObject()
        for reason in status.rejected.keys.sorted() {
            json.key(reason)
            json.integer(status.rejected[reason] ?? 0)
        }
        json.endObject()
        json.field("late_dropped")
        json.beginObject(compact: true)
        for period in Period.allCases {
            json.key(period.rawValue)
            json.integer(status.lateDropped[period] ?? 0)
        }
        json.endObject()
        json.field("series")
        json.beginObject(compact: true)
        json.field("count")
        json.integer(status.seriesCount)
        json.field("limit")
        json.integer(status.seriesLimit)
        json.field("overflow_records")
        json.integer(status.overflowRecords)
        json.endObject()
        json.field("lines_per_second")
        json.number(status.linesPerSecond)
        json.field("last_commit")
        json.timestamp(epochSeconds: status.lastCommitEpochSeconds)
        json.field("commits")
        if let commits = status.commits { encode(commits, into: &json) } else { json.null() }
        json.field("snapshot_writes")
        encode(status.snapshotWrites, into: &json)
        json.field("files")
        json.beginArray()
        for file in status.files {
            json.beginObject()
            json.field("path")
            json.string(file.path)
            json.field("device")
            json.integer(file.device)
            json.field("inode")
            json.integer(file.inode)
            json.field("fingerprint")
            json.string(file.fingerprint)
            json.field("compressed")
            json.bool(file.compressed)
            json.field("offset")
            json.integer(file.offset)
            json.field("lag_bytes")
            json.integer(file.lagBytes)
            json.field("finished")
            json.bool(file.finished)
            json.field("damage")
            json.string(file.damage)
            json.field("error")
            json.string(file.error)
            json.endObject()
        }
        json.endArray()
        json.endObject()
        encodeLifetime(index.lifetime, into: &json)

        json.endObject()
        json.finishLine()
    }

    /// `lifetime`: monotonic counters per (model, provider[, key]), with histograms on
    /// OpenTelemetry's GenAI bucket bounds (docs/snapshot-format.md, "index.json").
    private static func encodeLifetime(_ entries: [LifetimeCounters.Entry], into json: inout JSONWriter) {
        json.field("lifetime")
        json.beginObject()
        json.field("duration_bounds_seconds")
        json.beginArray(compact: true)
        for bound in LifetimeCounters.durationBounds { json.number(bound) }
        json.endArray()
        json.field("ttft_bounds_seconds")
        json.beginArray(compact: true)
        for bound in LifetimeCounters.ttftBounds { json.number(bound) }
        json.endArray()
        json.field("entries")
        json.beginArray()
        for entry in entries {
            let v = entry.values
            json.beginObject(compact: true)
            json.field("api_key")
            json.string(entry.key.isEmpty ? nil : entry.key)
            json.field("model")
            json.string(entry.model)
            json.field("provider")
            json.string(entry.provider)
            json.field("succeeded")
            json.integer(v.succeeded)
            json.field("failed")
            json.integer(v.failed)
            json.field("input_tokens")
            json.integer(v.inputTokens)
            json.field("output_tokens")
            json.integer(v.outputTokens)
            json.field("cached_tokens")
            json.integer(v.cachedTokens)
            json.field("cache_write_tokens")
            json.integer(v.cacheWriteTokens)
            json.field("reasoning_tokens")
            json.integer(v.reasoningTokens)
            json.field("web_search_calls")
            json.integer(v.webSearchCalls)
            json.field("cost_usd")
            json.nanoDecimal(v.costNanoUSD)
            for (name, histogram) in [("duration_seconds", v.duration), ("ttft_seconds", v.ttft)] {
                json.key(name)
                json.beginObject(compact: true)
                json.field("counts")
                json.beginArray(compact: true)
                for count in histogram.counts { json.integer(count) }
                json.endArray()
                json.field("sum")
                json.number(histogram.sumSeconds)
                json.endObject()
            }
            json.endObject()
        }
        json.endArray()
        json.endObject()
    }

    // MARK: Parts

    /// COUNTERS, in the documented order.
    /// `{"last_success", "last_error", "last_error_at", "consecutive_failures"}`.
    private static func encode(_ health: OperationHealth, into json: inout JSONWriter) {
        json.beginObject()
        json.field("last_success")
        json.timestamp(epochSeconds: health.lastSuccessEpochSeconds)
        json.field("last_error")
        json.string(health.lastError)
        json.field("last_error_at")
        json.timestamp(epochSeconds: health.lastErrorEpochSeconds)
        json.field("consecutive_failures")
        json.integer(health.consecutiveFailures)
        json.endObject()
    }

    private static func writeCounterMembers(_ counters: CounterValues, to json: inout JSONWriter) {
        json.field("requests")
        json.integer(counters.requests)
        json.field("succeeded")
        json.integer(counters.succeeded)
        json.field("failed")
        json.integer(counters.failed)
        json.field("input_tokens")
        json.integer(counters.inputTokens)
        json.field("output_tokens")
        json.integer(counters.outputTokens)
        json.field("total_tokens")
        json.integer(counters.totalTokens)
        json.field("cached_tokens")
        json.integer(counters.cachedTokens)
        json.field("cache_write_tokens")
        json.integer(counters.cacheWriteTokens)
        json.field("reasoning_tokens")
        json.integer(counters.reasoningTokens)
        json.field("web_search_requests")
        json.integer(counters.webSearchRequests)
        json.field("web_search_calls")
        json.integer(counters.webSearchCalls)
        json.field("web_search_input_tokens")
        json.integer(counters.webSearchInputTokens)
        json.field("web_search_output_tokens")
        json.integer(counters.webSearchOutputTokens)
        json.field("cost_usd")
        json.nanoDecimal(counters.costNanoUSD)
    }

    /// COUNTERS as values of an array the caller has opened, in the order of `counterColumns`:
    /// after the members already in it (`afterMembers`, a series row's names), or first (a
    /// `by_key` row). Written as one piece of text (`RowText`): 13 integers of at most 20
    /// digits and a cost of at most 30 characters, each after a separator.
    private static func writeCounterValues(
        _ counters: CounterValues, to json: inout JSONWriter, afterMembers: Bool = false
    ) {
        if !afterMembers { json.integer(counters.requests) }
        json.rawMembers(capacity: 14 * 22 + 32) { row in
            if afterMembers {
                row.separator()
                row.digits(counters.requests)
            }
            for value in [
                counters.succeeded, counters.failed, counters.inputTokens, counters.outputTokens, counters.totalTokens,
                counters.cachedTokens, counters.cacheWriteTokens, counters.reasoningTokens, counters.webSearchRequests,
                counters.webSearchCalls, counters.webSearchInputTokens, counters.webSearchOutputTokens,
            ] {
                row.separator()
                row.digits(value)
            }
            row.separator()
            row.scaledDecimal(counters.costNanoUSD.magnitude, negative: counters.costNanoUSD < 0, fractionDigits: 9)
        }
    }

    /// COUNTERS then PERFORMANCE, as members of an object the caller has opened.
    private static func writeRollupMembers(_ rollup: RollupReport, to json: inout JSONWriter) {
        writeCounterMembers(rollup.counters, to: &json)
        json.field("success_rate")
        json.ratio(rollup.counters.succeeded, rollup.counters.requests)
        json.field("latency_ms")
        writeDistribution(rollup.performance.latencyMs, to: &json)
        json.field("ttft_ms")
        writeDistribution(rollup.performance.ttftMs, to: &json)
        json.field("throughput_tps")
        writeDistribution(
            rollup.performance.throughputTPS, withAggregate: true, aggregate: rollup.performance.aggregateThroughputTPS,
            to: &json)
    }

    /// `{count, mean, min, max, p50, p90, p99}` (plus `aggregate` for throughput); the six figures
    /// are null when nothing was measured.
    private static func writeDistribution(
        _ summary: DistributionSummary, withAggregate: Bool = false, aggregate: Double? = nil,
        to json: inout JSONWriter
    ) {
        let measured = summary.count > 0
        json.beginObject(compact: true)
        json.field("count")
        json.integer(summary.count)
        json.field("mean")
        json.number(measured ? summary.mean : nil)
        json.field("min")
        json.number(measured ? summary.min : nil)
        json.field("max")
        json.number(measured ? summary.max : nil)
        json.field("p50")
        json.number(measured ? summary.p50 : nil)
        json.field("p90")
        json.number(measured ? summary.p90 : nil)
        json.field("p99")
        json.number(measured ? summary.p99 : nil)
        if withAggregate {
            json.field("aggregate")
            json.number(aggregate)
        }
        json.endObject()
    }

    private static func writeHighlights(_ highlights: HighlightsReport, to json: inout JSONWriter) {
        json.beginObject()
        json.field("primary_provider")
        json.string(highlights.primaryProvider)
        json.field("provider_count")
        json.integer(highlights.providerCount)
        json.field("fastest_provider")
        json.string(highlights.fastestProvider)
        json.field("fastest_model")
        json.string(highlights.fastestModel)
        json.field("slowest_model")
        json.string(highlights.slowestModel)
        json.field("highest_throughput_model")
        json.string(highlights.highestThroughputModel)
        json.field("lowest_throughput_model")
        json.string(highlights.lowestThroughputModel)
        json.field("fastest_request")
        writeRequest(highlights.fastestRequest, to: &json)
        json.field("slowest_request")
        writeRequest(highlights.slowestRequest, to: &json)
        json.field("min_requests")
        json.integer(highlights.minRequests)
        json.endObject()
    }

    private static func writeRequest(_ request: RequestHighlight?, to json: inout JSONWriter) {
        guard let request else {
            json.null()
            return
        }
        json.beginObject(compact: true)
        json.field("request_id")
        json.string(request.requestID)
        json.field("model")
        json.string(request.model)
        json.field("provider")
        json.string(request.provider)
        json.field("latency_ms")
        json.number(request.latencyMs)
        json.endObject()
    }
}
