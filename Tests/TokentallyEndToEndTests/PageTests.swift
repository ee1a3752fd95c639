import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The page in a real browser and the metrics in a real Prometheus, both Debian's packages
/// (`scripts/install-deps` installs `chromium` and `prometheus`), started and stopped by the
/// tests on loopback.
@Suite("Views in Chromium and Prometheus")
struct PageTests {
    static let chromium = URL(fileURLWithPath: "/usr/bin/chromium")
    static let prometheus = URL(fileURLWithPath: "/usr/bin/prometheus")
    /// Screenshots of each tab, kept after the run (`.build/` is not in git).
    static let artifacts = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent(".build/test-artifacts")

    /// Headless Chromium's DOM after it rendered `url`.
    static func renderedDOM(_ url: String, profile: URL) throws -> String {
        let outcome = try ProcessLauncher.run(
            chromium,
            [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                "--user-data-dir=\(profile.path)", "--dump-dom", url,
            ], timeoutSeconds: 90)
        try #require(outcome.status == 0, "chromium: \(outcome.summary)")
        return outcome.stdoutText
    }

    static func screenshot(_ url: String, to file: URL, profile: URL) throws {
        let outcome = try ProcessLauncher.run(
            chromium,
            [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                "--hide-scrollbars", "--user-data-dir=\(profile.path)", "--window-size=1280,2200",
                "--screenshot=\(file.path)", url,
            ], timeoutSeconds: 90)
        try #require(outcome.status == 0, "chromium: \(outcome.summary)")
        let size = (try? FileManager.default.attributesOfItem(atPath: file.path)[.size] as? Int) ?? 0
        #expect(size > 10_000, "screenshot \(file.path) is \(size) bytes")
    }

    /// `data-metric` → `data-value` of a rendered DOM (Chromium writes attributes in source order).
    static func dataValues(_ dom: String) -> [String: String] {
        var values: [String: String] = [:]
        for match in dom.matches(of: /data-metric="([^"]*)" data-value="([^"]*)"/) {
            values[String(match.1)] = String(match.2).replacingOccurrences(of: "&amp;", with: "&")
        }
        return values
    }

    @Test
    func eachTabShowsTheOraclesFigures() throws {
        try withScratchDirectory("page") { root in
            let fixture = try ViewFixture(root: root)
            let server = try ServeProcess(snapshots: fixture.snapshots, outputDirectory: root)
            defer { server.stop() }
            let profile = root.appendingPathComponent("chromium-profile")
            try FileManager.default.createDirectory(at: Self.artifacts, withIntermediateDirectories: true)
            let month = fixture.month

            for selection in [fixture.selections[0], fixture.selections[1], fixture.selections[2]] {
                let expected = fixture.expectation(selection)
                // Usage: every counter KPI is the exact sum.
                let usage = Self.dataValues(
                    try Self.renderedDOM("\(server.base)/?\(selection.query)&tab=usage", profile: profile))
                for (name, value) in expected.totals.integerFields where usage[name] != nil {
                    #expect(
                        usage[name] == String(value), "\(selection) usage \(name): \(usage[name] ?? "nil") vs \(value)")
                }
                for name in ["total_tokens", "input_tokens", "output_tokens", "requests", "web_search_calls"] {
                    #expect(usage[name] != nil, "the usage tab has no \(name) figure")
                }
                #expect(usage["cost_usd"].flatMap { Decimal(string: $0) } == expected.totals.costUSD)

                // Provider: the primary provider, how many, the success rate.
                let provider = Self.dataValues(
                    try Self.renderedDOM("\(server.base)/?\(selection.query)&tab=provider", profile: profile))
                let primary = expected.byProvider.max {
                    ($0.value.requests, $1.key) < ($1.value.requests, $0.key)
                }?.key
                #expect(
                    provider["primary_provider"] == primary, "\(selection): \(provider["primary_provider"] ?? "nil")")
                #expect(provider["provider_count"] == String(expected.byProvider.count))
                #expect(provider["success_rate"] == expected.totals.successRateText)
            }

            // Performance, unfiltered: quantiles within 1% of the exact order statistics of
            // every latency of the month; under a key filter, a note and no figure.
            let performance = Self.dataValues(
                try Self.renderedDOM("\(server.base)/?\(fixture.selections[0].query)&tab=performance", profile: profile)
            )
            for (name, sample) in [("latency_ms", month.totals.latency), ("ttft_ms", month.totals.ttft)] {
                let sorted = sample.sorted
                for (figure, q) in [("p50", 0.5), ("p90", 0.9), ("p99", 0.99)] {
                    let exact = sorted[max(0, Int((q * Double(sorted.count)).rounded(.up)) - 1)]
                    let shown = try #require(
                        performance["\(name).\(figure)"].flatMap { Double($0) }, "\(name).\(figure)")
                    #expect(
                        abs(shown - exact) <= exact * 0.01 + 0.0005 + sample.slack,
                        "\(name).\(figure) \(shown) vs \(exact)")
                }
            }
            let keyed = try Self.renderedDOM(
                "\(server.base)/?\(fixture.selections[1].query)&tab=performance", profile: profile)
            #expect(keyed.contains("not kept per API key"))
            #expect(Self.dataValues(keyed)["latency_ms.p50"] == nil)

            for tab in ["usage", "provider", "performance"] {
                let file = Self.artifacts.appendingPathComponent("page-\(tab).png")
                try Self.screenshot("\(server.base)/?tab=\(tab)", to: file, profile: profile)
                print("screenshot of the \(tab) tab: \(file.path)")
            }
        }
    }

    /// A real Prometheus scrapes `/metrics`; a PromQL sum by model equals the oracle's.
    @Test
    func prometheusScrapesTheMetrics() throws {
        try withScratchDirectory("prometheus") { root in
            let fixture = try ViewFixture(root: root)
            let server = try ServeProcess(snapshots: fixture.snapshots, outputDirectory: root)
            defer { server.stop() }
            let port = try freeLoopbackPort()
            let target = server.base.replacingOccurrences(of: "http://", with: "")
            let config = root.appendingPathComponent("prometheus.yml")
            try """
            global: { scrape_interval: 1s, evaluation_interval: 1s }
            scrape_configs:
              - job_name: tokentally
                static_configs: [{ targets: ["\(target)"] }]
            """.write(to: config, atomically: true, encoding: .utf8)
            let prometheus = try BackgroundProcess(
                name: "prometheus", executable: Self.prometheus,
                arguments: [
                    "--config.file=\(config.path)", "--storage.tsdb.path=\(root.appendingPathComponent("tsdb").path)",
                    "--web.listen-address=127.0.0.1:\(port)",
                ], outputDirectory: root)
            defer {
                prometheus.send(SIGTERM)
                if !prometheus.waitForExit(seconds: 20) { prometheus.killAndReap() }
            }

            var expected: [String: UInt64] = [:]
            for record in fixture.expected.records { expected[record.model, default: 0] += record.inputTokens }
            let query = "sum by (model) (tokentally_tokens_total{type=\"input\"})"
            let url =
                "http://127.0.0.1:\(port)/api/v1/query?query="
                + query.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
            var answer: [String: UInt64] = [:]
            let deadline = Date().addingTimeInterval(60)
            while Date() < deadline {
                if let response = try? httpGet(url), response.status == 200,
                    let document = try? JSONReader.parse(Array(response.body.utf8))
                {
                    answer = [:]
                    for result in document.value(at: ["data", "result"])?.arrayValue ?? [] {
                        guard let model = result.value(at: ["metric", "model"])?.stringValue,
                            let value = result["value"]?.arrayValue?.last?.stringValue, let number = Double(value)
                        else { continue }
                        answer[model] = UInt64(number)
                    }
                    if !answer.isEmpty { break }
                }
                #expect(prometheus.isRunning, "prometheus stopped: \(prometheus.stderrTail())")
                usleep(500_000)
            }
            #expect(answer == expected, "PromQL \(query): \(answer) vs \(expected)")
        }
    }
}
