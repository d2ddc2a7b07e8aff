import MQTT
import NIOCore

/// An application message as stored: its expiry is a wall-clock time, so that it keeps counting while the broker
/// is down.
public struct StoredMessage: Sendable, Hashable {
    public var topic: String
    public var payload: ByteBuffer
    public var qos: QoS
    public var retain: Bool
    public var properties: Properties
    public var publisher: String?
    public var expiresAt: WallClockTime?

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
