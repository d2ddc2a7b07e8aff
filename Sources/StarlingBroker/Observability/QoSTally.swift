import MQTT

/// PUBLISH packets and their payload bytes, by QoS.
public struct QoSTally: Sendable, Hashable {
    public var atMostOnceMessages: UInt64 = 0
    public var atLeastOnceMessages: UInt64 = 0
    public var exactlyOnceMessages: UInt64 = 0
    public var atMostOncePayloadBytes: UInt64 = 0
    public var atLeastOncePayloadBytes: UInt64 = 0
    public var exactlyOncePayloadBytes: UInt64 = 0

    /// All counters at zero.
    public init() {}

    /// Messages of every QoS together (the sum wraps rather than traps on overflow).
    public var messages: UInt64 { atMostOnceMessages &+ atLeastOnceMessages &+ exactlyOnceMessages }
    /// Payload bytes of every QoS together.
    public var payloadBytes: UInt64 { atMostOncePayloadBytes &+ atLeastOncePayloadBytes &+ exactlyOncePayloadBytes }

    public func messages(_ qos: QoS) -> UInt64 {
        switch qos {
        case .atMostOnce: atMostOnceMessages
        case .atLeastOnce: atLeastOnceMessages
        case .exactlyOnce: exactlyOnceMessages
        }
    }

    public func payloadBytes(_ qos: QoS) -> UInt64 {
        switch qos {
        case .atMostOnce: atMostOncePayloadBytes
        case .atLeastOnce: atLeastOncePayloadBytes
        case .exactlyOnce: exactlyOncePayloadBytes
        }
    }

    @inline(__always)
    mutating func count(_ qos: QoS, payloadBytes: Int) {
        let bytes = UInt64(truncatingIfNeeded: payloadBytes)
        switch qos {
        case .atMostOnce:
            atMostOnceMessages &+= 1
            atMostOncePayloadBytes &+= bytes
        case .atLeastOnce:
            atLeastOnceMessages &+= 1
            atLeastOncePayloadBytes &+= bytes
        case .exactlyOnce:
            exactlyOnceMessages &+= 1
            exactlyOncePayloadBytes &+= bytes
        }
    }

    static func + (lhs: QoSTally, rhs: QoSTally) -> QoSTally {
        var sum = lhs
        sum.atMostOnceMessages &+= rhs.atMostOnceMessages
        sum.atLeastOnceMessages &+= rhs.atLeastOnceMessages
        sum.exactlyOnceMessages &+= rhs.exactlyOnceMessages
        sum.atMostOncePayloadBytes &+= rhs.atMostOncePayloadBytes
        sum.atLeastOncePayloadBytes &+= rhs.atLeastOncePayloadBytes
        sum.exactlyOncePayloadBytes &+= rhs.exactlyOncePayloadBytes
        return sum
    }
}
