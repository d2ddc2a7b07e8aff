/// Why a message was not delivered to a subscriber.
enum DropReason: Sendable {
    /// The session's queue held as many messages as it may: its client away, or behind its window.
    case queueFull
    /// The session's queue held as many payload bytes as it may (`Limits.maximumQueuedBytes`).
    case queueBytesFull
    /// Larger than the client's Maximum Packet Size (MQTT-3.1.2-25).
    case tooLarge
    /// Its Message Expiry Interval passed before it could be sent (MQTT-3.3.2-5).
    case expired

    var description: String {
        switch self {
        case .queueFull: "its queue is full"
        case .queueBytesFull: "its queue holds its maximum of bytes"
        case .tooLarge: "larger than the client's Maximum Packet Size"
        case .expired: "the message expired before it could be sent"
        }
    }
}

/// Messages not delivered to a subscriber, by reason. A subscriber that is slow to read is not a reason of
/// its own: what its socket does not take waits in its session's queue, within the queue's limits.
public struct MessageDrops: Sendable, Hashable {
    /// The subscriber's queue held its maximum of messages (`Limits.maximumQueuedMessages` while its client is
    /// away, `FlowControl.maximumQueued` while connected).
    public var queueFull: UInt64 = 0
    /// The subscriber's queue held its maximum of payload bytes (`Limits.maximumQueuedBytes`).
    public var queueBytesFull: UInt64 = 0
    /// Larger than the client's Maximum Packet Size.
    public var tooLarge: UInt64 = 0
    /// Expired before they could be sent.
    public var expired: UInt64 = 0

    /// All counters at zero.
    public init() {}

    /// Drops for every reason together (the sum wraps rather than traps on overflow).
    public var total: UInt64 { queueFull &+ queueBytesFull &+ tooLarge &+ expired }

    mutating func count(_ reason: DropReason) {
        switch reason {
        case .queueFull: queueFull &+= 1
        case .queueBytesFull: queueBytesFull &+= 1
        case .tooLarge: tooLarge &+= 1
        case .expired: expired &+= 1
        }
    }

    static func + (lhs: MessageDrops, rhs: MessageDrops) -> MessageDrops {
        var sum = lhs
        sum.queueFull &+= rhs.queueFull
        sum.queueBytesFull &+= rhs.queueBytesFull
        sum.tooLarge &+= rhs.tooLarge
        sum.expired &+= rhs.expired
        return sum
    }
}
