import MQTT
import NIOCore
import StarlingBroker
import StarlingTesting
import Testing

/// 5.0 CONNACK capabilities (3.2.2.3.4, .5, .11 to .13) and how the broker holds clients to them when they are
/// configured off.
@Suite struct CapabilityTests {
    static func everythingOff(_ configuration: inout BrokerConfiguration) {
        configuration.retainAvailable = false
        configuration.wildcardSubscriptionAvailable = false
        configuration.subscriptionIdentifiersAvailable = false
        configuration.sharedSubscriptionAvailable = false
        configuration.maximumQoS = .atLeastOnce
    }

    /// MQTT-3.2.2-9 and 3.2.2.3.5, .11 to .13: what is not available is announced; an absent property means
    /// available, so a broker with everything on sends none of them.
    @Test func connAckAnnouncesWhatIsNotAvailable() async throws {
        try await TestBroker.with(Self.everythingOff) { broker in
            let properties = try await broker.connect("client").connAck.properties
            #expect(properties.maximumQoS == .atLeastOnce)
            #expect(properties.retainAvailable == false)
            #expect(properties.wildcardSubscriptionAvailable == false)
            #expect(properties.subscriptionIdentifiersAvailable == false)
            #expect(properties.sharedSubscriptionAvailable == false)
        }
        try await TestBroker.with { broker in
            let properties = try await broker.connect("client").connAck.properties
            #expect(properties.maximumQoS == nil)
            #expect(properties.retainAvailable == nil)
            #expect(properties.wildcardSubscriptionAvailable == nil)
            #expect(properties.subscriptionIdentifiersAvailable == nil)
            #expect(properties.sharedSubscriptionAvailable == nil)
        }
    }

    @Test(arguments: [QoS.atMostOnce, .atLeastOnce])
    func maximumQoSIsAnnounced(maximum: QoS) async throws {
        try await TestBroker.with({ $0.maximumQoS = maximum }) { broker in
            let connAck = try await broker.connect("client").connAck
            #expect(connAck.properties.maximumQoS == maximum)
        }
    }

    /// MQTT-3.2.2-14: a PUBLISH with RETAIN 1 after Retain Available 0 is answered with DISCONNECT 0x9A; a 3.1.1
    /// client, which could not be told, is disconnected too.
    @Test(arguments: [ProtocolVersion.v3_1_1, .v5])
    func retainedPublishIsRefused(version: ProtocolVersion) async throws {
        try await TestBroker.with({ $0.retainAvailable = false }) { broker in
            let publisher = try await broker.client("publisher", version: version)
            try await publisher.publish("kept/t", "x", retain: true)
            if version == .v5 { #expect(try await publisher.expectDisconnect().reasonCode == .retainNotSupported) }
            try await publisher.expectClosed()
        }
    }

    /// MQTT-3.2.2-13: a will with Will Retain 1 is refused with CONNACK 0x9A when retained messages are off.
    @Test func retainedWillIsRefused() async throws {
        try await TestBroker.with({ $0.retainAvailable = false }) { broker in
            let client = try await broker.open()
            let will = ConnectPacket.Will(topic: "will/t", payload: ByteBuffer(string: "gone"), qos: .atMostOnce, retain: true, properties: [])
            try await client.send(.connect(ConnectPacket(protocolVersion: .v5, clientIdentifier: "willing", cleanStart: true, keepAlive: 0, will: will)))
            let connAck = try await client.expectConnAck()
            #expect(connAck.reasonCode == .retainNotSupported)
            #expect(connAck.sessionPresent == false)
            try await client.expectClosed()
        }
    }

    /// MQTT-3.2.2-12: a will QoS above the Maximum QoS is refused with CONNACK 0x9B.
    @Test func willAboveTheMaximumQoSIsRefused() async throws {
        try await TestBroker.with({ $0.maximumQoS = .atLeastOnce }) { broker in
            let client = try await broker.open()
            let will = ConnectPacket.Will(topic: "will/t", payload: ByteBuffer(string: "gone"), qos: .exactlyOnce, retain: false, properties: [])
            try await client.send(.connect(ConnectPacket(protocolVersion: .v5, clientIdentifier: "willing", cleanStart: true, keepAlive: 0, will: will)))
            #expect(try await client.expectConnAck().reasonCode == .qosNotSupported)
            try await client.expectClosed()
        }
    }

    /// MQTT-3.2.2-11 and 3.3.1.2: a PUBLISH above the Maximum QoS is answered with DISCONNECT 0x9B.
    @Test func publishAboveTheMaximumQoSIsRefused() async throws {
        try await TestBroker.with({ $0.maximumQoS = .atLeastOnce }) { broker in
            let publisher = try await broker.client("publisher")
            try await publisher.send(.publish(PublishPacket(topic: "q/t", payload: ByteBuffer(string: "x"), qos: .exactlyOnce, packetIdentifier: 1)))
            #expect(try await publisher.expectDisconnect().reasonCode == .qosNotSupported)
            try await publisher.expectClosed()
        }
    }

    /// MQTT-3.2.2-10: SUBSCRIBE at any QoS is accepted and granted up to the Maximum QoS, and messages are
    /// delivered at that QoS at most, even one published in-process at QoS 2.
    @Test(arguments: [ProtocolVersion.v3_1_1, .v5])
    func subscriptionsAreGrantedAtMostTheMaximumQoS(version: ProtocolVersion) async throws {
        try await TestBroker.with({ $0.maximumQoS = .atLeastOnce }) { broker in
            let subscriber = try await broker.client("subscriber", version: version)
            let codes = try await subscriber.subscribe([
                ("q/two", SubscriptionOptions(qos: .exactlyOnce)), ("q/zero", SubscriptionOptions(qos: .atMostOnce)),
            ])
            #expect(codes == [.grantedQoS1, .grantedQoS0])
            await broker.broker.publish(topic: "q/two", payload: ByteBuffer(string: "x"), qos: .exactlyOnce)
            #expect(try await subscriber.expectPublish().qos == .atLeastOnce)
        }
    }

    /// 3.2.2.3.11: a wildcard subscription after Wildcard Subscription Available 0 is a Protocol Error, answered
    /// with DISCONNECT 0xA2.
    @Test func wildcardSubscriptionDisconnectsAV5Client() async throws {
        try await TestBroker.with({ $0.wildcardSubscriptionAvailable = false }) { broker in
            let client = try await broker.client("subscriber")
            try await client.send(.subscribe(SubscribePacket(packetIdentifier: 1, subscriptions: [
                .init(topicFilter: "w/exact", options: SubscriptionOptions()), .init(topicFilter: "w/#", options: SubscriptionOptions()),
            ])))
            #expect(try await client.expectDisconnect().reasonCode == .wildcardSubscriptionsNotSupported)
            try await client.expectClosed()
        }
    }

    /// 3.2.2.3.13: a shared subscription after Shared Subscription Available 0 is a Protocol Error, answered with
    /// DISCONNECT 0x9E.
    @Test func sharedSubscriptionDisconnectsAV5Client() async throws {
        try await TestBroker.with({ $0.sharedSubscriptionAvailable = false }) { broker in
            let client = try await broker.client("subscriber")
            try await client.send(.subscribe(SubscribePacket(packetIdentifier: 1, subscriptions: [
                .init(topicFilter: "$share/g/s/t", options: SubscriptionOptions()),
            ])))
            #expect(try await client.expectDisconnect().reasonCode == .sharedSubscriptionsNotSupported)
            try await client.expectClosed()
        }
    }

    /// A 3.1.1 client was told nothing, so only its subscriptions that use what is off fail (0x80); the others are
    /// granted and work.
    @Test func v311SubscriptionsUsingWhatIsOffFail() async throws {
        try await TestBroker.with(Self.everythingOff) { broker in
            let client = try await broker.client("subscriber", version: .v3_1_1)
            let codes = try await client.subscribe([
                ("off/+", SubscriptionOptions()), ("$share/g/off/t", SubscriptionOptions()), ("off/t", SubscriptionOptions()),
            ])
            #expect(codes == [.subscriptionFailure, .subscriptionFailure, .grantedQoS0])
            let publisher = try await broker.client("publisher")
            try await publisher.publish("off/t", "x")
            #expect(try await client.expectPublish().topic == "off/t")
        }
    }

    /// 3.2.2.3.12: a Subscription Identifier after Subscription Identifiers Available 0 is a Protocol Error,
    /// answered with DISCONNECT 0xA1.
    @Test func subscriptionIdentifierDisconnects() async throws {
        try await TestBroker.with({ $0.subscriptionIdentifiersAvailable = false }) { broker in
            let client = try await broker.client("subscriber")
            try await client.send(.subscribe(SubscribePacket(
                packetIdentifier: 1, subscriptions: [.init(topicFilter: "i/t", options: SubscriptionOptions())],
                properties: [.subscriptionIdentifier(7)])))
            #expect(try await client.expectDisconnect().reasonCode == .subscriptionIdentifiersNotSupported)
            try await client.expectClosed()
        }
    }
}
