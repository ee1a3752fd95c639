import Foundation
import TokentallySystem
import Synchronization

/// What `index.json` says: the hosts, the time zone, the buckets that exist, the daemon's
/// status and its lifetime counters.
public struct SnapshotIndex: Sendable {
    /// The hosts whose counts the directory holds, with when each was generated: one for a
    /// host's own snapshots, several for a fleet's merged ones (`hosts` in index.json).
    public var hosts: [(name: String, generatedAt: String)]
    public var generatedAt: String
    public var timezone: String
    /// Labels by period (`day`, `week`, `month`), oldest first.
    public var buckets: [String: [String]]
    public var status: JSONValue
    /// `lifetime` (issue 13): monotonic counters per (model, provider); `.null` in snapshots
    /// written before it.
    public var lifetime: JSONValue

    public static let periods = ["day", "week", "month"]

    static func decode(_ bytes: [UInt8]) throws(BucketFileError) -> SnapshotIndex {
        var reader = JSONReader(bytes)
        let value: JSONValue
        do { value = try reader.readDocument() } catch { throw BucketFileError(message: error.description) }
        guard value["schema"]?.string == "tokentally.index/v1" else {
            throw BucketFileError(message: "schema is not tokentally.index/v1")
        }
        guard let generatedAt = value["generated_at"]?.string, let timezone = value["timezone"]?.string else {
            throw BucketFileError(message: "no generated_at or timezone")
        }
        var hosts: [(String, String)] =
            value["hosts"]?.elements.compactMap { host in
                guard let name = host["host"]?.string, let at = host["generated_at"]?.string else { return nil }
                return (name, at)
            } ?? []
        if hosts.isEmpty, let host = value["host"]?.string { hosts = [(host, generatedAt)] }
        var buckets: [String: [String]] = [:]
        for period in periods { buckets[period] = value["buckets"]?[period]?.elements.compactMap(\.string) ?? [] }
        return SnapshotIndex(
            hosts: hosts, generatedAt: generatedAt, timezone: timezone, buckets: buckets,
            status: value["status"] ?? .null, lifetime: value["lifetime"] ?? .null)
    }
}

/// Why a snapshot directory could not be read: one line for a person.
public struct SnapshotReadError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var description: String { message }
}

/// A snapshot directory, read as its files change: each file is parsed once per version (the
/// daemon replaces files by atomic rename, so a new version is a new inode) and kept, so that a
/// month of 100k series is not parsed again for every request. Safe to share between threads;
/// a file is parsed outside the lock.
public final class SnapshotDirectory: Sendable {
    public let path: String

    /// Which version of a file: the daemon replaces files by rename, so a new version is a new
    /// inode (and a new size or time).
    public struct Version: Hashable, Sendable {
        var device: UInt64
        var inode: UInt64
        var size: Int64
        var modified: Int64

        init(_ info: stat) {
            device = UInt64(info.st_dev)
            inode = UInt64(info.st_ino)
            size = Int64(info.st_size)
            modified = Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)
        }
    }

    /// The current version of each file, nil for one that does not exist.
    public static func versions(of files: [String]) -> [Version?] {
        files.map { file in
            var info = stat()
            return stat(file, &info) == 0 ? Version(info) : nil
        }
    }
    private struct Entry<Value> {
        var version: Version
        var value: Value
    }
    private struct Cache: ~Copyable {
        var index: Entry<SnapshotIndex>?
        var buckets: [String: Entry<BucketFile>] = [:]
    }
    private let cache = Mutex(Cache())

    public init(path: String) { self.path = path }

    /// index.json, parsed again only when it was replaced.
    public func index() throws(SnapshotReadError) -> SnapshotIndex {
        let file = path + "/index.json"
        let (version, bytes) = try read(file, unless: cache.withLock { $0.index?.version })
        if let bytes {
            do {
                let index = try SnapshotIndex.decode(bytes)
                cache.withLock { $0.index = Entry(version: version, value: index) }
                return index
            } catch {
                throw SnapshotReadError(message: "\(file) is not a tokentally index: \(error)")
            }
        }
        guard let index = cache.withLock({ $0.index?.value }) else {
            throw SnapshotReadError(message: "\(file) changed while it was read; read it again")
        }
        return index
    }

    /// A bucket file; with `rows: false` a summary read (no series) is enough, and a cached full
    /// read serves it too.
    public func bucket(period: String, label: String, rows: Bool = true) throws(SnapshotReadError) -> BucketFile {
        let file = "\(path)/\(period)/\(label).json"
        let cached = cache.withLock { state -> Entry<BucketFile>? in
            guard let entry = state.buckets[file], entry.value.hasRows || !rows else { return nil }
            return entry
        }
        let (version, bytes) = try read(file, unless: cached?.version)
        guard let bytes else { return cached!.value }
        let bucket: BucketFile
        do { bucket = try BucketFile.decode(bytes, rows: rows) } catch {
            throw SnapshotReadError(message: "\(file) is not a tokentally bucket file: \(error)")
        }
        cache.withLock { $0.buckets[file] = Entry(version: version, value: bucket) }
        return bucket
    }

    /// The version of `file` whose bytes were parsed and kept, or nil.
    public func parsedVersion(_ file: String) -> Version? {
        cache.withLock { state in
            file == path + "/index.json" ? state.index?.version : state.buckets[file]?.version
        }
    }

    /// Drops cached buckets whose files are gone (retention), so the cache stays the size of
    /// what exists.
    public func forgetMissing() {
        let files = cache.withLock { Array($0.buckets.keys) }
        let gone = files.filter { !FileManager.default.fileExists(atPath: $0) }
        guard !gone.isEmpty else { return }
        cache.withLock { state in for file in gone { state.buckets[file] = nil } }
    }

    /// The file's version, and its bytes unless it is still `known`. One open: the version is
    /// the opened file's, so a rename in between cannot pair old bytes with a new version.
    private func read(_ file: String, unless known: Version?) throws(SnapshotReadError) -> (Version, [UInt8]?) {
        let descriptor = open(file, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            let reason = String(cString: strerror(errno))
            if errno == ENOENT {
                throw SnapshotReadError(
                    message:
                        "\(file) does not exist: is --snapshot-dir (snapshot.directory) the directory tokentally writes its snapshots to?"
                )
            }
            throw SnapshotReadError(message: "cannot open \(file): \(reason)")
        }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else {
            throw SnapshotReadError(message: "cannot stat \(file): \(String(cString: strerror(errno)))")
        }
        let version = Version(info)
        if version == known { return (version, nil) }
        var bytes = [UInt8](repeating: 0, count: Int(info.st_size))
        switch bytes.withUnsafeMutableBytes({ Syscall.preadFully(descriptor, into: $0, at: 0) }) {
        case .success(true): return (version, bytes)
        case .success(false): throw SnapshotReadError(message: "cannot read \(file): cut short")
        case .failure(let error): throw SnapshotReadError(message: "cannot read \(file): \(error)")
        }
    }
}

/// Rendered answers (the page, the API's JSON and CSV) by request, each with the files it was
/// made from and their versions: an answer is served again while none of them changed, so a
/// repeated request for a big month costs a few `stat` calls. Bounded: the oldest answers go
/// first.
public final class RenderCache: Sendable {
    private struct Entry {
        var body: String
        var files: [String]
        var versions: [SnapshotDirectory.Version?]
        var used: UInt64
    }
    private struct State: ~Copyable {
        var entries: [String: Entry] = [:]
        var clock: UInt64 = 0
    }
    private let state = Mutex(State())
    public let capacity: Int

    public init(capacity: Int = 64) { self.capacity = capacity }

    /// The answer for `key`, from the cache while its files are unchanged, else from `render`,
    /// which returns the answer and the files it was made from, with the versions of the bytes
    /// it read (`SnapshotDirectory.parsedVersion`): a file replaced while it rendered makes the
    /// entry stale at once, never an old answer filed under a new version.
    public func answer(
        _ key: String, render: () throws -> (body: String, files: [(String, SnapshotDirectory.Version?)])
    ) rethrows -> String {
        if let entry = state.withLock({ $0.entries[key] }),
            SnapshotDirectory.versions(of: entry.files) == entry.versions
        {
            state.withLock { state in
                state.clock += 1
                state.entries[key]?.used = state.clock
            }
            return entry.body
        }
        let (body, sources) = try render()
        let files = sources.map(\.0)
        let versions = sources.map(\.1)
        state.withLock { state in
            state.clock += 1
            if state.entries.count >= capacity, state.entries[key] == nil,
                let oldest = state.entries.min(by: { $0.value.used < $1.value.used })?.key
            {
                state.entries[oldest] = nil
            }
            state.entries[key] = Entry(body: body, files: files, versions: versions, used: state.clock)
        }
        return body
    }
}
