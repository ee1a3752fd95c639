import Testing

@testable import TokentallyDaemon
@testable import TokentallyReading

/// The rotation decisions as tables: what was seen of a file in, what to do with it out. No
/// file system; the end-to-end rotation tests cover the gathering of the facts.
@Suite struct RotationDeciderTests {
    struct ScanCase: Sendable, CustomTestStringConvertible {
        var name: String
        var facts: CandidateFacts
        var decision: ScanDecision
        var testDescription: String { name }
    }

    /// A plain rotated file of 1,000 bytes that matches no record.
    private static func facts(
        live: Bool = false, gzip: Bool = false, empty: Bool = false, size: UInt64 = 1_000, copy: Bool = false,
        plainTwin: Bool = false, records: [RecordMatch] = []
    ) -> CandidateFacts {
        CandidateFacts(
            isLive: live, isGzip: gzip, isEmpty: empty, size: size, isCopyOfOpenFile: copy, hasPlainTwin: plainTwin,
            records: records)
    }

    private static func record(
        _ index: Int, _ kinship: Kinship = .same, finished: Bool = false, offset: UInt64 = 500, claimed: Bool = false,
        plainTwinInSet: Bool = false
    ) -> RecordMatch {
        RecordMatch(
            index: index, kinship: kinship, finished: finished, offset: offset, claimed: claimed,
            plainTwinInSet: plainTwinInSet)
    }

    static let scanCases: [ScanCase] = [
        // Files with nothing in them yet.
        ScanCase(name: "an empty live file is held open", facts: facts(live: true, empty: true), decision: .openNew),
        ScanCase(name: "an empty rotated file is ignored", facts: facts(empty: true), decision: .ignore),
        ScanCase(
            name: "an empty live gzip is ignored", facts: facts(live: true, gzip: true, empty: true), decision: .ignore),
        // Files never seen.
        ScanCase(name: "a new plain file is read from its start", facts: facts(), decision: .openNew),
        ScanCase(name: "a new gzip file is read from its start", facts: facts(gzip: true), decision: .openNew),
        ScanCase(
            name: "a gzip being made of a plain file of the set waits for it",
            facts: facts(gzip: true, plainTwin: true), decision: .ignore),
        ScanCase(
            name: "copytruncate's copy of an open file is read through the open file",
            facts: facts(copy: true, records: [record(0)]), decision: .copyOfOpenFile),
        // Files of records.
        ScanCase(
            name: "an unfinished file is resumed", facts: facts(records: [record(3)]), decision: .resume(record: 3)),
        ScanCase(
            name: "an unfinished file's gzip is resumed",
            facts: facts(gzip: true, size: 10, records: [record(3, offset: 5_000)]), decision: .resume(record: 3)),
        ScanCase(
            name: "the gzip of an unfinished file waits while logrotate compresses it",
            facts: facts(gzip: true, records: [record(3, plainTwinInSet: true)]),
            decision: .waitForCompression(record: 3)),
        ScanCase(
            name: "a plain copy shorter than what was counted waits for the copy",
            facts: facts(size: 400, records: [record(3, offset: 500)]), decision: .waitForCopy(record: 3)),
        ScanCase(
            name: "a finished file that has not grown is done",
            facts: facts(size: 500, records: [record(3, finished: true, offset: 500)]), decision: .done(record: 3)),
        ScanCase(
            name: "a finished file that grew is resumed where it was finished",
            facts: facts(size: 600, records: [record(3, finished: true, offset: 500)]), decision: .resume(record: 3)),
        ScanCase(
            name: "a finished file's gzip is done",
            facts: facts(gzip: true, size: 9_000, records: [record(3, finished: true, offset: 500)]),
            decision: .done(record: 3)),
        // Which record: by the longer identity, unclaimed, first in the ledger.
        ScanCase(
            name: "a file that only shares a banner with a record is new",
            facts: facts(records: [record(0, .other)]), decision: .openNew),
        ScanCase(
            name: "the record whose identity agrees is taken over one that only shares the banner",
            facts: facts(records: [record(0, .other), record(1, .same)]), decision: .resume(record: 1)),
        ScanCase(
            name: "a record another file of this scan claimed is skipped",
            facts: facts(records: [record(0, claimed: true), record(1)]), decision: .resume(record: 1)),
        ScanCase(
            name: "a file too short to tell is taken for the record",
            facts: facts(size: 800, records: [record(2, .undecided, offset: 700)]), decision: .resume(record: 2)),
        ScanCase(
            name: "a short plain file cannot be a finished record longer than it",
            facts: facts(size: 300, records: [record(2, .undecided, finished: true, offset: 700)]),
            decision: .openNew),
        ScanCase(
            name: "a short gzip can be a finished record (its size is compressed)",
            facts: facts(gzip: true, size: 300, records: [record(2, .undecided, finished: true, offset: 700)]),
            decision: .done(record: 2)),
    ]

    @Test(arguments: scanCases)
    func scanDecisions(_ test: ScanCase) {
        #expect(RotationDecider.decide(test.facts) == test.decision)
    }

    @Test func theDecisionNamesTheRecordTheFileWasFoundToBe() {
        #expect(ScanDecision.resume(record: 4).record == 4)
        #expect(ScanDecision.waitForCopy(record: 2).record == 2)
        #expect(ScanDecision.openNew.record == nil)
        #expect(ScanDecision.copyOfOpenFile.record == nil)
    }

    struct EndCase: Sendable, CustomTestStringConvertible {
        var name: String
        var facts: EndFacts
        var decision: EndDecision
        var testDescription: String { name }
    }

    private static func end(
        gzip: Bool = false, damage: Damage? = nil, modified: Int64 = 0, live: Bool = false, links: UInt64 = 1,
        quiet: Int64 = 0
    ) -> EndFacts {
        EndFacts(
            isGzip: gzip, damage: damage, secondsSinceModified: modified, isLive: live, links: links,
            secondsSinceGrowth: quiet)
    }

    static let endCases: [EndCase] = [
        EndCase(name: "the live file is followed on", facts: end(live: true, quiet: 86_400), decision: .keepFollowing),
        EndCase(name: "a rotated file that just grew is followed on", facts: end(quiet: 9), decision: .keepFollowing),
        EndCase(name: "a rotated file quiet for 10 s is finished", facts: end(quiet: 10), decision: .finish),
        EndCase(
            name: "an unlinked file quiet for 1 s is followed on", facts: end(links: 0, quiet: 1),
            decision: .keepFollowing),
        EndCase(name: "an unlinked file quiet for 2 s is finished", facts: end(links: 0, quiet: 2), decision: .finish),
        EndCase(name: "a whole gzip is finished", facts: end(gzip: true), decision: .finish),
        EndCase(
            name: "a gzip cut short and modified a moment ago is being written: resumed later",
            facts: end(gzip: true, damage: .cutShort(decompressedBytes: 10), modified: 5),
            decision: .closeAndResumeLater),
        EndCase(
            name: "a gzip cut short and unchanged for a minute is finished, damaged",
            facts: end(gzip: true, damage: .cutShort(decompressedBytes: 10), modified: 60), decision: .finish),
        EndCase(
            name: "a corrupt gzip is finished even when recent",
            facts: end(gzip: true, damage: .corrupt(detail: "bad"), modified: 1), decision: .finish),
    ]

    @Test(arguments: endCases)
    func endDecisions(_ test: EndCase) {
        #expect(RotationDecider.atEnd(test.facts) == test.decision)
    }

    @Test(arguments: [
        // (size, read position, head still matches, truncated)
        (1_000 as UInt64, 1_000 as UInt64, true, false),
        (1_200, 1_000, true, false),
        (999, 1_000, true, true),
        (0, 1_000, true, true),
        (5_000, 1_000, false, true),
        (0, 0, true, false),
    ])
    func truncation(size: UInt64, readPosition: UInt64, headStillMatches: Bool, truncated: Bool) {
        #expect(
            RotationDecider.isTruncated(size: size, readPosition: readPosition, headStillMatches: headStillMatches)
                == truncated)
    }
}
