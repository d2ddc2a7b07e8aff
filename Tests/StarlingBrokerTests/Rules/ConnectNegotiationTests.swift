import MQTT
import NIOCore
import Testing

@testable import StarlingBroker

/// CONNECT's rules, from tables: packet and settings in, terms or refusal out; no socket.
@Suite struct ConnectNegotiationTests {
    struct Row: Sendable, CustomTestStringConvertible {
        var testDescription: String
        var connect: ConnectPacket
        var settings: @Sendable (inout BrokerConfiguration) -> Void = { _ in }
        var enhancedAuthentication = false
        var expected: ConnectNegotiation.Outcome
    }

    static let will = ConnectPacket.Will(topic: "last/words", payload: ByteBuffer(string: "bye"))

    static func terms(
        _ identifier: String, assigned: Bool = false, keepAlive: UInt16 = 60, serverKeepAlive: UInt16? = nil,
        expiry: UInt32 = 0, window: Int = 20, aliases: UInt16? = nil
    ) -> ConnectNegotiation.Terms {
        ConnectNegotiation.Terms(
            clientIdentifier: identifier, assignedIdentifier: assigned ? identifier : nil, keepAlive: keepAlive,
            serverKeepAlive: serverKeepAlive, expiryInterval: expiry, sendWindow: window, outgoingTopicAliases: aliases)
    }

    static let rows: [Row] = [
        Row(testDescription: "3.1.1 clean session: ends with the connection",
            connect: ConnectPacket(clientIdentifier: "a"), expected: .accept(terms("a"))),
        Row(testDescription: "3.1.1 persistent session: kept for ever",
            connect: ConnectPacket(clientIdentifier: "a", cleanStart: false), expected: .accept(terms("a", expiry: .max))),
        Row(testDescription: "5.0 Session Expiry Interval",
            connect: ConnectPacket(protocolVersion: .v5, clientIdentifier: "a", properties: [.sessionExpiryInterval(300)]),
            expected: .accept(terms("a", expiry: 300))),
        Row(testDescription: "3.1.1 empty identifier with clean session: assigned",
            connect: ConnectPacket(clientIdentifier: ""), expected: .accept(terms("made", assigned: true))),
        Row(testDescription: "3.1.1 empty identifier without clean session: refused (MQTT-3.1.3-8)",
            connect: ConnectPacket(clientIdentifier: "", cleanStart: false),
            expected: .refuse(.clientIdentifierNotValid, reasonString: "empty client identifier")),
        Row(testDescription: "3.1 empty identifier: refused",
            connect: ConnectPacket(protocolVersion: .v3_1, clientIdentifier: ""),
            expected: .refuse(.clientIdentifierNotValid, reasonString: "empty client identifier")),
        Row(testDescription: "5.0 empty identifier without clean start: assigned",
            connect: ConnectPacket(protocolVersion: .v5, clientIdentifier: "", cleanStart: false),
            expected: .accept(terms("made", assigned: true))),
        Row(testDescription: "identifier over the limit",
            connect: ConnectPacket(clientIdentifier: "abcdef"), settings: { $0.limits.maximumClientIdentifierLength = 5 },
            expected: .refuse(.clientIdentifierNotValid, reasonString: "client identifier longer than 5 bytes")),
        Row(testDescription: "will topic with a wildcard",
            connect: ConnectPacket(clientIdentifier: "a", will: .init(topic: "a/+", payload: ByteBuffer())),
            expected: .refuse(.topicNameInvalid, reasonString: "invalid will topic")),
        Row(testDescription: "will payload not the UTF-8 it claims",
            connect: ConnectPacket(protocolVersion: .v5, clientIdentifier: "a", will: .init(
                topic: "t", payload: ByteBuffer(bytes: [0xFF, 0xFE]), properties: [.payloadFormatIndicator(1)])),
            expected: .refuse(.payloadFormatInvalid, reasonString: "will payload is not UTF-8 as its Payload Format Indicator says")),
        Row(testDescription: "retained will without retained messages (MQTT-3.2.2-13)",
            connect: ConnectPacket(clientIdentifier: "a", will: .init(topic: "t", payload: ByteBuffer(), retain: true)),
            settings: { $0.retainAvailable = false },
            expected: .refuse(.retainNotSupported, reasonString: "retained messages are not available")),
        Row(testDescription: "will QoS above the Maximum QoS (MQTT-3.2.2-12)",
            connect: ConnectPacket(clientIdentifier: "a", will: .init(topic: "t", payload: ByteBuffer(), qos: .exactlyOnce)),
            settings: { $0.maximumQoS = .atLeastOnce },
            expected: .refuse(.qosNotSupported, reasonString: "will QoS above the Maximum QoS 1")),
        Row(testDescription: "a valid will is accepted",
            connect: ConnectPacket(clientIdentifier: "a", will: will), expected: .accept(terms("a"))),
        Row(testDescription: "5.0 keep alive above the maximum: the server's keep alive (MQTT-3.2.2-21)",
            connect: ConnectPacket(protocolVersion: .v5, clientIdentifier: "a", keepAlive: 600),
            settings: { $0.limits.maximumKeepAlive = 120 },
            expected: .accept(terms("a", keepAlive: 120, serverKeepAlive: 120))),
        Row(testDescription: "5.0 keep alive 0 with a maximum: the server's keep alive",
            connect: ConnectPacket(protocolVersion: .v5, clientIdentifier: "a", keepAlive: 0),
            settings: { $0.limits.maximumKeepAlive = 120 },
            expected: .accept(terms("a", keepAlive: 120, serverKeepAlive: 120))),
        Row(testDescription: "3.1.1 keep alive above the maximum: refused",
            connect: ConnectPacket(clientIdentifier: "a", keepAlive: 600), settings: { $0.limits.maximumKeepAlive = 120 },
            expected: .refuse(.clientIdentifierNotValid, reasonString: nil)),
        Row(testDescription: "keep alive within the maximum: kept",
            connect: ConnectPacket(clientIdentifier: "a", keepAlive: 30), settings: { $0.limits.maximumKeepAlive = 120 },
            expected: .accept(terms("a", keepAlive: 30))),
        Row(testDescription: "Authentication Data without a method",
            connect: ConnectPacket(protocolVersion: .v5, clientIdentifier: "a", properties: [.authenticationData(ByteBuffer(string: "x"))]),
            expected: .refuse(.protocolError, reasonString: "Authentication Data without an Authentication Method")),
        Row(testDescription: "an Authentication Method without an authenticator (MQTT-4.12.0-1)",
            connect: ConnectPacket(protocolVersion: .v5, clientIdentifier: "a", properties: [.authenticationMethod("SCRAM-SHA-256")]),
            expected: .refuse(.badAuthenticationMethod, reasonString: "no enhanced authentication method is supported")),
        Row(testDescription: "an Authentication Method with an authenticator",
            connect: ConnectPacket(protocolVersion: .v5, clientIdentifier: "a", properties: [.authenticationMethod("SCRAM-SHA-256")]),
            enhancedAuthentication: true, expected: .accept(terms("a"))),
        Row(testDescription: "the client's Receive Maximum narrows the window",
            connect: ConnectPacket(protocolVersion: .v5, clientIdentifier: "a", properties: [.receiveMaximum(5)]),
            expected: .accept(terms("a", window: 5))),
        Row(testDescription: "the client's Topic Alias Maximum, capped by the broker's",
            connect: ConnectPacket(protocolVersion: .v5, clientIdentifier: "a", properties: [.topicAliasMaximum(1_000)]),
            expected: .accept(terms("a", aliases: 256))),
        Row(testDescription: "no outgoing aliases when the broker uses none",
            connect: ConnectPacket(protocolVersion: .v5, clientIdentifier: "a", properties: [.topicAliasMaximum(10)]),
            settings: { $0.limits.maximumOutboundTopicAliases = 0 }, expected: .accept(terms("a"))),
        Row(testDescription: "3.1.1 ignores what only 5.0 has",
            connect: ConnectPacket(clientIdentifier: "a", properties: [.receiveMaximum(5)]), expected: .accept(terms("a"))),
    ]

    @Test(arguments: rows)
    func negotiates(_ row: Row) {
        var configuration = BrokerConfiguration()
        row.settings(&configuration)
        let negotiation = ConnectNegotiation(configuration: configuration, enhancedAuthenticationAvailable: row.enhancedAuthentication)
        #expect(negotiation.negotiate(row.connect, makeClientIdentifier: { "made" }) == row.expected)
    }

    /// 3.1.1 MQTT-3.1.2-24, 5.0 MQTT-3.1.2-22: silence is allowed for one and a half times the keep alive, and
    /// for ever without one. The socket test (`ConnectTests`) shows the broker acts on it.
    @Test func silenceIsAllowedForOneAndAHalfKeepAlives() {
        #expect(Self.terms("a", keepAlive: 1).silenceTimeout == .milliseconds(1_500))
        #expect(Self.terms("a", keepAlive: 60).silenceTimeout == .seconds(90))
        #expect(Self.terms("a", keepAlive: .max).silenceTimeout == .milliseconds(Int64(UInt16.max) * 1_500))
        #expect(Self.terms("a", keepAlive: 0).silenceTimeout == nil)
    }

    @Test func connAckAnnouncesOnlyWhatIsOff() {
        var configuration = BrokerConfiguration()
        configuration.maximumQoS = .atLeastOnce
        configuration.sharedSubscriptionAvailable = false
        configuration.responseInformation = "reply/"
        let negotiation = ConnectNegotiation(configuration: configuration, enhancedAuthenticationAvailable: false)
        let terms = Self.terms("a", serverKeepAlive: 30)
        let properties = negotiation.connAckProperties(
            terms, assignedIdentifier: "a", requestResponseInformation: true, authenticationMethod: nil, authenticationData: nil)
        #expect(properties.assignedClientIdentifier == "a")
        #expect(properties.serverKeepAlive == 30)
        #expect(properties.maximumQoS == .atLeastOnce)
        #expect(properties.sharedSubscriptionAvailable == false)
        #expect(properties.retainAvailable == nil)
        #expect(properties.wildcardSubscriptionAvailable == nil)
        #expect(properties.responseInformation == "reply/")
        #expect(properties.receiveMaximum == configuration.limits.receiveMaximum)
        #expect(properties.topicAliasMaximum == configuration.limits.topicAliasMaximum)
        let plain = negotiation.connAckProperties(
            Self.terms("a"), assignedIdentifier: nil, requestResponseInformation: false, authenticationMethod: "M",
            authenticationData: ByteBuffer(string: "d"))
        #expect(plain.assignedClientIdentifier == nil)
        #expect(plain.responseInformation == nil)
        #expect(plain.authenticationMethod == "M")
        #expect(plain.authenticationData == ByteBuffer(string: "d"))
    }
}
