import MQTT
import NIOCore
import StarlingBroker
import StarlingTesting
import Testing

/// Every message not delivered is counted by its reason in `statistics().drops` (and in all in
/// `messagesDropped`), and published under `$SYS/broker/messages/dropped/`. Messages too large for their client
/// are counted in `ProtocolErrorTests.v5MessagesLargerThanTheClientMaximumAreNotSent`.
@Suite struct MessageDropTests {
    static let persistent: Properties = [.sessionExpiryInterval(60)]

    /// A persistent session subscribed to `filter` at QoS 1, its client gone.
    static func subscriberAway(_ broker: TestBroker, _ filter: String) async throws {
        let away = try await broker.client("away", version: .v5, cleanStart: false, properties: persistent)
        try await away.subscribe(filter, qos: .atLeastOnce)
        try await away.disconnect()
    }

    @Test func aFullQueueOfAClientThatIsAwayCountsAsQueueFull() async throws {
        try await TestBroker.with({ $0.limits.maximumQueuedMessages = 2 }) { broker in
            try await Self.subscriberAway(broker, "drop/#")
            let publisher = try await broker.client("publisher", version: .v5)
            for identifier: UInt16 in 1...3 {
                try await publisher.publishQoS1("drop/\(identifier)", "m", packetIdentifier: identifier)
            }
            // The PUBACK leaves once the message is routed; the session's own loop may queue it, or drop it, a
            // moment later.
            try await broker.waitForStatistics("a message dropped") { $0.messagesDropped > 0 }
            let statistics = try await broker.broker.statistics()
            #expect(statistics.drops.queueFull == 1)
            #expect(statistics.drops.total == 1)
            #expect(statistics.messagesDropped == 1)
        }
    }

    /// The expiry is the point here: the message must outlive its Message Expiry Interval of one second.
    @Test func aMessageThatExpiresWhileItsClientIsAwayCountsAsExpired() async throws {
        try await TestBroker.with { broker in
            try await Self.subscriberAway(broker, "exp/#")
            let publisher = try await broker.client("publisher", version: .v5)
            try await publisher.send(.publish(PublishPacket(
                topic: "exp/short", payload: ByteBuffer(string: "short"), qos: .atLeastOnce, packetIdentifier: 1,
                properties: [.messageExpiryInterval(1)])))
            _ = try await publisher.expectPubAck()
            try await publisher.publishQoS1("exp/marker", "marker", packetIdentifier: 2)
            try await Task.sleep(for: .milliseconds(1_200))
            let back = try await broker.client("away", version: .v5, cleanStart: false, properties: Self.persistent)
            #expect(try await back.expectPublish().topic == "exp/marker")
            let statistics = try await broker.broker.statistics()
            #expect(statistics.drops.expired == 1)
            #expect(statistics.messagesDropped == 1)
        }
    }

    /// QoS 0 to a client that reads nothing waits in its queue once its socket is full, up to the queue's byte
    /// limit; beyond it, messages are dropped and counted as such. Flow control is off, so that the publisher is
    /// not slowed before the limit.
    @Test func qos0ToAClientThatIsNotReadingQueuesUpToTheByteLimit() async throws {
        try await TestBroker.with({
            $0.limits.maximumOutboundBytes = 16_384
            $0.limits.maximumQueuedBytes = 600_000
            $0.limits.flowControl = nil
        }) { broker in
            let subscriber = try await broker.client("stalled", version: .v5)
            try await subscriber.subscribe("flood/#")
            try await subscriber.setReading(false)
            let publisher = try await broker.client("publisher", version: .v5)
            let payload = String(repeating: "p", count: 60_000)
            // Far more than the socket buffers between them hold and the queue's 10 messages of this size.
            for _ in 0..<20 {
                try await publisher.send(Array(repeating: Packet.publish(PublishPacket(topic: "flood/t", payload: ByteBuffer(string: payload))), count: 50))
                if try await broker.broker.statistics().drops.queueBytesFull > 0 { break }
            }
            try await broker.waitForStatistics("QoS 0 dropped for the stalled client") { $0.drops.queueBytesFull > 0 }
            let statistics = try await broker.broker.statistics()
            #expect(statistics.drops.queueFull == 0)
            #expect(statistics.messagesDropped == statistics.drops.queueBytesFull)
        }
    }

    /// A message larger than the byte limit still goes through a queue that holds nothing else.
    @Test func aMessageLargerThanTheByteLimitQueuesAlone() async throws {
        try await TestBroker.with({ $0.limits.maximumQueuedBytes = 1_024 }) { broker in
            try await Self.subscriberAway(broker, "big/#")
            let publisher = try await broker.client("publisher", version: .v5)
            try await publisher.publishQoS1("big/1", String(repeating: "x", count: 2_000), packetIdentifier: 1)
            try await publisher.publishQoS1("big/2", "y", packetIdentifier: 2)
            let back = try await broker.client("away", version: .v5, cleanStart: false, properties: Self.persistent)
            #expect(try await back.expectPublish().topic == "big/1")
            let statistics = try await broker.broker.statistics()
            #expect(statistics.drops.queueBytesFull == 1)
            #expect(statistics.messagesDropped == 1)
        }
    }

    @Test func dropsArePublishedUnderSYS() async throws {
        try await TestBroker.with({
            $0.limits.maximumQueuedMessages = 1
            $0.systemTopicsInterval = .milliseconds(50)
        }) { broker in
            try await Self.subscriberAway(broker, "drop/#")
            let publisher = try await broker.client("publisher", version: .v5)
            for identifier: UInt16 in 1...2 {
                try await publisher.publishQoS1("drop/\(identifier)", "m", packetIdentifier: identifier)
            }
            let watcher = try await broker.client("watcher", version: .v5)
            try await watcher.send(.subscribe(SubscribePacket(
                packetIdentifier: 1, subscriptions: [
                    .init(topicFilter: "$SYS/broker/messages/dropped/queue-full", options: SubscriptionOptions()),
                    .init(topicFilter: "$SYS/broker/messages/dropped", options: SubscriptionOptions()),
                ])))
            // Refreshes may come before the SUBACK (3.8.4); the counts become 1 within a few of them.
            var seen: Set<String> = []
            while seen.count < 2 {
                guard case .publish(let publish) = try await watcher.nextPacket() else { continue }
                if publish.payloadString == "1" { seen.insert(publish.topic) }
            }
        }
    }
}
