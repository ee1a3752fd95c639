import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

// What the fault scenarios (FaultTests*.swift) are made of: a workspace with its own logs,
// state and snapshot directories; lines the test writes itself, so that its oracle is the
// count of what it wrote; small real file systems (tmpfs) for full disks; and readers of the
// daemon's index.json.

/// One canonical record dated `secondsAgo` before now, so that the daemon's clock accepts it
/// (`limits.max_future_seconds`). `tag` makes the line unique.
func recentLine(secondsAgo: Int, key: String = "team-a", tag: Int, inputTokens: Int = 10) -> String {
    let time = Int(Date().timeIntervalSince1970) - secondsAgo
    return canonicalLine(
        ts: "\(time)", apiKey: key,
        fields: ["request_id": "\"r-\(tag)\"", "input_tokens": "\(inputTokens)", "output_tokens": "1"])
}

/// A directory tree for one scenario: `logs/`, `state/`, `snapshots/` and the config.
struct FaultWorkspace {
    let root: URL
    var logs: URL { root.appendingPathComponent("logs") }
    var state: URL { root.appendingPathComponent("state") }
    var snapshots: URL { root.appendingPathComponent("snapshots") }
    var config: URL { root.appendingPathComponent("tokentally.yaml") }

    init(root: URL) throws {
        self.root = root
        try FileManager.default.createDirectory(at: logs, withIntermediateDirectories: true)
    }

    /// Writes the config: `inputs` are globs (default: `logs/access.log*`).
    func writeConfig(
        inputs: [String]? = nil, state: URL? = nil, snapshots: URL? = nil, commitSeconds: Int = 1,
        extra: String = "", to url: URL? = nil
    ) throws {
        var yaml = "inputs:\n"
        for input in inputs ?? [logs.path + "/access.log*"] { yaml += "  - path: \(input)\n" }
        yaml += """
            timezone: UTC
            host: e2e
            snapshot: { directory: \((snapshots ?? self.snapshots).path), interval_seconds: 1 }
            state: { directory: \((state ?? self.state).path), commit_interval_seconds: \(commitSeconds) }
            journal: { enabled: false }
            \(extra)
            """
        try yaml.write(to: url ?? config, atomically: true, encoding: .utf8)
    }

    func append(_ lines: [String], to name: String = "access.log") throws {
        let url = logs.appendingPathComponent(name)
        if !FileManager.default.fileExists(atPath: url.path) {
            _ = FileManager.default.createFile(atPath: url.path, contents: nil)
        }
        let handle = try FileHandle(forWritingTo: url)
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: logBytes(lines))
    }

    func startDaemon(name: String = "daemon", config: URL? = nil, wrapper: [String] = []) throws -> BackgroundProcess {
        let arguments = ["run", "--config", (config ?? self.config).path]
        if wrapper.isEmpty {
            return try BackgroundProcess(
                name: name, executable: TokentallyBinary.url, arguments: arguments, outputDirectory: root)
        }
        return try BackgroundProcess(
            name: name, executable: URL(fileURLWithPath: wrapper[0]),
            arguments: Array(wrapper.dropFirst()) + [TokentallyBinary.url.path] + arguments, outputDirectory: root)
    }

    /// index.json of `directory` (default: this workspace's snapshots), or nil.
    func index(_ directory: URL? = nil) -> [String: Any]? {
        let url = (directory ?? snapshots).appendingPathComponent("index.json")
        guard let data = try? Data(contentsOf: url) else { return nil }
        return try? JSONSerialization.jsonObject(with: data) as? [String: Any]
    }

    func status() -> [String: Any]? { index()?["status"] as? [String: Any] }

    /// Sums `requests` over the day files whose labels are in `labels` (default: every day file).
    func dayRequests(_ directory: URL? = nil, labels: Set<String>? = nil) -> Int? {
        let folder = (directory ?? snapshots).appendingPathComponent("day")
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder.path) else { return nil }
        var total = 0
        for name in names where name.hasSuffix(".json") && !name.hasPrefix(".") {
            if let labels, !labels.contains(String(name.dropLast(5))) { continue }
            guard let data = try? Data(contentsOf: folder.appendingPathComponent(name)),
                let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                let totals = object["totals"] as? [String: Any], let requests = totals["requests"] as? Int
            else { return nil }
            total += requests
        }
        return total
    }

    func statusInteger(_ path: String...) -> Int? {
        var current: Any? = status()
        for key in path { current = (current as? [String: Any])?[key] }
        return current as? Int
    }

    /// Polls `condition` every 100 ms until it holds; throws with `what` after `seconds`.
    func wait(_ what: String, seconds: Double = 30, _ condition: () -> Bool) throws {
        let deadline = Date().addingTimeInterval(seconds)
        while !condition() {
            if Date() >= deadline { throw ScenarioAbort("timed out waiting for \(what)") }
            usleep(100_000)
        }
    }

    /// Waits until the day files hold `expected` requests and the status counted `counted`
    /// lines (default `expected`) of `read` read.
    func waitForCounted(_ expected: Int, counted: Int? = nil, read: Int? = nil, seconds: Double = 30) throws {
        try wait("\(expected) requests in the day files and lines_counted \(counted ?? expected)", seconds: seconds) {
            dayRequests() == expected && statusInteger("lines_counted") == (counted ?? expected)
                && (read == nil || statusInteger("lines_read") == read)
        }
    }
}

/// A tmpfs of `kilobytes` mounted at `url` (made if missing) for the body's duration: a real
/// small file system, so that a full disk is a real ENOSPC. The tests run as root (CI does).
func withTmpfs<T>(at url: URL, kilobytes: Int, options: String = "", _ body: () throws -> T) throws -> T {
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    try runTool(
        "/bin/mount",
        ["-t", "tmpfs", "-o", "size=\(kilobytes)k" + (options.isEmpty ? "" : "," + options), "tmpfs", url.path])
    defer { _ = try? runTool("/bin/umount", ["-l", url.path]) }
    return try body()
}

/// Changes a mounted tmpfs (its size, or `ro`/`rw`).
func remountTmpfs(_ url: URL, _ options: String) throws {
    try runTool("/bin/mount", ["-o", "remount," + options, url.path])
}

/// Runs a host tool and throws unless it exits 0.
@discardableResult
func runTool(_ path: String, _ arguments: [String], stdin: Data? = nil) throws -> ProcessOutcome {
    let outcome = try ProcessLauncher.run(URL(fileURLWithPath: path), arguments, stdin: stdin)
    guard outcome.status == 0 else {
        throw ScenarioAbort("\(path) \(arguments.joined(separator: " ")) failed: \(outcome.summary)")
    }
    return outcome
}

/// The descriptors of a process that point at deleted files (`/proc/PID/fd`).
func deletedFilesHeld(by pid: pid_t) -> [String] {
    let folder = "/proc/\(pid)/fd"
    guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return [] }
    return names.compactMap { name in
        guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: folder + "/" + name) else {
            return nil
        }
        return target.hasSuffix(" (deleted)") ? target : nil
    }
}

/// What a process wrote to standard error, as lines.
func stderrLines(_ process: BackgroundProcess) -> [String] {
    let text = String(decoding: (try? Data(contentsOf: process.stderrURL)) ?? Data(), as: UTF8.self)
    return text.split(separator: "\n").map(String.init)
}
