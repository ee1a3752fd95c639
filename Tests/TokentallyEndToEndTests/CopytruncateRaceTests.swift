import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

// A copytruncate that the daemon notices only after the gateway has written past the old
// offset again (a daemon busy catching up, or descheduled): CI once counted 2,057 lines twice
// this way, when the record left for the copy checked the new content's bytes as its tail.
// Here the daemon is held with SIGSTOP across the rotation, so the race is taken every time.

@Suite(.serialized) struct CopytruncateRaceTests {
    @Test(arguments: [["copytruncate"], ["copytruncate", "compress"]])
    func truncationNoticedLateCountsTheCopyOnce(options: [String]) throws {
        try withScratchDirectory("copytruncate-race") { root in
            let workspace = try FaultWorkspace(root: root)
            try workspace.append((0..<1_000).map { recentLine(secondsAgo: 900, tag: $0) })
            try workspace.writeConfig()
            let daemon = try workspace.startDaemon()
            defer { daemon.killAndReap() }
            try workspace.waitForCounted(1_000)

            daemon.send(SIGSTOP)
            try rotate(try logrotateConfig(workspace, options: options + ["rotate 3"]), workspace)
            let live = workspace.logs.appendingPathComponent("access.log")
            let copied = (try FileManager.default.attributesOfItem(atPath: live.path)[.size] as? Int) ?? -1
            #expect(copied == 0, "logrotate did not truncate access.log")
            // Longer lines than before, more of them: the live file is past the old offset.
            try workspace.append((1_000..<3_000).map { recentLine(secondsAgo: 600, tag: $0, inputTokens: 123_456) })
            daemon.send(SIGCONT)

            // Every line read, and the copy found; whatever is still to come (the copy read again
            // from its start) would come in the seconds after.
            try workspace.wait("3000 lines counted and the copy found") {
                let files = workspace.status()?["files"] as? [[String: Any]] ?? []
                return (workspace.statusInteger("lines_counted") ?? 0) >= 3_000
                    && files.contains { ($0["path"] as? String)?.contains("access.log.1") == true }
            }
            usleep(2_500_000)
            daemon.send(SIGTERM)
            #expect(daemon.waitForExit(seconds: 30) && daemon.exitedCleanly, "\(daemon.endDescription)")
            #expect(workspace.dayRequests() == 3_000, "\(options): the copy was counted again")
            #expect(workspace.statusInteger("lines_counted") == 3_000)
        }
    }
}
