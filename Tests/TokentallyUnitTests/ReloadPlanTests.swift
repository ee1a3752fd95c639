import Testing

@testable import TokentallyConfiguration
@testable import TokentallyCounting
@testable import TokentallyDaemon
@testable import TokentallyReading

/// What a reload changes, from the old and the new configuration alone.
@Suite struct ReloadPlanTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var edit: @Sendable (inout Configuration) -> Void
        var changes: ReloadPlan.Changes
        var testDescription: String { name }
    }

    private static var base: Configuration {
        var configuration = Configuration()
        configuration.inputs = [InputConfiguration(path: "/var/log/gw/access.log*")]
        return configuration
    }

    static let cases: [Case] = [
        Case(name: "nothing", edit: { _ in }, changes: []),
        Case(
            name: "an input added",
            edit: { $0.inputs.append(InputConfiguration(path: "/var/log/other/*.log", format: "litellm")) },
            changes: .inputs),
        Case(name: "an input's format", edit: { $0.inputs[0].format = "kong" }, changes: .inputs),
        Case(name: "an input's redaction", edit: { $0.inputs[0].redactKeys = .hash }, changes: .inputs),
        Case(name: "an input's naive time zone", edit: { $0.inputs[0].naiveTimezone = "local" }, changes: .inputs),
        Case(name: "the line limit", edit: { $0.limits.maxLineBytes = 4_096 }, changes: .limits),
        Case(name: "the series limit", edit: { $0.limits.maxSeries = 10 }, changes: .limits),
        Case(name: "retention", edit: { $0.retention.days = 3 }, changes: .retention),
        Case(name: "the snapshot directory", edit: { $0.snapshot.directory = "/srv/snap" }, changes: .snapshotOutput),
        Case(name: "the snapshot file mode", edit: { $0.snapshot.fileMode = 0o644 }, changes: .snapshotOutput),
        Case(name: "the host", edit: { $0.host = "gw-2" }, changes: .snapshotOutput),
        Case(name: "the highlights", edit: { $0.highlights.minRequests = 1 }, changes: .snapshotOutput),
        Case(name: "the snapshot interval", edit: { $0.snapshot.intervalSeconds = 60 }, changes: .intervals),
        Case(name: "the commit interval", edit: { $0.state.commitIntervalSeconds = 30 }, changes: .intervals),
        Case(name: "the journal", edit: { $0.journal.top = 3 }, changes: .journal),
        Case(
            name: "a user format",
            edit: { $0.formats["mine"] = FormatPreset.litellm.mapping }, changes: .formats),
        Case(
            name: "several at once",
            edit: {
                $0.retention.weeks = 4
                $0.journal.enabled = false
                $0.inputs = []
            }, changes: [.retention, .journal, .inputs]),
    ]

    @Test(arguments: cases)
    func changes(_ test: Case) {
        var new = Self.base
        test.edit(&new)
        #expect(ReloadPlan(from: Self.base, to: new).outcome == .apply(test.changes))
    }

    @Test(arguments: [
        ("timezone", "timezone cannot change while running"),
        ("state", "state.directory cannot change while running"),
        ("secret", "secret_pattern cannot change while running"),
    ])
    func settingsThatCannotChangeWhileRunningAreRefused(setting: String, message: String) {
        var new = Self.base
        switch setting {
        case "timezone": new.timezone = "Europe/Berlin"
        case "state": new.state.directory = "/elsewhere"
        default: new.secretPattern = "^key-"
        }
        // Refused even with other, appliable changes alongside.
        new.retention.days = 2
        guard case .refuse(let problem) = ReloadPlan(from: Self.base, to: new).outcome else {
            Issue.record("\(setting) was not refused")
            return
        }
        #expect(problem.hasPrefix(message))
    }
}
