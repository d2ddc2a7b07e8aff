import MQTT
import NIOCore
import StarlingBroker
import StarlingTesting
import Testing

/// The 5.0 Subscription Options (3.8.3.1): Retain Handling, Retain As Published and No Local.
@Suite struct SubscriptionOptionsTests {
    /// 5.0 MQTT-3.3.1-9, -10, -11, MQTT-3.8.4-4: Retain Handling 0 sends retained messages on every SUBSCRIBE,
    /// 1 only when the subscription is new, 2 never.
    @Test func retainHandling() async throws {
        try await TestBroker.with { broker in
            let publisher = try await broker.client("publisher", version: .v5)
            try await publisher.publishQoS1("rh/t", "kept", retain: true)

            func subscribe(_ client: RawClient, _ handling: SubscriptionOptions.RetainHandling, packetIdentifier: UInt16) async throws {
                try await client.subscribe([("rh/+", SubscriptionOptions(retainHandling: handling))], packetIdentifier: packetIdentifier)
            }
            /// Publishes a marker and returns the topics the client receives up to it.
            func topicsBeforeMarker(_ client: RawClient) async throws -> [String] {
                try await publisher.publish("rh/marker", "marker")
                var topics: [String] = []
                while true {
                    let topic = try await client.expectPublish().topic
                    if topic == "rh/marker" { return topics }
                    topics.append(topic)
                }
            }

            let always = try await broker.client("always", version: .v5)
            try await subscribe(always, .sendOnSubscribe, packetIdentifier: 1)
            #expect(try await topicsBeforeMarker(always) == ["rh/t"])
            try await subscribe(always, .sendOnSubscribe, packetIdentifier: 2)
            #expect(try await topicsBeforeMarker(always) == ["rh/t"])

            let whenNew = try await broker.client("when-new", version: .v5)
            try await subscribe(whenNew, .sendOnNewSubscribe, packetIdentifier: 1)
            #expect(try await topicsBeforeMarker(whenNew) == ["rh/t"])
            try await subscribe(whenNew, .sendOnNewSubscribe, packetIdentifier: 2)
            #expect(try await topicsBeforeMarker(whenNew) == [])

            let never = try await broker.client("never", version: .v5)
            try await subscribe(never, .doNotSend, packetIdentifier: 1)
            #expect(try await topicsBeforeMarker(never) == [])
        }
    }

    /// 5.0 MQTT-3.3.1-12, -13: with Retain As Published 1 a forwarded message keeps the RETAIN flag it was
    /// published with; with 0 it is cleared. Retained messages sent because of a new subscription have RETAIN 1
    /// either way (3.3.1.3).
    @Test func retainAsPublished() async throws {
        try await TestBroker.with { broker in
            let keeping = try await broker.client("keeping", version: .v5)
            try await keeping.subscribe([("rap/t", SubscriptionOptions(retainAsPublished: true))])
            let clearing = try await broker.client("clearing", version: .v5)
            try await clearing.subscribe([("rap/t", SubscriptionOptions(retainAsPublished: false))])

            let publisher = try await broker.client("publisher", version: .v5)
            try await publisher.publish("rap/t", "retained", retain: true)
            try await publisher.publish("rap/t", "plain", retain: false)

            let keptRetained = try await keeping.expectPublish()
            #expect(keptRetained.payloadString == "retained")
            #expect(keptRetained.retain == true)
            #expect(try await keeping.expectPublish().retain == false)
            #expect(try await clearing.expectPublish().retain == false)
            #expect(try await clearing.expectPublish().retain == false)

            let late = try await broker.client("late", version: .v5)
            try await late.subscribe([("rap/t", SubscriptionOptions(retainAsPublished: false))])
            #expect(try await late.expectPublish().retain == true)
        }
    }

    /// 5.0 MQTT-3.8.3-3: with No Local, messages are not forwarded to the connection that published them; other
    /// publishers' messages still are.
    @Test func noLocal() async throws {
        try await TestBroker.with { broker in
            let client = try await broker.client("talker", version: .v5)
            try await client.subscribe([
                ("nl/own", SubscriptionOptions(noLocal: true)),
                ("nl/marker", SubscriptionOptions(noLocal: false)),
            ])
            try await client.publish("nl/own", "echo")
            try await client.publish("nl/marker", "marker")
            let first = try await client.expectPublish()
            #expect(first.topic == "nl/marker")

            let other = try await broker.client("other", version: .v5)
            try await other.publish("nl/own", "from other")
            let fromOther = try await client.expectPublish()
            #expect(fromOther.topic == "nl/own")
            #expect(fromOther.payloadString == "from other")
        }
    }
    /// 5.0 MQTT-3.8.3-3 with MQTT-3.3.4-2, -3: for its publisher's own connection a No Local subscription does not
    /// match, so when it overlaps an ordinary one the single copy carries neither its Subscription Identifier nor
    /// its higher QoS.
    @Test func noLocalSubscriptionDoesNotContributeToOverlappingDelivery() async throws {
        try await TestBroker.with { broker in
            let client = try await broker.client("talker", version: .v5)
            try await client.subscribe([("nl/#", SubscriptionOptions(qos: .atLeastOnce, noLocal: true))], packetIdentifier: 1, subscriptionIdentifier: 1)
            try await client.subscribe([("nl/t", SubscriptionOptions(qos: .atMostOnce))], packetIdentifier: 2, subscriptionIdentifier: 2)
            try await client.send(.publish(PublishPacket(topic: "nl/t", payload: ByteBuffer(string: "own"), qos: .atLeastOnce, packetIdentifier: 9)))
            // The copy and the PUBACK, in either order.
            var own: PublishPacket?
            for _ in 0..<2 {
                switch try await client.nextPacket() {
                case .publish(let publish): own = publish
                case .pubAck(let ack): #expect(ack.packetIdentifier == 9)
                case let packet: Issue.record("unexpected \(packet)")
                }
            }
            #expect(own?.properties.subscriptionIdentifiers == [2])
            #expect(own?.qos == .atMostOnce)

            let other = try await broker.client("other", version: .v5)
            try await other.publishQoS1("nl/t", "theirs")
            let theirs = try await client.expectPublish()
            #expect(Set(theirs.properties.subscriptionIdentifiers) == [1, 2])
            #expect(theirs.qos == .atLeastOnce)
        }
    }
}
