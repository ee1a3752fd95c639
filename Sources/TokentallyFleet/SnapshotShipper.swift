import Foundation
import TokentallySystem
import TokentallyViews

/// `tokentally ship`: a host's snapshot directory into ClickHouse (docs/fleet.md). It ships
/// *values*, not increments: each bucket's rows carry the bucket's whole counters and a
/// `version` that only grows for the host, into `ReplacingMergeTree(version)` tables, so a
/// retry, a crash mid-ship, a restart or the same snapshot shipped twice leaves one row per key,
/// the newest. Only buckets whose file changed since the last ship are sent.
///
/// Its own state (`ship-state.json` in the state directory) remembers, per bucket file, the
/// `generated_at` shipped and the version used, and the highest version ever given, so that
/// versions keep growing across restarts even if the clock goes back; and its status: the last
/// success and failure (Unix seconds), the last error, the failures in a row.
public final class SnapshotShipper {
    public static let counterColumns = [
        "requests", "succeeded", "failed", "input_tokens", "output_tokens", "total_tokens", "cached_tokens",
        "cache_write_tokens", "reasoning_tokens", "web_search_requests", "web_search_calls", "web_search_input_tokens",
        "web_search_output_tokens",
    ]

    /// The tables, for ClickHouse 18.16 (Debian 12) and newer: no `Map` type, Decimal from JSON
    /// numbers, no insert deduplication tokens; `ReplacingMergeTree(version)` replaces instead.
    public static func schema(database: String) -> [String] {
        let counters = counterColumns.map { "    \($0) UInt64" }.joined(separator: ",\n")
        return [
            "CREATE DATABASE IF NOT EXISTS \(database)",
            """
            CREATE TABLE IF NOT EXISTS \(database).series (
                period String,
                bucket String,
                bucket_start DateTime,
                host String,
                api_key String,
                model String,
                provider String,
            \(counters),
                cost_usd Decimal(38, 9),
                version UInt64
            ) ENGINE = ReplacingMergeTree(version)
            ORDER BY (period, bucket, host, api_key, model, provider)
            """,
            """
            CREATE TABLE IF NOT EXISTS \(database).sketches (
                period String,
                bucket String,
                bucket_start DateTime,
                host String,
                model String,
                provider String,
                figure String,
                count UInt64,
                sum Float64,
                min Float64,
                max Float64,
                zero_count UInt64,
                bin_index Array(Int32),
                bin_count Array(UInt64),
                version UInt64
            ) ENGINE = ReplacingMergeTree(version)
            ORDER BY (period, bucket, host, model, provider, figure)
            """,
        ]
    }

    public struct Status: Sendable {
        public var shippedBuckets = 0
        public var shippedRows = 0
        public var lastSuccess: Int64?
        public var lastError: String?
        public var lastErrorAt: Int64?
        public var consecutiveFailures = 0
    }

    let client: ClickHouseClient
    let database: String
    let directory: SnapshotDirectory
    let stateDirectory: String
    private(set) var shipped: [String: (generatedAt: String, version: UInt64)] = [:]
    private(set) var highestVersion: UInt64 = 0
    public private(set) var status = Status()

    public init(client: ClickHouseClient, database: String, snapshotDirectory: String, stateDirectory: String) throws {
        self.client = client
        self.database = database
        self.directory = SnapshotDirectory(path: snapshotDirectory)
        self.stateDirectory = stateDirectory
        try FileManager.default.createDirectory(atPath: stateDirectory, withIntermediateDirectories: true)
        try loadState()
    }

    /// Creates the database and the tables (`--init`).
    public func initialize() throws(ClickHouseClient.Failure) {
        for statement in Self.schema(database: database) { try client.execute(statement) }
    }

    /// One pass: every bucket whose file changed since it was last shipped. Returns how many
    /// buckets it sent; throws on the first failure, after committing what went through.
    @discardableResult
    public func shipOnce(now: Int64) throws -> Int {
        let index = try directory.index()
        let host = index.hosts.first?.name ?? ""
        var sent = 0
        for period in SnapshotIndex.periods {
            for label in index.buckets[period] ?? [] {
                let name = "\(period)/\(label)"
                // A summary read first (no rows): most buckets did not change since the last ship.
                guard let summary = try? directory.bucket(period: period, label: label, rows: false) else { continue }
                if shipped[name]?.generatedAt == summary.generatedAt { continue }
                let file: BucketFile
                do { file = try directory.bucket(period: period, label: label) } catch { continue }  // gone: retention
                // A new version for new content; the same one again only for a retry of it.
                let version = max(UInt64(max(0, Timestamps.epoch(file.generatedAt) ?? 0)) * 1000, highestVersion + 1)
                try client.execute(
                    "INSERT INTO \(database).series FORMAT JSONEachRow",
                    data: seriesRows(file, host: host, version: version))
                let sketches = sketchRows(file, host: host, version: version)
                if !sketches.isEmpty {
                    try client.execute("INSERT INTO \(database).sketches FORMAT JSONEachRow", data: sketches)
                }
                highestVersion = version
                shipped[name] = (file.generatedAt, version)
                try saveState()
                status.shippedRows += file.series.count
                sent += 1
            }
        }
        status.shippedBuckets += sent
        status.lastSuccess = now
        status.consecutiveFailures = 0
        try saveState()
        return sent
    }

    /// Records a failed pass in the status (and in ship-state.json, for whoever looks).
    public func noteFailure(_ error: any Error, now: Int64) {
        status.lastError = "\(error)"
        status.lastErrorAt = now
        status.consecutiveFailures += 1
        try? saveState()
    }

    /// `JSONEachRow` lines of the bucket's series rows.
    func seriesRows(_ file: BucketFile, host: String, version: UInt64) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(file.series.count * 400)
        let head =
            "{\"period\":\(Self.quoted(file.period)),\"bucket\":\(Self.quoted(file.bucket)),\"bucket_start\":\(Timestamps.epoch(file.start) ?? 0),\"host\":\(Self.quoted(host)),"
        for row in file.series {
            var line = head
            line +=
                "\"api_key\":\(Self.quoted(file.keyNames[Int(row.key)])),\"model\":\(Self.quoted(file.modelNames[Int(row.model)])),"
            line += "\"provider\":\(Self.quoted(file.providerNames[Int(row.provider)]))"
            for (index, name) in Self.counterColumns.enumerated() {
                line += ",\"\(name)\":\(row.counters.integers[index])"
            }
            line += ",\"cost_usd\":\(Money.text(row.counters.costNanos)),\"version\":\(version)}\n"
            out += Array(line.utf8)
        }
        return out
    }

    /// `JSONEachRow` lines of the bucket's sketches per (model, provider) pair: the pairs'
    /// sketches merge into every other rollup (`sumMap` over their bins).
    func sketchRows(_ file: BucketFile, host: String, version: UInt64) -> [UInt8] {
        var out = ""
        for pair in file.sketches["by_model_provider"]?.elements ?? [] {
            guard let model = pair["model"]?.string, let provider = pair["provider"]?.string else { continue }
            for figure in ["latency_ms", "ttft_ms", "throughput_tps"] {
                guard let sketch = pair[figure], let offset = sketch["offset"]?.number.flatMap({ Int($0) }) else {
                    continue
                }
                let counts = sketch["counts"]?.elements.compactMap(\.number) ?? []
                let indexes = counts.indices.map { String(offset + $0) }
                out += "{\"period\":\(Self.quoted(file.period)),\"bucket\":\(Self.quoted(file.bucket)),"
                out += "\"bucket_start\":\(Timestamps.epoch(file.start) ?? 0),\"host\":\(Self.quoted(host)),"
                out += "\"model\":\(Self.quoted(model)),\"provider\":\(Self.quoted(provider)),\"figure\":\"\(figure)\","
                for name in ["count", "sum", "min", "max", "zero_count"] {
                    out += "\"\(name)\":\(sketch[name]?.number ?? "0"),"
                }
                out +=
                    "\"bin_index\":[\(indexes.joined(separator: ","))],\"bin_count\":[\(counts.joined(separator: ","))],"
                out += "\"version\":\(version)}\n"
            }
        }
        return Array(out.utf8)
    }

    // MARK: - State

    private var statePath: String { stateDirectory + "/ship-state.json" }

    private func loadState() throws {
        guard let data = FileManager.default.contents(atPath: statePath) else { return }
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let highest = object["highest_version"] as? NSNumber, let buckets = object["buckets"] as? [String: Any]
        else {
            throw ShipError(
                message:
                    "\(statePath) is not a ship state; move it aside to ship every bucket again (harmless: rows are replaced, not added)"
            )
        }
        highestVersion = highest.uint64Value
        for (name, value) in buckets {
            guard let entry = value as? [String: Any], let at = entry["generated_at"] as? String,
                let version = entry["version"] as? NSNumber
            else { continue }
            shipped[name] = (at, version.uint64Value)
        }
    }

    private func saveState() throws {
        var text = "{\n  \"highest_version\": \(highestVersion),\n  \"buckets\": {"
        text += shipped.keys.sorted().map { name in
            "\n    \(Self.quoted(name)): {\"generated_at\": \(Self.quoted(shipped[name]!.generatedAt)), \"version\": \(shipped[name]!.version)}"
        }.joined(separator: ",")
        text += "\n  },\n  \"status\": {\"last_success\": \(status.lastSuccess.map(String.init) ?? "null"), "
        text += "\"last_error\": \(status.lastError.map(Self.quoted) ?? "null"), "
        text += "\"last_error_at\": \(status.lastErrorAt.map(String.init) ?? "null"), "
        text += "\"consecutive_failures\": \(status.consecutiveFailures)}\n}\n"
        let bytes = Array(text.utf8)
        try AtomicFile.write(directory: stateDirectory, name: "ship-state.json", mode: 0o640) { descriptor, _ in
            if let error = bytes.withUnsafeBytes({ Syscall.writeAll(descriptor, $0) }) { throw error }
        }
    }

    static func quoted(_ text: String) -> String { ReportJSON.quoted(text) }
}

public struct ShipError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var description: String { message }
}
