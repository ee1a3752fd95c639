import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// What a finished process left behind: its exit status and everything it wrote.
struct ProcessOutcome: Sendable {
    var status: Int32
    var stdout: Data
    var stderr: Data

    var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
    var stderrText: String { String(decoding: stderr, as: UTF8.self) }
    /// Standard error split into lines, without the empty piece after a final newline.
    var stderrLines: [String] {
        var lines = stderrText.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        return lines
    }

    /// A short account for an expectation's message.
    var summary: String {
        "exit \(status); stderr: \(stderrText.prefix(2_000)); stdout: \(stdoutText.prefix(500))"
    }
}

/// A process that did not end in time; it has been killed and waited for.
struct ProcessTimedOut: Error, CustomStringConvertible {
    var command: String
    var seconds: Double
    var description: String { "\(command) still ran after \(seconds) s and was killed" }
}

/// Starts programs with files (not pipes) for their standard streams, so no pipe can fill up
/// and block, and always waits for them: a run that outlives its timeout is killed, then reaped.
enum ProcessLauncher {
    static func run(
        _ executable: URL,
        _ arguments: [String],
        stdin: Data? = nil,
        environment: [String: String] = [:],
        timeoutSeconds: Double = 120
    ) throws -> ProcessOutcome {
        let streams = FileManager.default.temporaryDirectory
            .appendingPathComponent("tokentally-e2e-streams-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: streams, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: streams) }

        let stdinURL = streams.appendingPathComponent("stdin")
        let stdoutURL = streams.appendingPathComponent("stdout")
        let stderrURL = streams.appendingPathComponent("stderr")
        try (stdin ?? Data()).write(to: stdinURL)
        _ = FileManager.default.createFile(atPath: stdoutURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrURL.path, contents: nil)
        let stdinHandle = try FileHandle(forReadingFrom: stdinURL)
        let stdoutHandle = try FileHandle(forWritingTo: stdoutURL)
        let stderrHandle = try FileHandle(forWritingTo: stderrURL)
        defer {
            try? stdinHandle.close()
            try? stdoutHandle.close()
            try? stderrHandle.close()
        }

        // The child sees the test's environment less every TOKENTALLY_* variable (they override
        // configuration), plus what the test asks for.
        var childEnvironment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("TOKENTALLY_") }
        childEnvironment.merge(environment) { _, new in new }

        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.environment = childEnvironment
        process.standardInput = stdinHandle
        process.standardOutput = stdoutHandle
        process.standardError = stderrHandle
        try process.run()

        let deadline = Date().addingTimeInterval(timeoutSeconds)
        while process.isRunning && Date() < deadline {
            usleep(2_000)
        }
        if process.isRunning {
            process.terminate()
            let graceEnd = Date().addingTimeInterval(2)
            while process.isRunning && Date() < graceEnd { usleep(2_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
            throw ProcessTimedOut(
                command: ([executable.lastPathComponent] + arguments).joined(separator: " "),
                seconds: timeoutSeconds
            )
        }
        process.waitUntilExit()
        return ProcessOutcome(
            status: process.terminationStatus,
            stdout: try Data(contentsOf: stdoutURL),
            stderr: try Data(contentsOf: stderrURL)
        )
    }
}

/// The `tokentally` binary that `swift test` built next to the test executable, or the one
/// `TOKENTALLY_E2E_BINARY` names (to check that a test fails on an older build).
enum TokentallyBinary {
    static let url: URL = {
        if let other = ProcessInfo.processInfo.environment["TOKENTALLY_E2E_BINARY"], !other.isEmpty {
            return URL(fileURLWithPath: other)
        }
        let testExecutable =
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: testExecutable).deletingLastPathComponent().appendingPathComponent("tokentally")
    }()

    static func run(
        _ arguments: [String],
        stdin: Data? = nil,
        environment: [String: String] = [:],
        timeoutSeconds: Double = 120
    ) throws -> ProcessOutcome {
        try ProcessLauncher.run(
            url, arguments, stdin: stdin, environment: environment, timeoutSeconds: timeoutSeconds)
    }

    /// `tokentally replay` into `snapshotDirectory`, never writing to the journal.
    static func replay(
        _ paths: [String],
        snapshotDirectory: URL,
        options: [String] = [],
        stdin: Data? = nil
    ) throws -> ProcessOutcome {
        try run(
            ["replay", "--no-journal", "--snapshot-dir", snapshotDirectory.path] + options + paths,
            stdin: stdin
        )
    }
}

/// The host's own tools, used as independent references (gzip, sha256sum).
enum HostTools {
    /// `gzip -dc`: everything a possibly cut-short gzip file decompresses to, and whether gzip
    /// found the file whole.
    static func gunzip(_ compressed: Data) throws -> (data: Data, complete: Bool) {
        let outcome = try ProcessLauncher.run(URL(fileURLWithPath: "/usr/bin/gzip"), ["-dc"], stdin: compressed)
        return (outcome.stdout, outcome.status == 0)
    }

    /// `gzip -c -n`: one gzip member.
    static func gzip(_ data: Data) throws -> Data {
        let outcome = try ProcessLauncher.run(URL(fileURLWithPath: "/usr/bin/gzip"), ["-c", "-n"], stdin: data)
        guard outcome.status == 0 else { throw CocoaError(.fileWriteUnknown) }
        return outcome.stdout
    }

    /// The SHA-256 of `text`'s UTF-8 bytes as 64 lowercase hex digits, from `/usr/bin/sha256sum`.
    static func sha256Hex(_ text: String) throws -> String {
        let outcome = try ProcessLauncher.run(
            URL(fileURLWithPath: "/usr/bin/sha256sum"), [], stdin: Data(text.utf8))
        guard outcome.status == 0 else { throw CocoaError(.fileReadUnknown) }
        return String(outcome.stdoutText.prefix(64))
    }
}

/// A fresh directory under the system temporary directory, removed when the body returns.
func withScratchDirectory<T>(_ name: String, _ body: (URL) throws -> T) throws -> T {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("tokentally-e2e-\(name)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: url) }
    return try body(url)
}

/// The bytes of a file, or of what a gzip file decompresses to (found by its magic bytes).
func decompressedContents(of url: URL) throws -> (bytes: [UInt8], complete: Bool) {
    let data = try Data(contentsOf: url)
    if data.count >= 2, data[data.startIndex] == 0x1F, data[data.startIndex + 1] == 0x8B {
        let (plain, complete) = try HostTools.gunzip(data)
        return ([UInt8](plain), complete)
    }
    return ([UInt8](data), true)
}

/// The files of a rotated set in a directory, oldest first: highest number first, the live
/// file (no number) last. Names look like `access.log`, `access.log.1`, `access.log.3.gz`.
func rotatedSetOldestFirst(in directory: URL) throws -> [URL] {
    let names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
    func generation(_ name: String) -> Int {
        var stem = Substring(name)
        if stem.hasSuffix(".gz") { stem = stem.dropLast(3) }
        if let dot = stem.lastIndex(of: "."), let number = Int(stem[stem.index(after: dot)...]) {
            return number
        }
        return 0
    }
    return names.sorted { generation($0) > generation($1) }.map { directory.appendingPathComponent($0) }
}
