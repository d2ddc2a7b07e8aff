#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A point in wall-clock time, in milliseconds since 1970. Stored expiries are wall-clock times because the
/// event loops' clock (uptime) restarts with the machine.
public struct WallClockTime: Sendable, Hashable, Comparable {
    /// Milliseconds since 1970-01-01 00:00:00 UTC (Unix time, leap seconds not counted).
    public var millisecondsSinceEpoch: Int64

    /// The time `millisecondsSinceEpoch` after the epoch.
    public init(millisecondsSinceEpoch: Int64) {
        self.millisecondsSinceEpoch = millisecondsSinceEpoch
    }

    /// The system's real-time clock (`CLOCK_REALTIME`) now, to the millisecond; it jumps when the clock is set.
    public static func now() -> WallClockTime {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return WallClockTime(millisecondsSinceEpoch: Int64(spec.tv_sec) * 1_000 + Int64(spec.tv_nsec) / 1_000_000)
    }

    /// This time moved `milliseconds` later (earlier when negative).
    public func adding(milliseconds: Int64) -> WallClockTime {
        WallClockTime(millisecondsSinceEpoch: millisecondsSinceEpoch + milliseconds)
    }

    /// Whether `lhs` is earlier than `rhs`.
    public static func < (lhs: WallClockTime, rhs: WallClockTime) -> Bool {
        lhs.millisecondsSinceEpoch < rhs.millisecondsSinceEpoch
    }
}
