import MQTT
import NIOCore

/// A PUBLISH as the benchmarks decode and encode it: 64 bytes of payload, no properties.
public struct PublishFixture: Sendable {
    public var name: String
    public var version: ProtocolVersion
    public var packet: Packet
    /// The packet on the wire, encoded once up front.
    public var bytes: ByteBuffer

    public init(version: ProtocolVersion, qos: QoS, topic: String) {
        let payload = ByteBuffer(repeating: 0x5A, count: 64)
        let publish = PublishPacket(topic: topic, payload: payload, qos: qos, packetIdentifier: qos == .atMostOnce ? nil : 1)
        self.version = version
        self.packet = .publish(publish)
        self.bytes = try! packet.encoded(version: version)
        let versionName = version == .v5 ? "v5" : "v3.1.1"
        self.name = "PUBLISH QoS \(qos.rawValue) \(versionName), 64 B payload, \(topic.utf8.count) B topic"
    }

    /// An 11-byte topic: Swift keeps strings of up to 15 UTF-8 bytes inline, so decoding it allocates nothing.
    public static let shortTopic = "site/7/temp"
    /// A 32-byte topic: its `String` needs heap storage, the one allocation the packet value itself requires.
    public static let longTopic = "factory/line-4/press-12/pressure"

    public static let all: [PublishFixture] = [ProtocolVersion.v3_1_1, .v5].flatMap { version in
        [QoS.atMostOnce, .atLeastOnce].flatMap { qos in
            [shortTopic, longTopic].map { PublishFixture(version: version, qos: qos, topic: $0) }
        }
    }
}
