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
    public var millisecondsSinceEpoch: Int64

    public init(millisecondsSinceEpoch: Int64) {
        self.millisecondsSinceEpoch = millisecondsSinceEpoch
    }

    public static func now() -> WallClockTime {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return WallClockTime(millisecondsSinceEpoch: Int64(spec.tv_sec) * 1_000 + Int64(spec.tv_nsec) / 1_000_000)
    }

    public func adding(milliseconds: Int64) -> WallClockTime {
        WallClockTime(millisecondsSinceEpoch: millisecondsSinceEpoch + milliseconds)
    }

    public static func < (lhs: WallClockTime, rhs: WallClockTime) -> Bool {
        lhs.millisecondsSinceEpoch < rhs.millisecondsSinceEpoch
    }
}
