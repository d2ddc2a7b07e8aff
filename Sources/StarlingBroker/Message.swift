import MQTT
import NIOCore

/// An application message on its way through the broker: what a PUBLISH, a will or an in-process publish
/// carries once its transport details (packet identifier, topic alias, DUP) are stripped.
public struct Message: Sendable, Hashable {
    public var topic: String
    /// Shared, never copied, between every subscriber it is delivered to.
    public var payload: ByteBuffer
    public var qos: QoS
    public var retain: Bool
    /// The 5.0 properties forwarded to subscribers (Topic Alias and Subscription Identifiers removed).
    public var properties: Properties
    /// The client identifier of the publisher, for No Local; nil for in-process publishes.
    public var publisher: String?
    /// When the Message Expiry Interval runs out, if it has one.
    public var expiry: NIODeadline?

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
