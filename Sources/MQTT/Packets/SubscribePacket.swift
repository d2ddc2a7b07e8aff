import NIOCore

/// SUBSCRIBE (section 3.8).
public struct SubscribePacket: Sendable, Hashable {
    /// A non-zero identifier, not in use by another flow, that the SUBACK will carry back.
    public var packetIdentifier: UInt16
    /// The filters to subscribe to, with their options; at least one.
    public var subscriptions: [Subscription]
    /// 5.0: a Subscription Identifier and User Properties; empty in 3.1.1.
    public var properties: Properties

    /// A SUBSCRIBE of `subscriptions` under `packetIdentifier`.
    public init(packetIdentifier: UInt16, subscriptions: [Subscription], properties: Properties = []) {
        self.packetIdentifier = packetIdentifier
        self.subscriptions = subscriptions
        self.properties = properties
    }

    /// One topic filter with its options. The filter is not validated by the decoder: 5.0 answers a bad filter
    /// with SUBACK 0x8F for that filter alone, so validation belongs to the receiver (see `TopicFilter`).
    public struct Subscription: Sendable, Hashable {
        /// The filter, wildcards (`+`, `#`) and `$share/{group}/` prefix included.
        public var topicFilter: String
        /// The QoS wanted and, in 5.0, how retained and own messages are treated.
        public var options: SubscriptionOptions

        /// A subscription to `topicFilter` with `options` (QoS 0 and the defaults unless told otherwise).
        public init(topicFilter: String, options: SubscriptionOptions = SubscriptionOptions()) {
            self.topicFilter = topicFilter
            self.options = options
        }

        /// A subscription to `topicFilter` at `qos`, with the other options at their defaults.
        public init(topicFilter: String, qos: QoS) {
            self.init(topicFilter: topicFilter, options: SubscriptionOptions(qos: qos))
        }
    }

    func bodySize(version: ProtocolVersion) -> Int {
        var size = 2 + (version == .v5 ? properties.encodedSize : 0)
        for subscription in subscriptions { size += ByteBuffer.mqttStringSize(subscription.topicFilter) + 1 }
        return size
    }

    func writeBody(to buffer: inout ByteBuffer, version: ProtocolVersion) throws {
        buffer.writeInteger(packetIdentifier)
        if version == .v5 { try properties.write(to: &buffer) }
        for subscription in subscriptions {
            try buffer.writeMQTTString(subscription.topicFilter)
            buffer.writeInteger(subscription.options.byte(version: version))
        }
    }

    static func read(from buffer: inout ByteBuffer, version: ProtocolVersion, options: DecodingOptions) throws -> SubscribePacket {
        let identifier = try buffer.readMQTTUInt16()
        guard identifier != 0 else { throw MQTTError(.zeroPacketIdentifier) }
        let properties = version == .v5 ? try Properties.read(from: &buffer, context: .subscribe, packetType: 8, policy: options.utf8Policy) : []
        var subscriptions: [Subscription] = []
        while buffer.readableBytes > 0 {
            let filter = try buffer.readMQTTString(policy: options.utf8Policy)
            let subscriptionOptions = try SubscriptionOptions(byte: try buffer.readMQTTByte(), version: version)
            if subscriptionOptions.noLocal && filter.utf8.starts(with: "$share/".utf8) {
                throw MQTTError(.noLocalOnSharedSubscription)
            }
            subscriptions.append(Subscription(topicFilter: filter, options: subscriptionOptions))
        }
        guard !subscriptions.isEmpty else { throw MQTTError(.emptySubscriptionList) }
        return SubscribePacket(packetIdentifier: identifier, subscriptions: subscriptions, properties: properties)
    }
}

/// The Subscription Options byte (3.8.3.1). In 3.1/3.1.1 only the QoS is on the wire.
public struct SubscriptionOptions: Sendable, Hashable {
    /// The highest QoS the subscriber wants its messages delivered with.
    public var qos: QoS
    /// 5.0: not to be sent the messages this client publishes itself; not allowed on shared subscriptions.
    public var noLocal: Bool
    /// 5.0: to keep the retain flag of forwarded messages as published, rather than cleared.
    public var retainAsPublished: Bool
    /// 5.0: whether retained messages are sent when the subscription is made.
    public var retainHandling: RetainHandling

    /// Whether a new subscription receives the matching retained messages (5.0; 3.1.1 always sends them).
    public enum RetainHandling: UInt8, Sendable, Hashable, CaseIterable {
        /// Send retained messages at the time of the subscribe.
        case sendOnSubscribe = 0
        /// Send retained messages only if the subscription did not exist already.
        case sendOnNewSubscribe = 1
        /// Do not send retained messages.
        case doNotSend = 2
    }

    /// Options as 3.1.1 behaves by default: QoS 0, own messages received, retain flags cleared, retained sent.
    public init(qos: QoS = .atMostOnce, noLocal: Bool = false, retainAsPublished: Bool = false, retainHandling: RetainHandling = .sendOnSubscribe) {
        self.qos = qos
        self.noLocal = noLocal
        self.retainAsPublished = retainAsPublished
        self.retainHandling = retainHandling
    }

    func byte(version: ProtocolVersion) -> UInt8 {
        guard version == .v5 else { return qos.rawValue }
        return qos.rawValue | (noLocal ? 0x04 : 0) | (retainAsPublished ? 0x08 : 0) | (retainHandling.rawValue << 4)
    }

    init(byte: UInt8, version: ProtocolVersion) throws {
        // 3.1.1: the upper six bits are reserved (MQTT-3.8.3-4); 5.0: bits 6 and 7 are (MQTT-3.8.3-5).
        let reserved: UInt8 = version == .v5 ? 0xC0 : 0xFC
        guard byte & reserved == 0 else { throw MQTTError(.invalidSubscriptionOptions) }
        // 3.1.1 calls a QoS of 3 malformed (MQTT-3-8.3-4); 5.0 calls it a Protocol Error (3.8.3.1).
        guard let qos = QoS(rawValue: byte & 0x03) else {
            throw MQTTError(version == .v5 ? .invalidSubscriptionQoS : .invalidSubscriptionOptions)
        }
        guard let handling = RetainHandling(rawValue: (byte >> 4) & 0x03) else { throw MQTTError(.invalidRetainHandling) }
        self.init(qos: qos, noLocal: byte & 0x04 != 0, retainAsPublished: byte & 0x08 != 0, retainHandling: handling)
    }
}
