import TokentallySystem

/// The figures of one selection: what the three tabs show, for every view (the terminal
/// table, JSON, CSV, the page). Counters under a filter are sums of the bucket's `series` rows,
/// exact; quantiles are the snapshot's own, shown only where the selection is exactly one of
/// the snapshot's rollups (the snapshot has no quantiles per key, and quantiles of several
/// rollups do not add up).
public struct Report: Sendable {
    public var selection: Selection
    public var period: String
    public var bucket: String
    public var start: String
    public var end: String
    public var timezone: String
    public var hosts: [(name: String, generatedAt: String)]
    /// The labels that exist for the period, oldest first (the page's bucket menu).
    public var buckets: [String]
    /// The names of the bucket, for the page's filters.
    public var keyNames: [String]
    public var modelNames: [String]
    public var providerNames: [String]

    public var totals: Counters
    /// Sorted by name.
    public var byModel: [(name: String, counters: Counters)]
    public var byProvider: [(name: String, counters: Counters)]
    public var byKey: [(name: String, counters: Counters)]
    /// The selection's series rows, most requests first (ties by key, model, provider).
    public var series: [(key: String, model: String, provider: String, counters: Counters)]
    /// Each day of the bucket (one for a day), oldest first.
    public var days: [Day]

    public var primaryProvider: String?
    public var providerCount: Int
    /// The candidate provider with the lowest latency p50; nil when none, or when the
    /// selection's latency per provider is not in the snapshot (a key or model filter).
    public var fastestProvider: String?
    public var performance: PerformanceView
    /// The files the report was made from, with the versions of the bytes read (for caching
    /// what is rendered from it: `RenderCache`).
    public var sources: [(file: String, version: SnapshotDirectory.Version?)] = []

    public struct Day: Sendable {
        public var bucket: String
        /// Whether the day's file exists (a day before retention, or still to come, has none).
        public var present: Bool
        public var counters: Counters
    }

    /// Latency, TTFT and throughput of the selection, where the snapshot has them exactly.
    public struct PerformanceView: Sendable {
        /// False under a key filter: the snapshot keeps no quantiles per key.
        public var available: Bool
        /// Why some or all figures are missing, for the page and the table; nil when none is.
        public var note: String?
        /// The selection's distributions when it is one rollup of the snapshot, else nil.
        public var totals: Performance?
        /// Per model, when exact (no provider filter, or one provider).
        public var byModel: [(name: String, performance: Performance, requests: UInt64)]
        /// Per (model, provider) pair of the selection.
        public var byModelProvider: [(model: String, provider: String, performance: Performance, requests: UInt64)]
        public var fastestRequest: HighlightedRequest?
        public var slowestRequest: HighlightedRequest?
        public var fastestModel: String?
        public var slowestModel: String?
        public var highestThroughputModel: String?
        public var lowestThroughputModel: String?
        public var minRequests: UInt64
    }
}

extension Report {
    /// Builds the report of `selection` from `directory`; a bucket that does not exist or a
    /// filter value that matches nothing is a `SelectionError` naming what exists.
    public static func build(_ selection: Selection, from directory: SnapshotDirectory) throws -> Report {
        let index = try directory.index()
        guard SnapshotIndex.periods.contains(selection.period) else {
            throw SelectionError(message: "period must be day, week or month, not \(selection.period)")
        }
        let labels = index.buckets[selection.period] ?? []
        guard let newest = labels.last else {
            throw SelectionError(
                message:
                    "\(directory.path) has no \(selection.period) bucket yet; the daemon writes one with its first snapshot"
            )
        }
        let label = selection.bucket ?? newest
        guard labels.contains(label) else {
            throw SelectionError(
                message:
                    "no \(selection.period) bucket \(label) in \(directory.path); the \(selection.period) buckets are \(listed(labels))"
            )
        }
        let file = try directory.bucket(period: selection.period, label: label)
        var read = ["\(directory.path)/index.json", "\(directory.path)/\(selection.period)/\(label).json"]
        var report = try build(selection, file: file, index: index, labels: labels) { day, rows in
            guard index.buckets["day"]?.contains(day) == true else { return nil }
            read.append("\(directory.path)/day/\(day).json")
            return try? directory.bucket(period: "day", label: day, rows: rows)
        }
        report.sources = read.map { ($0, directory.parsedVersion($0)) }
        return report
    }

    /// The report of one bucket file; `day` gives the day files of the trend (nil for a day
    /// without one).
    static func build(
        _ selection: Selection, file: BucketFile, index: SnapshotIndex, labels: [String],
        day: (String, Bool) throws -> BucketFile?
    ) throws -> Report {
        let filter = try RowFilter(selection, file: file)
        var report = Report(
            selection: selection, period: file.period, bucket: file.bucket, start: file.start, end: file.end,
            timezone: file.timezone, hosts: index.hosts, buckets: labels,
            keyNames: file.keyOrder.map { file.keyNames[Int($0)] },
            modelNames: file.modelOrder.map { file.modelNames[Int($0)] },
            providerNames: file.providerOrder.map { file.providerNames[Int($0)] }, totals: Counters(),
            byModel: [], byProvider: [], byKey: [], series: [], days: [], primaryProvider: nil, providerCount: 0,
            fastestProvider: nil,
            performance: PerformanceView(
                available: true, note: nil, totals: nil, byModel: [], byModelProvider: [], minRequests: file.minRequests
            ))

        var byModel = [Counters](repeating: Counters(), count: file.modelNames.count)
        var byProvider = [Counters](repeating: Counters(), count: file.providerNames.count)
        var byKey = [Counters](repeating: Counters(), count: file.keyNames.count)
        var rows: [SeriesRow] = []
        for row in file.series where filter.matches(row) {
            report.totals += row.counters
            byModel[Int(row.model)] += row.counters
            byProvider[Int(row.provider)] += row.counters
            byKey[Int(row.key)] += row.counters
            rows.append(row)
        }
        if selection.isFiltered, rows.isEmpty {
            let flags = selection.query.filter { ["key", "model", "provider"].contains($0.name) }
                .map { "--\($0.name) \($0.value)" }.joined(separator: " ")
            throw SelectionError(
                message:
                    "no series of \(file.period) \(file.bucket) matches \(flags) together; each matches alone, but not with the others"
            )
        }
        /// The names with requests, in name order.
        func named(_ sums: [Counters], _ names: [String], _ order: [Int32]) -> [(name: String, counters: Counters)] {
            order.filter { sums[Int($0)].requests > 0 }.map { (names[Int($0)], sums[Int($0)]) }
        }
        report.byModel = named(byModel, file.modelNames, file.modelOrder)
        report.byProvider = named(byProvider, file.providerNames, file.providerOrder)
        report.byKey = named(byKey, file.keyNames, file.keyOrder)
        // Most requests first, ties by key, model and provider, compared by their ranks.
        rows.sort {
            if $0.counters.requests != $1.counters.requests { return $0.counters.requests > $1.counters.requests }
            let a = (file.keyRank[Int($0.key)], file.modelRank[Int($0.model)], file.providerRank[Int($0.provider)])
            let b = (file.keyRank[Int($1.key)], file.modelRank[Int($1.model)], file.providerRank[Int($1.provider)])
            return a < b
        }
        report.series = rows.map {
            (
                file.keyNames[Int($0.key)], file.modelNames[Int($0.model)], file.providerNames[Int($0.provider)],
                $0.counters
            )
        }
        if !selection.isFiltered, report.totals != file.totals.counters {
            throw SnapshotReadError(
                message:
                    "\(file.period)/\(file.bucket).json is inconsistent: its series rows do not add up to its totals")
        }

        // Provider tab.
        let primary = report.byProvider.max {
            $0.counters.requests != $1.counters.requests
                ? $0.counters.requests < $1.counters.requests : $0.name > $1.name
        }
        report.primaryProvider = primary?.name
        report.providerCount = report.byProvider.count
        report.performance = performanceView(selection, file: file, filter: filter)
        if selection.keys.isEmpty, selection.models.isEmpty {
            let candidates = file.byProvider.filter { filter.providerSelected($0.name) }
            report.fastestProvider = pick(
                candidates.map { ($0.name, $0.rollup.performance, $0.rollup.counters.requests) },
                minRequests: file.minRequests, \.latencyMs, lowest: true)
        }

        // The trend: every day of the bucket.
        for label in dayLabels(period: file.period, bucket: file.bucket) {
            if file.period == "day" {
                report.days.append(Day(bucket: label, present: true, counters: report.totals))
                continue
            }
            guard let dayFile = try day(label, selection.isFiltered) else {
                report.days.append(Day(bucket: label, present: false, counters: Counters()))
                continue
            }
            var sum = Counters()
            if selection.isFiltered {
                let dayFilter = RowFilter(lenient: selection, file: dayFile)
                for row in dayFile.series where dayFilter.matches(row) { sum += row.counters }
            } else {
                sum = dayFile.totals.counters
            }
            report.days.append(Day(bucket: label, present: true, counters: sum))
        }
        return report
    }

    private static func performanceView(_ selection: Selection, file: BucketFile, filter: RowFilter) -> PerformanceView
    {
        var view = PerformanceView(
            available: true, note: nil, totals: nil, byModel: [], byModelProvider: [], minRequests: file.minRequests)
        guard selection.keys.isEmpty else {
            view.available = false
            view.note =
                "Latency, TTFT and throughput are not kept per API key, so they are not shown under a key filter; clear the key filter to see them."
            return view
        }
        view.byModelProvider = file.byModelProvider
            .filter { filter.modelSelected($0.model) && filter.providerSelected($0.provider) }
            .map { ($0.model, $0.provider, $0.rollup.performance, $0.rollup.counters.requests) }
        let models = file.byModel.filter { filter.modelSelected($0.name) }
        var notes: [String] = []
        switch selection.providers.count {
        case 0:
            view.byModel = models.map { ($0.name, $0.rollup.performance, $0.rollup.counters.requests) }
        case 1:
            view.byModel = view.byModelProvider.sorted { $0.model < $1.model }.map {
                ($0.model, $0.performance, $0.requests)
            }
        default:
            notes.append("With several providers selected, figures are shown per model and provider.")
        }
        // The selection's own distributions: the snapshot has them when it is one rollup.
        switch (selection.models.count, selection.providers.count) {
        case (0, 0): view.totals = file.totals.performance
        case (0, 1): view.totals = file.byProvider.first { $0.name == selection.providers[0] }?.rollup.performance
        case (1, 0): view.totals = file.byModel.first { $0.name == selection.models[0] }?.rollup.performance
        case (1, 1): view.totals = view.byModelProvider.first?.performance
        default:
            notes.append(
                "Quantiles of several models or providers do not add up, so the selection's own are not shown.")
        }
        func selected(_ request: HighlightedRequest?) -> HighlightedRequest? {
            guard let request, filter.modelSelected(request.model), filter.providerSelected(request.provider) else {
                return nil
            }
            return request
        }
        view.fastestRequest = selected(file.fastestRequest)
        view.slowestRequest = selected(file.slowestRequest)
        if selection.isFiltered, view.fastestRequest == nil || view.slowestRequest == nil,
            file.fastestRequest != nil
        {
            notes.append("The bucket's fastest or slowest request is outside the filters, and no other is kept.")
        }
        let rated = view.byModel.map { ($0.name, $0.performance, $0.requests) }
        view.fastestModel = pick(rated, minRequests: file.minRequests, \.latencyMs, lowest: true)
        view.slowestModel = pick(rated, minRequests: file.minRequests, \.latencyMs, lowest: false)
        view.highestThroughputModel = pick(rated, minRequests: file.minRequests, \.throughputTPS, lowest: false)
        view.lowestThroughputModel = pick(rated, minRequests: file.minRequests, \.throughputTPS, lowest: true)
        view.note = notes.isEmpty ? nil : notes.joined(separator: " ")
        return view
    }

    /// The candidate (at least `minRequests` requests and a measured p50) with the lowest or
    /// highest p50; ties go to the name that sorts first, as the snapshot's highlights do.
    static func pick(
        _ candidates: [(String, Performance, UInt64)], minRequests: UInt64,
        _ figure: KeyPath<Performance, Distribution>,
        lowest: Bool
    ) -> String? {
        var best: (name: String, p50: Double)?
        for (name, performance, requests) in candidates where requests >= minRequests {
            guard let p50 = performance[keyPath: figure].value("p50") else { continue }
            if let current = best {
                let better = lowest ? p50 < current.p50 : p50 > current.p50
                if better || (p50 == current.p50 && name < current.name) { best = (name, p50) }
            } else {
                best = (name, p50)
            }
        }
        return best?.name
    }

    /// Every day label of a bucket: the day itself, the seven days of an ISO week, the days of
    /// a month.
    static func dayLabels(period: String, bucket: String) -> [String] {
        func label(_ days: Int64) -> String {
            let (year, month, day) = CivilCalendar.date(fromDays: days)
            return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))"
        }
        let parts = bucket.split(separator: "-")
        switch period {
        case "month":
            guard parts.count == 2, let year = Int64(parts[0]), let month = Int64(parts[1]) else { return [] }
            let first = CivilCalendar.days(year: year, month: month, day: 1)
            return (0..<CivilCalendar.daysInMonth(year: year, month: month)).map { label(first + $0) }
        case "week":
            guard parts.count == 2, let year = Int64(parts[0]), parts[1].hasPrefix("W"),
                let week = Int64(parts[1].dropFirst())
            else { return [] }
            // ISO 8601: week 1 holds January 4th; weeks start on Monday. Day 0 (1970-01-01) was
            // a Thursday, so (days + 3) mod 7 counts the days since Monday.
            let january4 = CivilCalendar.days(year: year, month: 1, day: 4)
            let sinceMonday = january4 + 3 - CivilCalendar.floorDivide(january4 + 3, 7) * 7
            let monday = january4 - sinceMonday + (week - 1) * 7
            return (0..<7).map { label(monday + $0) }
        default:
            return [bucket]
        }
    }

    private static func pad(_ value: Int64, _ width: Int) -> String {
        let text = String(value)
        return String(repeating: "0", count: max(0, width - text.count)) + text
    }

    static func listed(_ names: [String], limit: Int = 12) -> String {
        if names.count <= limit { return names.joined(separator: ", ") }
        return names.prefix(limit).joined(separator: ", ") + " and \(names.count - limit) more"
    }
}

/// Which series rows a selection takes, by the ids of one bucket file's names.
struct RowFilter {
    private var keys: Set<Int32>?
    private var models: Set<Int32>?
    private var providers: Set<Int32>?
    private var modelNames: Set<String>?
    private var providerNames: Set<String>?

    /// Checks that each filter value names something in the file.
    init(_ selection: Selection, file: BucketFile) throws(SelectionError) {
        func ids(_ wanted: [String], _ names: [String], _ flag: String, _ plural: String) throws(SelectionError)
            -> Set<Int32>?
        {
            guard !wanted.isEmpty else { return nil }
            var result = Set<Int32>()
            for value in wanted {
                guard let id = names.firstIndex(of: value) else {
                    throw SelectionError(
                        message:
                            "--\(flag) \(value) matches nothing in \(file.period) \(file.bucket); its \(plural) are \(Report.listed(names.sorted()))"
                    )
                }
                result.insert(Int32(id))
            }
            return result
        }
        keys = try ids(selection.keys, file.keyNames, "key", "keys")
        models = try ids(selection.models, file.modelNames, "model", "models")
        providers = try ids(selection.providers, file.providerNames, "provider", "providers")
        modelNames = selection.models.isEmpty ? nil : Set(selection.models)
        providerNames = selection.providers.isEmpty ? nil : Set(selection.providers)
    }

    /// The same filter on another file (a day of the trend), where a value may be absent.
    init(lenient selection: Selection, file: BucketFile) {
        func ids(_ wanted: [String], _ names: [String]) -> Set<Int32>? {
            guard !wanted.isEmpty else { return nil }
            let set = Set(wanted)
            return Set(names.indices.filter { set.contains(names[$0]) }.map { Int32($0) })
        }
        keys = ids(selection.keys, file.keyNames)
        models = ids(selection.models, file.modelNames)
        providers = ids(selection.providers, file.providerNames)
        modelNames = selection.models.isEmpty ? nil : Set(selection.models)
        providerNames = selection.providers.isEmpty ? nil : Set(selection.providers)
    }

    func matches(_ row: SeriesRow) -> Bool {
        (keys?.contains(row.key) ?? true) && (models?.contains(row.model) ?? true)
            && (providers?.contains(row.provider) ?? true)
    }

    func modelSelected(_ name: String) -> Bool { modelNames?.contains(name) ?? true }
    func providerSelected(_ name: String) -> Bool { providerNames?.contains(name) ?? true }
}
