import MQTT
import NIOCore
import StarlingBroker
import StarlingTesting
import Testing

/// SUBACK and UNSUBACK (3.8 to 3.11 of both specifications).
@Suite struct SubscribeTests {
    static let versions: [ProtocolVersion] = [.v3_1_1, .v5]

    /// 3.1.1 MQTT-3.8.4-5, MQTT-3.9.3-1, -2; 5.0 MQTT-3.8.4-6, -7, MQTT-3.9.3-1 and MQTT-4.7.1-1, -2, MQTT-4.7.3-1:
    /// one code per filter, in order; an invalid filter gets 0x80 (3.1.1) or 0x8F Topic Filter invalid (5.0) while
    /// the valid filters of the same SUBSCRIBE are granted and work.
    @Test(arguments: versions)
    func invalidFiltersAreRefusedOneByOne(version: ProtocolVersion) async throws {
        try await TestBroker.with { broker in
            let client = try await broker.client("filters", version: version)
            let codes = try await client.subscribe([
                ("ok/+", SubscriptionOptions(qos: .atLeastOnce)),
                ("bad/#/more", SubscriptionOptions(qos: .atLeastOnce)),
                ("bad+", SubscriptionOptions()),
                ("", SubscriptionOptions()),
                ("fine/#", SubscriptionOptions(qos: .exactlyOnce)),
            ], packetIdentifier: 31)
            let refused: ReasonCode = version == .v5 ? .topicFilterInvalid : .subscriptionFailure
            #expect(codes == [.grantedQoS1, refused, refused, refused, .grantedQoS2])

            let publisher = try await broker.client("publisher", version: version)
            try await publisher.publish("ok/x", "1")
            try await publisher.publish("fine/y/z", "2")
            #expect(try await client.expectPublish().topic == "ok/x")
            #expect(try await client.expectPublish().topic == "fine/y/z")
        }
    }

    /// 3.1.1 and 5.0 MQTT-3.8.4-3: a SUBSCRIBE for a filter the session already has replaces that subscription;
    /// messages are then delivered once, at the new QoS.
    @Test(arguments: versions)
    func subscribingAgainReplacesTheSubscription(version: ProtocolVersion) async throws {
        try await TestBroker.with { broker in
            let client = try await broker.client("again", version: version)
            try await client.subscribe("rep/t", qos: .atMostOnce, packetIdentifier: 1)
            #expect(try await client.subscribe("rep/t", qos: .atLeastOnce, packetIdentifier: 2) == [.grantedQoS1])
            let publisher = try await broker.client("publisher", version: version)
            try await publisher.publishQoS1("rep/t", "once")
            try await publisher.publish("rep/t", "marker")
            let first = try await client.expectPublish()
            #expect(first.qos == .atLeastOnce)
            #expect(first.payloadString == "once")
            #expect(try await client.expectPublish().payloadString == "marker")
        }
    }

    /// 3.1.1 and 5.0 MQTT-3.10.4-4, -5: UNSUBSCRIBE is answered with UNSUBACK with its identifier even when no
    /// subscription matched; 5.0 gives one code per filter in order (MQTT-3.11.3-1), 0x11 (No subscription
    /// existed) for a filter the session did not have.
    @Test(arguments: versions)
    func unsubscribeIsAlwaysAcknowledged(version: ProtocolVersion) async throws {
        try await TestBroker.with { broker in
            let client = try await broker.client("leaver", version: version)
            try await client.subscribe("had/t")
            try await client.send(.unsubscribe(UnsubscribePacket(packetIdentifier: 12, topicFilters: ["never/t", "had/t", "had/+"])))
            let unsubAck = try await client.expectUnsubAck()
            #expect(unsubAck.packetIdentifier == 12)
            if version == .v5 {
                #expect(unsubAck.reasonCodes == [.noSubscriptionExisted, .success, .noSubscriptionExisted])
            }
            try await client.send(.unsubscribe(UnsubscribePacket(packetIdentifier: 13, topicFilters: ["had/t"])))
            let again = try await client.expectUnsubAck()
            #expect(again.packetIdentifier == 13)
            if version == .v5 { #expect(again.reasonCodes == [.noSubscriptionExisted]) }
        }
    }
    /// 5.0 §3.9.3 (0x97 Quota exceeded), 3.1.1 (0x80): subscriptions beyond `maximumSubscriptionsPerClient` are
    /// refused one by one; replacing an existing subscription is still allowed.
    @Test(arguments: versions)
    func subscriptionsBeyondTheQuotaAreRefused(version: ProtocolVersion) async throws {
        try await TestBroker.with({ $0.limits.maximumSubscriptionsPerClient = 2 }) { broker in
            let client = try await broker.client("greedy", version: version)
            let codes = try await client.subscribe([
                ("q/1", SubscriptionOptions()), ("q/2", SubscriptionOptions()), ("q/3", SubscriptionOptions()),
                ("q/1", SubscriptionOptions(qos: .atLeastOnce)),
            ])
            let refused: ReasonCode = version == .v5 ? .quotaExceeded : .subscriptionFailure
            #expect(codes == [.grantedQoS0, .grantedQoS0, refused, .grantedQoS1])
        }
    }

    /// Topic limits (`maximumTopicLevels`): a deeper filter is refused in SUBACK (5.0 0x8F), a deeper topic name
    /// ends the connection (5.0 DISCONNECT 0x90 Topic Name invalid).
    @Test func topicsBeyondTheLevelLimitAreRefused() async throws {
        try await TestBroker.with({ $0.limits.maximumTopicLevels = 3 }) { broker in
            let client = try await broker.client("deep", version: .v5)
            #expect(try await client.subscribe([("a/b/c", SubscriptionOptions()), ("a/b/c/d", SubscriptionOptions())]) == [.grantedQoS0, .topicFilterInvalid])
            try await client.publish("a/b/c/d", "too deep")
            #expect(try await client.expectDisconnect().reasonCode == .topicNameInvalid)
            try await client.expectClosed()
        }
    }
}
