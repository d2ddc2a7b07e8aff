import MQTT
import NIOCore
import Testing

/// The PUBLISH fixed-header flags and topic name rules.
@Suite struct PublishValidationTests {
    /// MQTT-3.3.1-4: a PUBLISH with both QoS bits set is malformed, whatever DUP and RETAIN say.
    @Test(arguments: [0x36, 0x37, 0x3E, 0x3F] as [UInt8])
    func qos3IsMalformed(_ first: UInt8) {
        let bytes = Wire.packet(first, Wire.string("t"), Wire.uint16(1))
        expectDecodingError(bytes, version: .v3_1_1, .invalidQoS, .malformedPacket)
        expectDecodingError(bytes, version: .v5, .invalidQoS, .malformedPacket)
    }

    /// MQTT-3.3.1-2: DUP is 0 on every QoS 0 message.
    @Test func duplicateFlagOnQoS0IsMalformed() {
        expectDecodingError(Wire.packet(0x38, Wire.string("t")), version: .v3_1_1, .duplicateFlagOnQoS0, .malformedPacket)
        expectDecodingError(Wire.packet(0x39, Wire.string("t"), [0x00]), version: .v5, .duplicateFlagOnQoS0, .malformedPacket)
    }

    @Test func duplicateAndRetainFlagsOnQoS1And2AreRead() throws {
        let packet = try decodePacket(Wire.packet(0x3D, Wire.string("t"), Wire.uint16(9), [0x70]), version: .v3_1_1)
        #expect(packet == .publish(PublishPacket(
            topic: "t", payload: ByteBuffer(bytes: [0x70]), qos: .exactlyOnce, retain: true, duplicate: true,
            packetIdentifier: 9)))
    }

    /// MQTT-3.3.2-2: the topic name of a PUBLISH holds no wildcard.
    @Test(arguments: ["+", "#", "a/+", "a/#", "a/b+", "sport/tennis/#"])
    func aWildcardInTheTopicNameIsInvalid(_ topic: String) {
        expectDecodingError(Wire.packet(0x30, Wire.string(topic)), version: .v3_1_1, .invalidTopicName, .topicNameInvalid)
        expectDecodingError(Wire.packet(0x30, Wire.string(topic), [0x00]), version: .v5, .invalidTopicName, .topicNameInvalid)
    }

    /// MQTT-4.7.3-1 (topic names are at least one character) in 3.1.1; in 5.0, 3.3.2.3.4: "It is a Protocol
    /// Error if the Topic Name is zero length and there is no Topic Alias".
    @Test func anEmptyTopicWithoutATopicAliasIsAProtocolError() {
        expectDecodingError(Wire.packet(0x30, Wire.string("")), version: .v3_1_1, .missingTopicName, .protocolError)
        expectDecodingError(Wire.packet(0x30, Wire.string(""), [0x00]), version: .v5, .missingTopicName, .protocolError)
        expectDecodingError(
            Wire.packet(0x30, Wire.string(""), Wire.properties([0x26] + Wire.string("k") + Wire.string("v"))), version: .v5,
            .missingTopicName, .protocolError)
    }

    @Test func anEmptyTopicWithATopicAliasIsAccepted() throws {
        let packet = try decodePacket(Wire.packet(0x30, Wire.string(""), Wire.properties([0x23, 0x00, 0x05]), [0x68]), version: .v5)
        #expect(packet == .publish(PublishPacket(topic: "", payload: ByteBuffer(bytes: [0x68]), properties: [.topicAlias(5)])))
    }

    /// A Topic Alias may also come with a topic name, which the receiver then maps it to.
    @Test func aTopicNameWithATopicAliasIsAccepted() throws {
        let packet = try decodePacket(Wire.packet(0x30, Wire.string("a/b"), Wire.properties([0x23, 0x00, 0x05])), version: .v5)
        #expect(packet == .publish(PublishPacket(topic: "a/b", payload: ByteBuffer(), properties: [.topicAlias(5)])))
    }
}
