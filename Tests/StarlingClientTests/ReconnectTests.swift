import NIOCore
@testable import StarlingClient
import Testing

/// Reconnection after a lost connection, against mosquitto and against Starling's broker.
@Suite(.timeLimit(.minutes(1)))
struct ReconnectTests {
    static func configuration(_ broker: any RunningBroker, identifier: String) throws -> MQTTClientConfiguration {
        var configuration = try MQTTClientConfiguration(url: broker.url, clientIdentifier: identifier)
        configuration.reconnect = ReconnectPolicy(initialDelay: .milliseconds(20), maximumDelay: .milliseconds(200))
        return configuration
    }

    /// Waits for the next `.connected` event and returns whether the broker had the session.
    static func nextConnection(_ events: inout AsyncStream<ConnectionEvent>.AsyncIterator) async throws -> Bool {
        while let event = await events.next() {
            if case .connected(let result) = event { return result.sessionPresent }
        }
        throw MQTTClientError(.clientShutdown, "events ended")
    }

    /// Waits for the next `.disconnected` event.
    static func nextDisconnection(_ events: inout AsyncStream<ConnectionEvent>.AsyncIterator) async throws {
        while let event = await events.next() {
            if case .disconnected = event { return }
        }
        throw MQTTClientError(.clientShutdown, "events ended")
    }

    /// Breaks the client's connection the way a network failure would, without DISCONNECT.
    static func dropConnection(of client: MQTTClient) async throws {
        try await client.withCore { core in
            if case .connected(let connection) = core.state { connection.channel.close(promise: nil) }
        }
    }

    /// mosquitto writes its sessions to disk on SIGTERM and reads them back on start, so its session survives a
    /// restart; mosquitto 2.0.11 restores 3.1.1 persistent sessions but not 5.0 sessions with an expiry interval,
    /// so only 3.1.1 runs there. Starling keeps sessions in memory only: there the subscriber's connection is
    /// dropped instead, and the broker keeps its session until it comes back.
    static let sessionCases: [(BrokerKind, ProtocolVersion)] = [(.mosquitto, .v3_1_1), (.starling, .v3_1_1), (.starling, .v5)]
        .filter { BrokerKind.available.contains($0.0) }

    @Test(arguments: sessionCases)
    func sessionIsResumedAfterTheConnectionIsLostAndNoQoS1Or2MessageIsLost(kind: BrokerKind, version: ProtocolVersion) async throws {
        try await withBroker(kind, persistence: true) { broker in
            var subscriberConfiguration = try Self.configuration(broker, identifier: "resuming-subscriber")
            subscriberConfiguration.protocolVersion = version
            subscriberConfiguration.cleanStart = false
            subscriberConfiguration.sessionExpiryInterval = version == .v5 ? 300 : 0
            if kind == .starling {
                // Long enough for the publishes below to reach the broker while the subscriber is away, so that
                // they wait in its session; should they take longer, they are delivered live and the test holds.
                subscriberConfiguration.reconnect = ReconnectPolicy(initialDelay: .milliseconds(500), maximumDelay: .seconds(1))
            }
            let subscriber = MQTTClient(configuration: subscriberConfiguration)
            var subscriberEvents = subscriber.connectionEvents().makeAsyncIterator()
            let publisher = MQTTClient(configuration: try Self.configuration(broker, identifier: "restart-publisher"))
            try await withThrowingTaskGroup { group in
                group.addTask { try await subscriber.run() }
                group.addTask { try await publisher.run() }
                #expect(try await Self.nextConnection(&subscriberEvents) == false)
                let subscription = try await subscriber.subscribe(to: "orders/#", qos: .exactlyOnce)
                try await publisher.publish(topic: "orders/1", payload: "1", qos: .atLeastOnce)
                try await publisher.publish(topic: "orders/2", payload: "2", qos: .exactlyOnce)
                var messages = subscription.makeAsyncIterator()
                var received: [String] = []
                for _ in 0..<2 { received.append(try #require(try await messages.next()).payloadString) }

                switch kind {
                case .mosquitto:
                    await broker.stop()
                    // Published while the broker is down: they wait in the publisher's queue.
                    async let third = publisher.publish(topic: "orders/3", payload: "3", qos: .atLeastOnce)
                    async let fourth = publisher.publish(topic: "orders/4", payload: "4", qos: .exactlyOnce)
                    try await broker.start()
                    _ = try await (third, fourth)
                case .starling:
                    try await Self.dropConnection(of: subscriber)
                    try await Self.nextDisconnection(&subscriberEvents)
                    // Published while the subscriber is away: they wait in its session on the broker.
                    try await publisher.publish(topic: "orders/3", payload: "3", qos: .atLeastOnce)
                    try await publisher.publish(topic: "orders/4", payload: "4", qos: .exactlyOnce)
                }

                #expect(try await Self.nextConnection(&subscriberEvents) == true)
                while received.count < 4 || Set(received).count < 4 {
                    received.append(try #require(try await messages.next()).payloadString)
                }
                #expect(Set(received) == ["1", "2", "3", "4"])
                // QoS 2 means exactly once, even across the lost connection.
                #expect(received.filter { $0 == "2" || $0 == "4" }.count == 2)
                await subscriber.disconnect()
                await publisher.disconnect()
                try await group.waitForAll()
            }
        }
    }

    @Test(arguments: BrokerKind.available)
    func subscriptionsAreMadeAgainWhenTheBrokerLostTheSession(kind: BrokerKind) async throws {
        try await withBroker(kind, persistence: false) { broker in
            let subscriber = MQTTClient(configuration: try Self.configuration(broker, identifier: "forgotten-subscriber"))
            var events = subscriber.connectionEvents().makeAsyncIterator()
            try await withThrowingTaskGroup { group in
                group.addTask { try await subscriber.run() }
                #expect(try await Self.nextConnection(&events) == false)
                let subscription = try await subscriber.subscribe(to: "news", qos: .atLeastOnce)
                try await broker.restart()
                #expect(try await Self.nextConnection(&events) == false)
                // Retained, so it reaches the subscription whether it is published before or after the
                // subscriber's new SUBSCRIBE.
                try await withMQTTClient(url: broker.url) { publisher in
                    try await publisher.publish(topic: "news", payload: "after restart", qos: .atLeastOnce, retain: true)
                }
                var messages = subscription.makeAsyncIterator()
                #expect(try await messages.next()?.payloadString == "after restart")
                await subscriber.disconnect()
                try await group.waitForAll()
            }
        }
    }
}
