import MQTT
import NIOCore
import StarlingBroker
import StarlingClient
import StarlingTesting
import Testing

/// `acknowledgesManually`: a QoS 1 or 2 message is taken from the broker only when the application says so.
@Suite(.timeLimit(.minutes(1))) struct ManualAcknowledgementTests {
    @Test(arguments: [QoS.atLeastOnce, .exactlyOnce])
    func aMessageNotAcknowledgedComesAgainOnTheNextConnection(qos: QoS) async throws {
        try await TestBroker.with { broker in
            let configuration = Self.manual("manual", port: broker.port)
            let publisher = try await broker.client("publisher", version: .v5)
            let first = MQTTClient(configuration: configuration)
            try await first.withConnection { client in
                let subscription = try await client.subscribe(to: "work/#", qos: qos)
                _ = try await publisher.publishQoS1("work/1", "kept")
                _ = try await publisher.publishQoS1("work/2", "taken", packetIdentifier: 2)
                var messages = subscription.makeAsyncIterator()
                let one = try #require(try await messages.next())
                let two = try #require(try await messages.next())
                #expect([one.topic, two.topic] == ["work/1", "work/2"])
                // Only the second is done with; the broker still holds the first in flight.
                client.acknowledge(two)
                try await Self.waitUntil(broker, "manual", hasInflight: 1)
            }
            try await Self.expectOnlyResent("work/1", configuration: configuration, qos: qos, publisher: publisher, marker: 3) { client, message in
                client.acknowledge(message)
            }
        }
    }

    @Test(arguments: [QoS.atLeastOnce, .exactlyOnce])
    func severalMessagesAcknowledgedAtOnceAreAllTaken(qos: QoS) async throws {
        try await TestBroker.with { broker in
            let configuration = Self.manual("batch", port: broker.port)
            let publisher = try await broker.client("publisher", version: .v5)
            let first = MQTTClient(configuration: configuration)
            try await first.withConnection { client in
                let subscription = try await client.subscribe(to: "work/#", qos: qos)
                for index in 1...3 { _ = try await publisher.publishQoS1("work/\(index)", "m", packetIdentifier: UInt16(index)) }
                var messages = subscription.makeAsyncIterator()
                var received: [MQTTMessage] = []
                for _ in 1...3 { received.append(try #require(try await messages.next())) }
                #expect(received.map(\.topic) == ["work/1", "work/2", "work/3"])
                // The first and the third in one call; the second stays in flight.
                client.acknowledge([received[0], received[2]])
                try await Self.waitUntil(broker, "batch", hasInflight: 1)
            }
            try await Self.expectOnlyResent("work/2", configuration: configuration, qos: qos, publisher: publisher, marker: 4) { client, message in
                client.acknowledge([message])
            }
        }
    }

    /// Connects again with `configuration`: the broker resends what was not acknowledged when the session resumes
    /// (4.4), here only `topic`; once `acknowledge` has acknowledged it, the next message is a new one, work/`marker`.
    static func expectOnlyResent(
        _ topic: String, configuration: MQTTClientConfiguration, qos: QoS, publisher: RawClient, marker: UInt16,
        acknowledge: @escaping @Sendable (MQTTClient, MQTTMessage) -> Void
    ) async throws {
        // Made before connecting, so that what the broker sends right after CONNACK has a stream to go to.
        let second = MQTTClient(configuration: configuration)
        let pending = second.makeSubscription(to: [SubscribePacket.Subscription(topicFilter: "work/#", qos: qos)], receivingUnclaimed: true)
        try await second.withConnection { client in
            let subscription = try await pending.acknowledged()
            var messages = subscription.makeAsyncIterator()
            let again = try #require(try await messages.next())
            #expect(again.topic == topic)
            acknowledge(client, again)
            _ = try await publisher.publishQoS1("work/\(marker)", "marker", packetIdentifier: marker)
            #expect(try await messages.next()?.topic == "work/\(marker)")
        }
    }

    static func manual(_ clientIdentifier: String, port: Int) -> MQTTClientConfiguration {
        var configuration = MQTTClientConfiguration(
            host: "127.0.0.1", port: port, clientIdentifier: clientIdentifier, cleanStart: false, sessionExpiryInterval: 600)
        configuration.acknowledgesManually = true
        configuration.reconnect = .disabled
        return configuration
    }

    /// Waits until the broker has `count` messages in flight to `clientIdentifier`: the acknowledgements arrived.
    static func waitUntil(_ broker: TestBroker, _ clientIdentifier: String, hasInflight count: Int) async throws {
        let deadline = ContinuousClock.now + .seconds(20)
        while await broker.broker.client(clientIdentifier)?.inflight != count {
            guard ContinuousClock.now < deadline else {
                Issue.record("the acknowledgements did not arrive")
                return
            }
            try await Task.sleep(for: .milliseconds(10))
        }
    }
}
