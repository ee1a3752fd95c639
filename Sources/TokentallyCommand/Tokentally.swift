import TokentallySystem
import TokentallyReading
import TokentallyCounting
import TokentallyOutput
import TokentallyConfiguration
import TokentallyReplay
import TokentallyDaemon
import TokentallySamples
import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import TokentallyNative

@main
struct Tokentally: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokentally",
        abstract: "Usage analytics from LLM gateway request logs.",
        subcommands: [
            Run.self, Replay.self, ReportCommand.self, Serve.self, Merge.self, Ship.self, Generate.self,
            CheckConfig.self,
            AdoptState.self,
        ]
    )

    /// Runs the command the arguments name. A bad argument fails like every other usage error
    /// (README, "Exit status"): one line on stderr and status 2, not ArgumentParser's usage
    /// text and 64. Help and version requests, and errors of the commands, are left as they are.
    static func main() async {
        MemoryTuning.returnLargeBlocksToTheSystem()
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            guard exitCode(for: error) == .validationFailure else { exit(withError: error) }
            fail(CommandError.usage(message(for: error) + "; see tokentally --help"))
        }
    }
}

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Follow the configured logs, keep the counters and write snapshots until SIGTERM.")

    @Option(help: "The configuration file.")
    var config: String = "/etc/tokentally/tokentally.yaml"

    func run() async throws {
        // A parent may have started us with these blocked (Foundation's Process on Linux hands
        // its children a blocked mask); the daemon must see them to stop and reload.
        var signals = sigset_t()
        sigemptyset(&signals)
        for signal in [SIGTERM, SIGINT, SIGHUP] { sigaddset(&signals, signal) }
        sigprocmask(SIG_UNBLOCK, &signals, nil)
        // Under systemd, the daemon's own log lines go to the journal natively, with priorities.
        if SystemdJournal.stderrIsJournal() {
            LoggingSystem.bootstrap { JournalLogHandler(label: $0) }
        } else {
            bootstrapLogging()
        }
        let configuration = loadConfiguration(config)
        let logger = Logger(label: "tokentally")
        let path = config
        let daemon: (group: ServiceGroup, loop: FollowLoop)
        do {
            daemon = try buildDaemon(
                configuration: configuration, opener: LogFileOpener(gunzip: GzipByteSource.factory), logger: logger,
                notifier: SystemdNotifier(), journal: SystemdJournal(),
                reload: { try ConfigurationLoader.load(file: path, environment: ProcessInfo.processInfo.environment) })
        } catch {
            fail(error)
        }
        do {
            try await daemon.group.run()
        } catch {
            fail(CommandError.io("\(error)"))
        }
    }
}

/// Exits after printing the error's one line, the way every command fails: status 2 for bad
/// usage or configuration, 1 for I/O and runtime errors.
func fail(_ error: any Error) -> Never {
    let commandError = error as? CommandError ?? .io("\(error)")
    FileHandle.standardError.write(Data(("tokentally: " + commandError.message + "\n").utf8))
    exit(commandError.exitCode)
}

/// Loads the configuration file (or the defaults), with environment overrides, or exits 2.
func loadConfiguration(_ path: String?) -> Configuration {
    do {
        if let path {
            return try ConfigurationLoader.load(file: path, environment: ProcessInfo.processInfo.environment)
        }
        return try ConfigurationLoader.load(
            yaml: "", file: "(defaults)", environment: ProcessInfo.processInfo.environment)
    } catch {
        fail(CommandError.usage("\(error)"))
    }
}

func bootstrapLogging() {
    LoggingSystem.bootstrap { label in
        var handler = StreamLogHandler.standardError(label: label)
        handler.logLevel = .info
        return handler
    }
}

struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Read log files once and write their snapshots.",
        discussion: """
            Files may be plain or gzip (detected by content). A directory means its rotated sets, \
            oldest first; - means standard input. With no PATH, the configured inputs are read.
            """)

    @Option(help: "The configuration file (default: built-in defaults).")
    var config: String?

    @Option(
        help:
            "Log format: tokentally, litellm, zenmux, openrouter, kong, envoy-ai-gateway, or a format defined in the config."
    )
    var format: String?

    @Option(
        name: .customLong("naive-timezone"),
        help: "Time zone of timestamps written without an offset in the named files (an IANA name, or local).")
    var naiveTimezone: String?

    @Option(help: "IANA time zone for day, week and month boundaries.")
    var timezone: String?

    @Option(name: .customLong("snapshot-dir"), help: "Where to write the snapshot files.")
    var snapshotDir: String?

    @Flag(name: .customLong("no-journal"), help: "Do not write journal entries.")
    var noJournal = false

    @Option(
        help: ArgumentHelp(
            "Threads that read and parse lines besides the one that counts them; 0 does everything on one thread.",
            discussion: "Default: one fewer than the cores, up to 4 (0 on a single core)."))
    var threads: Int?

    @Argument(help: "Files or directories to read, oldest first.")
    var paths: [String] = []

    func validate() throws {
        if let threads, !(0...64).contains(threads) {
            throw ValidationError("--threads must be between 0 and 64, not \(threads)")
        }
    }

    func run() throws {
        bootstrapLogging()
        var configuration = loadConfiguration(config)
        if let timezone { configuration.timezone = timezone }
        if let snapshotDir { configuration.snapshot.directory = snapshotDir }
        if noJournal { configuration.journal.enabled = false }
        do {
            let job = try ReplayJob(
                configuration: configuration, paths: paths, format: format,
                opener: LogFileOpener(gunzip: GzipByteSource.factory),
                logger: Logger(label: "tokentally.replay"),
                journal: configuration.journal.enabled ? SystemdJournal() : nil,
                parserThreads: threads ?? ReplayJob.defaultParserThreads, naiveTimezone: naiveTimezone)
            let summary = try job.run()
            let status = summary.status
            let rejected = status.rejected.values.reduce(0, +)
            print(
                "replayed \(status.linesRead) lines from \(status.files.count) files: \(status.linesCounted) counted, "
                    + "\(rejected) rejected, \(status.linesEmpty) empty, in \(String(format: "%.2f", summary.seconds)) s "
                    + "(\(Int(status.linesPerSecond ?? 0)) lines/s); wrote \(summary.bucketsWritten) bucket files "
                    + "to \(configuration.snapshot.directory)")
        } catch {
            fail(error)
        }
    }
}

struct AdoptState: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "adopt-state",
        abstract: "Take over a committed state for the configured inputs (when the logs moved).",
        discussion: """
            The daemon refuses a state committed for inputs that share nothing with the configured \
            ones, since resuming it would merge two gateways' counts. When the inputs really are the \
            same logs under a new path, stop the daemon, run this once, and start it again: it \
            records the configured inputs in the state and changes nothing else.
            """)

    @Option(help: "The configuration file.")
    var config: String = "/etc/tokentally/tokentally.yaml"

    func run() throws {
        bootstrapLogging()
        let configuration = loadConfiguration(config)
        do {
            guard !configuration.inputs.isEmpty else {
                throw CommandError.usage("inputs: no inputs configured; add at least one under inputs:")
            }
            let loop = try FollowLoop(
                configuration: configuration, opener: LogFileOpener(gunzip: GzipByteSource.factory),
                logger: Logger(label: "tokentally"), adoptState: true)
            guard loop.commitIfChanged(force: true) else {
                throw CommandError.io("the state could not be committed; see the error above")
            }
            print(
                "adopted the state in \(configuration.state.directory) for "
                    + configuration.inputs.map(\.path).joined(separator: ", "))
        } catch {
            fail(error)
        }
    }
}

struct CheckConfig: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config", abstract: "Validate a configuration file and print the effective settings.")

    @Option(help: "The configuration file.")
    var config: String = "/etc/tokentally/tokentally.yaml"

    func run() throws {
        let configuration = loadConfiguration(config)
        print(ConfigurationLoader.effectiveSettingsText(configuration), terminator: "")
    }
}

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a realistic, deterministic rotated set of sample gateway logs.")

    @Option(help: "The directory to write into (created if missing).")
    var out: String

    @Option(help: "How many lines in all.")
    var lines: Int = 100_000

    @Option(help: "How many days the lines span, ending 2026-11-28.")
    var days: Int = 7

    @Option(help: "How many files in the rotated set.")
    var files: Int = 4

    @Option(help: "How many distinct API keys.")
    var keys: Int = 200

    @Option(help: "Random seed; the same seed writes the same bytes.")
    var seed: UInt64 = 42

    @Option(help: "Log format: tokentally, litellm, zenmux, openrouter, kong or envoy-ai-gateway.")
    var format: String = "tokentally"

    func validate() throws {
        guard lines >= 0 else { throw ValidationError("--lines must be 0 or more") }
        guard days >= 1 else { throw ValidationError("--days must be at least 1") }
        guard files >= 1 else { throw ValidationError("--files must be at least 1") }
        guard keys >= 1 else { throw ValidationError("--keys must be at least 1") }
        guard FormatPreset(rawValue: format) != nil else {
            let presets = FormatPreset.allCases.map(\.rawValue).joined(separator: ", ")
            throw ValidationError("--format must be one of \(presets)")
        }
    }

    func run() throws {
        var options = SampleLogOptions()
        options.lines = lines
        options.days = days
        options.files = files
        options.keys = keys
        options.seed = seed
        options.format = FormatPreset(rawValue: format)!
        do {
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            let summary = try SampleLogGenerator(options: options).write(into: out) { path, gzip in
                gzip ? try GzipFileSink(path: path) as any LogFileSink : try PlainFileSink(path: path)
            }
            print("wrote \(summary.totalLines) lines in \(summary.files.count) files to \(out)")
        } catch {
            fail(CommandError.io("generate: \(error)"))
        }
    }
}
