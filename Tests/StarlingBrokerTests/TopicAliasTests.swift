import MQTT
import NIOCore
import StarlingBroker
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
}
