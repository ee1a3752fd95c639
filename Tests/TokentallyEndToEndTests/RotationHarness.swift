import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

// The pieces the rotation scenarios are made of: a seeded schedule, background processes that
// are always reaped (the daemon, the gateway stand-in, logrotate), and per-day counter totals
// read three independent ways (the writer's ledger, the lines on disk, the daemon's snapshot).

// MARK: - Seeded schedule

/// SplitMix64: a small seeded generator, so a scenario's schedule of rotations and kills is the
/// same on every run of one seed (the interleaving with the processes is not, by nature).
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var mixed = state
        mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
        mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
        return mixed ^ (mixed >> 31)
    }

    mutating func seconds(in range: ClosedRange<Double>) -> Double {
        Double.random(in: range, using: &self)
    }
}

/// The seed of a scenario: its own constant, mixed with `TOKENTALLY_E2E_SEED` when set, so a
/// failing schedule can be replayed and other schedules tried without editing the tests.
func scenarioSeed(_ base: UInt64) -> UInt64 {
    guard let text = ProcessInfo.processInfo.environment["TOKENTALLY_E2E_SEED"], let extra = UInt64(text) else {
        return base
    }
    return base ^ (extra &* 0x9E37_79B9_7F4A_7C15)
}

// MARK: - Background processes

/// A child process that runs while the test goes on, with its output in files (never pipes, which
/// could fill up and block it). Whoever starts one reaps it on every path: `killAndReap()` in a
/// `defer`, which does nothing to a process that has already been reaped.
///
/// Started with `posix_spawn` and an empty signal mask, all dispositions at their defaults, as
/// systemd starts a service. Foundation's `Process` on Linux would hand the child the spawning
/// thread's mask, in which Dispatch's worker threads block SIGTERM and SIGUSR1
/// (swift-corelibs-foundation issue 4772): neither the daemon nor the writer would see them.
final class BackgroundProcess {
    let name: String
    let pid: pid_t
    let stdoutURL: URL
    let stderrURL: URL
    let startedAt: Date
    /// The wait status once reaped.
    private var waitStatus: Int32?

    /// - Parameter environment: variables added to (or replacing) the test's own environment.
    init(
        name: String, executable: URL, arguments: [String], outputDirectory: URL,
        environment extra: [String: String] = [:]
    ) throws {
        self.name = name
        stdoutURL = outputDirectory.appendingPathComponent("\(name).stdout")
        stderrURL = outputDirectory.appendingPathComponent("\(name).stderr")

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdoutURL.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, stderrURL.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        // Descriptors the test process holds open (other tests' files and pipes) stay out of the
        // child. glibc ≥ 2.34 has the call, but its header declares it only for _GNU_SOURCE.
        typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
        if let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") {
            _ = unsafeBitCast(symbol, to: AddCloseFrom.self)(&actions, 3)
        }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var everySignal = sigset_t()
        sigfillset(&everySignal)
        sigdelset(&everySignal, SIGKILL)
        sigdelset(&everySignal, SIGSTOP)
        posix_spawnattr_setsigdefault(&attributes, &everySignal)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        // TOKENTALLY_* variables would override the scenario's configuration.
        let environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("TOKENTALLY_") }
            .merging(extra) { $1 }.map { "\($0.key)=\($0.value)" }
        let argv = ([executable.path] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup($0) } + [nil]
        defer {
            for pointer in argv + envp { free(pointer) }
        }
        var child = pid_t()
        let result = posix_spawn(&child, executable.path, &actions, &attributes, argv, envp)
        guard result == 0 else {
            throw ScenarioAbort("cannot start \(executable.path): \(String(cString: strerror(result)))")
        }
        pid = child
        startedAt = Date()
    }

    /// Whether the process has not ended yet (reaps it when it has).
    var isRunning: Bool {
        guard waitStatus == nil else { return false }
        var status: Int32 = 0
        if waitpid(pid, &status, WNOHANG) == pid {
            waitStatus = status
            return false
        }
        return true
    }

    /// Sends `signalNumber` unless the process was reaped (until then its pid cannot be reused).
    func send(_ signalNumber: Int32) {
        if waitStatus == nil { kill(pid, signalNumber) }
    }

    /// Waits up to `seconds` for the process to end; true if it did (it is then reaped).
    @discardableResult
    func waitForExit(seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while isRunning {
            if Date() >= deadline { return false }
            usleep(2_000)
        }
        return true
    }

    /// SIGKILL (if still running), then wait for the end: nothing outlives the test.
    func killAndReap() {
        guard waitStatus == nil else { return }
        kill(pid, SIGKILL)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        waitStatus = status
    }

    /// Whether it ended by `exit(0)`. False while it runs.
    var exitedCleanly: Bool { !isRunning && waitStatus == 0 }

    /// "exit 3" or "signal 9"; "running" while it runs.
    var endDescription: String {
        guard !isRunning, let status = waitStatus else { return "running" }
        let signal = status & 0x7F
        return signal == 0 ? "exit \((status >> 8) & 0xFF)" : "signal \(signal)"
    }

    /// User plus system CPU seconds the process has used so far (from /proc), while it runs.
    var cpuSeconds: Double? {
        guard waitStatus == nil, let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return nil }
        // After the name in parentheses: state (field 3) … utime (14), stime (15), in clock ticks.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// The last `limit` characters the process wrote to standard error.
    func stderrTail(_ limit: Int = 1_500) -> String {
        let text = String(decoding: (try? Data(contentsOf: stderrURL)) ?? Data(), as: UTF8.self)
        return String(text.suffix(limit))
    }
}

/// A failure of the machinery around the daemon (a tool missing, logrotate failing, the daemon
/// dying on its own): the scenario cannot go on.
struct ScenarioAbort: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// `tokentally run --config FILE`, killed and restarted as a scenario says. Every incarnation
/// writes its output to `<outputDirectory>/daemon-<n>.stdout|stderr`.
final class DaemonUnderTest {
    let configURL: URL
    let outputDirectory: URL
    private(set) var current: BackgroundProcess?
    private(set) var incarnations = 0
    private(set) var kills = 0
    private var ended: [BackgroundProcess] = []
    /// CPU seconds of the incarnations that have ended, read just before each was stopped.
    private var cpuSecondsOfEnded = 0.0

    /// CPU seconds used by every incarnation so far.
    var cpuSeconds: Double { cpuSecondsOfEnded + (current?.cpuSeconds ?? 0) }

    init(configURL: URL, outputDirectory: URL) {
        self.configURL = configURL
        self.outputDirectory = outputDirectory
    }

    var isRunning: Bool { current != nil }

    func start() throws {
        precondition(current == nil, "the daemon is already running")
        incarnations += 1
        current = try BackgroundProcess(
            name: "daemon-\(incarnations)", executable: TokentallyBinary.url,
            arguments: ["run", "--config", configURL.path], outputDirectory: outputDirectory)
    }

    /// SIGKILL, the way a crash or an OOM kill ends it: no chance to commit or snapshot.
    func killHard() {
        guard let process = current else { return }
        cpuSecondsOfEnded += process.cpuSeconds ?? 0
        process.killAndReap()
        kills += 1
        ended.append(process)
        current = nil
    }

    /// Throws when the daemon ended although nobody stopped it.
    func checkAlive() throws {
        guard let process = current, !process.isRunning else { return }
        process.waitForExit(seconds: 1)
        ended.append(process)
        current = nil
        throw ScenarioAbort(
            "tokentally run (incarnation \(incarnations)) ended on its own with \(process.endDescription); "
                + "stderr: \(process.stderrTail())")
    }

    /// SIGTERM, then wait for the graceful shutdown: its end (e.g. "exit 0"), or a thrown abort
    /// when it still ran after `seconds` (then it is killed).
    func terminate(seconds: Double = 30) throws -> BackgroundProcess {
        guard let process = current else { throw ScenarioAbort("terminate: the daemon is not running") }
        cpuSecondsOfEnded += process.cpuSeconds ?? 0
        process.send(SIGTERM)
        let ended = process.waitForExit(seconds: seconds)
        self.ended.append(process)
        current = nil
        if !ended {
            process.killAndReap()
            throw ScenarioAbort("tokentally run still ran \(seconds) s after SIGTERM; stderr: \(process.stderrTail())")
        }
        return process
    }

    /// Kills whatever still runs; for `defer`.
    func reapAll() {
        current?.killAndReap()
        for process in ended { process.killAndReap() }
    }

    /// Standard error of the last incarnations, for a failure message.
    func recentStderr(incarnations count: Int = 2) -> String {
        let all = ended + (current.map { [$0] } ?? [])
        return all.suffix(count).map { "--- \($0.name) (\($0.endDescription)):\n\($0.stderrTail())" }
            .joined(separator: "\n")
    }
}

// MARK: - Host tools

enum RotationTools {
    static let logrotate = URL(fileURLWithPath: "/usr/sbin/logrotate")
    static let python = URL(fileURLWithPath: "/usr/bin/python3")
    static let writerScript = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/gateway-writer.py")

    /// Fails the test with what to install when a tool is missing.
    static func requireAll() throws {
        try #require(
            FileManager.default.isExecutableFile(atPath: logrotate.path),
            "\(logrotate.path) is missing: install the Debian package logrotate (apt-get install logrotate)")
        try #require(
            FileManager.default.isExecutableFile(atPath: python.path),
            "\(python.path) is missing: install the Debian package python3")
        try #require(
            FileManager.default.fileExists(atPath: writerScript.path),
            "the gateway stand-in \(writerScript.path) is missing")
        try #require(
            FileManager.default.isExecutableFile(atPath: TokentallyBinary.url.path),
            "the tokentally binary is missing at \(TokentallyBinary.url.path)")
    }
}

/// The files of one scenario under its scratch directory, and the configurations it writes.
struct RotationWorkspace {
    let root: URL
    var logs: URL { root.appendingPathComponent("logs") }
    var logFile: URL { logs.appendingPathComponent("access.log") }
    var snapshots: URL { root.appendingPathComponent("snap") }
    var state: URL { root.appendingPathComponent("state") }
    var output: URL { root.appendingPathComponent("out") }
    var daemonConfig: URL { root.appendingPathComponent("tokentally.yaml") }
    var logrotateConfig: URL { root.appendingPathComponent("logrotate.conf") }
    var logrotateState: URL { root.appendingPathComponent("logrotate.state") }
    var writerPidFile: URL { root.appendingPathComponent("writer.pid") }
    var writerAck: URL { root.appendingPathComponent("writer.ack") }
    var signalScript: URL { root.appendingPathComponent("signal-writer.sh") }

    /// Lays out the directories and writes the daemon's and logrotate's configurations.
    /// `directives` are the logrotate directives of the mode (`create`, `compress`, `rotate 100`…).
    init(root: URL, logrotateDirectives directives: [String]) throws {
        self.root = root
        let manager = FileManager.default
        for directory in [root, logs, snapshots, state, output] {
            try manager.createDirectory(at: directory, withIntermediateDirectories: true)
        }
        // logrotate skips a log whose directory is group- or world-writable.
        for directory in [root, logs] {
            try manager.setAttributes([.posixPermissions: 0o755], ofItemAtPath: directory.path)
        }

        let daemonYAML = """
            inputs:
              - path: \(logs.path)/access.log*
                format: tokentally
            timezone: UTC
            snapshot: { directory: \(snapshots.path), interval_seconds: 1 }
            state: { directory: \(state.path), commit_interval_seconds: 1 }
            journal: { enabled: false }

            """
        try Data(daemonYAML.utf8).write(to: daemonConfig)

        // The postrotate step signals the writer and waits (at most 5 s) until it has reopened the
        // path, so that logrotate compresses a renamed file only once the writer has left it, as a
        // gateway that reopens on SIGUSR1 synchronously would. No writer running: nothing to do.
        let script = """
            #!/bin/sh
            pid=$(cat '\(writerPidFile.path)' 2>/dev/null) || exit 0
            kill -CONT "$pid" 2>/dev/null
            rm -f '\(writerAck.path)'
            kill -USR1 "$pid" 2>/dev/null || exit 0
            i=0
            while [ ! -e '\(writerAck.path)' ] && [ "$i" -lt 500 ]; do
                kill -0 "$pid" 2>/dev/null || exit 0
                sleep 0.01
                i=$((i + 1))
            done
            exit 0

            """
        try Data(script.utf8).write(to: signalScript)
        try manager.setAttributes([.posixPermissions: 0o755], ofItemAtPath: signalScript.path)

        var lines = ["\(logFile.path) {"]
        if getuid() == 0 { lines.append("    su root root") }
        lines += directives.map { "    \($0)" }
        if directives.contains("copytruncate") {
            // copytruncate loses whatever the gateway writes between logrotate's copy and its
            // truncate, and the daemon may or may not have read those lines by then: no oracle
            // can tell. Holding the writer still (SIGSTOP, resumed by postrotate) empties that
            // window of whole lines, so the lines on disk are exactly what could be counted;
            // the daemon still races the truncation and the writer's regrowth right after it.
            lines += [
                "    prerotate",
                "        kill -STOP $(cat '\(writerPidFile.path)' 2>/dev/null) 2>/dev/null || true",
                "    endscript",
            ]
        }
        lines += ["    missingok", "    postrotate", "        /bin/sh \(signalScript.path)", "    endscript", "}", ""]
        try Data(lines.joined(separator: "\n").utf8).write(to: logrotateConfig)
        // logrotate refuses a configuration that others can write.
        try manager.setAttributes([.posixPermissions: 0o644], ofItemAtPath: logrotateConfig.path)
    }

    /// `logrotate -f -s <state> <config>` in the background.
    func startRotation(number: Int) throws -> BackgroundProcess {
        try BackgroundProcess(
            name: "logrotate-\(number)", executable: RotationTools.logrotate,
            arguments: ["-f", "-s", logrotateState.path, logrotateConfig.path], outputDirectory: output)
    }

    /// One forced rotation, waited for; throws when logrotate fails.
    func rotateNow(number: Int) throws {
        let rotation = try startRotation(number: number)
        defer { rotation.killAndReap() }
        guard rotation.waitForExit(seconds: 30) else { throw ScenarioAbort("logrotate \(number) ran over 30 s") }
        try Self.checkRotation(rotation)
    }

    static func checkRotation(_ rotation: BackgroundProcess) throws {
        guard rotation.exitedCleanly else {
            throw ScenarioAbort("\(rotation.name) failed (\(rotation.endDescription)): \(rotation.stderrTail())")
        }
    }

    /// The gateway stand-in writing lines `first ..< first + lines` of a log of `total` lines.
    func startWriter(
        seed: UInt64, first: Int = 0, lines: Int, total: Int? = nil, rate: Double, ledger: URL, name: String = "writer"
    ) throws -> BackgroundProcess {
        var arguments = [
            RotationTools.writerScript.path, "--path", logFile.path, "--seed", String(seed % 1_000_000),
            "--first", String(first), "--lines", String(lines), "--rate", String(rate),
            "--pid-file", writerPidFile.path, "--ack", writerAck.path, "--ledger", ledger.path,
        ]
        if let total { arguments += ["--total", String(total)] }
        let writer = try BackgroundProcess(
            name: name, executable: RotationTools.python, arguments: arguments, outputDirectory: output)
        // The pid file tells postrotate whom to signal; wait for it so that no rotation goes unsignalled.
        let deadline = Date().addingTimeInterval(10)
        while !FileManager.default.fileExists(atPath: writerPidFile.path) && writer.isRunning && Date() < deadline {
            usleep(2_000)
        }
        return writer
    }

    /// The generations on disk now, by name, sorted.
    func generationNames() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: logs.path)) ?? []).filter { $0.hasPrefix("access.log") }
            .sorted()
    }
}

// MARK: - Per-day totals

/// Every counter of one day's `totals`: integers by name, and the cost as an exact decimal.
struct DayCounters: Equatable {
    static let integerNames = [
        "requests", "succeeded", "failed", "input_tokens", "output_tokens", "total_tokens", "cached_tokens",
        "cache_write_tokens", "reasoning_tokens", "web_search_requests", "web_search_calls",
        "web_search_input_tokens", "web_search_output_tokens",
    ]

    /// Counters found; an expectation has every name (zero for those the writer never sets).
    var integers: [String: Int64]
    var costUSD: Decimal?

    static var zero: DayCounters {
        DayCounters(integers: Dictionary(uniqueKeysWithValues: integerNames.map { ($0, 0) }), costUSD: 0)
    }

    var requests: Int64 { integers["requests"] ?? 0 }

    mutating func add(_ other: DayCounters) {
        for (name, value) in other.integers { integers[name, default: 0] += value }
        costUSD = (costUSD ?? 0) + (other.costUSD ?? 0)
    }
}

/// Counter totals by day label (`YYYY-MM-DD`, UTC).
struct DailyTotals: Equatable {
    var days: [String: DayCounters] = [:]

    var requests: Int64 { days.values.reduce(0) { $0 + $1.requests } }

    mutating func add(_ counters: DayCounters, day: String) {
        days[day, default: .zero].add(counters)
    }

    mutating func add(_ other: DailyTotals) {
        for (day, counters) in other.days { add(counters, day: day) }
    }
}

func exactDecimal(_ text: String) -> Decimal? {
    Decimal(string: text, locale: Locale(identifier: "en_US_POSIX"))
}

/// What the gateway stand-in says it wrote (its ledger file).
struct WriterLedger {
    var linesWritten: Int
    var splitWrites: Int
    var reopens: Int
    var totals: DailyTotals

    static func load(_ url: URL) throws -> WriterLedger {
        let json = try JSONReader.parse(try Data(contentsOf: url))
        func integer(_ value: JSONValue?) -> Int64? { value?.numberText.flatMap { Int64($0) } }
        var totals = DailyTotals()
        for (day, sums) in json["days"]?.objectValue ?? [:] {
            var counters = DayCounters.zero
            for name in ["requests", "succeeded", "failed", "input_tokens", "output_tokens", "cached_tokens"] {
                guard let value = integer(sums[name]) else { throw ScenarioAbort("ledger \(url.path): no \(name)") }
                counters.integers[name] = value
            }
            counters.integers["total_tokens"] = counters.integers["input_tokens"]! + counters.integers["output_tokens"]!
            guard let cost = sums["cost_usd"]?.stringValue.flatMap(exactDecimal) else {
                throw ScenarioAbort("ledger \(url.path): no cost_usd")
            }
            counters.costUSD = cost
            totals.add(counters, day: day)
        }
        guard let lines = integer(json["lines_written"]) else {
            throw ScenarioAbort("ledger \(url.path): no lines_written")
        }
        return WriterLedger(
            linesWritten: Int(lines), splitWrites: Int(integer(json["split_writes"]) ?? 0),
            reopens: Int(integer(json["reopens"]) ?? 0), totals: totals)
    }

    /// Several runs of the writer over one log, as one ledger.
    static func merged(_ ledgers: [WriterLedger]) -> WriterLedger {
        var result = WriterLedger(linesWritten: 0, splitWrites: 0, reopens: 0, totals: DailyTotals())
        for ledger in ledgers {
            result.linesWritten += ledger.linesWritten
            result.splitWrites += ledger.splitWrites
            result.reopens += ledger.reopens
            result.totals.add(ledger.totals)
        }
        return result
    }
}

/// The lines present in a log directory now, in every generation (gzip ones through `gzip -dc`),
/// read with the tests' own JSON reader: the reference when logrotate itself loses lines.
struct LinesOnDisk {
    var totals = DailyTotals()
    var lines = 0
    /// Pieces that are not a whole record: the halves of a line that copytruncate cut in two.
    var fragments = 0
    var duplicateRequestIDs = 0
    var incompleteGzipFiles: [String] = []

    static func read(_ directory: URL) throws -> LinesOnDisk {
        var result = LinesOnDisk()
        var seen = Set<String>()
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter {
            $0.hasPrefix("access.log")
        }
        for name in names.sorted() {
            let (bytes, complete) = try decompressedContents(of: directory.appendingPathComponent(name))
            if !complete { result.incompleteGzipFiles.append(name) }
            for line in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true) {
                guard let (day, counters, requestID) = Self.record(line) else {
                    result.fragments += 1
                    continue
                }
                result.lines += 1
                result.totals.add(counters, day: day)
                if !seen.insert(requestID).inserted { result.duplicateRequestIDs += 1 }
            }
        }
        return result
    }

    /// A line of the gateway stand-in: its day, counters and request id; nil for anything else.
    private static func record(_ line: ArraySlice<UInt8>) -> (String, DayCounters, String)? {
        guard let json = try? JSONReader.parse(line), let ts = json["ts"]?.stringValue, ts.utf8.count >= 10,
            let requestID = json["request_id"]?.stringValue,
            let status = json["status"]?.numberText.flatMap({ Int($0) }),
            let cost = json["cost_usd"]?.numberText.flatMap(exactDecimal)
        else { return nil }
        var counters = DayCounters.zero
        counters.integers["requests"] = 1
        counters.integers[(200..<300).contains(status) ? "succeeded" : "failed"] = 1
        for name in ["input_tokens", "output_tokens", "cached_tokens"] {
            guard let value = json[name]?.numberText.flatMap({ Int64($0) }) else { return nil }
            counters.integers[name] = value
        }
        counters.integers["total_tokens"] = counters.integers["input_tokens"]! + counters.integers["output_tokens"]!
        counters.costUSD = cost
        return (String(ts.prefix(10)), counters, requestID)
    }

    /// How many line ends the directory's files hold (decompressed): a fast count of lines
    /// written, for waiting on the daemon.
    static func newlineCount(_ directory: URL, only names: [String]? = nil) throws -> Int {
        let all = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter {
            $0.hasPrefix("access.log")
        }
        var count = 0
        for name in names ?? all {
            let (bytes, _) = try decompressedContents(of: directory.appendingPathComponent(name))
            bytes.withUnsafeBufferPointer { buffer in
                for byte in buffer where byte == 0x0A { count += 1 }
            }
        }
        return count
    }
}

/// The daemon's snapshot as it is on disk now: day totals and a few status figures.
struct DaemonSnapshot {
    var totals = DailyTotals()
    var indexModified: Date?
    var linesCounted: Int?
    var statusFiles: Int?

    /// Nil while index.json does not exist yet.
    static func read(_ directory: URL) throws -> DaemonSnapshot? {
        let indexURL = directory.appendingPathComponent("index.json")
        guard FileManager.default.fileExists(atPath: indexURL.path) else { return nil }
        var result = DaemonSnapshot()
        result.indexModified =
            try FileManager.default.attributesOfItem(atPath: indexURL.path)[.modificationDate] as? Date
        let index = try JSONReader.parse(try Data(contentsOf: indexURL))
        result.linesCounted = index.value(at: ["status", "lines_counted"])?.numberText.flatMap { Int($0) }
        result.statusFiles = index.value(at: ["status", "files"])?.arrayValue?.count
        let dayDirectory = directory.appendingPathComponent("day")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dayDirectory.path)) ?? []
        for name in names where name.hasSuffix(".json") && !name.hasPrefix(".") {
            let bucket = try JSONReader.parse(try Data(contentsOf: dayDirectory.appendingPathComponent(name)))
            let totals = bucket["totals"]
            var counters = DayCounters(integers: [:], costUSD: nil)
            for counter in DayCounters.integerNames {
                if let value = totals?[counter]?.numberText.flatMap({ Int64($0) }) {
                    counters.integers[counter] = value
                }
            }
            counters.costUSD = totals?["cost_usd"]?.numberText.flatMap(exactDecimal)
            result.totals.days[String(name.dropLast(5))] = counters
        }
        return result
    }
}

/// Expected against counted, day by day and counter by counter.
struct TotalsComparison {
    /// Requests expected but not counted, summed over the days where the daemon counted fewer.
    var lost: Int64 = 0
    /// Requests counted beyond what was expected, summed over the days where it counted more.
    var doubled: Int64 = 0
    var differences: [String] = []

    var isExact: Bool { differences.isEmpty }

    init(expected: DailyTotals, counted: DailyTotals) {
        for day in Set(expected.days.keys).union(counted.days.keys).sorted() {
            let want = expected.days[day] ?? .zero
            guard let found = counted.days[day] else {
                differences.append("\(day): no day file (expected \(want.requests) requests)")
                lost += want.requests
                continue
            }
            let delta = found.requests - want.requests
            if delta < 0 { lost -= delta } else { doubled += delta }
            for name in DayCounters.integerNames {
                let expectedValue = want.integers[name] ?? 0
                guard let value = found.integers[name] else {
                    differences.append("\(day) \(name): expected \(expectedValue), absent")
                    continue
                }
                if value != expectedValue {
                    let difference = value - expectedValue
                    differences.append(
                        "\(day) \(name): expected \(expectedValue), counted \(value) "
                            + (difference < 0 ? "(lost \(-difference))" : "(doubled \(difference))"))
                }
            }
            if found.costUSD != want.costUSD {
                differences.append(
                    "\(day) cost_usd: expected \(want.costUSD.map { "\($0)" } ?? "?"), counted "
                        + (found.costUSD.map { "\($0)" } ?? "absent"))
            }
        }
    }
}
