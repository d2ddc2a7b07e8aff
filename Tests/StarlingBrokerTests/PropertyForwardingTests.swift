import MQTT
import NIOCore
import StarlingBroker
import StarlingTesting
import Testing

/// 5.0: what a PUBLISH carries to subscribers besides topic and payload (3.3.2.3).
@Suite struct PropertyForwardingTests {
    /// MQTT-3.3.2-4 (Payload Format Indicator), MQTT-3.3.2-15 (Response Topic), MQTT-3.3.2-16 (Correlation Data),
    /// MQTT-3.3.2-17, -18 (User Properties, in order), MQTT-3.3.2-20 (Content Type): forwarded unaltered.
    @Test func applicationPropertiesAreForwardedUnaltered() async throws {
        try await TestBroker.with { broker in
            let subscriber = try await broker.client("subscriber", version: .v5)
            try await subscriber.subscribe("props/t")
            let publisher = try await broker.client("publisher", version: .v5)
            let properties: Properties = [
                .payloadFormatIndicator(1),
                .contentType("application/json"),
                .responseTopic("props/reply"),
                .correlationData(ByteBuffer(bytes: [0, 1, 2, 255])),
                .userProperty("b", "2"),
                .userProperty("a", "1"),
                .userProperty("b", "3"),
            ]
            try await publisher.publish("props/t", "{}", properties: properties)
            let received = try await subscriber.expectPublish()
            #expect(received.properties.payloadFormatIndicator == 1)
            #expect(received.properties.contentType == "application/json")
            #expect(received.properties.responseTopic == "props/reply")
            #expect(received.properties.correlationData == ByteBuffer(bytes: [0, 1, 2, 255]))
            #expect(received.properties.userProperties.map { "\($0.key)=\($0.value)" } == ["b=2", "a=1", "b=3"])
        }
    }

    /// MQTT-3.3.2-5, -6: a message whose Message Expiry Interval ran out while queued is not delivered; one still
    /// valid goes out with the interval reduced by the time it waited. The pause is the interval itself.
    @Test func messageExpiryIsEnforcedAndCountedDown() async throws {
        try await TestBroker.with { broker in
            let persistent: Properties = [.sessionExpiryInterval(60)]
            let subscriber = try await broker.client("away", version: .v5, cleanStart: false, properties: persistent)
            try await subscriber.subscribe("exp/#", qos: .atLeastOnce)
            try await subscriber.disconnect()

            let publisher = try await broker.client("publisher", version: .v5)
            try await publisher.send(.publish(PublishPacket(
                topic: "exp/short", payload: ByteBuffer(string: "short"), qos: .atLeastOnce, packetIdentifier: 1,
                properties: [.messageExpiryInterval(1)])))
            _ = try await publisher.expectPubAck()
            try await publisher.send(.publish(PublishPacket(
                topic: "exp/long", payload: ByteBuffer(string: "long"), qos: .atLeastOnce, packetIdentifier: 2,
                properties: [.messageExpiryInterval(100)])))
            _ = try await publisher.expectPubAck()
            try await Task.sleep(for: .milliseconds(1_200))

            let back = try await broker.client("away", version: .v5, cleanStart: false, properties: persistent)
            let received = try await back.expectPublish()
            #expect(received.topic == "exp/long")
            let remaining = try #require(received.properties.messageExpiryInterval)
            #expect(remaining < 100)
            // Counted down by the time spent (1.2 s here, a few seconds on a loaded machine), not reset.
            #expect(remaining >= 90)
        }
    }

    /// MQTT-3.3.2-5 for retained messages: an expired retained message is not sent to new subscriptions.
    @Test func expiredRetainedMessagesAreNotSent() async throws {
        try await TestBroker.with { broker in
            let publisher = try await broker.client("publisher", version: .v5)
            try await publisher.send(.publish(PublishPacket(
                topic: "rexp/short", payload: ByteBuffer(string: "short"), qos: .atLeastOnce, retain: true, packetIdentifier: 1,
                properties: [.messageExpiryInterval(1)])))
            _ = try await publisher.expectPubAck()
            try await publisher.publishQoS1("rexp/long", "long", packetIdentifier: 2, retain: true)
            try await Task.sleep(for: .milliseconds(1_200))

            let subscriber = try await broker.client("late", version: .v5)
            try await subscriber.subscribe("rexp/+")
            try await publisher.publish("rexp/marker", "marker")
            #expect(try await subscriber.expectPublish().topic == "rexp/long")
            #expect(try await subscriber.expectPublish().topic == "rexp/marker")
        }
    }

    /// 3.3.1.3 with 3.8.2.1.2: retained messages sent because of a subscription carry its Subscription Identifier.
    @Test func retainedMessagesCarryTheSubscriptionIdentifier() async throws {
        try await TestBroker.with { broker in
            let publisher = try await broker.client("publisher", version: .v5)
            try await publisher.publishQoS1("rid/t", "kept", retain: true)
            let subscriber = try await broker.client("subscriber", version: .v5)
            try await subscriber.subscribe("rid/#", subscriptionIdentifier: 4_000)
            let retained = try await subscriber.expectPublish()
            #expect(retained.properties.subscriptionIdentifiers == [4_000])
        }
    }
}
