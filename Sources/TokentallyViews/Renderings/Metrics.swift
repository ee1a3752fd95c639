import TokentallySystem

/// `GET /metrics`: Prometheus' text exposition format (version 0.0.4) of a snapshot
/// directory's index.json: the lifetime counters (monotonic across restarts, never reset by
/// retention) and the daemon's health. Names follow Prometheus' conventions: base units
/// (seconds, dollars), `_total` on counters, and labels for what varies.
public enum Metrics {
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    public static func render(_ index: SnapshotIndex) -> String {
        var out = Exposition()
        let lifetime = index.lifetime
        let entries = lifetime["entries"]?.elements ?? []
        func labels(_ entry: JSONValue, _ extra: [(String, String)] = []) -> [(String, String)] {
            var labels = [("model", entry["model"]?.string ?? ""), ("provider", entry["provider"]?.string ?? "")]
            if let key = entry["api_key"]?.string { labels.append(("api_key", key)) }
            return labels + extra
        }

        out.family("tokentally_requests_total", "counter", "Requests counted since the state began, by outcome.")
        for entry in entries {
            out.sample("tokentally_requests_total", labels(entry, [("outcome", "success")]), text(entry["succeeded"]))
            out.sample("tokentally_requests_total", labels(entry, [("outcome", "failure")]), text(entry["failed"]))
        }
        out.family("tokentally_tokens_total", "counter", "Tokens counted since the state began, by type.")
        let types = [
            ("input", "input_tokens"), ("output", "output_tokens"), ("cached", "cached_tokens"),
            ("cache_write", "cache_write_tokens"), ("reasoning", "reasoning_tokens"),
        ]
        for entry in entries {
            for (type, member) in types {
                out.sample("tokentally_tokens_total", labels(entry, [("type", type)]), text(entry[member]))
            }
        }
        out.family("tokentally_cost_usd_total", "counter", "Cost in US dollars since the state began.")
        for entry in entries { out.sample("tokentally_cost_usd_total", labels(entry), text(entry["cost_usd"])) }
        out.family("tokentally_web_search_calls_total", "counter", "Web search calls since the state began.")
        for entry in entries {
            out.sample("tokentally_web_search_calls_total", labels(entry), text(entry["web_search_calls"]))
        }
        for (name, member, boundsMember, help) in [
            (
                "tokentally_request_duration_seconds", "duration_seconds", "duration_bounds_seconds",
                "Whole-request latency, on OpenTelemetry's gen_ai.client.operation.duration buckets."
            ),
            (
                "tokentally_time_to_first_token_seconds", "ttft_seconds", "ttft_bounds_seconds",
                "Time to the first token, on OpenTelemetry's gen_ai.server.time_to_first_token buckets."
            ),
        ] {
            out.family(name, "histogram", help)
            let bounds = lifetime[boundsMember]?.elements.compactMap { $0.number } ?? []
            for entry in entries {
                guard let histogram = entry[member] else { continue }
                let counts = histogram["counts"]?.elements.compactMap(\.unsigned) ?? []
                guard counts.count == bounds.count + 1 else { continue }
                var cumulative: UInt64 = 0
                for (index, count) in counts.enumerated() {
                    cumulative &+= count
                    let le = index < bounds.count ? bounds[index] : "+Inf"
                    out.sample(name + "_bucket", labels(entry, [("le", le)]), String(cumulative))
                }
                out.sample(name + "_sum", labels(entry), text(histogram["sum"]))
                out.sample(name + "_count", labels(entry), String(cumulative))
            }
        }

        // The daemon's own health.
        let status = index.status
        for (name, member, help) in [
            ("tokentally_lines_read_total", "lines_read", "Log lines read from all inputs."),
            ("tokentally_lines_counted_total", "lines_counted", "Log lines that became a counted request."),
            ("tokentally_lines_empty_total", "lines_empty", "Empty log lines, skipped."),
        ] {
            out.family(name, "counter", help)
            out.sample(name, [], text(status[member]))
        }
        out.family("tokentally_lines_rejected_total", "counter", "Log lines rejected, by reason.")
        for (reason, count) in status["rejected"]?.members ?? [] {
            out.sample("tokentally_lines_rejected_total", [("reason", reason)], text(count))
        }
        out.family("tokentally_late_dropped_total", "counter", "Requests older than a period's retention.")
        for (period, count) in status["late_dropped"]?.members ?? [] {
            out.sample("tokentally_late_dropped_total", [("period", period)], text(count))
        }
        out.family("tokentally_series", "gauge", "Distinct (key, model, provider) series held.")
        out.sample("tokentally_series", [], text(status["series"]?["count"]))
        out.family("tokentally_series_limit", "gauge", "limits.max_series.")
        out.sample("tokentally_series_limit", [], text(status["series"]?["limit"]))
        out.family("tokentally_overflow_records_total", "counter", "Requests counted under __overflow__.")
        out.sample("tokentally_overflow_records_total", [], text(status["series"]?["overflow_records"]))
        let files = status["files"]?.elements ?? []
        let behind = files.compactMap { $0["lag_bytes"]?.unsigned }.reduce(0, &+)
        out.family("tokentally_bytes_behind", "gauge", "Bytes of the followed files not read yet.")
        out.sample("tokentally_bytes_behind", [], String(behind))
        out.family("tokentally_files", "gauge", "Files followed or replayed.")
        out.sample("tokentally_files", [], String(files.count))
        out.family(
            "tokentally_last_snapshot_timestamp_seconds", "gauge", "When index.json was last written (Unix time).")
        out.sample("tokentally_last_snapshot_timestamp_seconds", [], Timestamps.epochText(index.generatedAt) ?? "NaN")
        for (name, member, help) in [
            ("tokentally_commit_consecutive_failures", "commits", "State commits failed since the last success."),
            (
                "tokentally_snapshot_write_consecutive_failures", "snapshot_writes",
                "Snapshot writes failed since the last success."
            ),
        ] {
            guard let health = status[member], case .object = health else { continue }
            out.family(name, "gauge", help)
            out.sample(name, [], text(health["consecutive_failures"]))
        }
        out.family("tokentally_info", "gauge", "The snapshot directory's hosts and time zone.")
        for host in index.hosts {
            out.sample("tokentally_info", [("host", host.name), ("timezone", index.timezone)], "1")
        }
        return out.text
    }

    private static func text(_ value: JSONValue?) -> String {
        if case .number(let text)? = value { return text }
        return "0"
    }

    /// Lines of the exposition format.
    struct Exposition {
        var text = ""

        mutating func family(_ name: String, _ type: String, _ help: String) {
            text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
        }

        mutating func sample(_ name: String, _ labels: [(String, String)], _ value: String) {
            text += name
            if !labels.isEmpty {
                text += "{" + labels.map { "\($0.0)=\"\(Self.escaped($0.1))\"" }.joined(separator: ",") + "}"
            }
            text += " " + value + "\n"
        }

        /// A label value: backslash, double quote and line feed escaped.
        static func escaped(_ value: String) -> String {
            var out = ""
            for character in value {
                switch character {
                case "\\": out += "\\\\"
                case "\"": out += "\\\""
                case "\n": out += "\\n"
                default: out.append(character)
                }
            }
            return out
        }
    }
}

extension JSONValue {
    /// A number's text as written.
    public var number: String? {
        if case .number(let text) = self { return text }
        return nil
    }
}

/// RFC 3339 times of the snapshot files (`2026-11-28T14:30:10Z`).
public enum Timestamps {
    /// Unix seconds of a UTC time written with `Z`, or nil.
    public static func epoch(_ text: String) -> Int64? {
        let utf8 = Array(text.utf8)
        guard utf8.count == 20, utf8[4] == 0x2D, utf8[7] == 0x2D, utf8[10] == 0x54, utf8[13] == 0x3A,
            utf8[16] == 0x3A, utf8[19] == 0x5A
        else { return nil }
        func number(_ range: Range<Int>) -> Int64? { Int64(String(decoding: utf8[range], as: UTF8.self)) }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10), let hour = number(11..<13),
            let minute = number(14..<16), let second = number(17..<19)
        else { return nil }
        return CivilCalendar.days(year: year, month: month, day: day) * 86_400 + hour * 3600 + minute * 60 + second
    }

    static func epochText(_ text: String) -> String? { epoch(text).map { String($0) } }
}
