import MQTT
import NIOCore
import StarlingBroker
import StarlingTesting
import Testing

/// 5.0 Topic Aliases from client to broker (3.3.2.3.4).
@Suite struct TopicAliasTests {
    /// 3.3.2.3.4: a PUBLISH with a topic and a Topic Alias sets the alias; one with an empty topic and the alias
    /// uses it; a later topic with the same alias replaces the mapping. Subscribers see the full topic and, having
    /// announced no Topic Alias Maximum, no alias (MQTT-3.1.2-27).
    @Test func inboundAliasesStandForTheirTopics() async throws {
        try await TestBroker.with { broker in
            let subscriber = try await broker.client("subscriber", version: .v5)
            try await subscriber.subscribe("alias/+")
            let (publisher, connAck) = try await broker.connect("publisher", version: .v5)
            #expect(connAck.properties.topicAliasMaximum == 64)

            try await publisher.publish("alias/one", "1", properties: [.topicAlias(3)])
            try await publisher.publish("", "2", properties: [.topicAlias(3)])
            try await publisher.publish("alias/two", "3", properties: [.topicAlias(3)])
            try await publisher.publish("", "4", properties: [.topicAlias(3)])

            var received: [(String, String)] = []
            for _ in 0..<4 {
                let publish = try await subscriber.expectPublish()
                #expect(publish.properties.topicAlias == nil)
                received.append((publish.topic, publish.payloadString))
            }
            #expect(received.map(\.0) == ["alias/one", "alias/one", "alias/two", "alias/two"])
            #expect(received.map(\.1) == ["1", "2", "3", "4"])
        }
    }

    /// MQTT-3.3.2-8, -9 and 3.3.2.3.4: alias 0, or one above the Topic Alias Maximum in CONNACK, is answered with
    /// DISCONNECT 0x94 (Topic Alias invalid) and the connection is closed.
    @Test(arguments: [UInt16(0), 6])
    func invalidAliasIsRefused(alias: UInt16) async throws {
        try await TestBroker.with({ $0.limits.topicAliasMaximum = 5 }) { broker in
            let (publisher, connAck) = try await broker.connect("publisher", version: .v5)
            #expect(connAck.properties.topicAliasMaximum == 5)
            try await publisher.publish("alias/t", "x", properties: [.topicAlias(alias)])
            #expect(try await publisher.expectDisconnect().reasonCode == .topicAliasInvalid)
            try await publisher.expectClosed()
        }
    }

    /// 3.3.2.3.4: an empty topic with an alias the client never set is a Protocol Error (0x82).
    @Test func unknownAliasIsAProtocolError() async throws {
        try await TestBroker.with { broker in
            let publisher = try await broker.client("publisher", version: .v5)
            try await publisher.publish("", "x", properties: [.topicAlias(2)])
            #expect(try await publisher.expectDisconnect().reasonCode == .protocolError)
            try await publisher.expectClosed()
        }
    }

    /// MQTT-3.3.2-7: aliases belong to one Network Connection; a new connection of the same session starts with none.
    @Test func aliasesDoNotOutliveTheConnection() async throws {
        try await TestBroker.with { broker in
            let persistent: Properties = [.sessionExpiryInterval(60)]
            let first = try await broker.client("aliaser", version: .v5, cleanStart: false, properties: persistent)
            try await first.publish("alias/t", "x", properties: [.topicAlias(1)])
            try await first.disconnect()
            let second = try await broker.client("aliaser", version: .v5, cleanStart: false, properties: persistent)
            try await second.publish("", "y", properties: [.topicAlias(1)])
            #expect(try await second.expectDisconnect().reasonCode == .protocolError)
        }
    }

    // MARK: Broker to client

    /// 3.3.2.3.4 with MQTT-3.1.2-26 and MQTT-3.3.2-11: to a client that announced a Topic Alias Maximum the broker
    /// sends a topic once with an alias and then the alias alone, never using more aliases than the client allows.
    /// Once both aliases are taken, a topic seen for the first time goes out without one; seen again, it takes the
    /// alias of the least recently used topic.
    @Test func outboundAliasesStandInForRepeatedTopics() async throws {
        try await TestBroker.with { broker in
            let subscriber = try await broker.client("subscriber", version: .v5, properties: [.topicAliasMaximum(2)])
            try await subscriber.subscribe("out/+")
            let publisher = try await broker.client("publisher", version: .v5)
            let topics = ["out/a", "out/a", "out/b", "out/b", "out/c", "out/a", "out/c", "out/b", "out/c"]
            for (index, topic) in topics.enumerated() { try await publisher.publish(topic, "\(index)") }

            var received: [(topic: String, alias: UInt16?)] = []
            for index in topics.indices {
                let publish = try await subscriber.expectPublish()
                #expect(publish.payloadString == "\(index)")
                received.append((publish.topic, publish.properties.topicAlias))
            }
            #expect(received.map(\.topic) == ["out/a", "", "out/b", "", "out/c", "", "out/c", "out/b", ""])
            #expect(received.map(\.alias) == [1, 1, 2, 2, nil, 1, 2, nil, 2])
        }
    }

    /// MQTT-3.3.2-7 and MQTT-4.4.0-1: messages resent after a reconnect carry their topic again: the aliases of
    /// the previous connection are gone, and the new connection's are set up from scratch.
    @Test func retransmissionsAfterReconnectSetUpAliasesAgain() async throws {
        try await TestBroker.with { broker in
            let properties: Properties = [.sessionExpiryInterval(60), .topicAliasMaximum(4)]
            let first = try await broker.client("subscriber", version: .v5, properties: properties)
            try await first.subscribe("again/+", qos: .atLeastOnce)
            let publisher = try await broker.client("publisher", version: .v5)
            try await publisher.publishQoS1("again/t", "1", packetIdentifier: 1)
            try await publisher.publishQoS1("again/t", "2", packetIdentifier: 2)
            let before = [try await first.expectPublish(), try await first.expectPublish()]
            #expect(before.map(\.topic) == ["again/t", ""])
            #expect(before.map(\.properties.topicAlias) == [1, 1])
            await first.drop()

            let second = try await broker.client("subscriber", version: .v5, cleanStart: false, properties: properties)
            let after = [try await second.expectPublish(), try await second.expectPublish()]
            #expect(after.map(\.duplicate) == [true, true])
            #expect(after.map(\.payloadString) == ["1", "2"])
            #expect(after.map(\.topic) == ["again/t", ""])
            #expect(after.map(\.properties.topicAlias) == [1, 1])
        }
    }

    /// MQTT-3.1.2-27: a client that reconnects without a Topic Alias Maximum gets its resent messages with
    /// their topics and no alias, whatever the previous connection used.
    @Test func retransmissionsToAClientWithoutAliasesCarryTopics() async throws {
        try await TestBroker.with { broker in
            let first = try await broker.client("subscriber", version: .v5, properties: [.sessionExpiryInterval(60), .topicAliasMaximum(4)])
            try await first.subscribe("plain/+", qos: .atLeastOnce)
            let publisher = try await broker.client("publisher", version: .v5)
            try await publisher.publishQoS1("plain/t", "1", packetIdentifier: 1)
            try await publisher.publishQoS1("plain/t", "2", packetIdentifier: 2)
            #expect(try await first.expectPublish().properties.topicAlias == 1)
            #expect(try await first.expectPublish().topic == "")
            await first.drop()

            let second = try await broker.client("subscriber", version: .v5, cleanStart: false, properties: [.sessionExpiryInterval(60)])
            for _ in 0..<2 {
                let publish = try await second.expectPublish()
                #expect(publish.topic == "plain/t")
                #expect(publish.properties.topicAlias == nil)
            }
        }
    }
}
