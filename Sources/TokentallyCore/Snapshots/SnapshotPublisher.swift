/// Writes the counters' changed buckets and index.json, and deletes buckets out of retention.
public struct SnapshotPublisher {
    public let writer: SnapshotWriter
    public let host: String
    public let timezone: String
    public let minRequests: Int

    public init(writer: SnapshotWriter, host: String, timezone: String, minRequests: Int) {
        self.writer = writer
        self.host = host
        self.timezone = timezone
        self.minRequests = minRequests
    }

    /// Writes every bucket changed since the last publish, then index.json (so a reader that
    /// follows the index never finds a listed bucket missing), then removes buckets that fell
    /// out of retention. Returns how many bucket files were written.
    @discardableResult
    public func publish(_ counters: UsageCounters, status: IngestStatus, now: Int64) throws -> Int {
        var written = 0
        var retained: [Period: Set<String>] = [:]
        var labels: [Period: [String]] = [:]
        for period in Period.allCases {
            for ordinal in counters.dirtyBucketOrdinals(period) {
                guard
                    let report = counters.report(
                        period, ordinal: ordinal, host: host, timezone: timezone, generatedAt: now,
                        minRequests: minRequests)
                else { continue }
                try writer.write(report)
                written += 1
            }
            let all = counters.bucketOrdinals(period).map { counters.calendar.label(period, ordinal: $0) }
            labels[period] = all
            retained[period] = Set(all)
        }
        counters.markClean()
        try writer.write(
            IndexReport(generatedAtEpochSeconds: now, host: host, timezone: timezone, buckets: labels, status: status))
        _ = try writer.removeBuckets(except: retained)
        return written
    }
}
