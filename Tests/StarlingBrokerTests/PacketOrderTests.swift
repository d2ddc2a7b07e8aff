import MQTT
import NIOCore
import StarlingBroker
import StarlingTesting
import Testing

/// Packets sent back to back in one write take effect, and are answered, in the order the client sent them.
@Suite struct PacketOrderTests {
    /// MQTT-4.6.0-6 / 3.8.4: a PUBLISH sent right behind a SUBSCRIBE, in the same burst, is routed to the
    /// subscription it follows, and SUBACK comes before the answers to later packets.
    @Test(arguments: [ProtocolVersion.v3_1_1, .v5])
    func publishRightAfterSubscribeReachesTheNewSubscription(version: ProtocolVersion) async throws {
        try await TestBroker.with { broker in
            let client = try await broker.client("self", version: version)
            try await client.send([
                .subscribe(SubscribePacket(packetIdentifier: 7, subscriptions: [.init(topicFilter: "order/t", qos: .atMostOnce)])),
                .publish(PublishPacket(topic: "order/t", payload: ByteBuffer(string: "first"))),
                .pingReq,
            ])
            guard case .subAck(let suback) = try await client.nextPacket() else {
                Issue.record("SUBACK was not the first answer")
                return
            }
            #expect(suback.packetIdentifier == 7)
            var sawMessage = false
            var sawPing = false
            while !(sawMessage && sawPing) {
                switch try await client.nextPacket() {
                case .publish(let publish):
                    #expect(publish.payloadString == "first")
                    sawMessage = true
                case .pingResp:
                    sawPing = true
                case let other:
                    Issue.record("unexpected \(other)")
                    return
                }
            }
        }
    }

    /// MQTT-3.1.2-8 area: QoS 0 messages a client publishes and then disconnects right after, in the same burst,
    /// reach the subscribers at once (a close in the middle of a read burst used to leave them unflushed).
    @Test(arguments: [ProtocolVersion.v3_1_1, .v5])
    func messagesPublishedRightBeforeDisconnectAreDelivered(version: ProtocolVersion) async throws {
        try await TestBroker.with { broker in
            let subscriber = try await broker.client("subscriber", version: version)
            try await subscriber.subscribe("burst/t", qos: .atMostOnce)
            let publisher = try await broker.client("publisher", version: version)
            try await publisher.send([
                .publish(PublishPacket(topic: "burst/t", payload: ByteBuffer(string: "a"))),
                .publish(PublishPacket(topic: "burst/t", payload: ByteBuffer(string: "b"))),
                .publish(PublishPacket(topic: "burst/t", payload: ByteBuffer(string: "c"))),
                .disconnect(DisconnectPacket()),
            ])
            for expected in ["a", "b", "c"] {
                #expect(try await subscriber.expectPublish().payloadString == expected)
            }
        }
    }
}
