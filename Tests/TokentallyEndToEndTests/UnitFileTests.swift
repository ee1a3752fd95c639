import Foundation
import Testing

/// The shipped systemd unit, checked with the host's own `systemd-analyze` (Debian package
/// `systemd`, which `scripts/install-deps` installs): it parses cleanly, scores a security
/// exposure of at most 2.0, and runs the daemon the way docs/systemd.md says.
@Suite("systemd unit")
struct UnitFileTests {
    fileprivate static let repository = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    fileprivate static let unit = repository.appendingPathComponent("systemd/tokentally.service")
    fileprivate static let systemdAnalyze = URL(fileURLWithPath: "/usr/bin/systemd-analyze")
    /// The ExecStart line as installed; the tests depend on its exact form.
    fileprivate static let execStart = "ExecStart=/usr/bin/tokentally run --config /etc/tokentally/tokentally.yaml"

    /// `systemd-analyze verify` checks that ExecStart's binary exists, and /usr/bin/tokentally is
    /// not installed here: a copy of the unit runs the binary `swift test` built instead. Verify
    /// exits 0 even on an unknown key or a bad value (it only warns), so any output is a failure.
    @Test
    func unitPassesSystemdAnalyzeVerify() throws {
        let text = try String(contentsOf: Self.unit, encoding: .utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.filter { $0.hasPrefix("ExecStart=") } == [Substring(Self.execStart)])

        try withScratchDirectory("unit-verify") { directory in
            let adapted = directory.appendingPathComponent("tokentally.service")
            let binary = TokentallyBinary.url.path
            #expect(FileManager.default.isExecutableFile(atPath: binary))
            try text.replacingOccurrences(of: "ExecStart=/usr/bin/tokentally ", with: "ExecStart=\(binary) ")
                .write(to: adapted, atomically: true, encoding: .utf8)

            let verify = try ProcessLauncher.run(Self.systemdAnalyze, ["verify", adapted.path], timeoutSeconds: 30)
            #expect(verify.status == 0, "\(verify.summary)")
            #expect(verify.stderrText.isEmpty && verify.stdoutText.isEmpty, "\(verify.summary)")

            // The same check on a copy with a misspelt key must complain, or the check above
            // proves nothing on this host's systemd.
            let misspelt = directory.appendingPathComponent("misspelt.service")
            try text.replacingOccurrences(of: "ExecStart=/usr/bin/tokentally ", with: "ExecStart=\(binary) ")
                .replacingOccurrences(of: "\nUMask=", with: "\nUMaks=")
                .write(to: misspelt, atomically: true, encoding: .utf8)
            let complaint = try ProcessLauncher.run(Self.systemdAnalyze, ["verify", misspelt.path], timeoutSeconds: 30)
            #expect(complaint.stderrText.contains("UMaks"), "\(complaint.summary)")
        }
    }

    /// `systemd-analyze security --offline=yes` on the unit as shipped: the overall exposure
    /// (0.0 best, 10.0 worst) is at most 2.0. The figure is printed for the issue's closing note.
    @Test
    func securityExposureIsAtMostTwo() throws {
        let outcome = try ProcessLauncher.run(
            Self.systemdAnalyze, ["security", "--offline=yes", "--no-pager", Self.unit.path], timeoutSeconds: 30)
        #expect(outcome.status == 0, "\(outcome.summary)")

        let overall = outcome.stdoutText.split(separator: "\n").first { $0.contains("Overall exposure level for") }
        let figure = overall.flatMap { line -> Double? in
            guard let match = line.firstMatch(of: /tokentally\.service: ([0-9]+\.[0-9]+)/) else { return nil }
            return Double(match.1)
        }
        try #require(figure != nil, "no exposure figure in: \(outcome.stdoutText.suffix(500))")
        print("systemd-analyze security --offline=yes systemd/tokentally.service: \(overall ?? "")")
        #expect(figure! <= 2.0, "\(overall ?? "")")

        // What still costs something, for whoever tightens the unit next.
        for cost in outcome.stdoutText.split(separator: "\n") where cost.hasPrefix("✗") {
            print("  \(cost.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " "))")
        }
    }

    /// The service contract docs/systemd.md describes: notify with a watchdog, reload by SIGHUP,
    /// a state directory, a static user reading logs through a supplementary group, no
    /// capabilities, and the Unix sockets of journald and the notify protocol as its only sockets.
    @Test
    func unitDeclaresTheServiceContract() throws {
        let service = try Self.serviceSection()
        let expected: [(String, String)] = [
            ("Type", "notify"),
            ("ExecStart", String(Self.execStart.dropFirst("ExecStart=".count))),
            ("ExecReload", "/bin/kill -HUP $MAINPID"),
            ("WatchdogSec", "30s"),
            ("Restart", "on-failure"),
            ("StateDirectory", "tokentally"),
            ("User", "tokentally"),
            ("SupplementaryGroups", "adm"),
            ("CapabilityBoundingSet", ""),
            ("RestrictAddressFamilies", "AF_UNIX"),
            ("ProtectSystem", "strict"),
            ("UMask", "0027"),
        ]
        for (key, value) in expected {
            #expect(service[key] == [value], "\(key)= is \(service[key] ?? []), expected \(value)")
        }
        #expect(service["DynamicUser"] == nil)
        #expect(service["SystemCallFilter"]?.first == "@system-service")
    }

    /// Under ProtectSystem=strict, the daemon can write only inside its StateDirectory. The state
    /// and snapshot directories the daemon uses by default, and those of the shipped example
    /// config, must be in it.
    @Test
    func defaultStateAndSnapshotDirectoriesAreInsideTheStateDirectory() throws {
        let service = try Self.serviceSection()
        let stateDirectory = try #require(service["StateDirectory"]?.first)
        #expect(service["ReadWritePaths"] == nil, "every writable path should be the StateDirectory")
        let writable = "/var/lib/\(stateDirectory)/"

        try withScratchDirectory("unit-dirs") { directory in
            // Only the one required key: everything else is the daemon's built-in default.
            let minimal = directory.appendingPathComponent("minimal.yaml")
            try "inputs:\n  - path: /var/log/gateway/access.log*\n".write(
                to: minimal, atomically: true, encoding: .utf8)
            let example = Self.repository.appendingPathComponent("config/tokentally.yaml")

            for config in [minimal, example] {
                let outcome = try TokentallyBinary.run(["check-config", "--config", config.path])
                #expect(outcome.status == 0, "\(outcome.summary)")
                let directories = Self.directories(inEffectiveConfiguration: outcome.stdoutText)
                #expect(Set(directories.keys) == ["snapshot", "state"], "\(outcome.stdoutText)")
                for (section, path) in directories {
                    #expect(path.hasPrefix(writable), "\(config.lastPathComponent): \(section).directory \(path)")
                }
            }
        }
    }

    /// The units beside the daemon: `tokentally-serve.service` and `tokentally-ship.service`.
    /// verify passes on each, its exposure is at most 2.0, and it reads the snapshots without
    /// being able to write them; serve writes nothing at all and takes loopback peers only.
    @Test(arguments: ["tokentally-serve", "tokentally-ship"])
    func sideUnitPassesVerifyAndSecurity(_ name: String) throws {
        let file = Self.repository.appendingPathComponent("systemd/\(name).service")
        let text = try String(contentsOf: file, encoding: .utf8)
        let command = name == "tokentally-serve" ? "serve" : "ship"
        let execStart = text.split(separator: "\n").filter { $0.hasPrefix("ExecStart=") }
        #expect(
            execStart.count == 1
                && execStart[0].hasPrefix(
                    "ExecStart=/usr/bin/tokentally \(command) --config /etc/tokentally/tokentally.yaml")
        )
        try withScratchDirectory("\(name)-verify") { directory in
            let adapted = directory.appendingPathComponent("\(name).service")
            try text.replacingOccurrences(
                of: "ExecStart=/usr/bin/tokentally ", with: "ExecStart=\(TokentallyBinary.url.path) "
            )
            .write(to: adapted, atomically: true, encoding: .utf8)
            let verify = try ProcessLauncher.run(Self.systemdAnalyze, ["verify", adapted.path], timeoutSeconds: 30)
            #expect(verify.status == 0 && verify.stderrText.isEmpty && verify.stdoutText.isEmpty, "\(verify.summary)")
        }
        let outcome = try ProcessLauncher.run(
            Self.systemdAnalyze, ["security", "--offline=yes", "--no-pager", file.path], timeoutSeconds: 30)
        let overall = outcome.stdoutText.split(separator: "\n").first { $0.contains("Overall exposure level for") }
        let figure = overall.flatMap { $0.firstMatch(of: /service: ([0-9]+\.[0-9]+)/) }.flatMap { Double($0.1) }
        print("systemd-analyze security --offline=yes systemd/\(name).service: \(overall ?? "")")
        #expect(figure != nil && figure! <= 2.0, "\(outcome.stdoutText.suffix(500))")

        let service = try Self.serviceSection(of: file)
        var expected: [(String, String)] = [
            ("DynamicUser", "yes"), ("SupplementaryGroups", "tokentally"), ("ProtectSystem", "strict"),
            ("ReadOnlyPaths", "/var/lib/tokentally"), ("CapabilityBoundingSet", ""), ("RestartPreventExitStatus", "2"),
        ]
        if name == "tokentally-serve" {
            expected += [("IPAddressDeny", "any"), ("IPAddressAllow", "localhost")]
            for writable in ["StateDirectory", "ReadWritePaths", "LogsDirectory", "CacheDirectory"] {
                #expect(service[writable] == nil, "the serve unit must write nothing, but has \(writable)=")
            }
        } else {
            expected += [("StateDirectory", "tokentally-ship")]
            #expect(service["ReadWritePaths"] == nil)
        }
        for (key, value) in expected {
            #expect(service[key] == [value], "\(name): \(key)= is \(service[key] ?? []), expected \(value)")
        }
    }

    /// The [Service] section's settings, each key with its values in order (keys such as
    /// SystemCallFilter= may repeat).
    fileprivate static func serviceSection(of file: URL = unit) throws -> [String: [String]] {
        let text = try String(contentsOf: file, encoding: .utf8)
        var section = ""
        var settings: [String: [String]] = [:]
        for rawLine in text.split(separator: "\n") {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") {
                section = line
                continue
            }
            guard section == "[Service]", let equals = line.firstIndex(of: "=") else { continue }
            settings[String(line[..<equals]), default: []].append(String(line[line.index(after: equals)...]))
        }
        return settings
    }

    /// `directory:` under each top-level section of `check-config`'s output.
    fileprivate static func directories(inEffectiveConfiguration text: String) -> [String: String] {
        var section = ""
        var found: [String: String] = [:]
        for line in text.split(separator: "\n") {
            if let first = line.first, first != " ", first != "#", let colon = line.firstIndex(of: ":") {
                section = String(line[..<colon])
            } else if line.hasPrefix("  directory: ") {
                found[section] = String(line.dropFirst("  directory: ".count))
            }
        }
        return found
    }
}
