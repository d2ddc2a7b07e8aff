import MQTT
import NIOCore
import NIOEmbedded
import Testing

/// What the encoder refuses to write: values the wire format cannot carry. Writing them anyway would give a
/// packet that decodes to something else, so these throw and leave the output buffer as it was.
@Suite struct EncodingValidationTests {
    static let tooLong = String(repeating: "a", count: 65_536)
    static let tooLongData = ByteBuffer(repeating: 0x61, count: 65_536)

    static func connect(
        _ version: ProtocolVersion = .v3_1_1, userName: String? = nil, password: ByteBuffer? = nil,
        will: ConnectPacket.Will? = nil, clientIdentifier: String = "id"
    ) -> Packet {
        .connect(ConnectPacket(
            protocolVersion: version, clientIdentifier: clientIdentifier, userName: userName, password: password, will: will))
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var field: String
        var packet: Packet
        var version: ProtocolVersion
        var testDescription: String { "\(field) in \(version)" }

        init(_ field: String, _ packet: Packet, _ version: ProtocolVersion) {
            self.field = field
            self.packet = packet
            self.version = version
        }
    }

    static func publish(topic: String = "t", properties: Properties = []) -> Packet {
        .publish(PublishPacket(topic: topic, payload: ByteBuffer(), properties: properties))
    }

    /// Strings and binary data carry a two-byte length (1.5.4, 1.5.6): 65,535 bytes at most. Written with a
    /// truncated length, a 65,536-byte topic would reach the receiver as an empty topic with the name in the payload.
    @Test(arguments: [
        Case("PUBLISH topic", publish(topic: tooLong), .v3_1_1),
        Case("client identifier", connect(clientIdentifier: tooLong), .v3_1_1),
        Case("user name", connect(userName: tooLong), .v3_1_1),
        Case("password", connect(userName: "u", password: tooLongData), .v3_1_1),
        Case("will topic", connect(will: .init(topic: tooLong, payload: ByteBuffer())), .v3_1_1),
        Case("will payload", connect(will: .init(topic: "w", payload: tooLongData)), .v3_1_1),
        Case("SUBSCRIBE topic filter", .subscribe(SubscribePacket(packetIdentifier: 1, subscriptions: [.init(topicFilter: tooLong, qos: .atMostOnce)])), .v3_1_1),
        Case("UNSUBSCRIBE topic filter", .unsubscribe(UnsubscribePacket(packetIdentifier: 1, topicFilters: ["a", tooLong])), .v5),
        Case("user property name", publish(properties: [.userProperty(tooLong, "v")]), .v5),
        Case("user property value", publish(properties: [.userProperty("k", tooLong)]), .v5),
        Case("content type", publish(properties: [.contentType(tooLong)]), .v5),
        Case("correlation data", publish(properties: [.correlationData(tooLongData)]), .v5),
        Case("will property", connect(.v5, will: .init(topic: "w", payload: ByteBuffer(), properties: [.responseTopic(tooLong)])), .v5),
        Case("reason string", .pubAck(AcknowledgementPacket(packetIdentifier: 1, reasonCode: .success, properties: [.reasonString(tooLong)])), .v5),
        Case("authentication data", .auth(AuthPacket(reasonCode: .continueAuthentication, properties: [.authenticationMethod("m"), .authenticationData(tooLongData)])), .v5),
        Case("DISCONNECT server reference", .disconnect(DisconnectPacket(reasonCode: .serverMoved, properties: [.serverReference(tooLong)])), .v5),
    ])
    func fieldsLongerThan65535BytesAreRefused(_ testCase: Case) {
        var buffer = ByteBuffer(bytes: [0x01, 0x02])
        #expect(throws: MQTTError(.fieldTooLong(length: 65_536))) { try testCase.packet.write(to: &buffer, version: testCase.version) }
        #expect(buffer == ByteBuffer(bytes: [0x01, 0x02]), "a refused packet leaves no partial bytes behind")
    }

    @Test func fieldsOf65535BytesRoundTrip() throws {
        let longest = String(repeating: "a", count: 65_535)
        let packet = Self.publish(topic: longest, properties: [.correlationData(ByteBuffer(repeating: 1, count: 65_535)), .userProperty(longest, longest)])
        var encoded = try packet.encoded(version: .v5)
        var decoder = PacketDecoder(version: .v5)
        #expect(try decoder.decode(buffer: &encoded) == packet)
    }

    /// A Subscription Identifier is 1 to 268,435,455 (3.8.2.1.2): the most a variable byte integer holds.
    @Test(arguments: [0, -1, 268_435_456, Int.max])
    func aSubscriptionIdentifierOutsideItsRangeIsRefused(_ value: Int) {
        let subscribe = Packet.subscribe(SubscribePacket(
            packetIdentifier: 1, subscriptions: [.init(topicFilter: "a", qos: .atMostOnce)], properties: [.subscriptionIdentifier(value)]))
        #expect(throws: MQTTError(.invalidPropertyValue(identifier: 0x0B))) { try subscribe.encoded(version: .v5) }
        #expect(throws: MQTTError(.invalidPropertyValue(identifier: 0x0B))) {
            try Self.publish(properties: [.subscriptionIdentifier(value)]).encoded(version: .v5)
        }
    }

    /// Through a channel the refusal fails the write instead of sending bytes. (`MessageToByteHandler` then
    /// fails every later write too: an encoding error ends the connection.)
    @Test func theChannelEncoderFailsTheWrite() throws {
        let channel = EmbeddedChannel(handler: MessageToByteHandler(PacketEncoder(version: .v3_1_1)))
        #expect(throws: MQTTError(.fieldTooLong(length: 65_536))) { try channel.writeOutbound(Self.publish(topic: Self.tooLong)) }
        #expect(try channel.readOutbound(as: ByteBuffer.self) == nil)
        _ = try? channel.finish()
    }
}
