#if canImport(Glibc)
    import Glibc
#endif

/// Seconds on the monotonic clock, which no wall-clock change moves: for intervals and
/// deadlines, never for timestamps.
public enum MonotonicClock {
    @inline(__always)
    public static func seconds() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }
}

/// Seconds since the Unix epoch on the wall clock: for timestamps (commit times, snapshot
/// times, file records), never for intervals.
public enum WallClock {
    @inline(__always)
    public static func seconds() -> Int64 { Int64(time(nil)) }
}

/// Lets a repeated message through at most once per `interval` seconds, and counts the times it
/// held one back, so that a failure repeating every commit interval (a full disk) is said
/// clearly once and then summed, instead of flooding the journal.
public struct RateLimiter: Sendable {
    public let interval: Double
    private var lastAllowed: Double? = nil
    /// Messages held back since the last one let through.
    private(set) var suppressed: UInt64 = 0

    public init(interval: Double) {
        self.interval = interval
    }

    /// Whether to say it now (`now` is monotonic seconds). When it returns true, `suppressed`
    /// says how many were held back before it; the count starts again.
    public mutating func allow(now: Double = MonotonicClock.seconds()) -> (allowed: Bool, suppressed: UInt64) {
        if let last = lastAllowed, now - last < interval {
            suppressed &+= 1
            return (false, suppressed)
        }
        let held = suppressed
        lastAllowed = now
        suppressed = 0
        return (true, held)
    }

    /// Forgets the last message, so that the next one is said at once (after a recovery).
    public mutating func reset() {
        lastAllowed = nil
        suppressed = 0
    }
}
