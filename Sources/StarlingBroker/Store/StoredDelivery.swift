import MQTT

/// A QoS 1 or 2 message on its way to one stored session.
public struct StoredDelivery: Sendable, Hashable {
    /// The delivery's number in its session: never 0, rising in the order deliveries were recorded (after a restart
    /// it resumes 32,768 past the highest stored). It orders the session's deliveries and names the packet identifier
    /// the delivery is sent with, `(sequence - 1) % 65,535 + 1`, so that a delivery resent after a restart carries
    /// the identifier the client may already hold. `deliveryReleased` and `deliveryRemoved` name the delivery by it.
    public var sequence: UInt64
    /// The message as published, with its own QoS and RETAIN flag.
    public var message: StoredMessage
    /// The QoS it is delivered at: the lower of the message's and the subscription's maximum (MQTT-3.8.4-8).
    public var qos: QoS
    /// The RETAIN flag the subscriber receives: the published one with Retain As Published, set for a retained
    /// message sent because the client subscribed, clear otherwise.
    public var retain: Bool
    /// The Subscription Identifiers of the subscriptions it matched, sent with it to a 5.0 client (3.3.4).
    public var subscriptionIdentifiers: [Int]
    /// The shared subscription it came by, as its `$share/` topic filter; nil for an ordinary subscription.
    public var share: String?
    /// PUBREC arrived and PUBREL was sent: after a restart the delivery stays in flight waiting for PUBCOMP, where
    /// any other is queued to be sent again.
    public var released: Bool

    /// A delivery not yet released, by no subscription identifier or shared subscription unless given.
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
