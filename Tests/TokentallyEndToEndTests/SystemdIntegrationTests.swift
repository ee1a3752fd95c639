import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A `NOTIFY_SOCKET` of the test's own: a Unix datagram socket that collects what the daemon
/// sends with sd_notify, as systemd would.
final class NotifySocket {
    let path: String
    private let descriptor: Int32
    private(set) var messages: [String] = []

    init(directory: URL) throws {
        path = directory.appendingPathComponent("notify.sock").path
        descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        guard descriptor >= 0 else { throw ScenarioAbort("socket(AF_UNIX) failed") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in path.utf8.prefix(raw.count - 1).enumerated() { raw[index] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard bound == 0 else { throw ScenarioAbort("bind(\(path)) failed: \(String(cString: strerror(errno)))") }
    }

    deinit { close(descriptor) }

    /// Waits up to `seconds` for a message for which `matches` is true; returns it.
    @discardableResult
    func wait(seconds: Double, for description: String, _ matches: (String) -> Bool) throws -> String {
        let deadline = Date().addingTimeInterval(seconds)
        var seen = messages.count
        while true {
            for message in messages[seen...] where matches(message) {
                messages.removeSubrange(..<(messages.firstIndex(of: message)! + 1))
                return message
            }
            seen = messages.count
            let left = deadline.timeIntervalSinceNow
            if left <= 0 { throw ScenarioAbort("no \(description) within \(seconds) s; got \(messages)") }
            var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            if poll(&poller, 1, Int32(left * 1000) + 1) > 0 {
                var buffer = [UInt8](repeating: 0, count: 4096)
                let n = recv(descriptor, &buffer, buffer.count, 0)
                if n > 0 { messages.append(String(decoding: buffer[..<n], as: UTF8.self)) }
            }
        }
    }
}

/// Runs the daemon against a small generated log set with a notify socket.
private struct DaemonFixture {
    let root: URL
    let logs: URL
    let extraLogs: URL
    let snapshots: URL
    let config: URL

    init(root: URL) throws {
        self.root = root
        logs = root.appendingPathComponent("logs")
        extraLogs = root.appendingPathComponent("extra")
        snapshots = root.appendingPathComponent("snapshots")
        config = root.appendingPathComponent("tokentally.yaml")
        for (directory, seed) in [(logs, "11"), (extraLogs, "12")] {
            let generated = try TokentallyBinary.run([
                "generate", "--out", directory.path, "--lines", "3000", "--days", "3", "--files", "3", "--seed", seed,
            ])
            try #require(generated.status == 0, "\(generated.summary)")
        }
        try writeConfig(inputs: [logs])
    }

    func writeConfig(inputs: [URL], journalTop: Int? = nil, host: String = "e2e", timezone: String = "UTC") throws {
        var yaml = "inputs:\n"
        for input in inputs { yaml += "  - path: \(input.path)/access.log*\n" }
        yaml += """
            timezone: \(timezone)
            host: \(host)
            snapshot: { directory: \(snapshots.path), interval_seconds: 1 }
            state: { directory: \(root.appendingPathComponent("state").path), commit_interval_seconds: 1 }
            journal: { enabled: \(journalTop != nil), top: \(journalTop ?? 20) }

            """
        try yaml.write(to: config, atomically: true, encoding: .utf8)
    }

    /// Sums `requests` of every day file (each request is in exactly one day).
    func countedRequests() -> Int? {
        let folder = snapshots.appendingPathComponent("day")
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder.path) else { return nil }
        var total = 0
        for name in names where name.hasSuffix(".json") {
            guard let data = try? Data(contentsOf: folder.appendingPathComponent(name)),
                let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                let totals = object["totals"] as? [String: Any], let requests = totals["requests"] as? Int
            else { return nil }
            total += requests
        }
        return total
    }

    /// Polls until the snapshots show `expected` requests.
    /// Starts `tokentally run` on this fixture's config, telling it `socket` as NOTIFY_SOCKET
    /// (and any `environment` more); the caller kills and reaps it.
    func startDaemon(notifying socket: NotifySocket, environment: [String: String] = [:]) throws -> BackgroundProcess {
        try BackgroundProcess(
            name: "daemon", executable: TokentallyBinary.url, arguments: ["run", "--config", config.path],
            outputDirectory: root, environment: environment.merging(["NOTIFY_SOCKET": socket.path]) { $1 })
    }

    func waitForRequests(_ expected: Int, seconds: Double = 30) throws {
        let deadline = Date().addingTimeInterval(seconds)
        while countedRequests() != expected {
            if Date() >= deadline {
                throw ScenarioAbort("snapshots show \(countedRequests() ?? -1) requests, expected \(expected)")
            }
            usleep(100_000)
        }
    }
}

private func lineCount(_ directory: URL) throws -> Int {
    var total = 0
    for name in try FileManager.default.contentsOfDirectory(atPath: directory.path) {
        let (bytes, _) = try decompressedContents(of: directory.appendingPathComponent(name))
        total += bytes.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
    }
    return total
}

@Suite(.serialized) struct SystemdIntegrationTests {
    @Test func notifySequenceFollowsTheDaemonsLife() throws {
        try withScratchDirectory("notify") { root in
            let fixture = try DaemonFixture(root: root)
            let socket = try NotifySocket(directory: root)
            let daemon = try fixture.startDaemon(notifying: socket, environment: ["WATCHDOG_USEC": "1000000"])
            defer { daemon.killAndReap() }

            try socket.wait(seconds: 30, for: "READY=1") { $0.contains("READY=1") }
            try socket.wait(seconds: 5, for: "WATCHDOG=1") { $0.contains("WATCHDOG=1") }
            try fixture.waitForRequests(try lineCount(fixture.logs))
            let status = try socket.wait(seconds: 5, for: "STATUS=") {
                $0.contains("STATUS=") && $0.contains("lines/s")
            }
            #expect(status.contains("files followed"))

            daemon.send(SIGHUP)
            let reloading = try socket.wait(seconds: 10, for: "RELOADING=1") { $0.contains("RELOADING=1") }
            #expect(reloading.contains("MONOTONIC_USEC="))
            try socket.wait(seconds: 10, for: "READY=1 after the reload") { $0.contains("READY=1") }
            // Still alive and pinging after the reload.
            try socket.wait(seconds: 5, for: "WATCHDOG=1 after the reload") { $0.contains("WATCHDOG=1") }

            daemon.send(SIGTERM)
            try socket.wait(seconds: 10, for: "STOPPING=1") { $0.contains("STOPPING=1") }
            #expect(daemon.waitForExit(seconds: 30))
            #expect(daemon.exitedCleanly, "\(daemon.endDescription): \(daemon.stderrTail())")
        }
    }

    @Test func reloadThatAddsAnInputCountsItsLinesOnce() throws {
        try withScratchDirectory("reload-add") { root in
            let fixture = try DaemonFixture(root: root)
            let socket = try NotifySocket(directory: root)
            let daemon = try fixture.startDaemon(notifying: socket)
            defer { daemon.killAndReap() }
            let first = try lineCount(fixture.logs)
            let second = try lineCount(fixture.extraLogs)
            try fixture.waitForRequests(first)

            try fixture.writeConfig(inputs: [fixture.logs, fixture.extraLogs])
            daemon.send(SIGHUP)
            try socket.wait(seconds: 10, for: "READY=1 after the reload") {
                $0.contains("READY=1") && !$0.contains("refused")
            }
            try fixture.waitForRequests(first + second)
            // Reloading the same configuration again reads nothing twice.
            daemon.send(SIGHUP)
            try socket.wait(seconds: 10, for: "RELOADING=1") { $0.contains("RELOADING=1") }
            try socket.wait(seconds: 10, for: "READY=1") { $0.contains("READY=1") }
            sleep(2)
            #expect(fixture.countedRequests() == first + second)

            daemon.send(SIGTERM)
            #expect(daemon.waitForExit(seconds: 30))
            #expect(daemon.exitedCleanly, "\(daemon.endDescription): \(daemon.stderrTail())")
            #expect(fixture.countedRequests() == first + second)
        }
    }

    @Test func brokenReloadKeepsTheOldConfiguration() throws {
        try withScratchDirectory("reload-broken") { root in try Self.brokenReload(in: root) }
    }

    private static func brokenReload(in root: URL) throws {
        let fixture = try DaemonFixture(root: root)
        let socket = try NotifySocket(directory: root)
        let daemon = try fixture.startDaemon(notifying: socket)
        defer { daemon.killAndReap() }
        let first = try lineCount(fixture.logs)
        try fixture.waitForRequests(first)

        try "inputs: [ {path: /nowhere/x.log}\nbogus_key: 1\n".write(
            to: fixture.config, atomically: true, encoding: .utf8)
        daemon.send(SIGHUP)
        let status = try socket.wait(seconds: 10, for: "STATUS= naming the refused reload") {
            $0.contains("reload refused")
        }
        #expect(!status.isEmpty)
        // A change that cannot apply live is refused too, with its reason.
        try fixture.writeConfig(inputs: [fixture.logs], timezone: "Europe/Berlin")
        daemon.send(SIGHUP)
        try socket.wait(seconds: 10, for: "STATUS= naming the time zone") {
            $0.contains("reload refused") && $0.contains("timezone")
        }

        // The old configuration still counts new lines.
        let more = try TokentallyBinary.run([
            "generate", "--out", root.appendingPathComponent("more").path, "--lines", "200", "--files", "1",
            "--seed", "99",
        ])
        try #require(more.status == 0)
        let extra = try Data(contentsOf: root.appendingPathComponent("more/access.log"))
        let live = try FileHandle(forWritingTo: fixture.logs.appendingPathComponent("access.log"))
        try live.seekToEnd()
        try live.write(contentsOf: extra)
        try live.close()
        try fixture.waitForRequests(first + 200)

        daemon.send(SIGTERM)
        #expect(daemon.waitForExit(seconds: 30))
        #expect(daemon.exitedCleanly, "\(daemon.endDescription): \(daemon.stderrTail())")
        let log = try String(contentsOf: daemon.stderrURL, encoding: .utf8)
        #expect(log.contains("reload refused"))
    }

    @Test func journalEntriesMatchTheSnapshotFiles() throws {
        let journald = try JournaldForTests.ensureRunning()
        defer { journald?.killAndReap() }
        try withScratchDirectory("journal") { root in
            let fixture = try DaemonFixture(root: root)
            let host = "e2e-\(UUID().uuidString.prefix(8))"
            try fixture.writeConfig(inputs: [fixture.logs], journalTop: 3, host: host)
            let replay = try TokentallyBinary.run(
                [
                    "replay", "--config", fixture.config.path, "--snapshot-dir", fixture.snapshots.path,
                    fixture.logs.path,
                ])
            try #require(replay.status == 0, "\(replay.summary)")

            var entries: [[String: Any]] = []
            let deadline = Date().addingTimeInterval(10)
            while entries.count < 7 && Date() < deadline {
                let read = try ProcessLauncher.run(
                    URL(fileURLWithPath: "/usr/bin/journalctl"),
                    ["-o", "json", "--no-pager", "SYSLOG_IDENTIFIER=tokentally", "TOKENTALLY_HOST=\(host)"])
                entries = read.stdoutText.split(separator: "\n").compactMap {
                    try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
                }
                if entries.count < 7 { usleep(200_000) }
            }
            // One totals entry, then the top 3 models and the top 3 providers.
            #expect(entries.count == 7, "journal entries: \(entries.count)")
            let days = try FileManager.default.contentsOfDirectory(
                atPath: fixture.snapshots.appendingPathComponent("day").path
            )
            .sorted()
            let newest = try #require(days.last)
            let data = try Data(contentsOf: fixture.snapshots.appendingPathComponent("day/\(newest)"))
            let day = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
            let totals = try #require(day["totals"] as? [String: Any])
            let byModel = try #require(day["by_model"] as? [String: [String: Any]])
            let byProvider = try #require(day["by_provider"] as? [String: [String: Any]])

            func check(_ entry: [String: Any], against counters: [String: Any]) {
                #expect(entry["TOKENTALLY_BUCKET"] as? String == day["bucket"] as? String)
                #expect(entry["TOKENTALLY_PERIOD"] as? String == "day")
                #expect(entry["PRIORITY"] as? String == "6")
                for (field, key) in [
                    ("TOKENTALLY_REQUESTS", "requests"), ("TOKENTALLY_INPUT_TOKENS", "input_tokens"),
                    ("TOKENTALLY_OUTPUT_TOKENS", "output_tokens"), ("TOKENTALLY_FAILED", "failed"),
                ] {
                    #expect(entry[field] as? String == (counters[key] as? Int).map(String.init), "\(field)")
                }
                #expect(((entry["MESSAGE"] as? String) ?? "").contains("requests"))
            }
            for entry in entries {
                switch entry["TOKENTALLY_KIND"] as? String {
                case "totals": check(entry, against: totals)
                case "model":
                    let name = entry["TOKENTALLY_MODEL"] as? String ?? ""
                    check(entry, against: byModel[name] ?? [:])
                case "provider":
                    let name = entry["TOKENTALLY_PROVIDER"] as? String ?? ""
                    check(entry, against: byProvider[name] ?? [:])
                default: Issue.record("unexpected entry \(entry)")
                }
            }
            // The top 3 models by requests are the ones with entries.
            let top = byModel.sorted {
                let (a, b) = (($0.value["requests"] as? Int) ?? 0, ($1.value["requests"] as? Int) ?? 0)
                return a != b ? a > b : $0.key < $1.key
            }.prefix(3).map(\.key)
            #expect(Set(entries.compactMap { $0["TOKENTALLY_MODEL"] as? String }) == Set(top))
        }
    }
}

/// journald for the tests that read the journal back: the machine's own when its socket is
/// there, otherwise one started by hand (which `/lib/systemd/systemd-journald` allows) and
/// stopped by the test.
enum JournaldForTests {
    static let socket = "/run/systemd/journal/socket"

    /// Whether a journald listens on the socket (a stale socket file refuses the connection).
    static var isListening: Bool {
        let descriptor = Glibc.socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in socket.utf8.enumerated() { raw[index] = byte }
        }
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) == 0
            }
        }
    }

    static func ensureRunning() throws -> BackgroundProcess? {
        if isListening { return nil }
        let binary = URL(fileURLWithPath: "/lib/systemd/systemd-journald")
        try #require(
            FileManager.default.isExecutableFile(atPath: binary.path),
            "journald is not running and \(binary.path) is missing: install the Debian package systemd")
        let process = try BackgroundProcess(
            name: "journald", executable: binary, arguments: [],
            outputDirectory: FileManager.default.temporaryDirectory)
        let deadline = Date().addingTimeInterval(10)
        while !isListening {
            guard Date() < deadline, process.isRunning else {
                process.killAndReap()
                throw ScenarioAbort("journald did not start: \(process.stderrTail())")
            }
            usleep(50_000)
        }
        return process
    }
}
