import NIOCore
import StarlingClient
import Testing

/// Publishing and subscribing, against mosquitto and against Starling's broker.
@Suite(.timeLimit(.minutes(1)))
struct PublishSubscribeTests {
    static let versions: [ProtocolVersion] = [.v3_1_1, .v5]
    static let versionsAndQoS = versions.flatMap { version in QoS.allCases.map { (version, $0) } }

    static func configuration(_ broker: any RunningBroker, version: ProtocolVersion) throws -> MQTTClientConfiguration {
        var configuration = try MQTTClientConfiguration(url: broker.url)
        configuration.protocolVersion = version
        return configuration
    }

    @Test(arguments: BrokerKind.available, versionsAndQoS)
    func publishedMessageReachesSubscriber(kind: BrokerKind, versionAndQoS: (ProtocolVersion, QoS)) async throws {
        let (version, qos) = versionAndQoS
        try await withBroker(kind) { broker in
            let configuration = try Self.configuration(broker, version: version)
            try await withMQTTClient(configuration: configuration) { subscriber in
                let subscription = try await subscriber.subscribe(to: "test/+", qos: qos)
                #expect(subscription.result.grantedQoS == [qos])
                try await withMQTTClient(configuration: configuration.withNewIdentifier()) { publisher in
                    let result = try await publisher.publish(topic: "test/a", payload: "Hello mqtt", qos: qos)
                    #expect(result.reasonCode == .success)
                }
                var messages = subscription.makeAsyncIterator()
                let message = try #require(try await messages.next())
                #expect(message.topic == "test/a")
                #expect(message.payloadString == "Hello mqtt")
                #expect(message.qos == qos)
                #expect(message.retain == false)
            }
        }
    }

    @Test(arguments: BrokerKind.available, versions)
    func retainedMessageGoesToLaterSubscribersUntilCleared(kind: BrokerKind, version: ProtocolVersion) async throws {
        try await withBroker(kind) { broker in
            let configuration = try Self.configuration(broker, version: version)
            try await withMQTTClient(configuration: configuration) { client in
                try await client.publish(topic: "status/door", payload: "open", qos: .atLeastOnce, retain: true)
                try await client.withSubscription(to: "status/#") { subscription in
                    var messages = subscription.makeAsyncIterator()
                    let retained = try #require(try await messages.next())
                    #expect(retained.retain && retained.payloadString == "open")
                    // The same topic published live is not marked retained on an existing subscription.
                    try await client.publish(topic: "status/door", payload: "closed", qos: .atLeastOnce, retain: true)
                    let live = try #require(try await messages.next())
                    #expect(!live.retain && live.payloadString == "closed")
                }
                // An empty retained payload clears the topic: a marker retained elsewhere comes alone.
                try await client.publish(topic: "status/door", payload: "", qos: .atLeastOnce, retain: true)
                try await client.publish(topic: "status/window", payload: "shut", qos: .atLeastOnce, retain: true)
                try await client.withSubscription(to: "status/#") { subscription in
                    var messages = subscription.makeAsyncIterator()
                    let only = try #require(try await messages.next())
                    #expect(only.topic == "status/window")
                }
            }
        }
    }

    @Test(arguments: BrokerKind.available, versions)
    func overlappingSubscriptionsEachGetOnlyTheirOwnMessages(kind: BrokerKind, version: ProtocolVersion) async throws {
        try await withBroker(kind) { broker in
            try await withMQTTClient(configuration: try Self.configuration(broker, version: version)) { client in
                let everything = try await client.subscribe(to: "a/#", qos: .atLeastOnce)
                let narrow = try await client.subscribe(to: "a/b", qos: .atLeastOnce)
                let other = try await client.subscribe(to: "b/+", qos: .atLeastOnce)
                for (topic, payload) in [("a/b", "1"), ("a/c", "2"), ("b/x", "3"), ("a/b", "4")] {
                    try await client.publish(topic: topic, payload: payload, qos: .atLeastOnce)
                }
                var all = everything.makeAsyncIterator()
                var some = narrow.makeAsyncIterator()
                var others = other.makeAsyncIterator()
                var seen: [String] = []
                for _ in 0..<3 { seen.append(try #require(try await all.next()).payloadString) }
                #expect(seen == ["1", "2", "4"])
                #expect(try await some.next()?.payloadString == "1")
                #expect(try await some.next()?.payloadString == "4")
                #expect(try await others.next()?.payloadString == "3")
            }
        }
    }

    @Test(arguments: BrokerKind.available, versions)
    func allMessagesStreamSeesEverySubscription(kind: BrokerKind, version: ProtocolVersion) async throws {
        try await withBroker(kind) { broker in
            try await withMQTTClient(configuration: try Self.configuration(broker, version: version)) { client in
                let all = client.messages()
                let first = try await client.subscribe(to: "x/1", qos: .atLeastOnce)
                let second = try await client.subscribe(to: "x/2", qos: .atLeastOnce)
                try await client.publish(topic: "x/1", payload: "one", qos: .atLeastOnce)
                try await client.publish(topic: "x/2", payload: "two", qos: .atLeastOnce)
                var iterator = all.makeAsyncIterator()
                #expect(try await iterator.next()?.topic == "x/1")
                #expect(try await iterator.next()?.topic == "x/2")
                _ = (first, second)
            }
        }
    }

    @Test(arguments: BrokerKind.available)
    func leavingTheScopeUnsubscribes(kind: BrokerKind) async throws {
        try await withBroker(kind) { broker in
            try await withMQTTClient(configuration: try Self.configuration(broker, version: .v5)) { client in
                try await client.withSubscription(to: "scoped") { subscription in
                    let inside = try await client.publish(topic: "scoped", payload: "x", qos: .atLeastOnce)
                    #expect(inside.reasonCode == .success)
                    var messages = subscription.makeAsyncIterator()
                    #expect(try await messages.next()?.payloadString == "x")
                }
                // The broker answers 0x10 when nobody is subscribed any more.
                let outside = try await client.publish(topic: "scoped", payload: "y", qos: .atLeastOnce)
                #expect(outside.reasonCode == .noMatchingSubscribers)

                // Walking away from the stream unsubscribes too.
                let dropped = try await client.subscribe(to: "dropped", qos: .atLeastOnce)
                try await client.publish(topic: "dropped", payload: "z", qos: .atLeastOnce)
                #expect(try await Self.firstMessage(of: consume dropped)?.payloadString == "z")
                let afterwards = try await client.publish(topic: "dropped", payload: "z", qos: .atLeastOnce)
                #expect(afterwards.reasonCode == .noMatchingSubscribers)
            }
        }
    }

    /// Reads one message and lets go of the subscription.
    static func firstMessage(of subscription: consuming MQTTSubscription) async throws -> MQTTMessage? {
        for try await message in subscription { return message }
        return nil
    }
}
