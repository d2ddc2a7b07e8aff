/// Why a message was not delivered to a subscriber.
enum DropReason: Sendable {
    /// The session's queue was full: its client away, or behind its window.
    case queueFull
    /// A QoS 0 message to a client that is not reading what it is sent.
    case slowClient
    /// Larger than the client's Maximum Packet Size (MQTT-3.1.2-25).
    case tooLarge
    /// Its Message Expiry Interval passed before it could be sent (MQTT-3.3.2-5).
    case expired

    var description: String {
        switch self {
        case .queueFull: "its queue is full"
        case .slowClient: "the client is not reading (QoS 0)"
        case .tooLarge: "larger than the client's Maximum Packet Size"
        case .expired: "the message expired before it could be sent"
        }
    }
}

/// Messages not delivered to a subscriber, by reason.
public struct MessageDrops: Sendable, Hashable {
    /// The subscriber's queue was full (`Limits.maximumQueuedMessages`): its client away, or behind its window.
    public var queueFull: UInt64 = 0
    /// QoS 0 messages to a client not reading what it is sent (`Limits.maximumOutboundBytes`).
    public var slowClient: UInt64 = 0
    /// Larger than the client's Maximum Packet Size.
    public var tooLarge: UInt64 = 0
    /// Expired before they could be sent.
    public var expired: UInt64 = 0

    /// All counters at zero.
    public init() {}

    /// Drops for every reason together (the sum wraps rather than traps on overflow).
    public var total: UInt64 { queueFull &+ slowClient &+ tooLarge &+ expired }

    mutating func count(_ reason: DropReason) {
        switch reason {
        case .queueFull: queueFull &+= 1
        case .slowClient: slowClient &+= 1
        case .tooLarge: tooLarge &+= 1
        case .expired: expired &+= 1
        }
    }

    static func + (lhs: MessageDrops, rhs: MessageDrops) -> MessageDrops {
        var sum = lhs
        sum.queueFull &+= rhs.queueFull
        sum.slowClient &+= rhs.slowClient
        sum.tooLarge &+= rhs.tooLarge
        sum.expired &+= rhs.expired
        return sum
    }
}
