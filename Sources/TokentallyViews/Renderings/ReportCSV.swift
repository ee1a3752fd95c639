/// `tokentally report --format csv` and `GET /api/v1/report.csv`: a header row, then one row
/// per (api_key, model, provider) of the selection, most requests first, with every COUNTER
/// under its snapshot name. RFC 4180: fields with a comma, a quote or a line break are quoted,
/// quotes doubled; lines end with CRLF.
public enum ReportCSV {
    public static func render(_ report: Report) -> String {
        var out = (["api_key", "model", "provider"] + Counters.names).joined(separator: ",") + "\r\n"
        out.reserveCapacity(report.series.count * 160)
        for row in report.series {
            out += field(row.key) + "," + field(row.model) + "," + field(row.provider)
            for index in Counters.names.indices {
                out += "," + row.counters.text(index)
            }
            out += "\r\n"
        }
        return out
    }

    static func field(_ value: String) -> String {
        guard value.utf8.contains(where: { $0 == 0x2C || $0 == 0x22 || $0 == 0x0A || $0 == 0x0D }) else { return value }
        var quoted = "\""
        for character in value {
            quoted.append(character)
            if character == "\"" { quoted.append(character) }
        }
        return quoted + "\""
    }
}
