import TokentallySystem
import TokentallyReading
/// How many buckets of each period are kept, counted back from the retention anchor (the
/// second-newest record's bucket: `UsageCounters`).
public struct RetentionConfiguration: Hashable, Sendable {
    public var days: Int = 62
    public var weeks: Int = 27
    public var months: Int = 25
    public init(days: Int = 62, weeks: Int = 27, months: Int = 25) {
        self.days = days
        self.weeks = weeks
        self.months = months
    }
}
