/// An MQTT 5.0 reason code. Several codes share a value (0x00 is Success, Normal Disconnection and
/// Granted QoS 0), so this is a struct with named values rather than an enum.
public struct ReasonCode: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    /// The code's byte, as sent on the wire.
    public var rawValue: UInt8

    /// The code with byte `rawValue`, named or not: a receiver must take codes it does not know.
    public init(rawValue: UInt8) {
        self.rawValue = rawValue
    }

    /// Codes of 0x80 and above report a failure.
    public var isFailure: Bool { rawValue >= 0x80 }

    /// 0x00 in CONNACK, PUBACK, PUBREC, PUBREL, PUBCOMP, UNSUBACK and AUTH: the operation succeeded.
    public static let success = ReasonCode(rawValue: 0x00)
    /// 0x00 in DISCONNECT: the connection ends as asked, and the will is not published.
    public static let normalDisconnection = ReasonCode(rawValue: 0x00)
    /// 0x00 in SUBACK: subscribed, with messages delivered at QoS 0.
    public static let grantedQoS0 = ReasonCode(rawValue: 0x00)
    /// 0x01 in SUBACK: subscribed, with messages delivered at QoS 1 at most.
    public static let grantedQoS1 = ReasonCode(rawValue: 0x01)
    /// 0x02 in SUBACK: subscribed, with messages delivered at QoS 2 at most.
    public static let grantedQoS2 = ReasonCode(rawValue: 0x02)
    /// 0x04 in a client's DISCONNECT: the connection ends, and the server publishes the will all the same.
    public static let disconnectWithWillMessage = ReasonCode(rawValue: 0x04)
    /// 0x10 in PUBACK or PUBREC: accepted, but no subscription matched the topic.
    public static let noMatchingSubscribers = ReasonCode(rawValue: 0x10)
    /// 0x11 in UNSUBACK: there was no subscription to the filter.
    public static let noSubscriptionExisted = ReasonCode(rawValue: 0x11)
    /// 0x18 in AUTH: enhanced authentication goes on with another exchange.
    public static let continueAuthentication = ReasonCode(rawValue: 0x18)
    /// 0x19 in a client's AUTH: the client starts re-authenticating on an open connection.
    public static let reAuthenticate = ReasonCode(rawValue: 0x19)
    /// 0x80: the operation failed, for no reason the specification names.
    public static let unspecifiedError = ReasonCode(rawValue: 0x80)
    /// 0x81: a packet could not be parsed as the specification requires.
    public static let malformedPacket = ReasonCode(rawValue: 0x81)
    /// 0x82: a packet was well formed but broke the protocol's rules.
    public static let protocolError = ReasonCode(rawValue: 0x82)
    /// 0x83: the packet is valid, but the receiver does not accept it.
    public static let implementationSpecificError = ReasonCode(rawValue: 0x83)
    /// 0x84 in CONNACK: the server does not speak the protocol version the client asked for.
    public static let unsupportedProtocolVersion = ReasonCode(rawValue: 0x84)
    /// 0x85 in CONNACK: the client identifier is valid UTF-8 but not allowed by the server.
    public static let clientIdentifierNotValid = ReasonCode(rawValue: 0x85)
    /// 0x86 in CONNACK: the server does not accept the user name or password.
    public static let badUserNameOrPassword = ReasonCode(rawValue: 0x86)
    /// 0x87: the client is not allowed to connect, publish or subscribe as it asked.
    public static let notAuthorized = ReasonCode(rawValue: 0x87)
    /// 0x88 in CONNACK: the server cannot take the connection now.
    public static let serverUnavailable = ReasonCode(rawValue: 0x88)
    /// 0x89 in CONNACK or DISCONNECT: the server is busy; the client may try again later.
    public static let serverBusy = ReasonCode(rawValue: 0x89)
    /// 0x8A in CONNACK: the client has been banned by an administrator.
    public static let banned = ReasonCode(rawValue: 0x8A)
    /// 0x8B in DISCONNECT: the server is shutting down.
    public static let serverShuttingDown = ReasonCode(rawValue: 0x8B)
    /// 0x8C in CONNACK or DISCONNECT: the authentication method is not supported, or not the one in use.
    public static let badAuthenticationMethod = ReasonCode(rawValue: 0x8C)
    /// 0x8D in DISCONNECT: nothing came from the client for one and a half keep-alive periods.
    public static let keepAliveTimeout = ReasonCode(rawValue: 0x8D)
    /// 0x8E in DISCONNECT: another connection with the same client identifier took the session.
    public static let sessionTakenOver = ReasonCode(rawValue: 0x8E)
    /// 0x8F in SUBACK, UNSUBACK or DISCONNECT: the topic filter is well formed but not accepted.
    public static let topicFilterInvalid = ReasonCode(rawValue: 0x8F)
    /// 0x90: the topic name is well formed but not accepted.
    public static let topicNameInvalid = ReasonCode(rawValue: 0x90)
    /// 0x91 in PUBACK, PUBREC, SUBACK or UNSUBACK: the packet identifier is already in use.
    public static let packetIdentifierInUse = ReasonCode(rawValue: 0x91)
    /// 0x92 in PUBREL or PUBCOMP: no QoS 2 flow has this packet identifier.
    public static let packetIdentifierNotFound = ReasonCode(rawValue: 0x92)
    /// 0x93 in DISCONNECT: more QoS 1 and 2 publishes were in flight than Receive Maximum allows.
    public static let receiveMaximumExceeded = ReasonCode(rawValue: 0x93)
    /// 0x94 in DISCONNECT: the topic alias is zero, above the maximum, or unknown.
    public static let topicAliasInvalid = ReasonCode(rawValue: 0x94)
    /// 0x95 in CONNACK or DISCONNECT: a packet was larger than the Maximum Packet Size.
    public static let packetTooLarge = ReasonCode(rawValue: 0x95)
    /// 0x96 in DISCONNECT: the client publishes faster than the server allows.
    public static let messageRateTooHigh = ReasonCode(rawValue: 0x96)
    /// 0x97: an implementation- or administrator-imposed limit was exceeded.
    public static let quotaExceeded = ReasonCode(rawValue: 0x97)
    /// 0x98 in DISCONNECT: an administrator closed the connection.
    public static let administrativeAction = ReasonCode(rawValue: 0x98)
    /// 0x99: the payload does not match its Payload Format Indicator (it is not UTF-8).
    public static let payloadFormatInvalid = ReasonCode(rawValue: 0x99)
    /// 0x9A in CONNACK or DISCONNECT: the server does not support retained messages.
    public static let retainNotSupported = ReasonCode(rawValue: 0x9A)
    /// 0x9B in CONNACK or DISCONNECT: the QoS is above the server's Maximum QoS.
    public static let qosNotSupported = ReasonCode(rawValue: 0x9B)
    /// 0x9C in CONNACK or DISCONNECT: the client should use another server, for now (see Server Reference).
    public static let useAnotherServer = ReasonCode(rawValue: 0x9C)
    /// 0x9D in CONNACK or DISCONNECT: the client should use another server for good (see Server Reference).
    public static let serverMoved = ReasonCode(rawValue: 0x9D)
    /// 0x9E in SUBACK or DISCONNECT: the server does not support shared subscriptions.
    public static let sharedSubscriptionsNotSupported = ReasonCode(rawValue: 0x9E)
    /// 0x9F in CONNACK or DISCONNECT: the client connects too often.
    public static let connectionRateExceeded = ReasonCode(rawValue: 0x9F)
    /// 0xA0 in DISCONNECT: the connection has lasted as long as it is allowed to.
    public static let maximumConnectTime = ReasonCode(rawValue: 0xA0)
    /// 0xA1 in SUBACK or DISCONNECT: the server does not support subscription identifiers.
    public static let subscriptionIdentifiersNotSupported = ReasonCode(rawValue: 0xA1)
    /// 0xA2 in SUBACK or DISCONNECT: the server does not support wildcard subscriptions.
    public static let wildcardSubscriptionsNotSupported = ReasonCode(rawValue: 0xA2)

    /// Every code the 5.0 specification defines, with its name.
    public static let names: [UInt8: String] = [
        0x00: "Success", 0x01: "Granted QoS 1", 0x02: "Granted QoS 2", 0x04: "Disconnect with Will Message",
        0x10: "No matching subscribers", 0x11: "No subscription existed", 0x18: "Continue authentication",
        0x19: "Re-authenticate", 0x80: "Unspecified error", 0x81: "Malformed Packet", 0x82: "Protocol Error",
        0x83: "Implementation specific error", 0x84: "Unsupported Protocol Version",
        0x85: "Client Identifier not valid", 0x86: "Bad User Name or Password", 0x87: "Not authorized",
        0x88: "Server unavailable", 0x89: "Server busy", 0x8A: "Banned", 0x8B: "Server shutting down",
        0x8C: "Bad authentication method", 0x8D: "Keep Alive timeout", 0x8E: "Session taken over",
        0x8F: "Topic Filter invalid", 0x90: "Topic Name invalid", 0x91: "Packet Identifier in use",
        0x92: "Packet Identifier not found", 0x93: "Receive Maximum exceeded", 0x94: "Topic Alias invalid",
        0x95: "Packet too large", 0x96: "Message rate too high", 0x97: "Quota exceeded",
        0x98: "Administrative action", 0x99: "Payload format invalid", 0x9A: "Retain not supported",
        0x9B: "QoS not supported", 0x9C: "Use another server", 0x9D: "Server moved",
        0x9E: "Shared Subscriptions not supported", 0x9F: "Connection rate exceeded", 0xA0: "Maximum connect time",
        0xA1: "Subscription Identifiers not supported", 0xA2: "Wildcard Subscriptions not supported",
    ]

    /// The code in hexadecimal and its name in the specification: "0x87 Not authorized".
    public var description: String {
        "\(hexadecimal) \(Self.names[rawValue] ?? "Unknown")"
    }

    /// The code in hexadecimal, as the specification writes it: "0x87".
    public var hexadecimal: String {
        "0x" + (rawValue < 0x10 ? "0" : "") + String(rawValue, radix: 16, uppercase: true)
    }

    /// The reason code a SUBACK carries to grant `qos`.
    public static func granted(_ qos: QoS) -> ReasonCode {
        ReasonCode(rawValue: qos.rawValue)
    }

    /// The MQTT 3.1/3.1.1 CONNACK return code that carries the meaning of this 5.0 refusal, or nil when there is
    /// none: a malformed or invalid CONNECT (a protocol error, an invalid will topic, a will the server cannot
    /// take) is answered by closing the connection without a CONNACK (3.1.1 MQTT-3.1.4-1, MQTT-4.8.0-1).
    public var connectReturnCode: ConnectReturnCode? {
        switch self {
        case .success: .accepted
        case .unsupportedProtocolVersion: .unacceptableProtocolVersion
        case .clientIdentifierNotValid: .identifierRejected
        case .badUserNameOrPassword, .badAuthenticationMethod: .badUserNameOrPassword
        case .notAuthorized, .banned: .notAuthorized
        // The server cannot take the client now, whatever the client sent.
        case .unspecifiedError, .implementationSpecificError, .serverUnavailable, .serverBusy, .quotaExceeded,
             .connectionRateExceeded, .useAnotherServer, .serverMoved, .serverShuttingDown:
            .serverUnavailable
        default: nil
        }
    }
}

/// The CONNACK return codes of MQTT 3.1 and 3.1.1.
public enum ConnectReturnCode: UInt8, Sendable, Hashable, CaseIterable {
    /// 0: the connection is accepted.
    case accepted = 0x00
    /// 1: the server does not speak the requested protocol level.
    case unacceptableProtocolVersion = 0x01
    /// 2: the client identifier is valid UTF-8 but not allowed.
    case identifierRejected = 0x02
    /// 3: the MQTT service is unavailable.
    case serverUnavailable = 0x03
    /// 4: the user name or password is malformed or wrong.
    case badUserNameOrPassword = 0x04
    /// 5: the client is not authorized to connect.
    case notAuthorized = 0x05

    /// The same byte as a `ReasonCode`, the type the rest of the API uses for both versions.
    public var reasonCode: ReasonCode { ReasonCode(rawValue: rawValue) }
}

extension ReasonCode {
    /// SUBACK return code for a refused subscription in MQTT 3.1.1 (the same value as 5.0's Unspecified error).
    public static let subscriptionFailure = ReasonCode(rawValue: 0x80)
}
