import MQTT
import NIOCore
import StarlingBridge
import StarlingBroker
import StarlingClient
import StarlingTestSupport
import StarlingTesting
import Testing

/// The link fails: nothing acknowledged locally is lost, and the state says so.
@Suite(.timeLimit(.minutes(2))) struct BridgeOutageTests {
    @Test func messagesPublishedWhileTheRemoteIsDownArriveWhenItIsBack() async throws {
        let store = InMemoryBrokerStore()
        try await TestBroker.with(store: store) { remote in
            try await TestBroker.with { local in
                let bridge = try BridgeHarness.bridge(local: local, remote: remote.url, topics: [
                    BridgeTopicRule(pattern: "data/#", direction: .out, qos: .atLeastOnce)
                ])
                // A persistent subscriber at the remote, which the remote keeps across its restart.
                let consumer = try await remote.client("consumer", version: .v5, cleanStart: false, properties: [.sessionExpiryInterval(600)])
                _ = try await consumer.subscribe("data/#", qos: .atLeastOnce)
                await consumer.drop()
                let watcher = try await local.client("watcher", version: .v5)
                try await BridgeHarness.run(bridge, local: local) {
                    _ = try await watcher.subscribe(bridge.stateTopic, qos: .atMostOnce)
                    let upAtFirst = try await watcher.expectPublish()
                    #expect(upAtFirst.payloadString == "1", "\(upAtFirst.topic) \(upAtFirst.payloadString)")
                    let device = try await local.client("device", version: .v5)
                    _ = try await device.publishQoS1("data/0", "before")
                    await remote.stop()
                    #expect(try await watcher.expectPublish().payloadString == "0")
                    for index in 1...50 {
                        let ack = try await device.publishQoS1("data/\(index)", "during", packetIdentifier: UInt16(index))
                        #expect(!ack.reasonCode.isFailure)
                    }
                    try await remote.restart()
                    #expect(try await watcher.expectPublish().payloadString == "1")
                    _ = try await device.publishQoS1("data/51", "after", packetIdentifier: 51)
                    let resumed = try await remote.client("consumer", version: .v5, cleanStart: false, properties: [.sessionExpiryInterval(600)])
                    var topics: [String] = []
                    while topics.last != "data/51" {
                        let message = try await resumed.expectPublish()
                        topics.append(message.topic)
                        try await resumed.send(.pubAck(AcknowledgementPacket(packetIdentifier: message.packetIdentifier!)))
                    }
                    let expected = (0...51).map { "data/\($0)" }
                    // Every message, in order; a message the link lost before its acknowledgement may come twice.
                    #expect(Set(topics) == Set(expected))
                    var deduplicated: [String] = []
                    for topic in topics where deduplicated.last != topic && !deduplicated.contains(topic) { deduplicated.append(topic) }
                    #expect(deduplicated == expected)
                }
            }
        }
    }

    /// The remote's first address is down: the bridge tries the next one.
    @Test func theNextAddressIsTriedWhenOneFails() async throws {
        let closed = try ReservedPort()
        try await TestBroker.with { remote in
            try await TestBroker.with { local in
                let configuration = BridgeConfiguration(
                    addresses: [try MQTTURL("mqtt://127.0.0.1:\(closed.port)"), try MQTTURL(remote.url)], clientIdentifier: "edge",
                    topics: [BridgeTopicRule(pattern: "x", direction: .out)], retryDelay: .milliseconds(20), maximumRetryDelay: .milliseconds(100))
                let port = local.port
                let bridge = MQTTBridge(name: "failover", configuration: configuration, broker: local.broker, local: { ("127.0.0.1", port) }, logger: BridgeHarness.logger)
                let cloud = try await remote.client("cloud", version: .v5)
                _ = try await cloud.subscribe("x", qos: .atMostOnce)
                try await BridgeHarness.run(bridge, local: local) {
                    let device = try await local.client("device", version: .v5)
                    _ = try await device.publishQoS1("x", "through the second address")
                    #expect(try await cloud.expectPublish().payloadString == "through the second address")
                }
            }
        }
        closed.release()
    }
}
