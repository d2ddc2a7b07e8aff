/// A persistent session as stored, with everything that belongs to it.
public struct StoredSession: Sendable, Hashable {
    /// The client identifier the session belongs to, compared by its bytes.
    public var clientIdentifier: String
    /// Seconds the session outlives its connection; `UInt32.max` never expires.
    public var expiryInterval: UInt32
    /// When the session ends; nil when it was connected when last stored (its expiry then counts from the
    /// broker's start) or never expires.
    public var expiresAt: WallClockTime?
    /// Every subscription of the session, shared ones included.
    public var subscriptions: [StoredSubscription]
    /// In the order they were routed to the session.
    public var deliveries: [StoredDelivery]
    /// Packet identifiers of QoS 2 messages received from the client and awaiting its PUBREL.
    public var receivedQoS2: [UInt16]
    /// The will not yet published or discarded.
    public var will: StoredWill?

    /// A stored session with nothing in it unless given.
    public init(
        clientIdentifier: String, expiryInterval: UInt32, expiresAt: WallClockTime? = nil,
        subscriptions: [StoredSubscription] = [], deliveries: [StoredDelivery] = [], receivedQoS2: [UInt16] = [],
        will: StoredWill? = nil
    ) {
        self.clientIdentifier = clientIdentifier
        self.expiryInterval = expiryInterval
        self.expiresAt = expiresAt
        self.subscriptions = subscriptions
        self.deliveries = deliveries
        self.receivedQoS2 = receivedQoS2
        self.will = will
    }
}
