import MQTT
import NIOCore

/// What each captured packet in `Fixtures/` holds, transcribed from the table in `Fixtures/README.md`.
struct FixtureExpectation: Sendable, CustomStringConvertible {
    var name: String
    /// The version the connection was in, which non-CONNECT packets are decoded with.
    var version: ProtocolVersion
    /// The first byte of the fixed header.
    var header: UInt8
    var remainingLength: Int
    var packet: Packet
    /// The bytes our encoder writes for `packet`, when they differ from the client's.
    var canonicalHex: String?

    var description: String { name }
}

extension FixtureExpectation {
    static let all: [FixtureExpectation] = mosquitto + mqttjs + paho

    static let mosquitto: [FixtureExpectation] = [
        .init("mosquitto-v31-connect-will-credentials", .v3_1, 0x10, 46, .connect(connectV3(.v3_1, "fx-mosq"))),
        .init("mosquitto-v311-connect-will-credentials", .v3_1_1, 0x10, 44, .connect(connectV3(.v3_1_1, "fx-mosq"))),
        .init("mosquitto-v311-disconnect", .v3_1_1, 0xE0, 0, .disconnect(DisconnectPacket())),
        .init("mosquitto-v311-pingreq", .v3_1_1, 0xC0, 0, .pingReq),
        .init("mosquitto-v311-publish-qos0", .v3_1_1, 0x30, 13, .publish(plainPublish(0, id: nil))),
        .init("mosquitto-v311-publish-qos1", .v3_1_1, 0x32, 15, .publish(plainPublish(1, id: 1))),
        .init("mosquitto-v311-publish-qos2", .v3_1_1, 0x34, 15, .publish(plainPublish(2, id: 1))),
        .init("mosquitto-v311-pubrel", .v3_1_1, 0x62, 2, .pubRel(AcknowledgementPacket(packetIdentifier: 1))),
        .init(
            "mosquitto-v311-subscribe-multi", .v3_1_1, 0x82, 22,
            .subscribe(SubscribePacket(packetIdentifier: 1, subscriptions: threeFilters(.atLeastOnce, .atLeastOnce, .atLeastOnce)))),
        .init(
            "mosquitto-v311-unsubscribe", .v3_1_1, 0xA2, 7,
            .unsubscribe(UnsubscribePacket(packetIdentifier: 2, topicFilters: ["a/b"]))),
        .init(
            "mosquitto-v5-connect-will-credentials", .v5, 0x10, 75,
            .connect(connectV5("fx-mosq", properties: [.receiveMaximum(20), .userProperty("k", "v"), .sessionExpiryInterval(300)]))),
        .init(
            "mosquitto-v5-disconnect-properties", .v5, 0xE0, 14,
            .disconnect(DisconnectPacket(reasonCode: .normalDisconnection, properties: [.sessionExpiryInterval(60), .userProperty("k", "v")]))),
        .init("mosquitto-v5-disconnect", .v5, 0xE0, 0, .disconnect(DisconnectPacket(reasonCode: .normalDisconnection))),
        .init("mosquitto-v5-publish-qos0-properties", .v5, 0x30, 70, .publish(propertiesPublish(0, id: nil))),
        .init("mosquitto-v5-publish-qos0", .v5, 0x30, 14, .publish(plainPublish(0, id: nil))),
        .init("mosquitto-v5-publish-qos1-properties", .v5, 0x32, 72, .publish(propertiesPublish(1, id: 1))),
        .init("mosquitto-v5-publish-qos1", .v5, 0x32, 16, .publish(plainPublish(1, id: 1))),
        .init("mosquitto-v5-publish-qos2-properties", .v5, 0x34, 72, .publish(propertiesPublish(2, id: 1))),
        .init("mosquitto-v5-publish-qos2", .v5, 0x34, 16, .publish(plainPublish(2, id: 1))),
        .init("mosquitto-v5-pubrel", .v5, 0x62, 2, .pubRel(AcknowledgementPacket(packetIdentifier: 1, reasonCode: .success))),
        .init(
            "mosquitto-v5-subscribe-multi", .v5, 0x82, 30,
            .subscribe(SubscribePacket(
                packetIdentifier: 1,
                subscriptions: ["a/b", "c/+/d", "e/#"].map {
                    .init(topicFilter: $0, options: SubscriptionOptions(qos: .exactlyOnce, retainAsPublished: true))
                },
                properties: [.userProperty("k", "v")]))),
        .init(
            "mosquitto-v5-unsubscribe", .v5, 0xA2, 15,
            .unsubscribe(UnsubscribePacket(packetIdentifier: 2, topicFilters: ["a/b"], properties: [.userProperty("k", "v")]))),
    ]

    static let mqttjs: [FixtureExpectation] = [
        .init("mqttjs-v31-connect-will-credentials", .v3_1, 0x10, 48, .connect(connectV3(.v3_1, "fx-mqttjs"))),
        .init("mqttjs-v311-connect-will-credentials", .v3_1_1, 0x10, 46, .connect(connectV3(.v3_1_1, "fx-mqttjs"))),
        .init("mqttjs-v311-disconnect", .v3_1_1, 0xE0, 0, .disconnect(DisconnectPacket())),
        .init("mqttjs-v311-pingreq", .v3_1_1, 0xC0, 0, .pingReq),
        .init("mqttjs-v311-publish-qos0", .v3_1_1, 0x30, 13, .publish(plainPublish(0, id: nil))),
        .init("mqttjs-v311-publish-qos1", .v3_1_1, 0x32, 15, .publish(plainPublish(1, id: 2))),
        .init("mqttjs-v311-publish-qos2", .v3_1_1, 0x34, 15, .publish(plainPublish(2, id: 3))),
        .init("mqttjs-v311-pubrel", .v3_1_1, 0x62, 2, .pubRel(AcknowledgementPacket(packetIdentifier: 3))),
        .init(
            "mqttjs-v311-subscribe-multi", .v3_1_1, 0x82, 22,
            .subscribe(SubscribePacket(packetIdentifier: 1, subscriptions: threeFilters(.atMostOnce, .atLeastOnce, .exactlyOnce)))),
        .init(
            "mqttjs-v311-unsubscribe", .v3_1_1, 0xA2, 19,
            .unsubscribe(UnsubscribePacket(packetIdentifier: 4, topicFilters: ["a/b", "c/+/d", "e/#"]))),
        .init(
            "mqttjs-v5-connect-will-credentials", .v5, 0x10, 77,
            .connect(connectV5("fx-mqttjs", properties: [.sessionExpiryInterval(300), .receiveMaximum(20), .userProperty("k", "v")]))),
        .init(
            "mqttjs-v5-disconnect-reason", .v5, 0xE0, 9,
            .disconnect(DisconnectPacket(reasonCode: .disconnectWithWillMessage, properties: [.userProperty("k", "v")]))),
        .init("mqttjs-v5-publish-qos0-properties", .v5, 0x30, 70, .publish(propertiesPublish(0, id: nil))),
        .init("mqttjs-v5-publish-qos0", .v5, 0x30, 14, .publish(plainPublish(0, id: nil))),
        .init("mqttjs-v5-publish-qos1-properties", .v5, 0x32, 72, .publish(propertiesPublish(1, id: 4))),
        .init("mqttjs-v5-publish-qos1", .v5, 0x32, 16, .publish(plainPublish(1, id: 2))),
        .init("mqttjs-v5-publish-qos2-properties", .v5, 0x34, 72, .publish(propertiesPublish(2, id: 5))),
        .init("mqttjs-v5-publish-qos2", .v5, 0x34, 16, .publish(plainPublish(2, id: 3))),
        // MQTT.js writes the Success reason code out (`62 03 <id> 00`). 3.6.2.1 lets the Reason Code and Property
        // Length be omitted when the reason is 0x00 and there are no properties, so our encoder writes the
        // short form, Remaining Length 2, as paho and mosquitto do.
        .init(
            "mqttjs-v5-pubrel-after-properties", .v5, 0x62, 3,
            .pubRel(AcknowledgementPacket(packetIdentifier: 5, reasonCode: .success)), canonicalHex: "62020005"),
        .init(
            "mqttjs-v5-pubrel", .v5, 0x62, 3,
            .pubRel(AcknowledgementPacket(packetIdentifier: 3, reasonCode: .success)), canonicalHex: "62020003"),
        .init("mqttjs-v5-subscribe-multi", .v5, 0x82, 32, .subscribe(subscribeV5WithOptions)),
        .init(
            "mqttjs-v5-unsubscribe", .v5, 0xA2, 27,
            .unsubscribe(UnsubscribePacket(packetIdentifier: 6, topicFilters: ["a/b", "c/+/d", "e/#"], properties: [.userProperty("k", "v")]))),
    ]

    static let paho: [FixtureExpectation] = [
        .init("paho-v31-connect-will-credentials", .v3_1, 0x10, 46, .connect(connectV3(.v3_1, "fx-paho"))),
        .init("paho-v311-connect-will-credentials", .v3_1_1, 0x10, 44, .connect(connectV3(.v3_1_1, "fx-paho"))),
        .init("paho-v311-disconnect", .v3_1_1, 0xE0, 0, .disconnect(DisconnectPacket())),
        .init("paho-v311-pingreq", .v3_1_1, 0xC0, 0, .pingReq),
        .init("paho-v311-publish-qos0", .v3_1_1, 0x30, 13, .publish(plainPublish(0, id: nil))),
        .init("paho-v311-publish-qos1", .v3_1_1, 0x32, 15, .publish(plainPublish(1, id: 3))),
        .init("paho-v311-publish-qos2", .v3_1_1, 0x34, 15, .publish(plainPublish(2, id: 4))),
        .init("paho-v311-pubrel", .v3_1_1, 0x62, 2, .pubRel(AcknowledgementPacket(packetIdentifier: 4))),
        .init(
            "paho-v311-subscribe-multi", .v3_1_1, 0x82, 22,
            .subscribe(SubscribePacket(packetIdentifier: 1, subscriptions: threeFilters(.atMostOnce, .atLeastOnce, .exactlyOnce)))),
        .init(
            "paho-v311-unsubscribe", .v3_1_1, 0xA2, 19,
            .unsubscribe(UnsubscribePacket(packetIdentifier: 5, topicFilters: ["a/b", "c/+/d", "e/#"]))),
        .init(
            "paho-v5-connect-will-credentials", .v5, 0x10, 75,
            .connect(connectV5("fx-paho", properties: [.sessionExpiryInterval(300), .receiveMaximum(20), .userProperty("k", "v")]))),
        .init(
            "paho-v5-disconnect-reason", .v5, 0xE0, 9,
            .disconnect(DisconnectPacket(reasonCode: .disconnectWithWillMessage, properties: [.userProperty("k", "v")]))),
        .init("paho-v5-publish-qos0-properties", .v5, 0x30, 70, .publish(propertiesPublish(0, id: nil))),
        .init("paho-v5-publish-qos0", .v5, 0x30, 14, .publish(plainPublish(0, id: nil))),
        .init("paho-v5-publish-qos1-properties", .v5, 0x32, 72, .publish(propertiesPublish(1, id: 6))),
        .init("paho-v5-publish-qos1", .v5, 0x32, 16, .publish(plainPublish(1, id: 3))),
        .init("paho-v5-publish-qos2-properties", .v5, 0x34, 72, .publish(propertiesPublish(2, id: 7))),
        .init("paho-v5-publish-qos2", .v5, 0x34, 16, .publish(plainPublish(2, id: 4))),
        .init("paho-v5-pubrel-after-properties", .v5, 0x62, 2, .pubRel(AcknowledgementPacket(packetIdentifier: 7, reasonCode: .success))),
        .init("paho-v5-pubrel", .v5, 0x62, 2, .pubRel(AcknowledgementPacket(packetIdentifier: 4, reasonCode: .success))),
        .init("paho-v5-subscribe-multi", .v5, 0x82, 32, .subscribe(subscribeV5WithOptions)),
        .init(
            "paho-v5-unsubscribe", .v5, 0xA2, 27,
            .unsubscribe(UnsubscribePacket(packetIdentifier: 8, topicFilters: ["a/b", "c/+/d", "e/#"], properties: [.userProperty("k", "v")]))),
    ]

    init(
        _ name: String, _ version: ProtocolVersion, _ header: UInt8, _ remainingLength: Int, _ packet: Packet,
        canonicalHex: String? = nil
    ) {
        self.name = name
        self.version = version
        self.header = header
        self.remainingLength = remainingLength
        self.packet = packet
        self.canonicalHex = canonicalHex
    }

    // MARK: The values the capture script used

    private static let will = ConnectPacket.Will(
        topic: "will/t", payload: ByteBuffer(string: "bye"), qos: .atLeastOnce, retain: true)

    /// Flags 0xee: user name, password, will retain, will QoS 1, will, clean session.
    private static func connectV3(_ version: ProtocolVersion, _ clientIdentifier: String) -> ConnectPacket {
        ConnectPacket(
            protocolVersion: version, clientIdentifier: clientIdentifier, cleanStart: true, keepAlive: 60,
            userName: "user", password: ByteBuffer(string: "pass"), will: will)
    }

    private static func connectV5(_ clientIdentifier: String, properties: Properties) -> ConnectPacket {
        var will = will
        will.properties = [.willDelayInterval(5), .userProperty("wk", "wv")]
        return ConnectPacket(
            protocolVersion: .v5, clientIdentifier: clientIdentifier, cleanStart: true, keepAlive: 60,
            userName: "user", password: ByteBuffer(string: "pass"), will: will, properties: properties)
    }

    private static func plainPublish(_ qos: UInt8, id: UInt16?) -> PublishPacket {
        PublishPacket(
            topic: "fx/q\(qos)", payload: ByteBuffer(string: "hello\(qos)"), qos: QoS(rawValue: qos)!,
            retain: false, duplicate: false, packetIdentifier: id)
    }

    private static func propertiesPublish(_ qos: UInt8, id: UInt16?) -> PublishPacket {
        PublishPacket(
            topic: "fx/p\(qos)", payload: ByteBuffer(string: "props\(qos)"), qos: QoS(rawValue: qos)!,
            retain: false, duplicate: false, packetIdentifier: id,
            properties: [
                .payloadFormatIndicator(1), .messageExpiryInterval(3600), .contentType("text/plain"),
                .responseTopic("fx/reply"), .correlationData(ByteBuffer(string: "corr-1")),
                .userProperty("k", "v"), .userProperty("k2", "v2"),
            ])
    }

    private static func threeFilters(_ a: QoS, _ b: QoS, _ c: QoS) -> [SubscribePacket.Subscription] {
        [.init(topicFilter: "a/b", qos: a), .init(topicFilter: "c/+/d", qos: b), .init(topicFilter: "e/#", qos: c)]
    }

    /// Options bytes 0x00, 0x05 (QoS 1, no local) and 0x2a (QoS 2, retain as published, retain handling 2).
    private static let subscribeV5WithOptions = SubscribePacket(
        packetIdentifier: 1,
        subscriptions: [
            .init(topicFilter: "a/b", options: SubscriptionOptions(qos: .atMostOnce)),
            .init(topicFilter: "c/+/d", options: SubscriptionOptions(qos: .atLeastOnce, noLocal: true)),
            .init(
                topicFilter: "e/#",
                options: SubscriptionOptions(qos: .exactlyOnce, retainAsPublished: true, retainHandling: .doNotSend)),
        ],
        properties: [.subscriptionIdentifier(7), .userProperty("k", "v")])
}
