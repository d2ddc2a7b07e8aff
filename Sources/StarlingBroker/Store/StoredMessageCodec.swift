import MQTT
import NIOCore

/// A stored message's topic, payload, QoS, RETAIN and properties are kept as the 5.0 PUBLISH packet that carries
/// them: the wire codec already reads and writes every property, so a store needs no format of its own.
public enum StoredMessageCodec {
    /// Stored bytes that are not a 5.0 PUBLISH packet.
    public struct NotAMessage: Error {}

    /// The message as a 5.0 PUBLISH packet; the publisher and expiry are not in it.
    public static func encode(_ message: StoredMessage) throws -> ByteBuffer {
        try Packet.publish(PublishPacket(
            topic: message.topic, payload: message.payload, qos: message.qos, retain: message.retain,
            packetIdentifier: message.qos == .atMostOnce ? nil : 1, properties: message.properties)
        ).encoded(version: .v5)
    }

    /// The message `encode` made, with the publisher and expiry kept beside it.
    public static func decode(_ bytes: ByteBuffer, publisher: String?, expiresAt: WallClockTime?) throws -> StoredMessage {
        var buffer = bytes
        var decoder = PacketDecoder(version: .v5, options: DecodingOptions(utf8Policy: .wellFormed))
        guard case .publish(let publish) = try decoder.decode(buffer: &buffer) else {
            throw NotAMessage()
        }
        return StoredMessage(
            topic: publish.topic, payload: publish.payload, qos: publish.qos, retain: publish.retain,
            properties: publish.properties, publisher: publisher, expiresAt: expiresAt)
    }
}
