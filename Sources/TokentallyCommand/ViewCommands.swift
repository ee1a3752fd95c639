import ArgumentParser
import Foundation
import Logging
import TokentallyConfiguration
import TokentallyFleet
import TokentallyServer
import TokentallySystem
import TokentallyViews

/// The snapshot directory a view command reads: `--snapshot-dir`, else the config's
/// `snapshot.directory` (`--config`, else the defaults and the environment).
private func snapshotDirectory(_ option: String?, config: String?) -> (directory: String, configuration: Configuration)
{
    let configuration = loadConfiguration(config)
    let directory = option ?? configuration.snapshot.directory
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
        fail(
            CommandError.usage(
                "snapshot directory \(directory) does not exist; give the one tokentally writes with --snapshot-dir DIR, or --config FILE",
                code: .missingInput))
    }
    return (directory, configuration)
}

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Show the usage, provider and performance figures of a bucket from the snapshot files.",
        discussion: """
            Counters under --key, --model and --provider filters (each repeatable; none means all) \
            are exact sums of the snapshot's series rows. The bucket defaults to the newest of the \
            period. Colour only on a terminal, never with NO_COLOR.
            """)

    @Option(name: .customLong("snapshot-dir"), help: "The snapshot directory (default: snapshot.directory).")
    var snapshotDir: String?

    @Option(help: "The configuration file, for snapshot.directory.")
    var config: String?

    @Option(help: "day, week or month.")
    var period: String = "month"

    @Option(help: "The bucket label (2026-11-28, 2026-W48, 2026-11); default: the newest.")
    var bucket: String?

    @Option(name: .customLong("key"), help: "Only this API key (repeatable).")
    var keys: [String] = []

    @Option(name: .customLong("model"), help: "Only this model (repeatable).")
    var models: [String] = []

    @Option(name: .customLong("provider"), help: "Only this provider (repeatable).")
    var providers: [String] = []

    @Option(help: "usage, provider, performance or all.")
    var tab: String = "all"

    @Option(help: "table, json or csv.")
    var format: String = "table"

    func validate() throws {
        guard SnapshotIndex.periods.contains(period) else {
            throw ValidationError("--period must be day, week or month, not \(period)")
        }
        guard Selection.Tab(rawValue: tab) != nil else {
            throw ValidationError("--tab must be usage, provider, performance or all, not \(tab)")
        }
        guard ["table", "json", "csv"].contains(format) else {
            throw ValidationError("--format must be table, json or csv, not \(format)")
        }
    }

    func run() throws {
        let (path, _) = snapshotDirectory(snapshotDir, config: config)
        let selection = Selection(
            period: period, bucket: bucket, keys: keys, models: models, providers: providers,
            tab: Selection.Tab(rawValue: tab)!)
        let report: Report
        do {
            report = try Report.build(selection, from: SnapshotDirectory(path: path))
        } catch let error as SelectionError {
            fail(CommandError.usage("report: " + error.message, code: .invalidArgument))
        } catch {
            fail(CommandError.io("report: \(error)", code: .readFailed))
        }
        let output: String
        switch format {
        case "json": output = ReportJSON.render(report)
        case "csv": output = ReportCSV.render(report)
        default:
            let colour = isatty(STDOUT_FILENO) == 1 && ProcessInfo.processInfo.environment["NO_COLOR"] == nil
            output = ReportTable.render(report, colour: colour)
        }
        FileHandle.standardOutput.write(Data(output.utf8))
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the usage page, its JSON and CSV API and Prometheus metrics from the snapshot files.",
        discussion: """
            Reads only the snapshot directory. GET / (the page), /api/v1/buckets, /api/v1/report, \
            /api/v1/report.csv, /metrics and /healthz. Listens on loopback unless told otherwise.
            """)

    @Option(name: .customLong("snapshot-dir"), help: "The snapshot directory (default: snapshot.directory).")
    var snapshotDir: String?

    @Option(help: "The configuration file, for snapshot.directory and serve.listen.")
    var config: String?

    @Option(help: "host:port to listen on (default: serve.listen, 127.0.0.1:8787); port 0 picks a free one.")
    var listen: String?

    func validate() throws {
        if let listen, ListenAddress(listen) == nil {
            throw ValidationError(
                "--listen must be an address and port such as 127.0.0.1:8787 or [::1]:8787, not \(listen)")
        }
    }

    func run() async throws {
        bootstrapLogging()
        let (path, configuration) = snapshotDirectory(snapshotDir, config: config)
        let address = ListenAddress(listen ?? configuration.serve.listen)!
        let logger = Logger(label: "tokentally.serve")
        let server = UsageServer(snapshotDirectory: path, address: address, logger: logger)
        do {
            try await server.run { bound in
                FileHandle.standardOutput.write(
                    Data("tokentally serve: listening on http://\(bound)/ for \(path)\n".utf8))
            }
        } catch {
            fail(CommandError.io("serve: cannot listen on \(address): \(error)", code: .other))
        }
    }
}

struct Merge: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Merge several hosts' snapshot directories into one fleet snapshot directory.",
        discussion: """
            Counters are summed exactly, quantiles come from the merged sketches and highlights are \
            recomputed over the fleet; index.json names every host. Directories with different time \
            zones, bucket schemas or sketch parameters are refused, and so is a host given twice.
            """)

    @Option(help: "The fleet snapshot directory to write (created if missing).")
    var out: String

    @Option(help: "The host name the fleet's files carry (default: fleet).")
    var host: String = "fleet"

    @Argument(help: "The hosts' snapshot directories.")
    var directories: [String]

    func validate() throws {
        guard !directories.isEmpty else { throw ValidationError("give at least one snapshot directory to merge") }
        let outPath = URL(fileURLWithPath: out).standardizedFileURL.path
        for directory in directories where URL(fileURLWithPath: directory).standardizedFileURL.path == outPath {
            throw ValidationError("--out \(out) is one of the directories to merge; write the fleet elsewhere")
        }
    }

    func run() throws {
        do {
            let merge = try SnapshotMerge(directories: directories, host: host)
            let result = try merge.write(to: out, now: Int64(Date().timeIntervalSince1970))
            print(
                "merged \(result.hosts) hosts from \(directories.count) directories: \(result.buckets) bucket files in \(out)"
            )
        } catch let error as SnapshotMerge.Failure {
            fail(CommandError.usage(error.message))
        } catch {
            fail(CommandError.io("merge: \(error)", code: .writeFailed))
        }
    }
}

struct Ship: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Ship a host's snapshot directory to ClickHouse (values, not increments: retries never double count).",
        discussion: """
            Sends the buckets whose files changed since the last ship to the series and sketches \
            tables (ReplacingMergeTree by version), every ship.interval_seconds, or once with --once. \
            ClickHouse down: it retries with back-off and loses nothing. docs/fleet.md has the DDL \
            and the queries.
            """)

    @Option(help: "ClickHouse's HTTP interface, http://[user[:password]@]host[:port]/ (default: ship.clickhouse).")
    var clickhouse: String?

    @Option(help: "The database (default: ship.database, tokentally).")
    var database: String?

    @Option(name: .customLong("snapshot-dir"), help: "The snapshot directory (default: snapshot.directory).")
    var snapshotDir: String?

    @Option(name: .customLong("state-dir"), help: "Where ship keeps what it shipped (default: ship.state_directory).")
    var stateDir: String?

    @Option(help: "The configuration file.")
    var config: String?

    @Flag(help: "Create the database and the tables first.")
    var `init` = false

    @Flag(help: "Ship what changed once and exit (exit 1 if ClickHouse cannot take it).")
    var once = false

    func run() throws {
        let (path, configuration) = snapshotDirectory(snapshotDir, config: config)
        guard let url = clickhouse ?? configuration.ship.clickhouse else {
            fail(
                CommandError.usage(
                    "ship: no ClickHouse to ship to; give --clickhouse http://HOST:8123/ or set ship.clickhouse"))
        }
        guard let endpoint = ClickHouseClient.Endpoint(url) else {
            fail(CommandError.usage("ship: --clickhouse \(url) is not http://[user[:password]@]host[:port]/"))
        }
        let database = database ?? configuration.ship.database
        guard database.allSatisfy({ $0 == "_" || $0.isLetter || $0.isNumber }), !database.isEmpty else {
            fail(CommandError.usage("ship: --database \(database) must be letters, digits and _"))
        }
        let shipper: SnapshotShipper
        do {
            shipper = try SnapshotShipper(
                client: ClickHouseClient(endpoint: endpoint), database: database, snapshotDirectory: path,
                stateDirectory: stateDir ?? configuration.ship.stateDirectory)
        } catch {
            fail(CommandError.io("ship: \(error)", code: .unreadableState))
        }
        var failures = 0
        var initialized = !self.`init`
        while true {
            do {
                if !initialized {
                    try shipper.initialize()
                    initialized = true
                }
                let sent = try shipper.shipOnce(now: Int64(Date().timeIntervalSince1970))
                if failures > 0 || sent > 0 {
                    let recovered = failures > 0 ? " (ClickHouse back after \(failures) failed tries)" : ""
                    print("ship: sent \(sent) buckets to \(endpoint)\(recovered)")
                }
                failures = 0
                if once { return }
                sleep(UInt32(configuration.ship.intervalSeconds))
            } catch {
                failures += 1
                shipper.noteFailure(error, now: Int64(Date().timeIntervalSince1970))
                if once {
                    fail(CommandError.io("ship: \(error); nothing is lost: the next ship sends it", code: .writeFailed))
                }
                let wait = min(60, 1 << min(failures - 1, 6))
                FileHandle.standardError.write(
                    Data(
                        "tokentally ship: \(error); try \(failures) failed, retrying in \(wait) s (nothing is lost)\n"
                            .utf8))
                sleep(UInt32(wait))
            }
        }
    }
}
