import NIOCore
import StarlingClient
import Testing

/// MQTT 5.0 features, against mosquitto and against Starling's broker.
@Suite(.timeLimit(.minutes(1)))
struct MQTT5FeatureTests {
    @Test(arguments: BrokerKind.available)
    func messagePropertiesTravelToTheSubscriber(kind: BrokerKind) async throws {
        try await withBroker(kind) { broker in
            try await withMQTTClient(url: broker.url) { client in
                let subscription = try await client.subscribe(to: "props", qos: .atLeastOnce)
                try await client.publish(
                    topic: "props", payload: "{}", qos: .atLeastOnce,
                    properties: [.userProperty("origin", "test"), .userProperty("origin", "again"), .contentType("application/json"),
                                 .messageExpiryInterval(60), .payloadFormatIndicator(1)])
                var messages = subscription.makeAsyncIterator()
                let message = try #require(try await messages.next())
                #expect(message.userProperties.map(\.key) == ["origin", "origin"])
                #expect(message.userProperties.map(\.value) == ["test", "again"])
                #expect(message.contentType == "application/json")
                #expect(message.properties.payloadFormatIndicator == 1)
                #expect((message.properties.messageExpiryInterval ?? 0) > 0)
            }
        }
    }

    @Test(arguments: BrokerKind.available)
    func requestGetsTheResponseWithItsCorrelationData(kind: BrokerKind) async throws {
        try await withBroker(kind) { broker in
            try await withMQTTClient(url: broker.url) { responder in
                let requests = try await responder.subscribe(to: "service/upper", qos: .atLeastOnce)
                let serving = Task {
                    for try await request in requests {
                        try await responder.respond(to: request, payload: request.payloadString.uppercased())
                    }
                }
                try await withMQTTClient(url: broker.url) { requester in
                    let response = try await requester.request(topic: "service/upper", payload: "hello", timeout: .seconds(10))
                    #expect(response.payloadString == "HELLO")
                    let second = try await requester.request(topic: "service/upper", payload: "again", timeout: .seconds(10))
                    #expect(second.payloadString == "AGAIN")
                }
                serving.cancel()
            }
        }
    }

    @Test(arguments: BrokerKind.available)
    func requestWithoutResponderTimesOut(kind: BrokerKind) async throws {
        try await withBroker(kind) { broker in
            try await withMQTTClient(url: broker.url) { client in
                let error = await #expect(throws: MQTTClientError.self) {
                    try await client.request(topic: "nobody/home", payload: "?", timeout: .milliseconds(200))
                }
                #expect(error?.code == .timedOut)
            }
        }
    }

    @Test(arguments: BrokerKind.available)
    func noLocalKeepsOwnMessagesAway(kind: BrokerKind) async throws {
        try await withBroker(kind) { broker in
            try await withMQTTClient(url: broker.url) { client in
                let subscription = try await client.subscribe(to: [
                    SubscribePacket.Subscription(topicFilter: "chat", options: SubscriptionOptions(qos: .atLeastOnce, noLocal: true))
                ])
                try await client.publish(topic: "chat", payload: "mine", qos: .atLeastOnce)
                try await withMQTTClient(url: broker.url) { other in
                    try await other.publish(topic: "chat", payload: "theirs", qos: .atLeastOnce)
                }
                var messages = subscription.makeAsyncIterator()
                #expect(try await messages.next()?.payloadString == "theirs")
            }
        }
    }

    @Test(arguments: BrokerKind.available)
    func requestResponseNeedsMQTT5(kind: BrokerKind) async throws {
        try await withBroker(kind) { broker in
            var configuration = try MQTTClientConfiguration(url: broker.url)
            configuration.protocolVersion = .v3_1_1
            try await withMQTTClient(configuration: configuration) { client in
                let error = await #expect(throws: MQTTClientError.self) {
                    try await client.request(topic: "service", payload: "?")
                }
                #expect(error?.code == .requiresMQTT5)
            }
        }
    }
}

extension MQTT5FeatureTests {
    /// A resumed session's messages carry the Subscription Identifiers an earlier run of the client chose, which
    /// this run may have given to another subscription: that stream must not receive them.
    @Test(arguments: BrokerKind.available)
    func anEarlierRunsSubscriptionIdentifierDoesNotReachAnotherStream(kind: BrokerKind) async throws {
        try await withBroker(kind) { broker in
            var configuration = try MQTTClientConfiguration(url: broker.url, clientIdentifier: "identifier-reuse")
            configuration.cleanStart = false
            configuration.sessionExpiryInterval = 300
            try await withMQTTClient(configuration: configuration) { earlier in
                // Kept until the client has gone: a subscription let go of is unsubscribed.
                let kept = try await earlier.subscribe(to: "earlier/x", qos: .atLeastOnce)
                await earlier.disconnect()
                withExtendedLifetime(kept) {}
            }
            try await withMQTTClient(url: broker.url) { publisher in
                try await publisher.publish(topic: "earlier/x", payload: "while away", qos: .atLeastOnce)
            }
            let later = MQTTClient(configuration: configuration)
            let everything = later.messages()
            // The first subscription of this run: the same identifier as the earlier run's first.
            let pending = later.makeSubscription(to: [.init(topicFilter: "later/y", options: .init(qos: .atLeastOnce))])
            try await withThrowingTaskGroup { group in
                group.addTask { try await later.run() }
                let subscription = try await pending.acknowledged()
                var all = everything.makeAsyncIterator()
                #expect(try await all.next()?.topic == "earlier/x")
                try await later.publish(topic: "later/y", payload: "now", qos: .atLeastOnce)
                var mine = subscription.makeAsyncIterator()
                #expect(try await mine.next()?.topic == "later/y")
                await later.disconnect()
                try await group.waitForAll()
            }
        }
    }
}
