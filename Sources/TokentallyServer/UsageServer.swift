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
        let routes:
            [(path: RouterPath, name: String, tab: Selection.Tab, type: String, render: @Sendable (Report) -> String)] =
                [
                    ("/", "page", .usage, "text/html; charset=utf-8", UsagePage.render),
                    ("/api/v1/report", "json", .all, "application/json", ReportJSON.render),
                    ("/api/v1/report.csv", "csv", .all, "text/csv; charset=utf-8", ReportCSV.render),
                ]
        for route in routes {
            router.get(route.path) { request, _ in
                try Self.respond(
                    request, directory: directory, cache: cache, route: route.name, defaultTab: route.tab,
                    type: route.type, render: route.render)
            }
        }
        let indexRoutes: [(path: RouterPath, type: String, render: @Sendable (SnapshotIndex) -> String)] = [
            ("/api/v1/buckets", "application/json", ReportJSON.buckets),
            ("/metrics", Metrics.contentType, Metrics.render),
            ("/healthz", "text/plain; charset=utf-8", { _ in "ok\n" }),
        ]
        for route in indexRoutes {
            router.get(route.path) { _, _ in
                do {
                    return Self.text(route.render(try directory.index()), type: route.type)
                } catch {
                    return Self.text("\(error)\n", status: .serviceUnavailable)
                }
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
}
