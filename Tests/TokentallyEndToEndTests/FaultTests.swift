import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

// Issue 9: the faults a production host sees that used to lose or double data. Each scenario
// runs the real binary on lines the test wrote, and compares what it counted with what was
// written: nothing lost, nothing doubled, and the operator told in one line.

@Suite(.serialized) struct FaultTests {
    // MARK: Timestamps

    @Test func aFarFutureLineIsRejectedAndErasesNoHistory() throws {
        try withScratchDirectory("future") { root in
            let workspace = try FaultWorkspace(root: root)
            // 100 lines over the last 40 days, oldest first.
            let history = (0..<100).map { recentLine(secondsAgo: 40 * 86_400 - $0 * 34_000, tag: $0) }
            try workspace.append(history)
            try workspace.writeConfig()
            var daemon = try workspace.startDaemon()
            defer { daemon.killAndReap() }
            try workspace.waitForCounted(100)
            let daysBefore = Set(try dayLabels(workspace))

            // A year 2100 line, an epoch in microseconds, one line older than retention, then
            // real lines again.
            try workspace.append([
                canonicalLine(ts: "\"2100-01-01T00:00:00Z\"", fields: ["request_id": "\"future\""]),
                canonicalLine(ts: "1764590400000000", fields: ["request_id": "\"micro\""]),
                recentLine(secondsAgo: 100 * 86_400, tag: 999),
            ])
            try workspace.append((100..<150).map { recentLine(secondsAgo: 3_000 - $0, tag: $0) })
            // The late line is still counted in its week and month.
            try workspace.waitForCounted(150, counted: 151, read: 153)
            #expect(workspace.statusInteger("rejected", "future_timestamp") == 1)
            #expect(workspace.statusInteger("rejected", "invalid_timestamp") == 1)
            #expect(workspace.statusInteger("late_dropped", "day") == 1)
            let daysAfter = Set(try dayLabels(workspace))
            #expect(daysBefore.isSubset(of: daysAfter), "history was dropped: \(daysBefore.subtracting(daysAfter))")
            #expect(!daysAfter.contains("2100-01-01"))
            let log = stderrLines(daemon).joined(separator: "\n")
            #expect(log.contains("future_timestamp"), "the future line was not logged")
            #expect(log.contains("records older than retention were dropped"), "the late drop was not logged")

            // The documented rebuild (move the state aside) reads the same lines and ends the same way.
            daemon.send(SIGTERM)
            #expect(daemon.waitForExit(seconds: 30) && daemon.exitedCleanly, "\(daemon.endDescription)")
            try FileManager.default.moveItem(at: workspace.state, to: root.appendingPathComponent("state.broken"))
            try FileManager.default.removeItem(at: workspace.snapshots)
            daemon = try workspace.startDaemon(name: "rebuilt")
            try workspace.waitForCounted(150, counted: 151, read: 153)
            #expect(workspace.statusInteger("rejected", "future_timestamp") == 1)
            #expect(Set(try dayLabels(workspace)) == daysAfter)
        }
    }

    @Test func replayCountsAFarFutureLineApartAndKeepsHistory() throws {
        try withScratchDirectory("future-replay") { root in
            let workspace = try FaultWorkspace(root: root)
            // Old logs: March 2025, replayed now. Replay trusts no clock, so the 2100 line is
            // counted in its own bucket; it must not push the others out of retention.
            var lines = (0..<100).map { index in
                canonicalLine(
                    ts:
                        "\"2025-03-\(String(format: "%02d", 1 + index / 10))T10:00:\(String(format: "%02d", index % 60))Z\"",
                    fields: ["input_tokens": "1"])
            }
            lines.insert(canonicalLine(ts: "\"2100-01-01T00:00:00Z\""), at: 50)
            lines.insert(canonicalLine(ts: "1764590400000000"), at: 20)
            try workspace.append(lines)
            let outcome = try TokentallyBinary.replay([workspace.logs.path], snapshotDirectory: workspace.snapshots)
            #expect(outcome.status == 0, "\(outcome.summary)")
            #expect(
                outcome.stdoutText.contains("replayed 102 lines from 1 files: 101 counted, 1 rejected"),
                "\(outcome.stdoutText)")
            let march = Set((1...10).map { String(format: "2025-03-%02d", $0) })
            #expect(workspace.dayRequests(labels: march) == 100)
            #expect(workspace.dayRequests(labels: ["2100-01-01"]) == 1)
            #expect(workspace.dayRequests() == 101)
            #expect(workspace.statusInteger("rejected", "invalid_timestamp") == 1)
            #expect(workspace.statusInteger("late_dropped", "day") == 0)
        }
    }

    // MARK: One daemon per state

    @Test func aSecondDaemonOnTheSameDirectoriesIsRefusedNamingTheFirst() throws {
        try withScratchDirectory("second-instance") { root in
            let workspace = try FaultWorkspace(root: root)
            try workspace.append((0..<40).map { recentLine(secondsAgo: 600 - $0, tag: $0) })
            try workspace.writeConfig()
            let first = try workspace.startDaemon(name: "first")
            defer { first.killAndReap() }
            try workspace.waitForCounted(40)

            let second = try workspace.startDaemon(name: "second")
            defer { second.killAndReap() }
            #expect(second.waitForExit(seconds: 20), "the second daemon kept running")
            #expect(second.endDescription == "exit 1")
            let lines = stderrLines(second)
            #expect(lines.count == 1, "\(lines)")
            #expect(
                lines.last?.contains("state.directory \(workspace.state.path) is in use by another tokentally") == true)
            #expect(lines.last?.contains("process \(first.pid)") == true, "\(lines)")

            // Its own state directory, the first one's snapshot directory: refused too.
            let otherConfig = root.appendingPathComponent("other.yaml")
            try workspace.writeConfig(state: root.appendingPathComponent("state-2"), to: otherConfig)
            let third = try workspace.startDaemon(name: "third", config: otherConfig)
            defer { third.killAndReap() }
            #expect(third.waitForExit(seconds: 20))
            #expect(third.endDescription == "exit 1")
            #expect(stderrLines(third).last?.contains("snapshot.directory") == true, "\(stderrLines(third))")
            #expect(stderrLines(third).last?.contains("process \(first.pid)") == true)

            // The first goes on counting every line once.
            try workspace.append((40..<60).map { recentLine(secondsAgo: 300 - $0, tag: $0) })
            try workspace.waitForCounted(60)
            #expect(first.isRunning)
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: workspace.state.path)
                .filter { $0.hasPrefix(".state.bin.tmp") }
            #expect(leftovers.allSatisfy { $0 == ".state.bin.tmp-\(first.pid)" }, "\(leftovers)")
        }
    }

    @Test func aStateCommittedForOtherInputsIsRefusedUntilAdopted() throws {
        try withScratchDirectory("foreign-state") { root in
            let workspace = try FaultWorkspace(root: root)
            try workspace.append((0..<30).map { recentLine(secondsAgo: 900 - $0, tag: $0) })
            try workspace.writeConfig()
            let first = try workspace.startDaemon(name: "gateway-a")
            defer { first.killAndReap() }
            try workspace.waitForCounted(30)
            first.send(SIGTERM)
            #expect(first.waitForExit(seconds: 30) && first.exitedCleanly)

            // A config copied for a second gateway, state.directory left as it was.
            let otherLogs = root.appendingPathComponent("gateway-b")
            try FileManager.default.createDirectory(at: otherLogs, withIntermediateDirectories: true)
            try logBytes((0..<20).map { recentLine(secondsAgo: 800 - $0, key: "team-b", tag: 100 + $0) })
                .write(to: otherLogs.appendingPathComponent("access.log"))
            let copied = root.appendingPathComponent("gateway-b.yaml")
            try workspace.writeConfig(inputs: [otherLogs.path + "/access.log*"], to: copied)
            let refused = try workspace.startDaemon(name: "gateway-b", config: copied)
            defer { refused.killAndReap() }
            #expect(refused.waitForExit(seconds: 20))
            #expect(refused.endDescription == "exit 2")
            let lines = stderrLines(refused)
            #expect(lines.count == 1, "\(lines)")
            #expect(lines.last?.contains("share nothing") == true && lines.last?.contains("adopt-state") == true)
            #expect(workspace.dayRequests() == 30, "the refused start changed the snapshots")

            // Adopting on purpose: then the state goes on from where it was.
            let adopted = try TokentallyBinary.run(["adopt-state", "--config", copied.path])
            #expect(adopted.status == 0, "\(adopted.summary)")
            let resumed = try workspace.startDaemon(name: "adopted", config: copied)
            defer { resumed.killAndReap() }
            try workspace.waitForCounted(50)
            resumed.send(SIGTERM)
            #expect(resumed.waitForExit(seconds: 30) && resumed.exitedCleanly)
        }
    }

    @Test func anEditedInputGlobResumesWithoutCountingAgain() throws {
        try withScratchDirectory("edited-input") { root in
            let workspace = try FaultWorkspace(root: root)
            try workspace.append((0..<30).map { recentLine(secondsAgo: 900 - $0, tag: $0) })
            try workspace.writeConfig()
            let first = try workspace.startDaemon(name: "before")
            defer { first.killAndReap() }
            try workspace.waitForCounted(30)
            first.send(SIGTERM)
            #expect(first.waitForExit(seconds: 30) && first.exitedCleanly)

            // The same files under a rewritten glob: an ordinary edit.
            try workspace.writeConfig(inputs: [workspace.logs.path + "/access*"])
            let second = try workspace.startDaemon(name: "after")
            defer { second.killAndReap() }
            try workspace.append((30..<40).map { recentLine(secondsAgo: 600 - $0, tag: $0) })
            try workspace.waitForCounted(40)
            sleep(2)
            #expect(workspace.dayRequests() == 40)
            #expect(second.isRunning, "\(second.stderrTail())")
        }
    }

    // MARK: File identity

    /// A gateway that starts every file with the same 1.5 KiB banner: each new file is its own.
    @Test func aNewFileWithTheSameBannerIsReadFromItsStart() throws {
        try withScratchDirectory("banner") { root in
            let workspace = try FaultWorkspace(root: root)
            let banner = #"{"banner":"gateway started","config":"\#(String(repeating: "x", count: 1_500))"}"#
            try workspace.append([banner] + (0..<16).map { recentLine(secondsAgo: 500 - $0, tag: $0) })
            try workspace.writeConfig()
            let rotation = try logrotateConfig(workspace, options: ["create", "rotate 5"])
            let daemon = try workspace.startDaemon()
            defer { daemon.killAndReap() }
            try workspace.waitForCounted(16)

            try rotate(rotation, workspace)
            try workspace.append([banner] + (16..<32).map { recentLine(secondsAgo: 400 - $0, tag: $0) })
            try workspace.waitForCounted(32, read: 34, seconds: 40)
            try rotate(rotation, workspace)
            try workspace.append([banner] + (32..<40).map { recentLine(secondsAgo: 300 - $0, tag: $0) })
            try workspace.waitForCounted(40, read: 43, seconds: 40)
            #expect(workspace.statusInteger("rejected", "missing_field") == 3)
            // After a restart too, nothing is read twice.
            daemon.send(SIGTERM)
            #expect(daemon.waitForExit(seconds: 30) && daemon.exitedCleanly)
            let again = try workspace.startDaemon(name: "again")
            defer { again.killAndReap() }
            try workspace.append((40..<45).map { recentLine(secondsAgo: 200 - $0, tag: $0) })
            try workspace.waitForCounted(45, read: 48)
            sleep(3)
            #expect(workspace.dayRequests() == 45)
        }
    }

    // MARK: logrotate without delaycompress

    /// `create` + `compress`: logrotate renames, gzips and unlinks `access.log.1` between two
    /// scans. The daemon must still let go of each rotated file once it is read.
    @Test func compressWithoutDelaycompressLetsGoOfRotatedFiles() throws {
        try withScratchDirectory("no-delaycompress") { root in
            let workspace = try FaultWorkspace(root: root)
            try workspace.writeConfig()
            let rotation = try logrotateConfig(workspace, options: ["create", "compress", "rotate 3"])
            try workspace.append((0..<20).map { recentLine(secondsAgo: 900 - $0, tag: $0) })
            let daemon = try workspace.startDaemon()
            defer { daemon.killAndReap() }
            var written = 20
            for round in 1...5 {
                try workspace.waitForCounted(written)
                try rotate(rotation, workspace)
                try workspace.append(
                    (0..<20).map { recentLine(secondsAgo: 800 - round * 50 - $0, tag: round * 100 + $0) })
                written += 20
            }
            try workspace.waitForCounted(written)
            // Unlinked and quiet for 2 s: finished at the next scan (every 5 s).
            try workspace.wait("the daemon to let go of deleted files", seconds: 30) {
                deletedFilesHeld(by: daemon.pid).isEmpty
            }
            #expect(workspace.dayRequests() == written)
            // The status names each file once, by a path it has now.
            try workspace.wait("a fresh status", seconds: 10) { workspace.statusInteger("lines_read") == written }
            sleep(2)
            let files = (workspace.status()?["files"] as? [[String: Any]]) ?? []
            let paths = files.compactMap { $0["path"] as? String }
            #expect(Set(paths).count == paths.count, "paths listed twice: \(paths)")
            for file in files where (file["finished"] as? Bool) == true {
                let path = file["path"] as? String ?? ""
                #expect(FileManager.default.fileExists(atPath: path), "\(path) is listed but gone")
            }
        }
    }
}

/// Day labels of the workspace's day files.
func dayLabels(_ workspace: FaultWorkspace) throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: workspace.snapshots.appendingPathComponent("day").path)
        .filter { $0.hasSuffix(".json") && !$0.hasPrefix(".") }.map { String($0.dropLast(5)) }.sorted()
}

/// A logrotate config for the workspace's access.log with `options`.
func logrotateConfig(_ workspace: FaultWorkspace, options: [String]) throws -> URL {
    let url = workspace.root.appendingPathComponent("logrotate.conf")
    let body = "\(workspace.logs.path)/access.log {\n" + options.map { "    \($0)\n" }.joined() + "    missingok\n}\n"
    try body.write(to: url, atomically: true, encoding: .utf8)
    return url
}

/// One forced rotation with the real logrotate.
func rotate(_ config: URL, _ workspace: FaultWorkspace) throws {
    try runTool(
        "/usr/sbin/logrotate", ["-f", "-s", workspace.root.appendingPathComponent("logrotate.state").path, config.path])
}
