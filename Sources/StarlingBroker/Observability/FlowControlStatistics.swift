/// What flow control did (see `FlowControl`), in `BrokerStatistics.flowControl` and under
/// `$SYS/broker/flow-control/`.
public struct FlowControlStatistics: Sendable, Hashable {
    /// Times a connected session's queue reached the high water mark.
    public var congestions: UInt64 = 0
    /// Times a connection's PUBLISH packets started waiting for a congested session.
    public var publishersSlowed: UInt64 = 0
    /// Times a slowed connection had `FlowControl.maximumWithheldAcknowledgements` withheld and its socket
    /// stopped being read.
    public var readingStopped: UInt64 = 0
    /// Times a connection did not wait for a congested session, or stopped waiting, as its own session was
    /// congested too (see `FlowControl`): the queue it feeds then grows past the high water mark, up to
    /// `FlowControl.maximumQueued`.
    public var waitsSkipped: UInt64 = 0
    /// Connections closed as their client stayed congested for `Limits.drainTimeout` without acknowledging anything.
    public var stalledSubscribersClosed: UInt64 = 0

    /// All counters at zero.
    public init() {}

    static func + (lhs: FlowControlStatistics, rhs: FlowControlStatistics) -> FlowControlStatistics {
        var sum = lhs
        sum.congestions &+= rhs.congestions
        sum.publishersSlowed &+= rhs.publishersSlowed
        sum.readingStopped &+= rhs.readingStopped
        sum.waitsSkipped &+= rhs.waitsSkipped
        sum.stalledSubscribersClosed &+= rhs.stalledSubscribersClosed
        return sum
    }
}
