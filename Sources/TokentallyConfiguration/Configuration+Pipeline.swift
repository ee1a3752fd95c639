import Logging
import TokentallyCounting
import TokentallyOutput
import TokentallyReading
import TokentallySystem

/// What both drivers of the pipeline (replay and the daemon) build from a configuration, built
/// one way for both.
extension Configuration {
    /// Every format by name: the presets and the user formats.
    public var formatMappings: [String: FieldMapping] {
        var mappings = formats
        for preset in FormatPreset.allCases { mappings[preset.rawValue] = preset.mapping }
        return mappings
    }

    /// Empty counters in the configured time zone, retention, series limit and secret pattern,
    /// and the ingestor that counts into them with `parserThreads` parsing threads.
    public func makeIngestor(parserThreads: Int, logger: Logger) throws(CommandError) -> LogIngestor {
        guard let calendar = BucketCalendar(timeZoneIdentifier: timezone) else {
            throw .usage("timezone: unknown time zone \"\(timezone)\"; use an IANA name such as UTC or Europe/Berlin")
        }
        let redactor: KeyRedactor
        do { redactor = try KeyRedactor(secretPattern: secretPattern) } catch {
            throw .usage("secret_pattern: \(error)")
        }
        let counters = UsageCounters(
            calendar: calendar, retention: retention, maxSeries: limits.maxSeries, redactor: redactor,
            lifetimeKeys: lifetime.keys)
        return LogIngestor(
            counters: counters, mappings: formatMappings, maxLineBytes: limits.maxLineBytes,
            parserThreads: parserThreads, logger: logger)
    }

    /// The bucket file layout `snapshot.schema` names.
    public var snapshotSchema: SnapshotEncoder.SchemaVersion {
        SnapshotEncoder.SchemaVersion(rawValue: snapshot.schema) ?? .v2
    }

    /// The snapshot publisher for `writer` with the configured host, zone and highlights.
    public func snapshotPublisher(writer: SnapshotWriter, pruneUnknownBuckets: Bool) -> SnapshotPublisher {
        SnapshotPublisher(
            writer: writer, host: host ?? HostName.current, timezone: timezone, minRequests: highlights.minRequests,
            pruneUnknownBuckets: pruneUnknownBuckets)
    }
}
