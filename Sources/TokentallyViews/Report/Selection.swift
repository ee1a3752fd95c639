/// What a view shows: a period, a bucket of it (nil: the current one, the newest that exists),
/// filters (several values each; none means all) and a tab. The same for `tokentally report`,
/// the page's query parameters and `/api/v1/report`.
public struct Selection: Sendable, Equatable {
    public enum Tab: String, Sendable, CaseIterable {
        case usage, provider, performance, all
    }

    public var period: String = "month"
    public var bucket: String?
    public var keys: [String] = []
    public var models: [String] = []
    public var providers: [String] = []
    public var tab: Tab = .all

    public init(
        period: String = "month", bucket: String? = nil, keys: [String] = [], models: [String] = [],
        providers: [String] = [], tab: Tab = .all
    ) {
        self.period = period
        self.bucket = bucket
        self.keys = keys
        self.models = models
        self.providers = providers
        self.tab = tab
    }

    public var isFiltered: Bool { !keys.isEmpty || !models.isEmpty || !providers.isEmpty }

    /// Reads query parameters (`period`, `bucket`, `key`, `model`, `provider`, `tab`, each
    /// filter repeatable), as the page and the API take them. Empty values are ignored, as a
    /// form's blank field sends them. An unknown parameter or value is an error of one line.
    public static func parse(query: [(name: String, value: String)], defaultTab: Tab = .usage) throws(SelectionError)
        -> Selection
    {
        var selection = Selection(tab: defaultTab)
        for (name, value) in query {
            switch name {
            case "period":
                guard SnapshotIndex.periods.contains(value) else {
                    throw SelectionError(message: "period must be day, week or month, not \(value)")
                }
                selection.period = value
            case "bucket": if !value.isEmpty { selection.bucket = value }
            case "key": if !value.isEmpty { selection.keys.append(value) }
            case "model": if !value.isEmpty { selection.models.append(value) }
            case "provider": if !value.isEmpty { selection.providers.append(value) }
            case "tab":
                guard let tab = Tab(rawValue: value) else {
                    throw SelectionError(message: "tab must be usage, provider, performance or all, not \(value)")
                }
                selection.tab = tab
            default:
                throw SelectionError(
                    message: "unknown query parameter \(name); use period, bucket, key, model, provider or tab")
            }
        }
        return selection
    }

    /// The selection as query parameters, in a stable order (links of the page).
    public var query: [(name: String, value: String)] {
        var items: [(String, String)] = [("period", period)]
        if let bucket { items.append(("bucket", bucket)) }
        items += keys.map { ("key", $0) } + models.map { ("model", $0) } + providers.map { ("provider", $0) }
        items.append(("tab", tab.rawValue))
        return items
    }
}

/// A selection that cannot be shown: a bad parameter, a bucket that does not exist, a filter
/// that matches nothing. One line saying what exists instead.
public struct SelectionError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}
