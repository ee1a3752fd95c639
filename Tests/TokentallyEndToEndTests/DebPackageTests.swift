import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The Debian package that `scripts/build-deb` makes, and `make install`: what they hold, and
/// that the package installs, removes and purges cleanly. Everything happens under temporary
/// directories: dpkg works on a temporary root (`--root`, with its own database and log), and
/// runs the maintainer scripts chrooted into it, so the host's packages, users and systemd are
/// never touched.
///
/// The package is made from the debug binary `swift test` built, which links the Swift runtime
/// under /opt/swift (a release build links it statically; `scripts/build-deb` refuses a binary
/// like this one without `--allow-unpackaged-libraries`). Building a static release binary
/// here would take minutes; what these tests prove, the package's layout and its life cycle,
/// does not depend on how the binary was linked.
@Suite("Debian package")
struct DebPackageTests {
    fileprivate static let repository = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    fileprivate static let dpkg = URL(fileURLWithPath: "/usr/bin/dpkg")
    fileprivate static let dpkgDeb = URL(fileURLWithPath: "/usr/bin/dpkg-deb")
    fileprivate static let unitPath = "/lib/systemd/system/tokentally.service"
    fileprivate static let serveUnitPath = "/lib/systemd/system/tokentally-serve.service"
    fileprivate static let shipUnitPath = "/lib/systemd/system/tokentally-ship.service"
    fileprivate static let configPath = "/etc/tokentally/tokentally.yaml"
    fileprivate static let docPath = "/usr/share/doc/tokentally"

    /// `dpkg-deb -c` and `-I`: the binary, the unit, the config marked as a conffile, the docs
    /// and schemas, the maintainer scripts, and dependencies on the libraries the binary links.
    @Test
    func packageHoldsBinaryUnitConffileAndDocs() throws {
        try withScratchDirectory("deb-contents") { scratch in
            let deb = try Self.buildPackage(into: scratch)

            let listing = try Self.run(Self.dpkgDeb, ["-c", deb.path])
            // Lines look like "-rwxr-xr-x root/root  17534264 2026-11-29 04:50 ./usr/bin/tokentally".
            var entries: [String: (mode: String, owner: String)] = [:]
            for line in listing.split(separator: "\n") {
                let fields = line.split(separator: " ", omittingEmptySubsequences: true)
                guard fields.count >= 6 else { continue }
                var path = String(fields[5])
                if path.hasPrefix(".") { path.removeFirst() }
                if path.count > 1, path.hasSuffix("/") { path.removeLast() }
                entries[path] = (String(fields[0]), String(fields[1]))
            }
            #expect(entries["/usr/bin/tokentally"]?.mode == "-rwxr-xr-x", "\(listing)")
            #expect(entries[Self.unitPath]?.mode == "-rw-r--r--", "\(listing)")
            #expect(entries[Self.serveUnitPath]?.mode == "-rw-r--r--", "\(listing)")
            #expect(entries[Self.shipUnitPath]?.mode == "-rw-r--r--", "\(listing)")
            #expect(entries[Self.configPath]?.mode == "-rw-r--r--", "\(listing)")
            #expect(entries.values.allSatisfy { $0.owner == "root/root" }, "\(listing)")
            for document in try Self.expectedDocuments() {
                #expect(entries["\(Self.docPath)/\(document)"] != nil, "\(document) is missing: \(listing)")
            }
            let licenses = entries.keys.filter { $0.hasPrefix("\(Self.docPath)/licenses/") && $0.contains("LICENSE") }
            #expect(licenses.contains { $0.contains("/swift-argument-parser/") }, "\(licenses)")
            #expect(licenses.contains { $0.contains("/Yams/") }, "\(licenses)")

            let conffiles = try Self.run(Self.dpkgDeb, ["-I", deb.path, "conffiles"])
            #expect(conffiles.split(separator: "\n") == [Substring(Self.configPath)])

            let info = try Self.run(Self.dpkgDeb, ["-I", deb.path])
            for script in ["postinst", "prerm", "postrm"] {
                #expect(info.contains(" \(script) "), "\(info)")
            }
            let depends = try Self.run(Self.dpkgDeb, ["-f", deb.path, "Depends"])
            // The libraries `ldd` shows the binary linking, by their Debian packages.
            for package in ["libc6", "zlib1g", "libisal2", "libsystemd0", "adduser"] {
                #expect(depends.contains(package), "Depends: \(depends)")
            }
            #expect(try Self.run(Self.dpkgDeb, ["-f", deb.path, "Package"]) == "tokentally\n")
        }
    }

    /// `dpkg --root` into a temporary root: install (the postinst makes the user and reloads
    /// systemd), reinstall (an upgrade restarts a running daemon), `-r` (stops and disables,
    /// removes everything but the conffile and the state), `-P` (removes those too). systemctl
    /// and adduser in the root are stand-ins that record how they were called; `/run/systemd/system`
    /// exists in the root, so the scripts behave as on a machine running systemd.
    @Test(.enabled(if: getuid() == 0, "dpkg chroots into the temporary root to run maintainer scripts"))
    func installsRemovesAndPurgesInATemporaryRoot() throws {
        try withScratchDirectory("deb-lifecycle") { scratch in
            let deb = try Self.buildPackage(into: scratch)
            let root = scratch.appendingPathComponent("root")
            try TemporaryRoot.make(at: root)
            let dpkgOptions = ["--root=\(root.path)", "--log=\(root.path)/var/log/dpkg.log"]
            func dpkg(_ arguments: [String]) throws -> ProcessOutcome {
                try ProcessLauncher.run(Self.dpkg, dpkgOptions + arguments, timeoutSeconds: 60)
            }
            func installed(_ path: String) -> Bool {
                FileManager.default.fileExists(atPath: root.path + path)
            }

            // Install. The root's database has none of the dependencies (libc6 ...): they are
            // the host's, which the binary uses when it runs from the root below.
            let install = try dpkg(["--force-depends", "-i", deb.path])
            #expect(install.status == 0, "\(install.summary)")
            #expect(try dpkg(["-s", "tokentally"]).stdoutText.contains("Status: install ok installed"))
            #expect(
                TemporaryRoot.calls(in: root) == [
                    "adduser --system --group --home /var/lib/tokentally --no-create-home --quiet tokentally",
                    "systemctl --system daemon-reload",
                ])
            #expect(try TemporaryRoot.passwdNames(in: root).contains("tokentally"))

            let listed = try dpkg(["-L", "tokentally"])
            #expect(listed.status == 0, "\(listed.summary)")
            let listedPaths = Set(listed.stdoutText.split(separator: "\n").map(String.init))
            for path in [
                "/usr/bin/tokentally", Self.unitPath, Self.serveUnitPath, Self.configPath, "\(Self.docPath)/README.md",
            ] {
                #expect(listedPaths.contains(path), "dpkg -L does not list \(path)")
                #expect(installed(path), "\(path) is not in the root")
            }
            #expect(
                try Data(contentsOf: root.appendingPathComponent(Self.unitPath))
                    == Data(contentsOf: Self.repository.appendingPathComponent("systemd/tokentally.service")))
            #expect(
                try Data(contentsOf: root.appendingPathComponent(Self.configPath))
                    == Data(contentsOf: Self.repository.appendingPathComponent("config/tokentally.yaml")))

            let help = try ProcessLauncher.run(root.appendingPathComponent("usr/bin/tokentally"), ["--help"])
            #expect(help.status == 0, "\(help.summary)")
            #expect(help.stdoutText.contains("USAGE: tokentally"), "\(help.summary)")

            // Reinstalling is an upgrade: the user exists, a running daemon is restarted.
            TemporaryRoot.clearCalls(in: root)
            let reinstall = try dpkg(["--force-depends", "-i", deb.path])
            #expect(reinstall.status == 0, "\(reinstall.summary)")
            #expect(
                TemporaryRoot.calls(in: root) == [
                    "systemctl --system daemon-reload", "systemctl try-restart tokentally.service",
                ])

            // The operator edits the config; the daemon has written state and snapshots.
            let config = root.appendingPathComponent(Self.configPath)
            let edited = try String(contentsOf: config, encoding: .utf8) + "# edited by the operator\n"
            try edited.write(to: config, atomically: true, encoding: .utf8)
            let stateFile = root.appendingPathComponent("var/lib/tokentally/state/state.bin")
            try FileManager.default.createDirectory(
                at: stateFile.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data("state".utf8).write(to: stateFile)

            // Remove: everything but the conffile and the daemon's data goes.
            TemporaryRoot.clearCalls(in: root)
            let remove = try dpkg(["-r", "tokentally"])
            #expect(remove.status == 0, "\(remove.summary)")
            #expect(
                TemporaryRoot.calls(in: root) == [
                    "systemctl stop tokentally.service", "systemctl --no-reload disable tokentally.service",
                    "systemctl --system daemon-reload",
                ])
            for path in listedPaths where path != Self.configPath && path != "/etc/tokentally" {
                var isDirectory: ObjCBool = false
                if FileManager.default.fileExists(atPath: root.path + path, isDirectory: &isDirectory) {
                    // Shared folders such as /usr/bin stay; the package's own files do not.
                    #expect(isDirectory.boolValue && !path.hasPrefix(Self.docPath), "\(path) is still there after -r")
                }
            }
            #expect(try String(contentsOf: config, encoding: .utf8) == edited, "-r must keep the edited conffile")
            #expect(FileManager.default.fileExists(atPath: stateFile.path), "-r must keep the state")
            #expect(try dpkg(["-s", "tokentally"]).stdoutText.contains("Status: deinstall ok config-files"))

            // Purge: the conffile, its folder and the state go; the user stays (Debian policy).
            TemporaryRoot.clearCalls(in: root)
            let purge = try dpkg(["-P", "tokentally"])
            #expect(purge.status == 0, "\(purge.summary)")
            #expect(TemporaryRoot.calls(in: root) == ["systemctl --system daemon-reload"])
            #expect(!installed(Self.configPath))
            #expect(!installed("/etc/tokentally"))
            #expect(!installed("/var/lib/tokentally"))
            #expect(try dpkg(["-s", "tokentally"]).status != 0, "dpkg still knows the package after -P")
            #expect(try TemporaryRoot.passwdNames(in: root).contains("tokentally"))
        }
    }

    /// `make install DESTDIR=...` stages the binary, the unit, the config and the docs; a second
    /// install keeps an edited config (and puts the new example next to it); `make uninstall`
    /// removes the rest and keeps the edited config.
    @Test
    func makeInstallStagesIntoDestdirAndKeepsAnEditedConfig() throws {
        try withScratchDirectory("make-install") { destdir in
            func make(_ target: String) throws -> ProcessOutcome {
                try ProcessLauncher.run(
                    URL(fileURLWithPath: "/usr/bin/make"),
                    [
                        "-s", "-C", Self.repository.path, target, "DESTDIR=\(destdir.path)",
                        "BINARY=\(TokentallyBinary.url.path)",
                    ],
                    timeoutSeconds: 60)
            }
            func staged(_ path: String) -> URL { destdir.appendingPathComponent(String(path.dropFirst())) }

            let first = try make("install")
            #expect(first.status == 0, "\(first.summary)")
            #expect(FileManager.default.isExecutableFile(atPath: staged("/usr/bin/tokentally").path))
            #expect(
                try Data(contentsOf: staged(Self.unitPath))
                    == Data(contentsOf: Self.repository.appendingPathComponent("systemd/tokentally.service")))
            #expect(
                try Data(contentsOf: staged(Self.serveUnitPath))
                    == Data(contentsOf: Self.repository.appendingPathComponent("systemd/tokentally-serve.service")))
            #expect(
                try Data(contentsOf: staged(Self.shipUnitPath))
                    == Data(contentsOf: Self.repository.appendingPathComponent("systemd/tokentally-ship.service")))
            for document in try Self.expectedDocuments() where document != "copyright" {
                #expect(
                    FileManager.default.fileExists(atPath: staged("\(Self.docPath)/\(document)").path), "\(document)")
            }

            let config = staged(Self.configPath)
            let edited = try String(contentsOf: config, encoding: .utf8) + "# edited by the operator\n"
            try edited.write(to: config, atomically: true, encoding: .utf8)
            let second = try make("install")
            #expect(second.status == 0, "\(second.summary)")
            #expect(try String(contentsOf: config, encoding: .utf8) == edited)
            #expect(FileManager.default.fileExists(atPath: config.path + ".example"))

            let uninstall = try make("uninstall")
            #expect(uninstall.status == 0, "\(uninstall.summary)")
            for path in [
                "/usr/bin/tokentally", Self.unitPath, Self.serveUnitPath, Self.docPath, Self.configPath + ".example",
            ] {
                #expect(!FileManager.default.fileExists(atPath: staged(path).path), "\(path) is still there")
            }
            #expect(try String(contentsOf: config, encoding: .utf8) == edited)
        }
    }

    /// The documents the package must carry under /usr/share/doc/tokentally: the README, every
    /// docs/*.md and schema of the tree (listed independently of the build script), and copyright.
    fileprivate static func expectedDocuments() throws -> [String] {
        let docs = repository.appendingPathComponent("docs")
        let markdown = try FileManager.default.contentsOfDirectory(atPath: docs.path).filter { $0.hasSuffix(".md") }
        let schemas = try FileManager.default.contentsOfDirectory(atPath: docs.appendingPathComponent("schemas").path)
            .filter { $0.hasSuffix(".json") }.map { "schemas/\($0)" }
        #expect(markdown.contains("systemd.md"))
        #expect(!schemas.isEmpty)
        return ["README.md", "copyright"] + markdown + schemas
    }

    /// `scripts/build-deb` on the binary `swift test` built; the package's path it prints, which
    /// must be `<folder>/tokentally_<version>_<arch>.deb`.
    fileprivate static func buildPackage(into scratch: URL) throws -> URL {
        let out = scratch.appendingPathComponent("out")
        let outcome = try ProcessLauncher.run(
            URL(fileURLWithPath: "/bin/bash"),
            [
                repository.appendingPathComponent("scripts/build-deb").path,
                "--binary", TokentallyBinary.url.path, "--allow-unpackaged-libraries",
                "--compression", "gzip", "--out", out.path,
            ],
            timeoutSeconds: 120)
        try #require(outcome.status == 0, "\(outcome.summary)")
        let version = try String(contentsOf: repository.appendingPathComponent("packaging/version"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let architecture = try run(dpkg, ["--print-architecture"]).trimmingCharacters(in: .whitespacesAndNewlines)
        let expected = out.appendingPathComponent("tokentally_\(version)_\(architecture).deb")
        #expect(outcome.stdoutText.split(separator: "\n").last.map(String.init) == expected.path)
        try #require(FileManager.default.fileExists(atPath: expected.path), "\(outcome.summary)")
        return expected
    }

    /// A tool's standard output; a failure is recorded with its standard error.
    fileprivate static func run(_ tool: URL, _ arguments: [String]) throws -> String {
        let outcome = try ProcessLauncher.run(tool, arguments, timeoutSeconds: 60)
        #expect(
            outcome.status == 0, "\(tool.lastPathComponent) \(arguments.joined(separator: " ")): \(outcome.summary)")
        return outcome.stdoutText
    }
}

/// A root directory just big enough for dpkg to install into and to run the maintainer scripts
/// in, chrooted: an empty dpkg database, a shell and the few tools the scripts use (with the
/// libraries `ldd` names), `/dev/null`, and recording stand-ins for `adduser` and `systemctl`.
private enum TemporaryRoot {
    static let callLog = "var/log/maintainer-calls"

    static func make(at root: URL) throws {
        let manager = FileManager.default
        for folder in [
            "usr/bin", "usr/sbin", "usr/lib", "usr/lib64", "etc", "dev", "var/log", "run/systemd/system",
            "var/lib/dpkg/info", "var/lib/dpkg/updates", "var/lib/dpkg/triggers",
        ] {
            try manager.createDirectory(at: root.appendingPathComponent(folder), withIntermediateDirectories: true)
        }
        // The merged /usr layout of Debian 12, so that paths the host's ldd prints resolve.
        for (link, target) in [("bin", "usr/bin"), ("sbin", "usr/sbin"), ("lib", "usr/lib"), ("lib64", "usr/lib64")] {
            try manager.createSymbolicLink(atPath: root.appendingPathComponent(link).path, withDestinationPath: target)
        }
        for file in ["var/lib/dpkg/status", "var/lib/dpkg/available", callLog] {
            try Data().write(to: root.appendingPathComponent(file))
        }
        try "root:x:0:0:root:/root:/bin/sh\n".write(
            to: root.appendingPathComponent("etc/passwd"), atomically: true, encoding: .utf8)
        try "root:x:0:\nadm:x:4:\n".write(
            to: root.appendingPathComponent("etc/group"), atomically: true, encoding: .utf8)

        // The scripts' interpreter and the tools they call, copied with their libraries.
        let shell = URL(fileURLWithPath: "/bin/sh").resolvingSymlinksInPath()
        try copyWithLibraries(shell, into: root)
        if shell.path != "/usr/bin/sh" {
            try manager.createSymbolicLink(
                atPath: root.appendingPathComponent("usr/bin/sh").path, withDestinationPath: shell.path)
        }
        for tool in ["/usr/bin/getent", "/usr/bin/rm"] {
            try copyWithLibraries(URL(fileURLWithPath: tool), into: root)
        }

        let mknod = try ProcessLauncher.run(
            URL(fileURLWithPath: "/usr/bin/mknod"), ["-m", "0666", root.path + "/dev/null", "c", "1", "3"])
        try #require(mknod.status == 0, "the temporary root needs a /dev/null: \(mknod.summary)")

        // Stand-ins: they record their arguments; adduser also adds the account, as the real one would.
        try writeScript(
            "usr/bin/systemctl", in: root,
            "#!/bin/sh\necho \"systemctl $*\" >> /\(callLog)\n")
        try writeScript(
            "usr/sbin/adduser", in: root,
            """
            #!/bin/sh
            echo "adduser $*" >> /\(callLog)
            for name; do :; done
            echo "$name:x:999:999::/var/lib/$name:/usr/sbin/nologin" >> /etc/passwd
            echo "$name:x:999:" >> /etc/group

            """)
    }

    static func calls(in root: URL) -> [String] {
        let text = (try? String(contentsOf: root.appendingPathComponent(callLog), encoding: .utf8)) ?? ""
        return text.split(separator: "\n").map(String.init)
    }

    static func clearCalls(in root: URL) {
        try? Data().write(to: root.appendingPathComponent(callLog))
    }

    static func passwdNames(in root: URL) throws -> [String] {
        try String(contentsOf: root.appendingPathComponent("etc/passwd"), encoding: .utf8)
            .split(separator: "\n").compactMap { $0.split(separator: ":").first.map(String.init) }
    }

    /// Copies a program and every library `ldd` names for it to the same paths under `root`,
    /// as plain files (the host's symlinks would point outside the root).
    private static func copyWithLibraries(_ program: URL, into root: URL) throws {
        let ldd = try ProcessLauncher.run(URL(fileURLWithPath: "/usr/bin/ldd"), [program.path])
        try #require(ldd.status == 0, "\(ldd.summary)")
        var paths = [program.path]
        for line in ldd.stdoutText.split(separator: "\n") {
            // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" or "/lib64/ld-linux-x86-64.so.2 (0x...)"
            let text = line.trimmingCharacters(in: .whitespaces)
            let path = text.contains("=>") ? text.components(separatedBy: "=> ").last ?? "" : text
            if path.hasPrefix("/") { paths.append(String(path.prefix { $0 != " " })) }
        }
        for path in paths {
            let destination = root.appendingPathComponent(String(path.dropFirst()))
            if FileManager.default.fileExists(atPath: destination.path) { continue }
            try FileManager.default.createDirectory(
                at: destination.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(contentsOf: URL(fileURLWithPath: path).resolvingSymlinksInPath()).write(to: destination)
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: destination.path)
        }
    }

    private static func writeScript(_ path: String, in root: URL, _ text: String) throws {
        let url = root.appendingPathComponent(path)
        try text.write(to: url, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: url.path)
    }
}
