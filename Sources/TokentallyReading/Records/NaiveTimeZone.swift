import TokentallySystem
import Foundation

/// The time zone of timestamps written without an offset (LiteLLM's spend-log strings such as
/// `2025-01-24 09:20:46.847371`, which are the proxy host's local time): turns such a wall-clock
/// reading into UTC.
///
/// The offset in force is looked up once per local hour and kept, so a file of such lines costs
/// one lookup an hour of logs, not one a line. A wall-clock time that a daylight-saving change
/// skips, or repeats, is read with the offset in force just before the change (the earlier of two
/// repeated readings).
public final class NaiveTimeZone {
    /// `local` names this host's zone (`/etc/localtime`, or `TZ`).
    static let localName = "local"

    let identifier: String
    private let zone: TimeZone
    /// Local seconds `[start, start + 3600)` read with `offset`.
    @exclusivity(unchecked) private var cachedHourStart: Int64 = .min
    @exclusivity(unchecked) private var cachedOffset: Int64 = 0

    /// nil when the name is not a zone this system knows.
    public init?(identifier: String) {
        if identifier == Self.localName {
            zone = TimeZone.current
        } else {
            guard let zone = TimeZone(identifier: identifier) else { return nil }
            self.zone = zone
        }
        self.identifier = identifier
    }

    /// Whether this is UTC, where nothing needs converting.
    var isUTC: Bool { zone.secondsFromGMT() == 0 && zone.nextDaylightSavingTimeTransition == nil }

    /// UTC seconds of a wall-clock reading in this zone, given as seconds since 1970-01-01T00:00
    /// *local*.
    func utc(fromLocal local: Double) -> Double {
        let whole = Int64(local.rounded(.down))
        let hour = whole - ((whole % 3600) + 3600) % 3600
        if hour != cachedHourStart {
            cachedHourStart = hour
            cachedOffset = offset(forLocal: hour)
            // A change inside the hour: do not keep it, look it up each time.
            if offset(forLocal: hour + 3599) != cachedOffset { cachedHourStart = .min }
        }
        let offset = cachedHourStart == .min ? offset(forLocal: whole) : cachedOffset
        return local - Double(offset)
    }

    /// The offset (seconds east of UTC) that applies to a local wall-clock second.
    private func offset(forLocal local: Int64) -> Int64 {
        // The offset before the reading's own instant, then checked at the instant it gives.
        let before = Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(local - 86_400))))
        let guess = Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(local - before))))
        if guess == before { return before }
        let again = Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(local - guess))))
        // A skipped reading (spring forward) has no instant: read it with the earlier offset.
        return again == guess ? guess : before
    }
}
