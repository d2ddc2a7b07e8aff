import MQTT
import NIOCore
import Testing

@testable import StarlingBroker

/// PUBLISH's rules, from tables: packet, aliases and unreleased QoS 2 identifiers in, a verdict out; no socket.
@Suite struct PublishValidationRuleTests {
    struct Row: Sendable, CustomTestStringConvertible {
        var testDescription: String
        var publish: PublishPacket
        var version: ProtocolVersion = .v5
        var settings: @Sendable (inout BrokerConfiguration) -> Void = { _ in }
        /// Aliases set by earlier PUBLISH packets.
        var aliases: [(UInt16, String)] = []
        var unreleased: Set<UInt16> = []
        var expected: PublishValidation.Verdict
    }

    static func publish(
        _ topic: String, qos: QoS = .atMostOnce, retain: Bool = false, identifier: UInt16? = nil, payload: [UInt8] = [1],
        properties: Properties = []
    ) -> PublishPacket {
        PublishPacket(
            topic: topic, payload: ByteBuffer(bytes: payload), qos: qos, retain: retain,
            packetIdentifier: identifier ?? (qos == .atMostOnce ? nil : 1), properties: properties)
    }

    static let rows: [Row] = [
        Row(testDescription: "a plain PUBLISH", publish: publish("a/b"), expected: .accept(topic: "a/b")),
        Row(testDescription: "QoS above the Maximum QoS (MQTT-3.2.2-11)",
            publish: publish("a", qos: .exactlyOnce), settings: { $0.maximumQoS = .atLeastOnce },
            expected: .disconnect(.qosNotSupported, reasonString: "QoS above the Maximum QoS 1")),
        Row(testDescription: "RETAIN without retained messages (MQTT-3.2.2-14)",
            publish: publish("a", retain: true), settings: { $0.retainAvailable = false },
            expected: .disconnect(.retainNotSupported, reasonString: "retained messages are not available")),
        Row(testDescription: "a topic with a wildcard", publish: publish("a/#"),
            expected: .disconnect(.topicNameInvalid, reasonString: "invalid topic name")),
        Row(testDescription: "an empty topic without an alias", publish: publish(""),
            expected: .disconnect(.topicNameInvalid, reasonString: "invalid topic name")),
        Row(testDescription: "a topic over the length limit", publish: publish("abcdef"),
            settings: { $0.limits.maximumTopicLength = 5 }, expected: .disconnect(.topicNameInvalid, reasonString: "invalid topic name")),
        Row(testDescription: "a topic and an alias set the alias", publish: publish("a/b", properties: [.topicAlias(3)]),
            expected: .accept(topic: "a/b")),
        Row(testDescription: "an alias alone uses the topic set before", publish: publish("", properties: [.topicAlias(3)]),
            aliases: [(3, "a/b")], expected: .accept(topic: "a/b")),
        Row(testDescription: "an unknown alias", publish: publish("", properties: [.topicAlias(4)]), aliases: [(3, "a/b")],
            expected: .disconnect(.protocolError, reasonString: "unknown topic alias")),
        Row(testDescription: "alias 0 (MQTT-3.3.2-8)", publish: publish("a", properties: [.topicAlias(0)]),
            expected: .disconnect(.topicAliasInvalid, reasonString: "topic alias 0 outside 1...64")),
        Row(testDescription: "an alias above the maximum (MQTT-3.3.2-9)", publish: publish("a", properties: [.topicAlias(65)]),
            expected: .disconnect(.topicAliasInvalid, reasonString: "topic alias 65 outside 1...64")),
        Row(testDescription: "3.1.1 has no aliases: an empty topic stays invalid", publish: publish("", properties: [.topicAlias(3)]),
            version: .v3_1_1, aliases: [(3, "a/b")], expected: .disconnect(.topicNameInvalid, reasonString: "invalid topic name")),
        Row(testDescription: "a Subscription Identifier from a client (MQTT-3.3.4-6)",
            publish: publish("a", properties: [.subscriptionIdentifier(1)]),
            expected: .disconnect(.protocolError, reasonString: "Subscription Identifier in PUBLISH")),
        Row(testDescription: "a payload that is not the UTF-8 it claims",
            publish: publish("a", qos: .atLeastOnce, payload: [0xC3, 0x28], properties: [.payloadFormatIndicator(1)]),
            expected: .refuse(.payloadFormatInvalid, reasonString: "payload is not UTF-8 as its Payload Format Indicator says")),
        Row(testDescription: "a UTF-8 payload that says so",
            publish: publish("a", payload: Array("é".utf8), properties: [.payloadFormatIndicator(1)]), expected: .accept(topic: "a")),
        Row(testDescription: "a QoS 2 PUBLISH resent before its release (4.3.3)",
            publish: publish("a", qos: .exactlyOnce, identifier: 7), unreleased: [7], expected: .acknowledgeAgain),
        Row(testDescription: "more unreleased QoS 2 messages than the Receive Maximum (MQTT-3.3.4-9)",
            publish: publish("a", qos: .exactlyOnce, identifier: 3), settings: { $0.limits.receiveMaximum = 2 }, unreleased: [1, 2],
            expected: .disconnect(.receiveMaximumExceeded, reasonString: "more than 2 QoS 2 messages unacknowledged")),
        Row(testDescription: "QoS 2 within the Receive Maximum",
            publish: publish("a", qos: .exactlyOnce, identifier: 3), settings: { $0.limits.receiveMaximum = 2 }, unreleased: [1],
            expected: .accept(topic: "a")),
    ]

    @Test(arguments: rows)
    func validates(_ row: Row) {
        var configuration = BrokerConfiguration()
        row.settings(&configuration)
        let validation = PublishValidation(configuration: configuration)
        var aliases = IncomingTopicAliases()
        for (alias, topic) in row.aliases { _ = aliases.resolve(topic: topic, alias: alias, maximum: .max) }
        #expect(validation.validate(row.publish, version: row.version, aliases: &aliases, unreleased: row.unreleased) == row.expected)
    }

    @Test func anAliasSetStaysForTheConnection() {
        let validation = PublishValidation(configuration: BrokerConfiguration())
        var aliases = IncomingTopicAliases()
        #expect(validation.validate(Self.publish("x/y", properties: [.topicAlias(2)]), version: .v5, aliases: &aliases, unreleased: []) == .accept(topic: "x/y"))
        #expect(validation.validate(Self.publish("", properties: [.topicAlias(2)]), version: .v5, aliases: &aliases, unreleased: []) == .accept(topic: "x/y"))
        // Set again to another topic: the later one holds.
        #expect(validation.validate(Self.publish("z", properties: [.topicAlias(2)]), version: .v5, aliases: &aliases, unreleased: []) == .accept(topic: "z"))
        #expect(validation.validate(Self.publish("", properties: [.topicAlias(2)]), version: .v5, aliases: &aliases, unreleased: []) == .accept(topic: "z"))
    }
}
