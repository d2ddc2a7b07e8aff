import MQTT
import NIOCore
import StarlingBroker
import StarlingTesting
import Testing

/// Topic matching and delivery (section 4.7, 3.3.4/3.3.5 and 3.8.4 of both specifications).
///
/// That something is *not* delivered is shown without waiting: the publisher sends a marker afterwards that the
/// subscriber does receive, and since the broker keeps each publisher's messages in order (3.1.1 and 5.0
/// MQTT-4.6.0-6, every topic is an Ordered Topic) a wrongly delivered message would arrive before it.
@Suite struct RoutingTests {
    static let versions: [ProtocolVersion] = [.v3_1_1, .v5]

    /// 4.7.1.2 and 4.7.1.3: `+` matches exactly one level, `#` any number including none, and "sport/#" also
    /// matches "sport".
    @Test(arguments: versions)
    func wildcardsMatchByLevel(version: ProtocolVersion) async throws {
        try await TestBroker.with { broker in
            let single = try await broker.client("single", version: version)
            try await single.subscribe("sport/+")
            let multi = try await broker.client("multi", version: version)
            try await multi.subscribe("sport/#")
            let inner = try await broker.client("inner", version: version)
            try await inner.subscribe("+/tennis/+")

            let publisher = try await broker.client("publisher", version: version)
            for topic in ["sport", "sport/tennis", "sport/tennis/player", "sports/tennis", "other", "sport/", "/tennis/x", "sport/end"] {
                try await publisher.publish(topic, topic)
            }
            var received: [String] = []
            repeat { received.append(try await single.expectPublish().topic) } while received.last != "sport/end"
            #expect(received == ["sport/tennis", "sport/", "sport/end"])

            received = []
            repeat { received.append(try await multi.expectPublish().topic) } while received.last != "sport/end"
            #expect(received == ["sport", "sport/tennis", "sport/tennis/player", "sport/", "sport/end"])

            try await publisher.publish("x/tennis/end", "end")
            received = []
            repeat { received.append(try await inner.expectPublish().topic) } while received.last != "x/tennis/end"
            #expect(received == ["sport/tennis/player", "/tennis/x", "x/tennis/end"])
        }
    }

    /// MQTT-4.7.2-1 (both versions): filters starting with a wildcard do not match topics starting with "$",
    /// which only filters naming the "$" level do.
    @Test(arguments: versions)
    func dollarTopicsAreNotMatchedByLeadingWildcards(version: ProtocolVersion) async throws {
        try await TestBroker.with { broker in
            let wildcards = try await broker.client("wildcards", version: version)
            try await wildcards.subscribe([("#", SubscriptionOptions()), ("+/info", SubscriptionOptions())])
            let system = try await broker.client("system", version: version)
            try await system.subscribe("$SYS/#")

            let publisher = try await broker.client("publisher", version: version)
            try await publisher.publish("$SYS/info", "system")
            try await publisher.publish("app/info", "marker")

            let first = try await wildcards.expectPublish()
            #expect(first.topic == "app/info")
            let systemMessage = try await system.expectPublish()
            #expect(systemMessage.topic == "$SYS/info")
            #expect(systemMessage.payloadString == "system")
        }
    }

    /// 3.1.1 MQTT-3.3.5-1: with overlapping subscriptions the message is delivered once, at the highest QoS
    /// of the matching subscriptions.
    @Test func v311OverlappingSubscriptionsDeliverOnceAtTheHighestQoS() async throws {
        try await TestBroker.with { broker in
            let subscriber = try await broker.client("overlap", version: .v3_1_1)
            let codes = try await subscriber.subscribe([
                ("a/#", SubscriptionOptions(qos: .atMostOnce)),
                ("a/+", SubscriptionOptions(qos: .exactlyOnce)),
                ("a/b", SubscriptionOptions(qos: .atLeastOnce)),
            ])
            #expect(codes == [.grantedQoS0, .grantedQoS2, .grantedQoS1])

            let publisher = try await broker.client("publisher", version: .v3_1_1)
            try await publisher.send(.publish(PublishPacket(topic: "a/b", payload: ByteBuffer(string: "once"), qos: .exactlyOnce, packetIdentifier: 7)))
            #expect(try await publisher.expectPubRec().packetIdentifier == 7)
            try await publisher.publish("a/end", "marker")

            let delivered = try await subscriber.expectPublish()
            #expect(delivered.topic == "a/b")
            #expect(delivered.qos == .exactlyOnce)
            #expect(delivered.payloadString == "once")
            #expect(try await subscriber.expectPublish().topic == "a/end")
        }
    }

    /// 5.0 MQTT-3.3.4-2, -3, -4: one copy for overlapping subscriptions, at the highest QoS, carrying the
    /// Subscription Identifier of every matching subscription that has one (in any order).
    @Test func v5OverlappingSubscriptionsDeliverOnceWithEverySubscriptionIdentifier() async throws {
        try await TestBroker.with { broker in
            let subscriber = try await broker.client("overlap", version: .v5)
            try await subscriber.subscribe("a/#", qos: .atMostOnce, packetIdentifier: 1, subscriptionIdentifier: 11)
            try await subscriber.subscribe("a/+", qos: .atLeastOnce, packetIdentifier: 2, subscriptionIdentifier: 22)
            try await subscriber.subscribe("a/b", qos: .atMostOnce, packetIdentifier: 3)

            let publisher = try await broker.client("publisher", version: .v5)
            try await publisher.publishQoS1("a/b", "once")
            try await publisher.publish("a/x/end", "marker")

            let delivered = try await subscriber.expectPublish()
            #expect(delivered.topic == "a/b")
            #expect(delivered.qos == .atLeastOnce)
            #expect(Set(delivered.properties.subscriptionIdentifiers) == [11, 22])
            #expect(delivered.properties.subscriptionIdentifiers.count == 2)

            let marker = try await subscriber.expectPublish()
            #expect(marker.topic == "a/x/end")
            #expect(marker.properties.subscriptionIdentifiers == [11])
        }
    }

    /// 3.1.1 MQTT-3.8.4-6, 5.0 MQTT-3.8.4-8: a message goes out at the lower of its QoS and the granted QoS.
    @Test(arguments: versions)
    func deliveryQoSIsDowngradedToTheGrantedQoS(version: ProtocolVersion) async throws {
        try await TestBroker.with { broker in
            let atMostOnce = try await broker.client("qos0", version: version)
            try await atMostOnce.subscribe("d/t", qos: .atMostOnce)
            let atLeastOnce = try await broker.client("qos1", version: version)
            try await atLeastOnce.subscribe("d/t", qos: .atLeastOnce)
            let exactlyOnce = try await broker.client("qos2", version: version)
            try await exactlyOnce.subscribe("d/t", qos: .exactlyOnce)

            let publisher = try await broker.client("publisher", version: version)
            try await publisher.send(.publish(PublishPacket(topic: "d/t", payload: ByteBuffer(string: "two"), qos: .exactlyOnce, packetIdentifier: 1)))
            _ = try await publisher.expectPubRec()
            try await publisher.publishQoS1("d/t", "one", packetIdentifier: 2)

            let zero = try await atMostOnce.expectPublish()
            #expect(zero.qos == .atMostOnce)
            #expect(zero.packetIdentifier == nil)
            #expect(try await atMostOnce.expectPublish().qos == .atMostOnce)

            let one = try await atLeastOnce.expectPublish()
            #expect(one.qos == .atLeastOnce)
            #expect(one.payloadString == "two")
            let oneAgain = try await atLeastOnce.expectPublish()
            #expect(oneAgain.qos == .atLeastOnce)
            #expect(oneAgain.payloadString == "one")

            let two = try await exactlyOnce.expectPublish()
            #expect(two.qos == .exactlyOnce)
            // The QoS 1 message is not upgraded.
            let notUpgraded = try await exactlyOnce.expectPublish()
            #expect(notUpgraded.qos == .atLeastOnce)
            #expect(notUpgraded.payloadString == "one")
        }
    }

    /// 3.1.1 and 5.0 MQTT-3.10.4-1, -2: after UNSUBACK the broker no longer delivers for the removed filter.
    @Test(arguments: versions)
    func unsubscribeStopsDelivery(version: ProtocolVersion) async throws {
        try await TestBroker.with { broker in
            let subscriber = try await broker.client("leaving", version: version)
            try await subscriber.subscribe([("u/gone", SubscriptionOptions()), ("u/stays", SubscriptionOptions())])
            try await subscriber.send(.unsubscribe(UnsubscribePacket(packetIdentifier: 9, topicFilters: ["u/gone"])))
            let unsubAck = try await subscriber.expectUnsubAck()
            #expect(unsubAck.packetIdentifier == 9)
            if version == .v5 { #expect(unsubAck.reasonCodes == [.success]) }

            let publisher = try await broker.client("publisher", version: version)
            try await publisher.publish("u/gone", "unseen")
            try await publisher.publish("u/stays", "marker")
            #expect(try await subscriber.expectPublish().topic == "u/stays")
        }
    }

    /// MQTT-3.10.4-1 for wildcard filters: once "#" and "+" are unsubscribed, a topic only they matched reaches
    /// nobody, while a filter that stays still delivers.
    @Test func unsubscribedWildcardsStopMatching() async throws {
        try await TestBroker.with { broker in
            let subscriber = try await broker.client("wildcards")
            try await subscriber.subscribe([
                ("w/#", SubscriptionOptions()), ("w/+", SubscriptionOptions()), ("w/stays", SubscriptionOptions()),
            ])
            try await subscriber.send(.unsubscribe(UnsubscribePacket(packetIdentifier: 3, topicFilters: ["w/#", "w/+"])))
            #expect(try await subscriber.expectUnsubAck().reasonCodes == [.success, .success])

            let publisher = try await broker.client("publisher")
            try await publisher.publish("w/gone", "unseen")
            try await publisher.publish("w/stays", "marker")
            let received = try await subscriber.expectPublish()
            #expect(received.topic == "w/stays" && received.payloadString == "marker")
        }
    }
}
