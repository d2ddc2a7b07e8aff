import MQTT
import NIOCore
import StarlingBroker
import StarlingTesting
import Testing

/// How the broker answers packets that break the protocol after CONNECT (4.8 in 3.1.1, 4.13 in 5.0): a 5.0
/// client is told the reason in DISCONNECT, then the connection is closed (5.0 MQTT-4.13.1-1).
@Suite struct ProtocolErrorTests {
    static let versions: [ProtocolVersion] = [.v3_1_1, .v5]

    struct Malformed: Sendable, CustomTestStringConvertible {
        var name: String
        var bytes: [UInt8]
        var testDescription: String { name }
    }

    static let malformed: [Malformed] = [
        // 3.1.1 MQTT-3.3.1-4, 5.0 MQTT-3.3.1-4: both QoS bits set.
        Malformed(name: "PUBLISH with QoS 3", bytes: [0x36, 0x07, 0x00, 0x01, 0x74, 0x00, 0x01, 0x00, 0x78]),
        // 3.1.1 MQTT-2.2.2-2, 5.0 MQTT-2.1.3-1: SUBSCRIBE without its reserved flags 0010.
        Malformed(name: "SUBSCRIBE with flags 0000", bytes: [0x80, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, 0x74, 0x00]),
        // 3.1.1 MQTT-1.5.3-1, 5.0 MQTT-1.5.4-1: ill-formed UTF-8 in the topic.
        Malformed(name: "topic that is not UTF-8", bytes: [0x30, 0x05, 0x00, 0x02, 0xC3, 0x28, 0x00]),
        // 5.0 MQTT-1.5.5-1 / 3.1.1 2.2.3: a remaining length of more than four bytes.
        Malformed(name: "five-byte remaining length", bytes: [0x30, 0x80, 0x80, 0x80, 0x80, 0x01]),
        // Packet type 0 is reserved.
        Malformed(name: "packet type 0", bytes: [0x00, 0x00]),
        // PINGREQ has no body.
        Malformed(name: "PINGREQ with a body", bytes: [0xC0, 0x01, 0x00]),
    ]

    /// 5.0 MQTT-4.13.1-1 and 4.13: a Malformed Packet is answered with DISCONNECT 0x81 and the connection closed;
    /// 3.1.1 (4.8, MQTT-4.8.0-1) closes without a word.
    @Test(arguments: versions, malformed)
    func malformedPacketClosesTheConnection(version: ProtocolVersion, packet: Malformed) async throws {
        try await TestBroker.with { broker in
            let client = try await broker.client("breaker", version: version)
            try await client.send(bytes: packet.bytes)
            if version == .v5 {
                #expect(try await client.expectDisconnect().reasonCode == .malformedPacket)
            }
            try await client.expectClosed()
        }
    }

    struct Violation: Sendable, CustomTestStringConvertible {
        var name: String
        var v311: [UInt8]?
        var v5: [UInt8]
        var testDescription: String { name }
    }

    /// Packets that decode but break a rule for which 5.0 names 0x82 (Protocol Error); 3.1.1 closes the connection
    /// (MQTT-4.8.0-1).
    static let violations: [Violation] = [
        // 3.1.1 MQTT-2.3.1-1, 5.0 MQTT-2.2.1-3: QoS > 0 needs a non-zero Packet Identifier.
        Violation(name: "PUBLISH QoS 1 with identifier 0", v311: [0x32, 0x05, 0x00, 0x01, 0x74, 0x00, 0x00], v5: [0x32, 0x06, 0x00, 0x01, 0x74, 0x00, 0x00, 0x00]),
        // 3.1.1 MQTT-3.8.3-3, 5.0 MQTT-3.8.3-2: SUBSCRIBE needs at least one filter.
        Violation(name: "SUBSCRIBE without filters", v311: [0x82, 0x02, 0x00, 0x01], v5: [0x82, 0x03, 0x00, 0x01, 0x00]),
        // 3.1.1 MQTT-4.7.3-1, 5.0 §3.3.2.1: a topic name is at least one character, unless a Topic Alias stands for it.
        Violation(name: "PUBLISH with an empty topic", v311: [0x30, 0x02, 0x00, 0x00], v5: [0x30, 0x03, 0x00, 0x00, 0x00]),
        // 5.0 §3.8.3.1: Retain Handling 3 is a Protocol Error.
        Violation(name: "Retain Handling 3", v311: nil, v5: [0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, 0x74, 0x30]),
        // 5.0 MQTT-3.8.3-4: No Local on a shared subscription.
        Violation(
            name: "No Local on a shared subscription", v311: nil,
            v5: [0x82, 0x10, 0x00, 0x01, 0x00, 0x00, 0x0A] + Array("$share/g/t".utf8) + [0x04]),
        // 5.0 §3.8.2.1.2: a Subscription Identifier of 0.
        Violation(name: "Subscription Identifier 0", v311: nil, v5: [0x82, 0x09, 0x00, 0x01, 0x02, 0x0B, 0x00, 0x00, 0x01, 0x74, 0x00]),
        // 5.0 §2.2.2.2: a property that may appear once, twice (Topic Alias).
        Violation(name: "repeated Topic Alias", v311: nil, v5: [0x30, 0x0B, 0x00, 0x01, 0x74, 0x06, 0x23, 0x00, 0x01, 0x23, 0x00, 0x01, 0x78]),
        // 5.0 §3.15, MQTT-4.12.0-1 area: AUTH without an Authentication Method in CONNECT. In 3.1.1 type 15 is reserved.
        Violation(name: "AUTH without authentication", v311: [0xF0, 0x00], v5: [0xF0, 0x00]),
    ]

    struct VersionedViolation: Sendable, CustomTestStringConvertible {
        var version: ProtocolVersion
        var name: String
        var bytes: [UInt8]
        var testDescription: String { "\(name) in \(version)" }
    }

    static let versionedViolations: [VersionedViolation] = violations.flatMap { violation in
        [
            violation.v311.map { VersionedViolation(version: .v3_1_1, name: violation.name, bytes: $0) },
            VersionedViolation(version: .v5, name: violation.name, bytes: violation.v5),
        ].compactMap { $0 }
    }

    /// 5.0 MQTT-4.13.1-1 and 4.13: a Protocol Error is answered with DISCONNECT 0x82 and the connection closed;
    /// 3.1.1 closes it.
    @Test(arguments: versionedViolations)
    func protocolViolationClosesTheConnection(violation: VersionedViolation) async throws {
        let version = violation.version
        let bytes = violation.bytes
        try await TestBroker.with { broker in
            let client = try await broker.client("violator", version: version)
            try await client.send(bytes: bytes)
            if version == .v5 {
                #expect(try await client.expectDisconnect().reasonCode == .protocolError)
            }
            try await client.expectClosed()
        }
    }

    /// 5.0 §3.3.4: more unacknowledged QoS 2 PUBLISH packets than the Receive Maximum in CONNACK is answered with
    /// DISCONNECT 0x93 (Receive Maximum exceeded); completing a flow makes room again.
    @Test func v5ReceiveMaximumExceededIsRefused() async throws {
        try await TestBroker.with({ $0.limits.receiveMaximum = 2 }) { broker in
            let (client, connAck) = try await broker.connect("eager", version: .v5)
            #expect(connAck.properties.receiveMaximum == 2)
            func publish(_ identifier: UInt16) -> Packet {
                .publish(PublishPacket(topic: "rm/t", payload: ByteBuffer(string: "x"), qos: .exactlyOnce, packetIdentifier: identifier))
            }
            try await client.send(publish(1))
            _ = try await client.expectPubRec()
            try await client.send(publish(2))
            _ = try await client.expectPubRec()
            try await client.send(.pubRel(AcknowledgementPacket(packetIdentifier: 1)))
            _ = try await client.expectPubComp()
            try await client.send(publish(3))
            _ = try await client.expectPubRec()
            try await client.send(publish(4))
            #expect(try await client.expectDisconnect().reasonCode == .receiveMaximumExceeded)
            try await client.expectClosed()
        }
    }

    /// A refusing DISCONNECT reaches a client that is still writing. Closing a socket with unread input resets
    /// the connection: the client's next write fails, and most clients give up there without reading the reason.
    /// So the broker closes its sending side only and reads on, discarding, for a moment. A plain socket shows
    /// it: the write after the refusal succeeds, and the DISCONNECT is there to read.
    @Test func aRefusingDisconnectReachesAClientThatIsStillWriting() async throws {
        try await TestBroker.with({ $0.limits.receiveMaximum = 2 }) { broker in
            let socket = try PlainSocket(port: broker.port)
            defer { socket.close() }
            // CONNECT 5.0, Clean Start, client "writing"; then its CONNACK.
            try socket.write([0x10, 0x14, 0x00, 0x04] + Array("MQTT".utf8) + [0x05, 0x02, 0x00, 0x00, 0x00, 0x00, 0x07] + Array("writing".utf8))
            var received = try socket.read(atLeast: 2)
            // The third QoS 2 PUBLISH ("rm/t", "x") exceeds the Receive Maximum; 200 KB of pings follow it.
            var bytes: [UInt8] = []
            for identifier: UInt8 in 1...3 {
                bytes += [0x34, 0x0A, 0x00, 0x04] + Array("rm/t".utf8) + [0x00, identifier, 0x00] + Array("x".utf8)
            }
            for _ in 0..<100_000 { bytes += [0xC0, 0x00] }
            try socket.write(bytes)
            try await broker.waitForConnectedClients(0)
            // Still writing after the broker has ended the connection.
            try socket.write([0xC0, 0x00])
            received += try socket.readToEnd()
            let packets = PlainSocket.packetTypesAndFirstBytes(received)
            #expect(packets.first?.type == 0x20)
            #expect(packets.last?.type == 0xE0)
            #expect(packets.last?.firstByte == ReasonCode.receiveMaximumExceeded.rawValue)
        }
    }

    /// 5.0 §3.14.2.2.2: a non-zero Session Expiry Interval in DISCONNECT after 0 in CONNECT is a Protocol Error;
    /// the DISCONNECT is not a valid one, so the broker answers 0x82 and the will is published.
    @Test func v5SessionExpiryOnDisconnectAfterZeroInConnectIsAProtocolError() async throws {
        try await TestBroker.with { broker in
            let watcher = try await broker.client("watcher", version: .v5)
            try await watcher.subscribe("will/t")
            let will = ConnectPacket.Will(topic: "will/t", payload: ByteBuffer(string: "bye"))
            let client = try await broker.client("short-lived", version: .v5, will: will)
            try await client.send(.disconnect(DisconnectPacket(properties: [.sessionExpiryInterval(30)])))
            #expect(try await client.expectDisconnect().reasonCode == .protocolError)
            try await client.expectClosed()
            #expect(try await watcher.expectPublish().topic == "will/t")
        }
    }

    /// 5.0 MQTT-3.3.4-6: a PUBLISH from a client must not carry a Subscription Identifier (0x82).
    @Test func v5SubscriptionIdentifierInPublishIsAProtocolError() async throws {
        try await TestBroker.with { broker in
            let client = try await broker.client("publisher", version: .v5)
            try await client.publish("t", "x", properties: [.subscriptionIdentifier(1)])
            #expect(try await client.expectDisconnect().reasonCode == .protocolError)
            try await client.expectClosed()
        }
    }

    /// 5.0 §3.3.2.3.2: a payload that is not the UTF-8 its Payload Format Indicator claims is answered with 0x99
    /// (Payload format invalid) in PUBACK or PUBREC, and not forwarded. A valid one is forwarded with the
    /// indicator unaltered (MQTT-3.3.2-4).
    @Test func v5InvalidUTF8PayloadIsRefused() async throws {
        try await TestBroker.with { broker in
            let subscriber = try await broker.client("subscriber", version: .v5)
            try await subscriber.subscribe("pfi/#")
            let publisher = try await broker.client("publisher", version: .v5)
            let invalid = ByteBuffer(bytes: [0x66, 0xFF, 0xFE])
            try await publisher.send(.publish(PublishPacket(
                topic: "pfi/t", payload: invalid, qos: .atLeastOnce, packetIdentifier: 1, properties: [.payloadFormatIndicator(1)])))
            let pubAck = try await publisher.expectPubAck()
            #expect(pubAck.packetIdentifier == 1)
            #expect(pubAck.reasonCode == .payloadFormatInvalid)
            try await publisher.send(.publish(PublishPacket(
                topic: "pfi/t", payload: invalid, qos: .exactlyOnce, packetIdentifier: 2, properties: [.payloadFormatIndicator(1)])))
            let pubRec = try await publisher.expectPubRec()
            #expect(pubRec.packetIdentifier == 2)
            #expect(pubRec.reasonCode == .payloadFormatInvalid)

            try await publisher.publish("pfi/valid", "héllo", properties: [.payloadFormatIndicator(1)])
            let valid = try await subscriber.expectPublish()
            #expect(valid.topic == "pfi/valid")
            #expect(valid.properties.payloadFormatIndicator == 1)
        }
    }

    /// 5.0 §3.2.2.3.6 and MQTT-3.2.2-15 with 4.13: CONNACK announces the Maximum Packet Size; a packet of exactly
    /// that size is accepted, a larger one is answered with DISCONNECT 0x95 (Packet too large).
    @Test func v5PacketLargerThanTheMaximumIsRefused() async throws {
        try await TestBroker.with({ $0.limits.maximumPacketSize = 1_024 }) { broker in
            let (client, connAck) = try await broker.connect("large", version: .v5)
            #expect(connAck.properties.maximumPacketSize == 1_024)
            func publish(payloadSize: Int) -> Packet {
                .publish(PublishPacket(topic: "big", payload: ByteBuffer(repeating: 0x61, count: payloadSize), qos: .atLeastOnce, packetIdentifier: 1))
            }
            var size = 1_000
            while publish(payloadSize: size).encodedSize(version: .v5) < 1_024 { size += 1 }
            #expect(publish(payloadSize: size).encodedSize(version: .v5) == 1_024)

            try await client.send(publish(payloadSize: size))
            #expect(try await client.expectPubAck().reasonCode.isFailure == false)
            try await client.send(publish(payloadSize: size + 1))
            #expect(try await client.expectDisconnect().reasonCode == .packetTooLarge)
            try await client.expectClosed()
        }
    }

    /// 4.13 with MQTT-3.2.2-15: a packet far larger than the maximum is refused from its fixed header, most of it
    /// still unread. The DISCONNECT 0x95 must still reach the client and the connection end with an orderly close:
    /// a socket closed with unread input is reset instead, and a reset can destroy the DISCONNECT on its way.
    @Test func v5HugePacketIsRefusedWithAnOrderlyClose() async throws {
        try await TestBroker.with({ $0.limits.maximumPacketSize = 1_024 }) { broker in
            let client = try await broker.client("huge", version: .v5)
            try await client.send(.publish(PublishPacket(
                topic: "big", payload: ByteBuffer(repeating: 0x61, count: 256 * 1_024), qos: .atLeastOnce, packetIdentifier: 1)))
            #expect(try await client.expectDisconnect().reasonCode == .packetTooLarge)
            try await client.expectClosed()
        }
    }

    /// 3.1.1: a packet larger than the broker accepts closes the connection.
    @Test func v311PacketLargerThanTheMaximumClosesTheConnection() async throws {
        try await TestBroker.with({ $0.limits.maximumPacketSize = 1_024 }) { broker in
            let client = try await broker.client("large", version: .v3_1_1)
            try await client.publish("big", String(repeating: "a", count: 2_000))
            try await client.expectClosed()
        }
    }

    /// 5.0 MQTT-3.1.2-24, -25: the broker sends no packet larger than the client's Maximum Packet Size; such a
    /// message is dropped for that client as if it had been delivered, and counted as too large.
    @Test func v5MessagesLargerThanTheClientMaximumAreNotSent() async throws {
        try await TestBroker.with { broker in
            let subscriber = try await broker.client("small", version: .v5, properties: [.maximumPacketSize(64)])
            try await subscriber.subscribe("size/#", qos: .atLeastOnce)
            let publisher = try await broker.client("publisher", version: .v5)
            try await publisher.publishQoS1("size/big", String(repeating: "b", count: 100))
            try await publisher.publishQoS1("size/small", "s", packetIdentifier: 2)
            let received = try await subscriber.expectPublish()
            #expect(received.topic == "size/small")
            let statistics = try await broker.broker.statistics()
            #expect(statistics.drops.tooLarge == 1)
            #expect(statistics.messagesDropped == 1)
        }
    }
}
