import TokentallySystem
import TokentallyReading
import TokentallyCounting
/// The journal entries of one snapshot (docs/snapshot-format.md, "Journal"): the current day's totals,
/// then one entry per model and per provider of that day, the top `top` of each by requests.
public enum JournalEntries {
    public typealias Entry = [(name: String, value: String)]

    public static func entries(for day: BucketReport, top: Int) -> [Entry] {
        var entries = [entry(day, kind: "totals", model: nil, provider: nil, rollup: day.totals)]
        let byRequests: ((name: String, rollup: RollupReport), (name: String, rollup: RollupReport)) -> Bool = {
            $0.rollup.counters.requests != $1.rollup.counters.requests
                ? $0.rollup.counters.requests > $1.rollup.counters.requests : $0.name < $1.name
        }
        for row in day.byModel.sorted(by: byRequests).prefix(top) {
            entries.append(entry(day, kind: "model", model: row.name, provider: nil, rollup: row.rollup))
        }
        for row in day.byProvider.sorted(by: byRequests).prefix(top) {
            entries.append(entry(day, kind: "provider", model: nil, provider: row.name, rollup: row.rollup))
        }
        return entries
    }

    static func entry(_ day: BucketReport, kind: String, model: String?, provider: String?, rollup: RollupReport)
        -> Entry
    {
        let c = rollup.counters
        let cost = text { $0.nanoDecimal(c.costNanoUSD) }
        let rate = text { $0.ratio(c.succeeded, max(c.requests, 1)) }
        let p50 = rollup.performance.latencyMs.count > 0 ? rollup.performance.latencyMs.p50 : nil
        let subject = model ?? provider ?? "all models"
        var message =
            "\(day.label) \(subject): \(c.requests) requests (\(c.failed) failed), \(c.totalTokens) tokens, $\(cost)"
        if let p50 { message += ", p50 latency \(Int(p50.rounded())) ms" }
        var fields: Entry = [
            ("MESSAGE", message),
            ("PRIORITY", "6"),
            ("SYSLOG_IDENTIFIER", "tokentally"),
            ("TOKENTALLY_KIND", kind),
            ("TOKENTALLY_PERIOD", day.period.rawValue),
            ("TOKENTALLY_BUCKET", day.label),
            ("TOKENTALLY_HOST", day.host),
        ]
        if let model { fields.append(("TOKENTALLY_MODEL", model)) }
        if let provider { fields.append(("TOKENTALLY_PROVIDER", provider)) }
        fields += [
            ("TOKENTALLY_REQUESTS", String(c.requests)),
            ("TOKENTALLY_SUCCEEDED", String(c.succeeded)),
            ("TOKENTALLY_FAILED", String(c.failed)),
            ("TOKENTALLY_INPUT_TOKENS", String(c.inputTokens)),
            ("TOKENTALLY_OUTPUT_TOKENS", String(c.outputTokens)),
            ("TOKENTALLY_TOTAL_TOKENS", String(c.totalTokens)),
            ("TOKENTALLY_CACHED_TOKENS", String(c.cachedTokens)),
            ("TOKENTALLY_CACHE_WRITE_TOKENS", String(c.cacheWriteTokens)),
            ("TOKENTALLY_REASONING_TOKENS", String(c.reasoningTokens)),
            ("TOKENTALLY_WEB_SEARCH_REQUESTS", String(c.webSearchRequests)),
            ("TOKENTALLY_COST_USD", cost),
            ("TOKENTALLY_SUCCESS_RATE", rate),
        ]
        if let p50 { fields.append(("TOKENTALLY_LATENCY_P50_MS", text { $0.number(p50) })) }
        return fields
    }

    /// A number written the way the snapshot files write it.
    private static func text(_ write: (inout JSONWriter) -> Void) -> String {
        var writer = JSONWriter()
        write(&writer)
        return String(decoding: writer.bytes, as: UTF8.self)
    }
}
