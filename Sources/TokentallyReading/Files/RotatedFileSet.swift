import TokentallySystem
import Foundation

/// One file of a logrotate set, classified by its name.
public struct RotatedFileName: Hashable, Sendable {
    /// How old the file is within its set.
    public enum Generation: Hashable, Sendable {
        /// The file the gateway writes to now (`access.log`).
        case live
        /// `access.log.1`, `access.log.2.gz`: a higher number is older.
        case numbered(Int)
        /// `access.log-20261128`, `access.log-20261128.gz` (`dateext`): an earlier date is older.
        case dated(String)
    }

    /// The live file's name, shared by the whole set (`access.log`).
    var base: String
    public var generation: Generation
    /// The file name itself.
    public var name: String

    /// Classifies a file name. `.gz` is only a naming convention here: whether a file is really
    /// compressed is decided by its first bytes when it is opened.
    public init(_ name: String) {
        self.name = name
        var stem = Substring(name)
        if stem.hasSuffix(".gz") { stem = stem.dropLast(3) }
        if let dot = stem.lastIndex(of: "."), let number = Int(stem[stem.index(after: dot)...]), number >= 0,
            stem[stem.index(after: dot)...].allSatisfy(\.isASCII)
        {
            base = String(stem[..<dot])
            generation = .numbered(number)
            return
        }
        if let dash = stem.lastIndex(of: "-") {
            let suffix = stem[stem.index(after: dash)...]
            // dateext suffixes: -YYYYMMDD, -YYYYMMDDHH, -YYYYMMDD-HHMMSS is split at the last dash,
            // so accept 6 to 14 digits, optionally after a date part joined by another dash.
            if suffix.count >= 6, suffix.count <= 14, suffix.allSatisfy({ $0.isASCII && $0.isNumber }) {
                var head = stem[..<dash]
                var date = String(suffix)
                if let previous = head.lastIndex(of: "-") {
                    let part = head[head.index(after: previous)...]
                    if part.count == 8, part.allSatisfy({ $0.isASCII && $0.isNumber }) {
                        date = String(part) + "-" + date
                        head = head[..<previous]
                    }
                }
                base = String(head)
                generation = .dated(date)
                return
            }
        }
        base = name
        generation = .live
    }

    /// Oldest-first order within one set: dated files by date, then numbered files from the
    /// highest number down, then the live file.
    static func olderFirst(_ a: RotatedFileName, _ b: RotatedFileName) -> Bool {
        func rank(_ g: Generation) -> (Int, Int, String) {
            switch g {
            case .dated(let date): (0, 0, date)
            case .numbered(let n): (1, -n, "")
            case .live: (2, 0, "")
            }
        }
        let (x, y) = (rank(a.generation), rank(b.generation))
        if x != y { return x < y }
        return a.name < b.name
    }
}

/// The rotated sets found in a directory, each oldest first.
public struct RotatedFileSet: Sendable {
    /// The live file's name (`access.log`).
    var base: String
    /// Full paths, oldest first; the live file (if present) last.
    public var paths: [String]

    /// Every rotated set in `directory`, sorted by base name; hidden files and subdirectories
    /// are ignored.
    public static func discover(inDirectory directory: String) throws(FileReadError) -> [RotatedFileSet] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            throw FileReadError(
                code: .notFound, path: directory,
                message: "cannot list the directory; check that it exists and is readable")
        }
        var groups: [String: [RotatedFileName]] = [:]
        for name in names where !name.hasPrefix(".") {
            var isDirectory: ObjCBool = false
            let path = (directory as NSString).appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else {
                continue
            }
            let classified = RotatedFileName(name)
            groups[classified.base, default: []].append(classified)
        }
        return groups.keys.sorted().map { base in
            let files = groups[base]!.sorted(by: RotatedFileName.olderFirst)
            return RotatedFileSet(
                base: base, paths: files.map { (directory as NSString).appendingPathComponent($0.name) })
        }
    }
}
