import MQTT
import NIOCore

/// An application message as stored: its expiry is a wall-clock time, so that it keeps counting while the broker
/// is down.
public struct StoredMessage: Sendable, Hashable {
    /// The topic name it was published to.
    public var topic: String
    /// The application payload.
    public var payload: ByteBuffer
    /// The QoS it was published with.
    public var qos: QoS
    /// The RETAIN flag it was published with.
    public var retain: Bool
    /// The 5.0 properties as in `Message.properties`; the Message Expiry Interval is the one published, the time
    /// left being worked out from `expiresAt` when the message is sent.
    public var properties: Properties
    /// The client identifier of the publisher, for No Local; nil for in-process publishes.
    public var publisher: String?
    /// When the Message Expiry Interval runs out; nil when the message does not expire.
    public var expiresAt: WallClockTime?

    /// A stored message, without properties, publisher or expiry unless given.
    public init(
        topic: String, payload: ByteBuffer, qos: QoS, retain: Bool, properties: Properties = [], publisher: String? = nil,
        expiresAt: WallClockTime? = nil
    ) {
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
        self.properties = properties
        self.publisher = publisher
        self.expiresAt = expiresAt
    }
}

extension StoredMessage {
    init(_ message: Message, now: NIODeadline, wallNow: WallClockTime) {
        self.init(
            topic: message.topic, payload: message.payload, qos: message.qos, retain: message.retain,
            properties: message.properties, publisher: message.publisher,
            expiresAt: message.expiry.map { wallNow.adding(milliseconds: ($0 - now).nanoseconds / 1_000_000) })
    }
}

extension Message {
    init(_ stored: StoredMessage, now: NIODeadline, wallNow: WallClockTime) {
        self.init(
            topic: stored.topic, payload: stored.payload, qos: stored.qos, retain: stored.retain,
            properties: stored.properties, publisher: stored.publisher,
            expiry: stored.expiresAt.map { now + .milliseconds($0.millisecondsSinceEpoch - wallNow.millisecondsSinceEpoch) })
    }
}
