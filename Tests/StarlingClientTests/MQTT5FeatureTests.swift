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
