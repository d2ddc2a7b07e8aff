import MQTT
import NIOCore

/// The will of a stored session, kept until it is published or discarded, so that a restart neither loses nor
/// repeats it.
public struct StoredWill: Sendable, Hashable {
    /// The Will Topic.
    public var topic: String
    /// The Will Payload.
    public var payload: ByteBuffer
    /// The Will QoS it is published at.
    public var qos: QoS
    /// Will Retain: whether it is published as a retained message.
    public var retain: Bool
    /// As the client sent them, Will Delay Interval included.
    public var properties: Properties
    /// When the will is due: set once the connection is lost and the will waits for its delay (the earlier of the
    /// Will Delay Interval and the session's end, 3.1.3.2.2). nil while the client is connected.
    public var publishAt: WallClockTime?

    /// A will at QoS 0, not retained, without properties and not yet due unless given.
    public init(
        topic: String, payload: ByteBuffer, qos: QoS = .atMostOnce, retain: Bool = false, properties: Properties = [],
        publishAt: WallClockTime? = nil
    ) {
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
        self.properties = properties
        self.publishAt = publishAt
    }
}

extension StoredWill {
    init(_ will: ConnectPacket.Will, publishAt: WallClockTime?) {
        self.init(topic: will.topic, payload: will.payload, qos: will.qos, retain: will.retain, properties: will.properties, publishAt: publishAt)
    }

    var will: ConnectPacket.Will {
        ConnectPacket.Will(topic: topic, payload: payload, qos: qos, retain: retain, properties: properties)
    }
}
