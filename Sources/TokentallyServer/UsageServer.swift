import Foundation
import Hummingbird
import Logging
import TokentallySystem
import TokentallyViews

/// `tokentally serve`: the views of one snapshot directory over HTTP. It only reads the
/// snapshot files (the public API), so it works on any host's snapshots, and on a fleet's
/// merged ones; the ingest daemon itself keeps no network access.
///
/// | route | what |
/// |---|---|
/// | `GET /` | the usage page (`UsagePage`) |
/// | `GET /api/v1/buckets` | the buckets per period |
/// | `GET /api/v1/report` | `ReportJSON` of the query's selection |
/// | `GET /api/v1/report.csv` | `ReportCSV` of it |
/// | `GET /metrics` | `Metrics` (Prometheus text) |
/// | `GET /healthz` | `ok` when index.json can be read |
///
/// Files are parsed once per version and kept (`SnapshotDirectory`); a bad query parameter is a
/// 400 with one line, an unknown path a 404.
public struct UsageServer: Sendable {
    public let directory: SnapshotDirectory
    public let address: ListenAddress
    let logger: Logger

    public init(snapshotDirectory: String, address: ListenAddress, logger: Logger) {
        self.directory = SnapshotDirectory(path: snapshotDirectory)
        self.address = address
        self.logger = logger
    }

    /// Serves until SIGTERM or SIGINT. `onListening` gets the bound address (the port, when 0
    /// was asked for, is the one the system chose).
    public func run(onListening: @escaping @Sendable (String) -> Void) async throws {
        let router = Router()
        let directory = self.directory
        let cache = RenderCache()
        router.get("/") { request, _ in
            try Self.respond(
                request, directory: directory, cache: cache, route: "page", defaultTab: .usage,
                type: "text/html; charset=utf-8"
            ) {
                UsagePage.render($0)
            }
        }
        router.get("/api/v1/report") { request, _ in
            try Self.respond(
                request, directory: directory, cache: cache, route: "json", defaultTab: .all, type: "application/json"
            ) {
                ReportJSON.render($0)
            }
        }
        router.get("/api/v1/report.csv") { request, _ in
            try Self.respond(
                request, directory: directory, cache: cache, route: "csv", defaultTab: .all,
                type: "text/csv; charset=utf-8"
            ) {
                ReportCSV.render($0)
            }
        }
        router.get("/api/v1/buckets") { _, _ in
            do {
                let index = try directory.index()
                var out = "{\n  \"timezone\": \(Self.quoted(index.timezone)),\n  \"buckets\": {"
                out += SnapshotIndex.periods.map { period in
                    "\n    \(Self.quoted(period)): ["
                        + (index.buckets[period] ?? []).map(Self.quoted).joined(separator: ", ")
                        + "]"
                }.joined(separator: ",")
                out += "\n  }\n}\n"
                return Self.text(out, type: "application/json")
            } catch {
                return Self.text("\(error)\n", status: .serviceUnavailable)
            }
        }
        router.get("/metrics") { _, _ in
            do {
                return Self.text(Metrics.render(try directory.index()), type: Metrics.contentType)
            } catch {
                return Self.text("\(error)\n", status: .serviceUnavailable)
            }
        }
        router.get("/healthz") { _, _ in
            do {
                _ = try directory.index()
                return Self.text("ok\n")
            } catch {
                return Self.text("\(error)\n", status: .serviceUnavailable)
            }
        }
        let app = Application(
            router: router,
            configuration: ApplicationConfiguration(
                address: .hostname(address.host, port: address.port), serverName: "tokentally"),
            onServerRunning: { channel in
                let bound = channel.localAddress.map { "\($0.ipAddress ?? "?"):\($0.port ?? 0)" } ?? "?"
                onListening(bound)
            },
            logger: logger)
        try await app.runService()
    }

    /// The report of the request's query, rendered; 400 for a bad selection, 503 when the
    /// snapshot files cannot be read.
    static func respond(
        _ request: Request, directory: SnapshotDirectory, cache: RenderCache, route: String,
        defaultTab: Selection.Tab, type: String, render: (Report) -> String
    ) throws -> Response {
        let query = request.uri.query ?? ""
        guard let items = Query.decode(query) else {
            return text("the query string is not valid percent-encoded UTF-8\n", status: .badRequest)
        }
        do {
            let selection = try Selection.parse(query: items, defaultTab: defaultTab)
            let body = try cache.answer(route + "?" + query) {
                let report = try Report.build(selection, from: directory)
                return (render(report), report.sources)
            }
            return text(body, type: type)
        } catch let error as SelectionError {
            return text(error.message + "\n", status: .badRequest)
        } catch {
            return text("\(error)\n", status: .serviceUnavailable)
        }
    }

    static func text(_ body: String, status: HTTPResponse.Status = .ok, type: String = "text/plain; charset=utf-8")
        -> Response
    {
        var headers = HTTPFields()
        headers[.contentType] = type
        headers[.cacheControl] = "no-cache"
        headers[.xContentTypeOptions] = "nosniff"
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
    }

    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
