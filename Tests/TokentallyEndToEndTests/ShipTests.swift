import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Debian's `clickhouse-server` (18.16), started by the test on loopback with its own data
/// directory and stopped at the end.
final class ClickHouseServer {
    let process: BackgroundProcess
    let url: String

    init(root: URL) throws {
        let home = root.appendingPathComponent("clickhouse")
        for folder in ["data", "tmp", "log", "user_files"] {
            try FileManager.default.createDirectory(
                at: home.appendingPathComponent(folder), withIntermediateDirectories: true)
        }
        let http = try freeLoopbackPort()
        var tcp = try freeLoopbackPort()
        while tcp == http { tcp = try freeLoopbackPort() }
        try """
        <yandex>
          <profiles><default></default></profiles>
          <users><default><password></password><networks><ip>127.0.0.1</ip></networks>
            <profile>default</profile><quota>default</quota></default></users>
          <quotas><default></default></quotas>
        </yandex>
        """.write(to: home.appendingPathComponent("users.xml"), atomically: true, encoding: .utf8)
        try """
        <yandex>
          <logger><level>warning</level><log>\(home.path)/log/server.log</log><errorlog>\(home.path)/log/error.log</errorlog></logger>
          <http_port>\(http)</http_port>
          <tcp_port>\(tcp)</tcp_port>
          <listen_host>127.0.0.1</listen_host>
          <path>\(home.path)/data/</path>
          <tmp_path>\(home.path)/tmp/</tmp_path>
          <user_files_path>\(home.path)/user_files/</user_files_path>
          <users_config>\(home.path)/users.xml</users_config>
          <default_profile>default</default_profile>
          <default_database>default</default_database>
          <mark_cache_size>104857600</mark_cache_size>
        </yandex>
        """.write(to: home.appendingPathComponent("config.xml"), atomically: true, encoding: .utf8)
        process = try BackgroundProcess(
            name: "clickhouse", executable: URL(fileURLWithPath: "/usr/sbin/clickhouse-server"),
            arguments: ["--config-file=\(home.appendingPathComponent("config.xml").path)"], outputDirectory: root)
        url = "http://127.0.0.1:\(http)/"
        let deadline = Date().addingTimeInterval(60)
        while (try? query("SELECT 1").trimmingCharacters(in: .whitespacesAndNewlines)) != "1" {
            guard process.isRunning, Date() < deadline else {
                process.killAndReap()
                throw ScenarioAbort("clickhouse-server did not start: \(process.stderrTail())")
            }
            usleep(200_000)
        }
    }

    /// Runs a statement through the HTTP interface (with curl, the test's own client).
    func query(_ sql: String) throws -> String {
        let outcome = try ProcessLauncher.run(
            URL(fileURLWithPath: "/usr/bin/curl"), ["-s", "-S", "--fail-with-body", "--data-binary", "@-", url],
            stdin: Data(sql.utf8), timeoutSeconds: 60)
        guard outcome.status == 0 else {
            throw ScenarioAbort("clickhouse: \(outcome.stdoutText) \(outcome.stderrText)")
        }
        return outcome.stdoutText
    }

    /// Rows of `FORMAT JSONEachRow`.
    func rows(_ sql: String) throws -> [JSONValue] {
        try query(sql + " FORMAT JSONEachRow").split(separator: "\n").map { try JSONReader.parse(Array($0.utf8)) }
    }

    func stop() {
        process.send(SIGTERM)
        if !process.waitForExit(seconds: 30) { process.killAndReap() }
    }
}

/// `tokentally ship` into a real ClickHouse: three hosts' shipments, some twice and one
/// interrupted by SIGKILL, and ClickHouse down for a while; the documented fleet queries
/// (docs/fleet.md) equal the oracle over every host's lines.
@Suite("Fleet: ship to ClickHouse")
struct ShipTests {
    static let fleetDoc = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("docs/fleet.md")

    /// The SQL blocks of docs/fleet.md by name (`<!-- query: NAME -->`).
    static func documentedQueries() throws -> [String: String] {
        let text = try String(contentsOf: fleetDoc, encoding: .utf8)
        var queries: [String: String] = [:]
        for match in text.matches(of: /<!-- query: (\w+) -->\n```sql\n((?:.|\n)*?)```/) {
            queries[String(match.1)] = String(match.2)
        }
        return queries
    }

    static func ship(_ snapshots: URL, state: URL, clickhouse: String, extra: [String] = []) throws -> ProcessOutcome {
        try TokentallyBinary.run(
            ["ship", "--clickhouse", clickhouse, "--snapshot-dir", snapshots.path, "--state-dir", state.path, "--once"]
                + extra)
    }

    @Test
    func shipmentsTwiceKilledAndRetriedCountOnce() throws {
        try withScratchDirectory("ship") { root in
            let (expected, hosts) = try FleetTests.threeHosts(in: root, lines: 6_000, files: 4, keys: 40)
            let states = (1...3).map { root.appendingPathComponent("ship-state-\($0)") }

            // ClickHouse not there yet: ship says so, exits 1, and has recorded nothing shipped.
            let nobody = "http://127.0.0.1:\(try freeLoopbackPort())/"
            let down = try Self.ship(hosts[0], state: states[0], clickhouse: nobody, extra: ["--init"])
            #expect(
                down.status == 1 && down.stderrText.contains("cannot connect")
                    && down.stderrText.contains("nothing is lost"))

            let state = try JSONReader.parse(
                Array(try Data(contentsOf: states[0].appendingPathComponent("ship-state.json"))))
            #expect(
                state.value(at: ["status", "consecutive_failures"])?.numberText == "1", "the status says it failed")
            #expect(state["buckets"]?.objectValue?.isEmpty == true, "nothing was shipped")

            let server = try ClickHouseServer(root: root)
            defer { server.stop() }
            // The tables as docs/fleet.md gives them; --init after them changes nothing.
            let queries = try Self.documentedQueries()
            for statement in try #require(queries["schema"]).split(separator: ";")
            where !statement.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                _ = try server.query(String(statement))
            }
            // Host 1 with --init; host 2 twice; host 3 killed right after it starts, then again.
            let first = try Self.ship(hosts[0], state: states[0], clickhouse: server.url, extra: ["--init"])
            try #require(first.status == 0, "\(first.summary)")
            for _ in 0..<2 {
                let outcome = try Self.ship(hosts[1], state: states[1], clickhouse: server.url)
                #expect(outcome.status == 0, "\(outcome.summary)")
            }
            let killed = try BackgroundProcess(
                name: "ship-killed", executable: TokentallyBinary.url,
                arguments: [
                    "ship", "--clickhouse", server.url, "--snapshot-dir", hosts[2].path, "--state-dir", states[2].path,
                ],
                outputDirectory: root)
            usleep(150_000)
            killed.send(SIGKILL)
            _ = killed.waitForExit(seconds: 10)
            let retried = try Self.ship(hosts[2], state: states[2], clickhouse: server.url)
            #expect(retried.status == 0, "\(retried.summary)")
            // Host 1's state says everything went: a second run sends nothing.
            let again = try Self.ship(hosts[0], state: states[0], clickhouse: server.url)
            #expect(again.status == 0 && again.stdoutText.isEmpty, "\(again.summary)")
            // Re-ship everything of host 2 from a lost state: rows replace, they do not add.
            try FileManager.default.removeItem(at: states[1])
            #expect(try Self.ship(hosts[1], state: states[1], clickhouse: server.url).status == 0)

            for name in ["schema", "totals", "by_model", "by_key", "latency_quantiles_by_model"] {
                #expect(queries[name] != nil, "docs/fleet.md lacks the \(name) query")
            }
            for period in [BucketPeriod.day, .month] {
                for (label, bucket) in expected.buckets[period] ?? [:] {
                    func sql(_ name: String) -> String {
                        queries[name]!.replacingOccurrences(of: "{period}", with: period.rawValue)
                            .replacingOccurrences(of: "{bucket}", with: label)
                    }
                    let totals = try #require(try server.rows(sql("totals")).first)
                    let c = bucket.totals.counters
                    #expect(totals["requests"]?.stringValue == String(c.requests), "\(label) requests")
                    #expect(totals["succeeded"]?.stringValue == String(c.succeeded), "\(label) succeeded")
                    #expect(totals["input_tokens"]?.stringValue == String(c.inputTokens), "\(label) input")
                    #expect(totals["output_tokens"]?.stringValue == String(c.outputTokens), "\(label) output")
                    #expect(
                        totals["cost_usd"]?.numberText.flatMap { Decimal(string: $0) } == c.costUSD, "\(label) cost")

                    let byModel = try server.rows(sql("by_model"))
                    #expect(byModel.count == bucket.byModel.count, "\(label): \(byModel.count) models")
                    for row in byModel {
                        let model = row["model"]?.stringValue ?? ""
                        let counters = bucket.byModel[model]?.counters
                        #expect(
                            row["requests"]?.stringValue == counters.map { String($0.requests) }, "\(label) \(model)")
                        #expect(row["cost_usd"]?.numberText.flatMap { Decimal(string: $0) } == counters?.costUSD)
                    }
                    let byKey = try server.rows(sql("by_key"))
                    #expect(byKey.count == bucket.byKey.count, "\(label): \(byKey.count) keys")
                    for row in byKey {
                        let key = row["api_key"]?.stringValue ?? ""
                        #expect(
                            row["total_tokens"]?.stringValue
                                == bucket.byKey[key].map { String($0.inputTokens + $0.outputTokens) })
                    }
                    // Quantiles from the merged bins: within 1% of the exact order statistic.
                    let quantiles = try server.rows(sql("latency_quantiles_by_model"))
                    #expect(quantiles.count == bucket.byModel.values.filter { !$0.latency.values.isEmpty }.count)
                    for row in quantiles {
                        let model = row["model"]?.stringValue ?? ""
                        let sample = try #require(bucket.byModel[model]?.latency)
                        let sorted = sample.sorted
                        for (figure, q) in [("p50", 0.5), ("p90", 0.9), ("p99", 0.99)] {
                            let exact = sorted[max(0, Int((q * Double(sorted.count)).rounded(.up)) - 1)]
                            let found = try #require(row[figure]?.doubleValue)
                            #expect(
                                abs(found - exact) <= exact * 0.01 + sample.slack + 1e-9, "\(label) \(model) \(figure)")
                        }
                    }
                }
            }
        }
    }
}
