import MQTT
import NIOCore

/// The protocol's rules for CONNECT that depend only on the packet and the broker's settings (3.1, 3.2): the
/// terms of the session, or why the client is refused; and the properties of the CONNACK that accepts it.
/// Checks on shared state (connection counts, rate limits, authentication, the ACL, the session registry) are
/// the connection's.
///
/// Plain values only, so that every rule is tested from tables (`ConnectNegotiationTests`).
struct ConnectNegotiation: Sendable, Hashable {
    var maximumClientIdentifierLength: Int
    var topicLimits: TopicLimits
    var maximumKeepAlive: UInt16
    var maximumInflight: Int
    var maximumOutboundTopicAliases: UInt16
    var maximumQoS: QoS
    var retainAvailable: Bool
    var wildcardSubscriptionAvailable: Bool
    var subscriptionIdentifiersAvailable: Bool
    var sharedSubscriptionAvailable: Bool
    /// An authenticator is configured, so a 5.0 client may name an Authentication Method.
    var enhancedAuthenticationAvailable: Bool
    /// Announced in CONNACK.
    var receiveMaximum: UInt16
    var maximumPacketSize: Int
    var topicAliasMaximum: UInt16
    var responseInformation: String?

    init(configuration: BrokerConfiguration, enhancedAuthenticationAvailable: Bool) {
        let limits = configuration.limits
        maximumClientIdentifierLength = limits.maximumClientIdentifierLength
        topicLimits = limits.topicLimits
        maximumKeepAlive = limits.maximumKeepAlive
        maximumInflight = limits.maximumInflight
        maximumOutboundTopicAliases = limits.maximumOutboundTopicAliases
        maximumQoS = configuration.maximumQoS
        retainAvailable = configuration.retainAvailable
        wildcardSubscriptionAvailable = configuration.wildcardSubscriptionAvailable
        subscriptionIdentifiersAvailable = configuration.subscriptionIdentifiersAvailable
        sharedSubscriptionAvailable = configuration.sharedSubscriptionAvailable
        self.enhancedAuthenticationAvailable = enhancedAuthenticationAvailable
        receiveMaximum = limits.receiveMaximum
        maximumPacketSize = limits.maximumPacketSize
        topicAliasMaximum = limits.topicAliasMaximum
        responseInformation = configuration.responseInformation
    }

    /// What an accepted CONNECT sets up.
    struct Terms: Equatable {
        var clientIdentifier: String
        /// Set when the client sent none and the broker made one (told to a 5.0 client in CONNACK).
        var assignedIdentifier: String?
        /// The keep alive in force, in seconds; 0 for none.
        var keepAlive: UInt16
        /// 5.0: the keep alive the broker imposes, told in CONNACK (MQTT-3.2.2-21).
        var serverKeepAlive: UInt16?
        /// Seconds the session outlives the connection; `UInt32.max` for ever.
        var expiryInterval: UInt32
        /// The most QoS 1 and 2 messages in flight to the client at once.
        var sendWindow: Int
        /// 5.0: how many topic aliases the broker may use towards the client, if any.
        var outgoingTopicAliases: UInt16?

        /// How long the connection may stay silent before it is closed: one and a half times the keep alive
        /// (3.1.1 MQTT-3.1.2-24, 5.0 MQTT-3.1.2-22); nil when there is no keep alive.
        var silenceTimeout: TimeAmount? {
            keepAlive > 0 ? .milliseconds(Int64(keepAlive) * 1_500) : nil
        }
    }

    enum Outcome: Equatable {
        case accept(Terms)
        /// CONNACK with this reason (or the 3.1.1 return code for it), then close.
        case refuse(ReasonCode, reasonString: String?)
    }

    /// `makeClientIdentifier` names a client that sent an empty identifier, where the protocol lets the broker.
    func negotiate(_ connect: ConnectPacket, makeClientIdentifier: () -> String) -> Outcome {
        let version = connect.protocolVersion
        let v5 = version == .v5
        var clientIdentifier = connect.clientIdentifier
        var assignedIdentifier: String?
        if clientIdentifier.isEmpty {
            // MQTT-3.1.3-7/-8: 3.1.1 assigns an identifier only with Clean Session; 3.1 never does.
            guard v5 || (version == .v3_1_1 && connect.cleanStart) else {
                return .refuse(.clientIdentifierNotValid, reasonString: "empty client identifier")
            }
            clientIdentifier = makeClientIdentifier()
            assignedIdentifier = clientIdentifier
        }
        guard clientIdentifier.utf8.count <= maximumClientIdentifierLength else {
            return .refuse(.clientIdentifierNotValid, reasonString: "client identifier longer than \(maximumClientIdentifierLength) bytes")
        }
        if let will = connect.will {
            do {
                try TopicName.validate(will.topic, limits: topicLimits)
            } catch {
                return .refuse(.topicNameInvalid, reasonString: "invalid will topic")
            }
            if will.properties.payloadFormatIndicator == 1 && !will.payload.isValidUTF8 {
                return .refuse(.payloadFormatInvalid, reasonString: "will payload is not UTF-8 as its Payload Format Indicator says")
            }
            if will.retain && !retainAvailable {
                // MQTT-3.2.2-13: a retained will needs retained messages.
                return .refuse(.retainNotSupported, reasonString: "retained messages are not available")
            }
            if will.qos > maximumQoS {
                // MQTT-3.2.2-12: a will QoS above the Maximum QoS.
                return .refuse(.qosNotSupported, reasonString: "will QoS above the Maximum QoS \(maximumQoS.rawValue)")
            }
        }
        var keepAlive = connect.keepAlive
        var serverKeepAlive: UInt16?
        if maximumKeepAlive < UInt16.max, keepAlive == 0 || keepAlive > maximumKeepAlive {
            // 5.0 clients are told the keep alive to use (MQTT-3.2.2-21); 3.1.1 has no way to, so, as Mosquitto
            // does, they are refused.
            guard v5 else { return .refuse(.clientIdentifierNotValid, reasonString: nil) }
            keepAlive = maximumKeepAlive
            serverKeepAlive = keepAlive
        }
        var receiveMaximum = UInt16.max
        var outgoingTopicAliases: UInt16?
        if v5 {
            let properties = connect.properties
            if properties.authenticationData != nil && properties.authenticationMethod == nil {
                // 3.1.2.11.10: Authentication Data without an Authentication Method is a Protocol Error.
                return .refuse(.protocolError, reasonString: "Authentication Data without an Authentication Method")
            }
            if properties.authenticationMethod != nil && !enhancedAuthenticationAvailable {
                // No enhanced authentication method is configured (MQTT-4.12.0-1).
                return .refuse(.badAuthenticationMethod, reasonString: "no enhanced authentication method is supported")
            }
            receiveMaximum = properties.receiveMaximum ?? UInt16.max
            if let maximum = properties.topicAliasMaximum, maximum > 0, maximumOutboundTopicAliases > 0 {
                outgoingTopicAliases = min(maximum, maximumOutboundTopicAliases)
            }
        }
        // 3.1.1: Clean Session 0 keeps the session for ever; 5.0 says how long.
        let expiryInterval: UInt32 = v5 ? (connect.properties.sessionExpiryInterval ?? 0) : (connect.cleanStart ? 0 : UInt32.max)
        return .accept(Terms(
            clientIdentifier: clientIdentifier, assignedIdentifier: assignedIdentifier, keepAlive: keepAlive,
            serverKeepAlive: serverKeepAlive, expiryInterval: expiryInterval,
            sendWindow: max(1, min(maximumInflight, Int(receiveMaximum))), outgoingTopicAliases: outgoingTopicAliases))
    }

    /// 5.0: the properties of the CONNACK that accepts a client on `terms`.
    func connAckProperties(
        _ terms: Terms, assignedIdentifier: String?, requestResponseInformation: Bool, authenticationMethod: String?,
        authenticationData: ByteBuffer?
    ) -> Properties {
        var properties: Properties = []
        if let assignedIdentifier { properties.append(.assignedClientIdentifier(assignedIdentifier)) }
        if let keepAlive = terms.serverKeepAlive { properties.append(.serverKeepAlive(keepAlive)) }
        if let authenticationMethod {
            // MQTT-4.12.0-5: a successful CONNACK repeats the method.
            properties.append(.authenticationMethod(authenticationMethod))
            if let authenticationData { properties.append(.authenticationData(authenticationData)) }
        }
        properties.append(.receiveMaximum(receiveMaximum))
        properties.append(.maximumPacketSize(UInt32(clamping: maximumPacketSize)))
        if topicAliasMaximum > 0 { properties.append(.topicAliasMaximum(topicAliasMaximum)) }
        // Each capability is announced only when off: absent means available (3.2.2.3.4, .5, .11 to .13).
        if maximumQoS < .exactlyOnce { properties.append(.maximumQoS(maximumQoS)) }
        if !retainAvailable { properties.append(.retainAvailable(false)) }
        if !wildcardSubscriptionAvailable { properties.append(.wildcardSubscriptionAvailable(false)) }
        if !subscriptionIdentifiersAvailable { properties.append(.subscriptionIdentifiersAvailable(false)) }
        if !sharedSubscriptionAvailable { properties.append(.sharedSubscriptionAvailable(false)) }
        if requestResponseInformation, let responseInformation { properties.append(.responseInformation(responseInformation)) }
        return properties
    }
}
