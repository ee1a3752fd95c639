import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `tokentally report` and `tokentally serve` on a replayed snapshot directory, against the
/// independent oracle's counts of the same lines, under key, model and provider filters.
@Suite("Views: report, API, CSV and metrics")
struct ViewTests {
    @Test
    func reportJSONAndCSVMatchTheOracleUnderFilters() throws {
        try withScratchDirectory("views-report") { root in
            let fixture = try ViewFixture(root: root)
            for selection in fixture.selections {
                let expected = fixture.expectation(selection)
                #expect(expected.totals.requests > 0, "\(selection) selects nothing")
                let json = try TokentallyBinary.run(
                    ["report", "--snapshot-dir", fixture.snapshots.path, "--format", "json"] + selection.arguments)
                try #require(json.status == 0, "\(selection): \(json.summary)")
                let mismatches = try reportMismatches(json.stdoutText, expected, selection)
                #expect(mismatches.isEmpty, "\(selection): \(mismatches.prefix(10))")

                let csv = try TokentallyBinary.run(
                    ["report", "--snapshot-dir", fixture.snapshots.path, "--format", "csv"] + selection.arguments)
                try #require(csv.status == 0, "\(selection): \(csv.summary)")
                let csvProblems = csvMismatches(csv.stdoutText, expected)
                #expect(csvProblems.isEmpty, "\(selection) CSV: \(csvProblems.prefix(10))")

                // The table: the exact request count appears, grouped, and no colour off a terminal.
                let table = try TokentallyBinary.run(
                    ["report", "--snapshot-dir", fixture.snapshots.path, "--tab", "usage"] + selection.arguments)
                try #require(table.status == 0, "\(selection): \(table.summary)")
                #expect(!table.stdoutText.contains("\u{1B}["), "colour in a table written to a file")
                let grouped = ViewTests.grouped(expected.totals.requests)
                #expect(table.stdoutText.contains(grouped), "\(selection): the table lacks \(grouped) requests")
            }

            // Under a key filter the performance figures are withheld, and the JSON says why.
            let keyed = fixture.selections[1]
            let json = try TokentallyBinary.run(
                ["report", "--snapshot-dir", fixture.snapshots.path, "--format", "json"] + keyed.arguments)
            let report = try JSONReader.parse(Array(json.stdoutText.utf8))
            #expect(report.value(at: ["performance", "available"]) == .bool(false))
            #expect(report.value(at: ["performance", "note"])?.stringValue?.contains("API key") == true)
            #expect(report.value(at: ["performance", "totals"]) == .null)
        }
    }

    @Test
    func aBucketOrAFilterThatMatchesNothingIsOneLineAndExitTwo() throws {
        try withScratchDirectory("views-errors") { root in
            let fixture = try ViewFixture(root: root, lines: 1_000, days: 3, keys: 5)
            let month = fixture.month.label
            let cases: [([String], String)] = [
                (["--period", "month", "--bucket", "1999-01"], "the month buckets are \(month)"),
                (["--bucket", month, "--model", "no-such-model"], "--model no-such-model matches nothing"),
                (["--bucket", month, "--key", "no-such-key"], "--key no-such-key matches nothing"),
                (["--period", "year"], "--period must be day, week or month"),
            ]
            for (arguments, message) in cases {
                let outcome = try TokentallyBinary.run(
                    ["report", "--snapshot-dir", fixture.snapshots.path] + arguments)
                #expect(outcome.status == 2, "\(arguments): \(outcome.summary)")
                #expect(outcome.stderrLines.count == 1 && outcome.stderrText.contains(message), "\(outcome.summary)")
                #expect(outcome.stdout.isEmpty)
            }
            let missing = try TokentallyBinary.run([
                "report", "--snapshot-dir", root.appendingPathComponent("none").path,
            ])
            #expect(missing.status == 2 && missing.stderrLines.count == 1, "\(missing.summary)")
            #expect(missing.stderrText.contains("--snapshot-dir"), "\(missing.summary)")
        }
    }

    @Test
    func serveAnswersAsReportDoesAndRefusesBadQueries() throws {
        try withScratchDirectory("views-serve") { root in
            let fixture = try ViewFixture(root: root)
            let server = try ServeProcess(snapshots: fixture.snapshots, outputDirectory: root)
            defer { server.stop() }
            for selection in fixture.selections {
                let expected = fixture.expectation(selection)
                let api = try httpGet("\(server.base)/api/v1/report?\(selection.query)")
                try #require(api.status == 200, "\(selection): \(api.status) \(api.body.prefix(300))")
                let mismatches = try reportMismatches(api.body, expected, selection)
                #expect(mismatches.isEmpty, "\(selection): \(mismatches.prefix(10))")
                // The same document as the command's.
                let command = try TokentallyBinary.run(
                    ["report", "--snapshot-dir", fixture.snapshots.path, "--format", "json"] + selection.arguments)
                #expect(command.stdoutText == api.body, "\(selection): the API and the command differ")

                let csv = try httpGet("\(server.base)/api/v1/report.csv?\(selection.query)")
                #expect(csv.status == 200)
                let csvProblems = csvMismatches(csv.body, expected)
                #expect(csvProblems.isEmpty, "\(selection) CSV: \(csvProblems.prefix(10))")
            }

            let buckets = try httpGet("\(server.base)/api/v1/buckets")
            let listed = try JSONReader.parse(Array(buckets.body.utf8))
            #expect(
                listed.value(at: ["buckets", "month"])?.arrayValue?.compactMap(\.stringValue)
                    == (fixture.expected.buckets[.month] ?? [:]).keys.sorted())
            #expect(try httpGet("\(server.base)/healthz") == (200, "ok\n"))

            for (query, message) in [
                ("period=year", "period must be day, week or month"),
                ("bucket=1999-01", "no month bucket 1999-01"),
                ("model=nope", "--model nope matches nothing"),
                ("colour=blue", "unknown query parameter colour"),
                ("model=%zz", "not valid percent-encoded"),
            ] {
                let answer = try httpGet("\(server.base)/api/v1/report?\(query)")
                #expect(answer.status == 400, "\(query): \(answer)")
                #expect(
                    answer.body.contains(message) && answer.body.split(separator: "\n").count == 1, "\(answer.body)")
                #expect(try httpGet("\(server.base)/?\(query)").status == 400)
            }
            #expect(try httpGet("\(server.base)/no/such/path").status == 404)

            // No raw secret reaches any view: keys that look like secrets are shown hashed.
            let secrets = Set(fixture.expected.records.map(\.rawAPIKey).filter(KeyRedaction.isSecret))
            #expect(!secrets.isEmpty, "the generated logs should hold secret-looking keys")
            let month = fixture.month.label
            for path in [
                "/?period=month&bucket=\(month)&tab=usage", "/api/v1/report?period=month&bucket=\(month)",
                "/api/v1/report.csv?period=month&bucket=\(month)", "/metrics",
            ] {
                let body = try httpGet(server.base + path).body
                for secret in secrets { #expect(!body.contains(secret), "\(path) shows a raw key") }
            }
        }
    }

    /// Colour only on a terminal (`script` gives the command one), and never with NO_COLOR.
    @Test
    func theTableIsColouredOnlyOnATerminalWithoutNoColor() throws {
        try withScratchDirectory("views-colour") { root in
            let fixture = try ViewFixture(root: root, lines: 500, days: 2, keys: 4)
            let command = "\(TokentallyBinary.url.path) report --snapshot-dir \(fixture.snapshots.path) --tab usage"
            // `env -u`: the test runner's own environment may carry NO_COLOR.
            let env = URL(fileURLWithPath: "/usr/bin/env")
            let terminal = try ProcessLauncher.run(
                env, ["-u", "NO_COLOR", "/usr/bin/script", "-q", "-e", "-c", command, "/dev/null"])
            #expect(terminal.status == 0, "\(terminal.summary)")
            #expect(terminal.stdoutText.contains("\u{1B}["), "no colour on a terminal")
            let noColor = try ProcessLauncher.run(
                env, ["NO_COLOR=1", "/usr/bin/script", "-q", "-e", "-c", command, "/dev/null"])
            #expect(noColor.status == 0 && noColor.stdoutText.contains("USAGE"), "\(noColor.summary)")
            #expect(!noColor.stdoutText.contains("\u{1B}["), "colour despite NO_COLOR")
        }
    }

    /// With `lifetime.keys: 2`, the metrics carry an `api_key` label for the first two keys and
    /// `__other__` for the rest, summing to the same totals.
    @Test
    func perKeyMetricsOnlyWhenConfiguredAndCapped() throws {
        try withScratchDirectory("views-key-metrics") { root in
            let logs = root.appendingPathComponent("logs")
            try ReplayExactnessTests.generate(
                into: logs, format: .tokentally, lines: 2_000, days: 3, files: 2, keys: 10)
            let snapshots = root.appendingPathComponent("snapshots")
            let replay = try TokentallyBinary.run(
                ["replay", "--no-journal", "--snapshot-dir", snapshots.path, logs.path],
                environment: ["TOKENTALLY_LIFETIME_KEYS": "2"])
            try #require(replay.status == 0, "\(replay.summary)")
            let server = try ServeProcess(snapshots: snapshots, outputDirectory: root)
            defer { server.stop() }
            let samples = PrometheusText.samples(try httpGet("\(server.base)/metrics").body)
            let requests = samples.all("tokentally_requests_total")
            let labels = Set(requests.compactMap { $0.labels["api_key"] })
            #expect(labels.count == 3 && labels.contains("__other__"), "api_key labels: \(labels)")
            #expect(requests.allSatisfy { $0.labels["api_key"] != nil })
            let total = requests.compactMap { UInt64($0.value) }.reduce(0, +)
            let index = try JSONReader.parse(
                Array(try Data(contentsOf: snapshots.appendingPathComponent("index.json"))))
            let counted = index.value(at: ["status", "lines_counted"])?.numberText.flatMap { UInt64($0) }
            #expect(counted != nil && total == counted, "\(total) requests in the metrics, \(counted ?? 0) counted")
        }
    }

    /// `/metrics` in Prometheus' text format: the lifetime counters per (model, provider) equal
    /// the oracle's over every line read, and each histogram's `+Inf` bucket equals its count.
    @Test
    func metricsExposeTheLifetimeCounters() throws {
        try withScratchDirectory("views-metrics") { root in
            let fixture = try ViewFixture(root: root)
            let server = try ServeProcess(snapshots: fixture.snapshots, outputDirectory: root)
            defer { server.stop() }
            let metrics = try httpGet("\(server.base)/metrics")
            #expect(metrics.status == 200)
            let samples = PrometheusText.samples(metrics.body)
            for family in [
                "tokentally_requests_total", "tokentally_tokens_total", "tokentally_cost_usd_total",
                "tokentally_request_duration_seconds", "tokentally_time_to_first_token_seconds",
                "tokentally_lines_read_total",
            ] {
                #expect(metrics.body.contains("# TYPE \(family) "), "no TYPE line for \(family)")
            }

            var expected: [ModelProvider: (ok: UInt64, failed: UInt64, input: UInt64, latencies: Int, cost: Decimal)] =
                [:]
            for record in fixture.expected.records {
                let pair = ModelProvider(model: record.model, provider: record.provider)
                var entry = expected[pair] ?? (0, 0, 0, 0, 0)
                if record.succeeded { entry.ok += 1 } else { entry.failed += 1 }
                entry.input += record.inputTokens
                if record.latencyMs != nil { entry.latencies += 1 }
                entry.cost += record.costUSD
                expected[pair] = entry
            }
            for (pair, entry) in expected {
                let labels = ["model": pair.model, "provider": pair.provider]
                #expect(
                    samples.value("tokentally_requests_total", labels.merging(["outcome": "success"]) { $1 })
                        == "\(entry.ok)")
                #expect(
                    samples.value("tokentally_requests_total", labels.merging(["outcome": "failure"]) { $1 })
                        == "\(entry.failed)")
                #expect(
                    samples.value("tokentally_tokens_total", labels.merging(["type": "input"]) { $1 })
                        == "\(entry.input)", "\(pair)")
                #expect(
                    samples.value("tokentally_request_duration_seconds_count", labels) == "\(entry.latencies)",
                    "\(pair)")
                #expect(
                    samples.value("tokentally_request_duration_seconds_bucket", labels.merging(["le": "+Inf"]) { $1 })
                        == "\(entry.latencies)")
                #expect(
                    samples.value("tokentally_cost_usd_total", labels).flatMap { Decimal(string: $0) } == entry.cost)
            }
            let read = fixture.expected.linesCounted + fixture.expected.linesEmpty + fixture.expected.linesRejected
            #expect(samples.value("tokentally_lines_read_total", [:]) == "\(read)")
            // Buckets are cumulative: never decreasing along `le`.
            for pair in expected.keys {
                let counts = samples.all("tokentally_request_duration_seconds_bucket")
                    .filter { $0.labels["model"] == pair.model && $0.labels["provider"] == pair.provider }
                    .compactMap { UInt64($0.value) }
                #expect(counts == counts.sorted() && counts.count == 15, "\(pair): \(counts)")
            }
        }
    }

    /// The daemon's lifetime counters count every line once, through a clean stop, a SIGKILL
    /// and restarts, and keep counting what retention has dropped from every bucket file.
    @Test
    func lifetimeCountersCountEachLineOnceAcrossRestartsAndExpiry() throws {
        try withScratchDirectory("views-lifetime") { root in
            let workspace = try FaultWorkspace(root: root)
            try workspace.writeConfig(extra: "retention: { days: 1, weeks: 1, months: 1 }")
            var written: [(input: Int, old: Bool)] = []
            func append(_ count: Int, secondsAgo: Int) throws {
                var lines: [String] = []
                for _ in 0..<count {
                    let tag = written.count
                    let tokens = 10 + tag % 7
                    lines.append(
                        recentLine(secondsAgo: secondsAgo, key: "team-\(tag % 3)", tag: tag, inputTokens: tokens))
                    written.append((tokens, secondsAgo > 86_400))
                }
                try workspace.append(lines)
            }
            func lifetime() -> (requests: Int, input: Int)? {
                guard let entries = (workspace.index()?["lifetime"] as? [String: Any])?["entries"] as? [[String: Any]]
                else { return nil }
                return (
                    entries.reduce(0) { $0 + ($1["succeeded"] as? Int ?? 0) + ($1["failed"] as? Int ?? 0) },
                    entries.reduce(0) { $0 + ($1["input_tokens"] as? Int ?? 0) }
                )
            }
            func waitForLifetime() throws {
                let expected = (written.count, written.reduce(0) { $0 + $1.input })
                try workspace.wait("lifetime counters of \(expected.0) lines") {
                    lifetime().map { $0 == expected } ?? false
                }
            }
            // Recent lines, then lines of four days ago: late for every day bucket.
            try append(200, secondsAgo: 60)
            try append(100, secondsAgo: 4 * 86_400)
            var daemon = try workspace.startDaemon()
            defer { daemon.killAndReap() }
            try waitForLifetime()
            #expect(workspace.statusInteger("late_dropped", "day") == 100)
            daemon.send(SIGTERM)
            #expect(daemon.waitForExit(seconds: 30) && daemon.exitedCleanly, "\(daemon.endDescription)")

            // More lines while it is down; a SIGKILL after they are counted and committed.
            try append(150, secondsAgo: 30)
            daemon = try workspace.startDaemon(name: "daemon-2")
            try waitForLifetime()
            usleep(2_500_000)  // past a commit interval, so the kill loses nothing committed
            daemon.send(SIGKILL)
            _ = daemon.waitForExit(seconds: 10)
            try append(50, secondsAgo: 10)
            daemon = try workspace.startDaemon(name: "daemon-3")
            try waitForLifetime()
            daemon.send(SIGTERM)
            #expect(daemon.waitForExit(seconds: 30) && daemon.exitedCleanly, "\(daemon.endDescription)")
            let final = try #require(lifetime())
            #expect(final.requests == 500 && final.input == written.reduce(0) { $0 + $1.input })
            // The bucket files hold fewer (400, or less just after midnight): retention dropped
            // the old lines from them.
            let inDays = workspace.dayRequests() ?? 0
            #expect(inDays > 0 && inDays <= 400, "the day files hold \(inDays) requests")
        }
    }

    static func grouped(_ value: UInt64) -> String {
        let digits = Array(String(value))
        var out = ""
        for (index, digit) in digits.enumerated() {
            if index > 0, (digits.count - index) % 3 == 0 { out += "," }
            out.append(digit)
        }
        return out
    }
}

/// Samples of Prometheus' text exposition format, read by the test itself.
struct PrometheusText {
    var samples: [(name: String, labels: [String: String], value: String)] = []

    static func samples(_ text: String) -> PrometheusText {
        var result = PrometheusText()
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let match = line.firstMatch(of: /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (.+)$/) else { continue }
            var labels: [String: String] = [:]
            if let body = match.3 {
                for pair in body.matches(of: /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/) {
                    labels[String(pair.1)] = String(pair.2)
                }
            }
            result.samples.append((String(match.1), labels, String(match.4)))
        }
        return result
    }

    func value(_ name: String, _ labels: [String: String]) -> String? {
        samples.first { $0.name == name && $0.labels == labels }?.value
    }

    func all(_ name: String) -> [(name: String, labels: [String: String], value: String)] {
        samples.filter { $0.name == name }
    }
}
