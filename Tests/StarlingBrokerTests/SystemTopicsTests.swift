import MQTT
import NIOCore
import StarlingBroker
import StarlingTesting
import Testing

/// The broker's statistics, from `MQTTBroker.statistics()` and as retained messages under `$SYS/broker/`.
@Suite struct SystemTopicsTests {
    /// Clients, subscriptions and messages are counted as they happen.
    @Test func statisticsCountWhatClientsDo() async throws {
        try await TestBroker.with({ $0.systemTopicsInterval = nil }) { broker in
            let subscriber = try await broker.client("subscriber")
            try await subscriber.subscribe("stats/t", qos: .atLeastOnce)
            let publisher = try await broker.client("publisher")
            for index in 0..<3 {
                try await publisher.publishQoS1("stats/t", "\(index)", packetIdentifier: UInt16(index + 1), retain: index == 2)
            }
            for _ in 0..<3 {
                let publish = try await subscriber.expectPublish()
                try await subscriber.send(.pubAck(AcknowledgementPacket(packetIdentifier: publish.packetIdentifier!)))
            }
            let statistics = try await broker.broker.statistics()
            #expect(statistics.connectedClients == 2)
            #expect(statistics.sessions == 2)
            #expect(statistics.subscriptions == 1)
            #expect(statistics.retainedMessages == 1)
            #expect(statistics.messagesReceived == 3)
            #expect(statistics.messagesSent == 3)
            #expect(statistics.messagesDropped == 0)
            #expect(statistics.bytesReceived > 0 && statistics.bytesSent > 0)
        }
    }

    /// Mosquitto's `$SYS/broker/` topics, retained and refreshed every interval; `#` does not match them
    /// (MQTT-4.7.2-1), `$SYS/#` does.
    @Test func statisticsArePublishedUnderSYS() async throws {
        try await TestBroker.with({ $0.systemTopicsInterval = .milliseconds(50) }) { broker in
            let everything = try await broker.client("everything")
            try await everything.subscribe([("#", SubscriptionOptions()), ("marker", SubscriptionOptions())])
            let watcher = try await broker.client("watcher")
            try await watcher.send(.subscribe(SubscribePacket(
                packetIdentifier: 1, subscriptions: [.init(topicFilter: "$SYS/broker/#", options: SubscriptionOptions())])))
            var seen: [String: String] = [:]
            while seen["messages/received"] == nil || Int(seen["messages/received"]!)! < 1 {
                // A refresh may arrive before the SUBACK (3.8.4): the subscription is in effect before it is answered.
                let publish: PublishPacket
                switch try await watcher.nextPacket() {
                case .subAck: continue
                case .publish(let received): publish = received
                case let other: throw RawClient.Failure(description: "expected SUBACK or PUBLISH, got \(other)")
                }
                seen[String(publish.topic.dropFirst("$SYS/broker/".count))] = publish.payloadString
                if seen.count == 1 {
                    // Counted from here on: one message from a client.
                    try await everything.publish("marker", "marker")
                }
            }
            #expect(seen["version"] == "starling version \(MQTTBroker.version)")
            #expect(seen["clients/connected"] == "2")
            #expect(seen["uptime"]?.hasSuffix(" seconds") == true)
            // The wildcard subscriber got the marker and nothing from $SYS.
            #expect(try await everything.expectPublish().topic == "marker")
        }
    }
}
