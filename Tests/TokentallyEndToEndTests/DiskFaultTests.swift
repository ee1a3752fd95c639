import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

// Issue 9, "Failures hidden" and "Smaller": full and read-only file systems (real tmpfs
// mounts), a state directory removed under the daemon, files it cannot read, a descriptor
// limit, and retention lowered by a reload.

@Suite(.serialized) struct DiskFaultTests {
    /// Lines over `days` days for `keys` keys, enough to make bucket files and state large.
    private func spread(days: Int, keys: Int, perKeyAndDay: Int = 1) -> [String] {
        var lines: [String] = []
        for day in 0..<days {
            for key in 0..<keys {
                for repeat_ in 0..<perKeyAndDay {
                    lines.append(
                        recentLine(
                            secondsAgo: (days - day) * 86_400 - key * 10 - repeat_, key: "key-\(key)",
                            tag: lines.count))
                }
            }
        }
        return lines
    }

    @Test func aFullSnapshotDirectoryIsReportedAndTheIndexListsOnlyFilesThatExist() throws {
        try withScratchDirectory("snapshot-full") { root in
            let workspace = try FaultWorkspace(root: root)
            let lines = spread(days: 12, keys: 60)
            try workspace.append(lines)
            try workspace.writeConfig()
            try withTmpfs(at: workspace.snapshots, kilobytes: 64) {
                let daemon = try workspace.startDaemon()
                defer { daemon.killAndReap() }
                try workspace.wait("a snapshot write to fail for lack of space") {
                    let writes = workspace.status()?["snapshot_writes"] as? [String: Any]
                    return (writes?["consecutive_failures"] as? Int ?? 0) >= 1
                        && (writes?["last_error"] as? String)?.contains("No space left on device") == true
                }
                // Every bucket the index lists exists.
                let buckets = try #require(workspace.index()?["buckets"] as? [String: [String]])
                for (period, labels) in buckets {
                    for label in labels {
                        let path = workspace.snapshots.appendingPathComponent("\(period)/\(label).json").path
                        #expect(FileManager.default.fileExists(atPath: path), "\(period)/\(label) listed, missing")
                    }
                }
                #expect(workspace.statusInteger("lines_counted") == lines.count)
                // Said once, not at every snapshot.
                sleep(3)
                let said = stderrLines(daemon).filter { $0.contains("writing snapshots failed") }
                #expect(said.count == 1, "\(said.count) lines: \(said.prefix(3))")

                // Room again: the snapshots catch up, and the status says so.
                try remountTmpfs(workspace.snapshots, "size=16m")
                try workspace.wait("the snapshots to recover") {
                    let writes = workspace.status()?["snapshot_writes"] as? [String: Any]
                    return (writes?["consecutive_failures"] as? Int) == 0 && workspace.dayRequests() == lines.count
                }
                daemon.send(SIGTERM)
                #expect(daemon.waitForExit(seconds: 30) && daemon.exitedCleanly, "\(daemon.stderrTail())")
            }
        }
    }

    @Test func aStopThatCannotWriteItsFinalSnapshotExitsOne() throws {
        try withScratchDirectory("snapshot-full-stop") { root in
            let workspace = try FaultWorkspace(root: root)
            try workspace.append(spread(days: 12, keys: 60))
            try workspace.writeConfig()
            try withTmpfs(at: workspace.snapshots, kilobytes: 64) {
                let daemon = try workspace.startDaemon()
                defer { daemon.killAndReap() }
                try workspace.wait("a snapshot write to fail") {
                    ((workspace.status()?["snapshot_writes"] as? [String: Any])?["consecutive_failures"] as? Int ?? 0)
                        >= 1
                }
                daemon.send(SIGTERM)
                #expect(daemon.waitForExit(seconds: 30))
                #expect(daemon.endDescription == "exit 1")
                #expect(
                    stderrLines(daemon).last?.contains("stopped, but the final snapshot failed") == true,
                    "\(daemon.stderrTail())")
            }
        }
    }

    @Test func aFullStateDirectoryIsReportedRetriedAndNeverLeavesItsTemporaryFile() throws {
        try withScratchDirectory("state-full") { root in
            let workspace = try FaultWorkspace(root: root)
            let lines = spread(days: 10, keys: 80)
            try workspace.append(lines)
            try workspace.writeConfig()
            try withTmpfs(at: workspace.state, kilobytes: 32) {
                let daemon = try workspace.startDaemon()
                defer { daemon.killAndReap() }
                try workspace.wait("commits to fail for lack of space") {
                    let commits = workspace.status()?["commits"] as? [String: Any]
                    return (commits?["consecutive_failures"] as? Int ?? 0) >= 2
                        && (commits?["last_error"] as? String)?.contains("No space left on device") == true
                }
                let commits = try #require(workspace.status()?["commits"] as? [String: Any])
                #expect((commits["last_error"] as? String)?.contains("free space") == true, "no advice: \(commits)")
                // The failed temporary file does not hold the space between tries.
                var sawTemporary = 0
                for _ in 0..<20 {
                    let names = (try? FileManager.default.contentsOfDirectory(atPath: workspace.state.path)) ?? []
                    if names.contains(where: { $0.hasPrefix(".state.bin.tmp") }) { sawTemporary += 1 }
                    usleep(100_000)
                }
                #expect(sawTemporary <= 2, "the temporary file stayed (\(sawTemporary) of 20 looks)")
                let said = stderrLines(daemon).filter { $0.contains("state commit failed") }
                #expect(said.count == 1, "\(said.count) lines")
                #expect(workspace.dayRequests() == lines.count)

                daemon.send(SIGTERM)
                #expect(daemon.waitForExit(seconds: 30))
                #expect(daemon.endDescription == "exit 1")
                #expect(
                    stderrLines(daemon).last?.contains("stopped, but the final commit failed") == true,
                    "\(daemon.stderrTail())")
                let left = (try? FileManager.default.contentsOfDirectory(atPath: workspace.state.path)) ?? []
                #expect(!left.contains(where: { $0.hasPrefix(".state.bin.tmp") }), "\(left)")

                // With room, a start reads everything once (nothing was committed).
                try remountTmpfs(workspace.state, "size=16m")
                try FileManager.default.removeItem(at: workspace.snapshots)
                let again = try workspace.startDaemon(name: "again")
                defer { again.killAndReap() }
                try workspace.waitForCounted(lines.count)
                again.send(SIGTERM)
                #expect(again.waitForExit(seconds: 30) && again.exitedCleanly, "\(again.stderrTail())")
            }
        }
    }

    @Test func aStateDirectoryThatCannotBeWrittenIsRefusedAtStart() throws {
        try withScratchDirectory("state-readonly") { root in
            let workspace = try FaultWorkspace(root: root)
            try workspace.append(spread(days: 1, keys: 3))
            try workspace.writeConfig()
            try withTmpfs(at: workspace.state, kilobytes: 256, options: "ro") {
                let outcome = try TokentallyBinary.run(["run", "--config", workspace.config.path], timeoutSeconds: 30)
                #expect(outcome.status == 1)
                #expect(outcome.stderrLines.count == 1, "\(outcome.stderrLines)")
                #expect(
                    outcome.stderrLines.last?.contains("state.directory \(workspace.state.path) is not writable")
                        == true)
                #expect(outcome.stderrLines.last?.contains("Read-only file system") == true)
            }
        }
    }

    @Test func aStateDirectoryRemovedWhileRunningIsMadeAgain() throws {
        try withScratchDirectory("state-removed") { root in
            let workspace = try FaultWorkspace(root: root)
            try workspace.append((0..<30).map { recentLine(secondsAgo: 900 - $0, tag: $0) })
            try workspace.writeConfig()
            let daemon = try workspace.startDaemon()
            defer { daemon.killAndReap() }
            try workspace.waitForCounted(30)
            try FileManager.default.removeItem(at: workspace.state)
            try workspace.append((30..<40).map { recentLine(secondsAgo: 600 - $0, tag: $0) })
            let stateFile = workspace.state.appendingPathComponent("state.bin")
            try workspace.wait("the state to be committed again") {
                FileManager.default.fileExists(atPath: stateFile.path)
            }
            daemon.send(SIGTERM)
            #expect(daemon.waitForExit(seconds: 30) && daemon.exitedCleanly, "\(daemon.stderrTail())")
            // The new state resumes where it stopped: nothing counted twice.
            let again = try workspace.startDaemon(name: "again")
            defer { again.killAndReap() }
            try workspace.append((40..<45).map { recentLine(secondsAgo: 300 - $0, tag: $0) })
            try workspace.waitForCounted(45)
            sleep(2)
            #expect(workspace.dayRequests() == 45)
        }
    }

    /// Run as an unprivileged user (root reads everything): a file it cannot read is in
    /// status.files with its error, so that lag monitoring sees it.
    @Test func aFileTheDaemonCannotReadIsListedWithItsError() throws {
        try withScratchDirectory("unreadable") { root in
            let workspace = try FaultWorkspace(root: root)
            try workspace.append((0..<10).map { recentLine(secondsAgo: 900 - $0, tag: $0) })
            try workspace.append((0..<5).map { recentLine(secondsAgo: 800 - $0, tag: 100 + $0) }, to: "secret.log")
            for directory in [workspace.state, workspace.snapshots] {
                try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
                try runTool("/bin/chown", ["65534:65534", directory.path])
            }
            try runTool("/bin/chmod", ["0755", root.path])
            try runTool("/bin/chmod", ["0000", workspace.logs.appendingPathComponent("secret.log").path])
            try workspace.writeConfig(inputs: [
                workspace.logs.path + "/access.log*", workspace.logs.path + "/secret.log*",
            ])
            try runTool("/bin/chmod", ["0644", workspace.config.path])
            let daemon = try workspace.startDaemon(
                wrapper: ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"])
            defer { daemon.killAndReap() }
            try workspace.waitForCounted(10)
            try workspace.wait("the unreadable file in the status") {
                let files = (workspace.status()?["files"] as? [[String: Any]]) ?? []
                return files.contains {
                    ($0["path"] as? String)?.hasSuffix("/secret.log") == true
                        && ($0["error"] as? String)?.contains("permission denied") == true
                }
            }
        }
    }

    /// With the descriptor limit (soft and hard) at 256 and over 300 files to read, following
    /// never takes the descriptors commits and snapshots need, and every line is counted.
    @Test func manyFilesUnderATightDescriptorLimitNeverStarveCommits() throws {
        try withScratchDirectory("descriptors") { root in
            let workspace = try FaultWorkspace(root: root)
            var expected = 0
            for set in 0..<3 {
                let directory = workspace.logs.appendingPathComponent("gw-\(set)")
                let generated = try TokentallyBinary.run([
                    "generate", "--out", directory.path, "--lines", "3000", "--days", "2", "--files", "105",
                    "--seed", "\(set + 1)",
                ])
                try #require(generated.status == 0, "\(generated.summary)")
                expected += try newlines(in: directory)
            }
            let files = try FileManager.default.subpathsOfDirectory(atPath: workspace.logs.path).filter {
                $0.contains("access.log")
            }
            #expect(files.count > 300)
            try workspace.writeConfig(inputs: (0..<3).map { workspace.logs.path + "/gw-\($0)/access.log*" })
            let daemon = try workspace.startDaemon(wrapper: ["/usr/bin/prlimit", "--nofile=256:256", "--"])
            defer { daemon.killAndReap() }
            var worstCommit = 0
            try workspace.wait("every line counted", seconds: 90) {
                let failures = (workspace.status()?["commits"] as? [String: Any])?["consecutive_failures"] as? Int ?? 0
                worstCommit = max(worstCommit, failures)
                return workspace.dayRequests() == expected
            }
            #expect(worstCommit == 0)
            let writes = workspace.status()?["snapshot_writes"] as? [String: Any]
            #expect(writes?["consecutive_failures"] as? Int == 0)
            #expect(!stderrLines(daemon).contains { $0.contains("Too many open files") }, "\(daemon.stderrTail())")
        }
    }

    /// Lowering retention by a reload drops the old bucket files at the next snapshot.
    @Test func loweringRetentionOnReloadDropsOldBucketsAtOnce() throws {
        try withScratchDirectory("retention-reload") { root in
            let workspace = try FaultWorkspace(root: root)
            try workspace.append(spread(days: 10, keys: 2))
            try workspace.writeConfig()
            let daemon = try workspace.startDaemon()
            defer { daemon.killAndReap() }
            try workspace.waitForCounted(20)
            #expect(try dayLabels(workspace).count >= 10)
            try workspace.writeConfig(extra: "retention: { days: 3 }")
            daemon.send(SIGHUP)
            try workspace.wait("old day files to go") {
                ((try? dayLabels(workspace).count) ?? 0) == 3
                    && (workspace.index()?["buckets"] as? [String: [String]])?["day"]?.count == 3
            }
        }
    }
}

/// Newline bytes in every file of a directory, decompressed.
private func newlines(in directory: URL) throws -> Int {
    var total = 0
    for name in try FileManager.default.contentsOfDirectory(atPath: directory.path) {
        let (bytes, _) = try decompressedContents(of: directory.appendingPathComponent(name))
        total += bytes.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
    }
    return total
}
