#if canImport(Glibc)
    import Glibc
#endif

/// How many log files the daemon may hold open, out of the process's descriptor limit.
///
/// Following a file holds its descriptor until the file is finished. Commits, snapshot files,
/// the journal, inotify and scans (which open each candidate briefly) need descriptors too: a
/// directory of over a thousand log files at the default soft limit of 1024 made commits and
/// snapshots fail with EMFILE. So the daemon raises its soft limit to the hard one at start
/// (the unit sets `LimitNOFILE`), and keeps `reserve` descriptors out of following's reach.
public enum DescriptorBudget {
    /// Descriptors never used for followed files.
    static let reserve = 64

    /// Raises the soft `RLIMIT_NOFILE` to the hard limit; returns the soft limit then in force.
    @discardableResult
    public static func raiseSoftLimit() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1024 }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        return limit.rlim_cur == rlim_t.max ? Int.max / 2 : Int(limit.rlim_cur)
    }

    /// The soft limit now, less the reserve (at least 8).
    public static func followedFiles() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1024 - reserve }
        let soft = limit.rlim_cur == rlim_t.max ? Int.max / 2 : Int(limit.rlim_cur)
        return max(soft - reserve, 8)
    }
}
