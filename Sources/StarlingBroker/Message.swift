import MQTT
import NIOCore

/// An application message on its way through the broker: what a PUBLISH, a will or an in-process publish
/// carries once its transport details (packet identifier, topic alias, DUP) are stripped.
public struct Message: Sendable, Hashable {
    /// The topic name it is published to: a name, not a filter, so without wildcards (MQTT-3.3.2-2).
    public var topic: String
    /// Shared between every subscriber it is delivered to, not copied while it waits in their queues; a payload of
    /// 2 KiB or more is not copied into their output either, where a smaller one is encoded into each packet.
    public var payload: ByteBuffer
    /// The QoS it was published with; each subscriber receives it at no more than its subscription's maximum
    /// QoS (MQTT-3.8.4-8).
    public var qos: QoS
    /// The RETAIN flag as published: whether the broker keeps it as its topic's retained message (3.3.1.3). A
    /// subscriber sees the flag only with Retain As Published (MQTT-3.3.1-12, -13), or when the message is sent
    /// to it as a retained message because it subscribed.
    public var retain: Bool
    /// The 5.0 properties forwarded to subscribers: a client's PUBLISH's without its Topic Alias (one carrying
    /// Subscription Identifiers is refused, MQTT-3.3.4-6). Each delivery adds its own Subscription Identifiers and
    /// Topic Alias, and a Message Expiry Interval follows `expiry` (MQTT-3.3.2-6).
    public var properties: Properties
    /// The client identifier of the publisher, for No Local; nil for in-process publishes.
    public var publisher: String?
    /// When the Message Expiry Interval runs out, on the uptime clock of `NIODeadline`; nil when the message does
    /// not expire. `init` does not derive it from a Message Expiry Interval in `properties`: give both (as
    /// `MQTTBroker.publish(topic:payload:qos:retain:properties:)` does), or the message never expires.
    public var expiry: NIODeadline?
    /// Forwarded here by another node of a cluster: it goes to this node's subscribers only.
    var fromClusterNode = false

    /// A message from the embedding application: QoS 0, not retained, without properties, publisher or expiry
    /// unless given. A Topic Alias or Subscription Identifier in `properties` is dropped: those belong to one
    /// connection's packets, and each delivery sets its own.
    public init(
        topic: String, payload: ByteBuffer, qos: QoS = .atMostOnce, retain: Bool = false, properties: Properties = [],
        publisher: String? = nil, expiry: NIODeadline? = nil
    ) {
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
        self.properties = properties
        self.publisher = publisher
        self.expiry = expiry
        removeTransportProperties()
    }

    /// Drops what only a packet on one connection may carry (3.3.2.3.4, MQTT-3.3.4-6).
    mutating func removeTransportProperties() {
        guard !properties.isEmpty else { return }
        properties.remove(.topicAlias)
        properties.remove(.subscriptionIdentifier)
    }

    /// The message as it goes over a cluster link whose node is to deliver it to the groups of `shares`.
    func stamped(shares: [String]) -> Message {
        guard !shares.isEmpty else { return self }
        var stamped = self
        for share in shares { stamped.properties.append(.userProperty(clusterShareProperty, share)) }
        return stamped
    }

    /// The message without what a cluster link added to it (`clusterShareProperty`).
    func removingClusterStamps() -> Message {
        guard !properties.isEmpty else { return self }
        var message = self
        message.properties.elements.removeAll { property in
            if case .userProperty(clusterShareProperty, _) = property { return true }
            return false
        }
        return message
    }

    /// Builds the message a PUBLISH carries; `now` anchors the Message Expiry Interval, and is read only when
    /// there is one.
    init(publish: PublishPacket, topic: String, publisher: String, now: @autoclosure () -> NIODeadline) {
        var properties = publish.properties
        var expiry: NIODeadline?
        if !properties.isEmpty {
            properties.remove(.topicAlias)
            if let interval = properties.messageExpiryInterval {
                expiry = now() + .seconds(Int64(interval))
            }
        }
        self.init(
            topic: topic, payload: publish.payload, qos: publish.qos, retain: publish.retain, properties: properties,
            publisher: publisher, expiry: expiry)
    }

    /// The time to weigh this message's expiry against: the clock is read only for a message that has one, as
    /// reading it for every delivery costs the publish path a few per cent.
    var expiryClock: NIODeadline {
        expiry == nil ? .uptimeNanoseconds(0) : .now()
    }

    func isExpired(at now: NIODeadline) -> Bool {
        guard let expiry else { return false }
        return now >= expiry
    }

    /// The properties to forward at `now`: the Message Expiry Interval is reduced by the time the message
    /// waited in the broker (MQTT-3.3.2-6).
    func forwardedProperties(at now: NIODeadline) -> Properties {
        guard let expiry else { return properties }
        var forwarded = properties
        let remaining = max(0, (expiry - now).nanoseconds / 1_000_000_000)
        forwarded.set(.messageExpiryInterval(UInt32(clamping: remaining)))
        return forwarded
    }
}
