import Logging
import Testing

@testable import TokentallyCounting
@testable import TokentallyReading
@testable import TokentallySystem

/// Text in memory as a `ByteSource`, for the tests that feed an ingestor.
final class TextSource: ByteSource {
    let bytes: [UInt8]
    var offset = 0
    var damage: Damage? { nil }
    init(_ text: String) { bytes = Array(text.utf8) }
    func read(into buffer: UnsafeMutableRawBufferPointer) throws(FileReadError) -> Int {
        let n = min(buffer.count, bytes.count - offset)
        for i in 0..<n { buffer[i] = bytes[offset + i] }
        offset += n
        return n
    }
}

/// An ingestor over empty counters in `zone`, with every preset's mapping and keys matching
/// `^sk-` redacted.
func makeTestIngestor(zone: String, maxSeries: Int, parserThreads: Int = 0) throws -> LogIngestor {
    let counters = UsageCounters(
        calendar: try #require(BucketCalendar(timeZoneIdentifier: zone)), retention: RetentionConfiguration(),
        maxSeries: maxSeries, redactor: try KeyRedactor(secretPattern: "^sk-"))
    var mappings: [String: FieldMapping] = [:]
    for preset in FormatPreset.allCases { mappings[preset.rawValue] = preset.mapping }
    return LogIngestor(
        counters: counters, mappings: mappings, maxLineBytes: 4_096, parserThreads: parserThreads,
        logger: Logger(label: "test"))
}
