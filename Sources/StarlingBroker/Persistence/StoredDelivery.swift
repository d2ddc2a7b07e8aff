import MQTT

/// A QoS 1 or 2 message on its way to one stored session.
public struct StoredDelivery: Sendable, Hashable {
    /// Orders the session's deliveries and names the packet identifier the delivery is sent with, so that a
    /// delivery resent after a restart carries the identifier the client may already hold.
    public var sequence: UInt64
    public var message: StoredMessage
    public var qos: QoS
    public var retain: Bool
    public var subscriptionIdentifiers: [Int]
    /// The shared subscription it came by, if any.
    public var share: String?
    /// PUBREC arrived and PUBREL was sent.
    public var released: Bool

    public init(
        sequence: UInt64, message: StoredMessage, qos: QoS, retain: Bool, subscriptionIdentifiers: [Int] = [],
        share: String? = nil, released: Bool = false
    ) {
        self.sequence = sequence
        self.message = message
        self.qos = qos
        self.retain = retain
        self.subscriptionIdentifiers = subscriptionIdentifiers
        self.share = share
        self.released = released
    }
}
