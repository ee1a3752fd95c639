import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

// Issue 12: a graceful stop reads what the files held when it was asked for, so that the final
// snapshot is not stale. Lines written a moment before SIGTERM used to wait for the next start.

@Suite(.serialized) struct StopTests {
    @Test func linesWrittenJustBeforeSIGTERMAreInTheFinalSnapshot() throws {
        try withScratchDirectory("stop-reads") { root in
            let workspace = try FaultWorkspace(root: root)
            try workspace.append((0..<100).map { recentLine(secondsAgo: 600, tag: $0) })
            // A long commit interval: only the stop commits the late lines.
            try workspace.writeConfig(commitSeconds: 60)
            var daemon = try workspace.startDaemon()
            defer { daemon.killAndReap() }
            try workspace.waitForCounted(100)

            // Then, with no pause before the signal: lines appended to the open file, the file
            // rotated away, and a new file with more lines.
            try workspace.append((100..<400).map { recentLine(secondsAgo: 300, tag: $0) })
            try FileManager.default.moveItem(
                at: workspace.logs.appendingPathComponent("access.log"),
                to: workspace.logs.appendingPathComponent("access.log.1"))
            try workspace.append((400..<650).map { recentLine(secondsAgo: 200, tag: $0) })
            daemon.send(SIGTERM)
            #expect(daemon.waitForExit(seconds: 30) && daemon.exitedCleanly, "\(daemon.endDescription)")

            #expect(workspace.dayRequests() == 650, "the final snapshot misses lines written before the stop")
            #expect(workspace.statusInteger("lines_counted") == 650)

            // The state committed at the stop agrees: a restart reads nothing twice.
            daemon = try workspace.startDaemon(name: "restarted")
            try workspace.wait("the restarted daemon's snapshot") {
                (stderrLines(daemon).contains { $0.contains("resumed") })
                    && workspace.statusInteger("lines_counted") == 650
            }
            try workspace.append((650..<660).map { recentLine(secondsAgo: 100, tag: $0) })
            try workspace.waitForCounted(660)
        }
    }
}
