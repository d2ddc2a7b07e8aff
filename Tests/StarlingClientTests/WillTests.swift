import NIOCore
@testable import StarlingClient
import Testing

/// The will message, against mosquitto and against Starling's broker.
@Suite(.timeLimit(.minutes(1)))
struct WillTests {
    @Test(arguments: BrokerKind.available)
    func willIsPublishedWhenTheConnectionDropsWithoutDisconnect(kind: BrokerKind) async throws {
        try await withBroker(kind) { broker in
            var configuration = try MQTTClientConfiguration(url: broker.url)
            configuration.protocolVersion = .v3_1_1
            configuration.reconnect = .disabled
            configuration.will = .init(topic: "clients/gone", payload: ByteBuffer(string: "lost"), qos: .atLeastOnce)
            try await withMQTTClient(url: broker.url) { watcher in
                let wills = try await watcher.subscribe(to: "clients/+", qos: .atLeastOnce)
                await #expect(throws: MQTTClientError.self) {
                    try await withMQTTClient(configuration: configuration) { client in
                        // Break the connection the way a crash or a network failure would.
                        try await client.withCore { core in
                            if case .connected(let connection) = core.state { connection.channel.close(promise: nil) }
                        }
                        for try await _ in client.messages() {}
                    }
                }
                var messages = wills.makeAsyncIterator()
                let will = try #require(try await messages.next())
                #expect(will.topic == "clients/gone" && will.payloadString == "lost")
            }
        }
    }

    @Test(arguments: BrokerKind.available)
    func willWithPropertiesIsPublishedOnDisconnectWithWillMessage(kind: BrokerKind) async throws {
        try await withBroker(kind) { broker in
            var configuration = try MQTTClientConfiguration(url: broker.url)
            configuration.will = .init(
                topic: "clients/bye", payload: ByteBuffer(string: "bye"), qos: .atLeastOnce,
                properties: [.willDelayInterval(0), .contentType("text/plain"), .userProperty("reason", "test")])
            try await withMQTTClient(url: broker.url) { watcher in
                let wills = try await watcher.subscribe(to: "clients/+", qos: .atLeastOnce)
                try await withMQTTClient(configuration: configuration) { client in
                    await client.disconnect(reasonCode: .disconnectWithWillMessage)
                }
                var messages = wills.makeAsyncIterator()
                let will = try #require(try await messages.next())
                #expect(will.topic == "clients/bye" && will.payloadString == "bye")
                #expect(will.contentType == "text/plain")
                #expect(will.userProperties.first?.value == "test")
            }
        }
    }

    @Test(arguments: BrokerKind.available)
    func normalDisconnectDiscardsTheWill(kind: BrokerKind) async throws {
        try await withBroker(kind) { broker in
            var configuration = try MQTTClientConfiguration(url: broker.url)
            configuration.will = .init(topic: "clients/will", payload: ByteBuffer(string: "will"), qos: .atLeastOnce)
            try await withMQTTClient(url: broker.url) { watcher in
                let wills = try await watcher.subscribe(to: "clients/+", qos: .atLeastOnce)
                try await withMQTTClient(configuration: configuration) { _ in }
                // Anything published after the disconnect arrives after a will would have: it must come first.
                try await watcher.publish(topic: "clients/marker", payload: "marker", qos: .atLeastOnce)
                var messages = wills.makeAsyncIterator()
                #expect(try await messages.next()?.topic == "clients/marker")
            }
        }
    }
}
