import Testing

@testable import TokentallyDaemon

/// The follow loop's timing rules, driven with made-up times: no clock, no files.
@Suite struct ScheduleTests {
    private func schedule(snapshot: Double = 10, commit: Double = 2, watchdog: Double? = nil) -> Schedule {
        Schedule(
            settings: Schedule.Settings(snapshotInterval: snapshot, commitInterval: commit, watchdogInterval: watchdog),
            now: 100)
    }

    @Test func theFirstTurnScansAndSnapshotsAndCommitsAfterAnInterval() {
        let s = schedule()
        #expect(s.due(at: 100) == [.scan, .snapshot])
        #expect(!s.due(at: 101.9).contains(.commit))
        #expect(s.due(at: 102).contains(.commit))
    }

    @Test func scansComeEveryIntervalOrAtOnceOnAnEvent() {
        var s = schedule()
        s.scanned(at: 100)
        #expect(!s.due(at: 104.9).contains(.scan))
        #expect(s.due(at: 105).contains(.scan))
        #expect(s.due(at: 101, events: Schedule.Events(namesChanged: true)).contains(.scan))
        #expect(s.due(at: 101, events: Schedule.Events(fileFinished: true)).contains(.scan))
    }

    @Test(arguments: [
        // (took, next commit after): cheap commits keep the interval; costly ones wait nine times as long.
        (0.001, 2.0), (0.2, 2.0), (0.25, 2.25), (1.0, 9.0), (3.0, 27.0),
    ])
    func commitsAreSpacedByTheirCost(took: Double, after: Double) {
        var s = schedule()
        s.committed(at: 200, took: took)
        #expect(!s.due(at: 200 + after - 0.001).contains(.commit))
        #expect(s.due(at: 200 + after).contains(.commit))
    }

    @Test(arguments: [
        // (seconds building, seconds writing its one batch, next snapshot after). The cost is
        // building + writing since it began + the last batch once more, times nine; at least
        // the interval, at most six of them.
        (0.01, 0.01, 10.0),
        (1.0, 0.5, 18.0),
        (5.0, 5.0, 60.0),
    ])
    func snapshotsAreSpacedByTheirCostUpToSixIntervals(building: Double, write: Double, after: Double) {
        var s = schedule()
        let began1 = s.snapshotBegins(written: Schedule.WriteTimes(last: 0, total: 3))
        #expect(began1)
        s.snapshotBuilt(
            at: 300, building: building, backlog: false, written: Schedule.WriteTimes(last: write, total: 3 + write))
        #expect(!s.due(at: 300 + after - 0.001).contains(.snapshot))
        #expect(s.due(at: 300 + after).contains(.snapshot))
    }

    @Test func aSnapshotInBatchesComesBackSoonAndCountsItsWholeCost() {
        var s = schedule()
        let began2 = s.snapshotBegins(written: Schedule.WriteTimes(last: 0, total: 0))
        #expect(began2)
        s.snapshotBuilt(at: 100, building: 0.5, backlog: true, written: Schedule.WriteTimes(last: 0, total: 0))
        #expect(s.snapshotBacklog)
        #expect(s.due(at: 100.2).contains(.snapshot))
        #expect(!s.due(at: 100.19).contains(.snapshot))
        // The next batch goes on with the same snapshot: it does not begin a new one.
        let began3 = s.snapshotBegins(written: Schedule.WriteTimes(last: 0.3, total: 0.3))
        #expect(!began3)
        s.snapshotBuilt(at: 101, building: 0.5, backlog: false, written: Schedule.WriteTimes(last: 0.3, total: 0.6))
        #expect(!s.snapshotBacklog)
        // 0.5 + 0.5 building, 0.6 written since it began, 0.3 for the last batch: 1.9 s × 9.
        #expect(!s.due(at: 101 + 17.09).contains(.snapshot))
        #expect(s.due(at: 101 + 17.1 + 1e-9).contains(.snapshot))
    }

    @Test func theWatchdogIsPingedAtHalfItsInterval() {
        var s = schedule(watchdog: 6)
        #expect(s.due(at: 100).contains(.watchdog))
        s.pingedWatchdog(at: 100)
        #expect(!s.due(at: 102.9).contains(.watchdog))
        #expect(s.due(at: 103).contains(.watchdog))
        #expect(!schedule().due(at: 1e9).contains(.watchdog))
    }

    @Test func theLoopSleepsUntilTheFirstThingWithWorkToDo() {
        var s = schedule(watchdog: 4)
        s.scanned(at: 100)  // next scan at 105
        s.pingedWatchdog(at: 100)  // next ping at 102
        s.committed(at: 100, took: 0)  // next commit at 102, but nothing to commit
        let began4 = s.snapshotBegins(written: Schedule.WriteTimes())
        #expect(began4)
        s.snapshotBuilt(at: 100, building: 0, backlog: false, written: Schedule.WriteTimes())  // next at 110
        #expect(s.wakeDeadline(at: 100, pending: Schedule.Pending()) == 102)  // the watchdog
        var quiet = schedule()
        quiet.scanned(at: 100)
        quiet.committed(at: 100, took: 0.5)  // next commit at 104.5
        let began5 = quiet.snapshotBegins(written: Schedule.WriteTimes())
        #expect(began5)
        quiet.snapshotBuilt(at: 100, building: 0, backlog: false, written: Schedule.WriteTimes())
        // Nothing to do: until the next scan, not the commit or the snapshot.
        #expect(quiet.wakeDeadline(at: 100, pending: Schedule.Pending()) == 105)
        #expect(quiet.wakeDeadline(at: 100, pending: Schedule.Pending(uncommitted: true)) == 104.5)
        #expect(quiet.wakeDeadline(at: 100, pending: Schedule.Pending(unpublished: true)) == 105)
        #expect(quiet.wakeDeadline(at: 100, pending: Schedule.Pending(scanNow: true)) == 100)
        quiet.scanned(at: 108)
        #expect(quiet.wakeDeadline(at: 108, pending: Schedule.Pending(unpublished: true)) == 110)
    }

    @Test func newIntervalsFromAReloadApplyToTheNextSpacing() {
        var s = schedule()
        s.settings.commitInterval = 30
        s.committed(at: 100, took: 0)
        #expect(!s.due(at: 129).contains(.commit))
        #expect(s.due(at: 130).contains(.commit))
    }
}
