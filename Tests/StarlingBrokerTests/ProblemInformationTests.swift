import MQTT
import NIOCore
import StarlingBroker
import StarlingTesting
import Testing

/// 5.0 Reason Strings on refusals, Request Problem Information (3.1.2.11.7) and the client's Maximum Packet Size
/// (3.1.2.11.4) as they bear on them.
@Suite struct ProblemInformationTests {
    static let invalidUTF8 = PublishPacket(
        topic: "problem/t", payload: ByteBuffer(bytes: [0xFF, 0xFE]), qos: .atLeastOnce, packetIdentifier: 1,
        properties: [.payloadFormatIndicator(1)])
    static let invalidFilter = SubscribePacket(packetIdentifier: 2, subscriptions: [.init(topicFilter: "problem/#/t")])

    /// 3.4.2.2.2, 3.9.2.1.2: a failed PUBACK and a SUBACK with a failure say why in a Reason String.
    @Test func failuresCarryAReasonString() async throws {
        try await TestBroker.with { broker in
            let client = try await broker.client("client")
            try await client.send(.publish(Self.invalidUTF8))
            let ack = try await client.expectPubAck()
            #expect(ack.reasonCode == .payloadFormatInvalid)
            #expect(ack.properties.reasonString != nil)
            try await client.send(.subscribe(Self.invalidFilter))
            let subAck = try await client.expectSubAck()
            #expect(subAck.reasonCodes == [.topicFilterInvalid])
            #expect(subAck.properties.reasonString?.contains("problem/#/t") == true)
        }
    }

    /// MQTT-3.1.2-29: with Request Problem Information 0 no Reason String comes on PUBACK or SUBACK, but one may on
    /// DISCONNECT, and does.
    @Test func requestProblemInformation0LeavesThemOffAcknowledgements() async throws {
        try await Self.expectReasonStringsLeftOff(connecting: [.requestProblemInformation(false)], butOnDisconnect: true)
    }

    /// MQTT-3.4.2-2, MQTT-3.9.2-1 and MQTT-3.14.2-3: a Reason String that would take PUBACK, SUBACK or DISCONNECT
    /// past the client's Maximum Packet Size is left out; the packet itself still goes.
    @Test func reasonStringsNeverExceedTheMaximumPacketSize() async throws {
        try await Self.expectReasonStringsLeftOff(connecting: [.maximumPacketSize(24)], butOnDisconnect: false)
    }

    /// Provokes a failed PUBACK, a failed SUBACK and a DISCONNECT from a client that connected with `properties`:
    /// the acknowledgements carry no Reason String; the DISCONNECT carries one only if `butOnDisconnect`.
    static func expectReasonStringsLeftOff(connecting properties: Properties, butOnDisconnect: Bool) async throws {
        try await TestBroker.with { broker in
            let client = try await broker.client("client", properties: properties)
            try await client.send(.publish(Self.invalidUTF8))
            let ack = try await client.expectPubAck()
            #expect(ack.reasonCode == .payloadFormatInvalid)
            #expect(ack.properties.reasonString == nil)
            try await client.send(.subscribe(Self.invalidFilter))
            let subAck = try await client.expectSubAck()
            #expect(subAck.reasonCodes == [.topicFilterInvalid])
            #expect(subAck.properties.reasonString == nil)
            try await client.publish("problem/t", "x", properties: [.topicAlias(0)])
            let disconnect = try await client.expectDisconnect()
            #expect(disconnect.reasonCode == .topicAliasInvalid)
            #expect((disconnect.properties.reasonString != nil) == butOnDisconnect)
        }
    }

    /// 3.2.2.3.9 and MQTT-3.2.2-19: a refused CONNECT is told why, unless that would take CONNACK past the client's
    /// Maximum Packet Size.
    @Test(arguments: [nil, UInt32(8)])
    func refusedConnectIsToldWhy(maximumPacketSize: UInt32?) async throws {
        try await TestBroker.with { broker in
            let client = try await broker.open()
            var properties: Properties = [.authenticationMethod("unknown")]
            if let maximumPacketSize { properties.append(.maximumPacketSize(maximumPacketSize)) }
            try await client.send(.connect(ConnectPacket(protocolVersion: .v5, clientIdentifier: "client", properties: properties)))
            let connAck = try await client.expectConnAck()
            #expect(connAck.reasonCode == .badAuthenticationMethod)
            #expect((connAck.properties.reasonString != nil) == (maximumPacketSize == nil))
            try await client.expectClosed()
        }
    }
}
