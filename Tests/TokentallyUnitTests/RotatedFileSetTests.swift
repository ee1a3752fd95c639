import Foundation
import Testing

@testable import TokentallySystem
@testable import TokentallyReading
@testable import TokentallyCounting
@testable import TokentallyOutput
@testable import TokentallyConfiguration
@testable import TokentallyReplay
@testable import TokentallyDaemon
@testable import TokentallySamples

@Suite struct RotatedFileSetTests {
    @Test func numberedSetIsReadOldestFirst() throws {
        let names = ["access.log", "access.log.1", "access.log.10.gz", "access.log.2.gz", "access.log.3.gz"]
        let sorted = names.map(RotatedFileName.init).sorted(by: RotatedFileName.olderFirst).map(\.name)
        #expect(sorted == ["access.log.10.gz", "access.log.3.gz", "access.log.2.gz", "access.log.1", "access.log"])
        #expect(Set(names.map { RotatedFileName($0).base }) == ["access.log"])
    }

    @Test func dateextSetIsReadByDate() {
        let names = ["access.log", "access.log-20261128", "access.log-20261126.gz", "access.log-20261127.gz"]
        let sorted = names.map(RotatedFileName.init).sorted(by: RotatedFileName.olderFirst).map(\.name)
        #expect(sorted == ["access.log-20261126.gz", "access.log-20261127.gz", "access.log-20261128", "access.log"])
    }

    @Test func directoryDiscoveryGroupsSets() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rfs-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for name in ["a.log", "a.log.1", "a.log.2.gz", "b.log", "b.log-20261101", ".hidden"] {
            _ = FileManager.default.createFile(atPath: directory + "/" + name, contents: Data())
        }
        let sets = try RotatedFileSet.discover(inDirectory: directory)
        #expect(sets.map(\.base) == ["a.log", "b.log"])
        #expect(sets[0].paths.map { ($0 as NSString).lastPathComponent } == ["a.log.2.gz", "a.log.1", "a.log"])
        #expect(sets[1].paths.map { ($0 as NSString).lastPathComponent } == ["b.log-20261101", "b.log"])
    }
}
