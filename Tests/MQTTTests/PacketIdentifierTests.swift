import MQTT
import Testing

/// MQTT-2.2.1-3 (5.0) and MQTT-2.3.1-1 (3.1.1): SUBSCRIBE, UNSUBSCRIBE and PUBLISH with QoS above 0 carry a
/// non-zero packet identifier, and so do the packets that acknowledge them.
@Suite struct PacketIdentifierTests {
    static let packetsWithIdentifierZero: [(String, [UInt8], [UInt8])] = [
        ("PUBLISH QoS 1", Wire.packet(0x32, Wire.string("t"), [0x00, 0x00]), Wire.packet(0x32, Wire.string("t"), [0x00, 0x00, 0x00])),
        ("PUBLISH QoS 2", Wire.packet(0x34, Wire.string("t"), [0x00, 0x00]), Wire.packet(0x34, Wire.string("t"), [0x00, 0x00, 0x00])),
        ("PUBACK", [0x40, 0x02, 0x00, 0x00], [0x40, 0x02, 0x00, 0x00]),
        ("PUBREC", [0x50, 0x02, 0x00, 0x00], [0x50, 0x02, 0x00, 0x00]),
        ("PUBREL", [0x62, 0x02, 0x00, 0x00], [0x62, 0x02, 0x00, 0x00]),
        ("PUBCOMP", [0x70, 0x02, 0x00, 0x00], [0x70, 0x02, 0x00, 0x00]),
        ("SUBSCRIBE", Wire.packet(0x82, [0x00, 0x00], Wire.string("a"), [0x00]), Wire.packet(0x82, [0x00, 0x00, 0x00], Wire.string("a"), [0x00])),
        ("SUBACK", [0x90, 0x03, 0x00, 0x00, 0x00], [0x90, 0x04, 0x00, 0x00, 0x00, 0x00]),
        ("UNSUBSCRIBE", Wire.packet(0xA2, [0x00, 0x00], Wire.string("a")), Wire.packet(0xA2, [0x00, 0x00, 0x00], Wire.string("a"))),
        ("UNSUBACK", [0xB0, 0x02, 0x00, 0x00], [0xB0, 0x04, 0x00, 0x00, 0x00, 0x00]),
    ]

    @Test(arguments: packetsWithIdentifierZero)
    func packetIdentifierZeroIsAProtocolError(_ name: String, _ v311: [UInt8], _ v5: [UInt8]) {
        expectDecodingError(v311, version: .v3_1_1, .zeroPacketIdentifier, .protocolError)
        expectDecodingError(v5, version: .v5, .zeroPacketIdentifier, .protocolError)
    }

    /// MQTT-2.2.1-2: a QoS 0 PUBLISH has no packet identifier, so the two bytes after the topic are payload.
    @Test func aQoS0PublishHasNoPacketIdentifier() throws {
        let packet = try decodePacket(Wire.packet(0x30, Wire.string("t"), [0x00, 0x00]), version: .v3_1_1)
        guard case .publish(let publish) = packet else { Issue.record("not a PUBLISH: \(String(describing: packet))"); return }
        #expect(publish.packetIdentifier == nil)
        #expect(publish.payload.readableBytes == 2)
    }
}
