import NIOCore

/// One MQTT 5.0 property (section 2.2.2.2), with its value in its wire type.
public enum Property: Sendable, Hashable {
    /// 0x01: 0 for unspecified bytes, 1 for UTF-8 text.
    case payloadFormatIndicator(UInt8)
    /// 0x02: seconds after which the server discards the message if it has not delivered it.
    case messageExpiryInterval(UInt32)
    /// 0x03: the payload's type, a MIME type usually.
    case contentType(String)
    /// 0x08: the topic a request wants its response published on.
    case responseTopic(String)
    /// 0x09: bytes a requester uses to match a response to its request.
    case correlationData(ByteBuffer)
    /// 0x0B: in SUBSCRIBE, a number naming the subscription (1–268,435,455); in PUBLISH, one per matching subscription.
    case subscriptionIdentifier(Int)
    /// 0x11: seconds the session outlives its connection (0: none, 0xFFFFFFFF: forever).
    case sessionExpiryInterval(UInt32)
    /// 0x12: the identifier the server chose for a client that connected with an empty one.
    case assignedClientIdentifier(String)
    /// 0x13: the keep alive, in seconds, the server wants the client to use instead of its own.
    case serverKeepAlive(UInt16)
    /// 0x15: the name of the enhanced authentication method (SCRAM-SHA-256, …).
    case authenticationMethod(String)
    /// 0x16: the method's data for this step of enhanced authentication.
    case authenticationData(ByteBuffer)
    /// 0x17: whether the server may send Reason Strings and User Properties with failures (default true).
    case requestProblemInformation(Bool)
    /// 0x18: seconds the server waits after the connection ends before publishing the will.
    case willDelayInterval(UInt32)
    /// 0x19: whether the client asks the server for Response Information.
    case requestResponseInformation(Bool)
    /// 0x1A: a topic prefix the server suggests for the client's response topics.
    case responseInformation(String)
    /// 0x1C: another server for the client to use, with Use another server or Server moved.
    case serverReference(String)
    /// 0x1F: a human-readable reason for the packet's reason code, for diagnostics only.
    case reasonString(String)
    /// 0x21: how many QoS 1 and 2 publishes the sender accepts unacknowledged at once (default 65,535).
    case receiveMaximum(UInt16)
    /// 0x22: the highest topic alias the sender accepts (0 or absent: none).
    case topicAliasMaximum(UInt16)
    /// 0x23: a number standing for the topic name on this connection, saving resending it.
    case topicAlias(UInt16)
    /// 0x24: the highest QoS the server supports, when below 2.
    case maximumQoS(QoS)
    /// 0x25: whether the server supports retained messages (default true).
    case retainAvailable(Bool)
    /// 0x26: a name and value defined by the application; may repeat, and names may recur.
    case userProperty(String, String)
    /// 0x27: the largest packet, in bytes, the sender accepts.
    case maximumPacketSize(UInt32)
    /// 0x28: whether the server supports wildcard subscriptions (default true).
    case wildcardSubscriptionAvailable(Bool)
    /// 0x29: whether the server supports subscription identifiers (default true).
    case subscriptionIdentifiersAvailable(Bool)
    /// 0x2A: whether the server supports shared subscriptions (default true).
    case sharedSubscriptionAvailable(Bool)

    /// The property identifier on the wire.
    public var identifier: Identifier {
        switch self {
        case .payloadFormatIndicator: .payloadFormatIndicator
        case .messageExpiryInterval: .messageExpiryInterval
        case .contentType: .contentType
        case .responseTopic: .responseTopic
        case .correlationData: .correlationData
        case .subscriptionIdentifier: .subscriptionIdentifier
        case .sessionExpiryInterval: .sessionExpiryInterval
        case .assignedClientIdentifier: .assignedClientIdentifier
        case .serverKeepAlive: .serverKeepAlive
        case .authenticationMethod: .authenticationMethod
        case .authenticationData: .authenticationData
        case .requestProblemInformation: .requestProblemInformation
        case .willDelayInterval: .willDelayInterval
        case .requestResponseInformation: .requestResponseInformation
        case .responseInformation: .responseInformation
        case .serverReference: .serverReference
        case .reasonString: .reasonString
        case .receiveMaximum: .receiveMaximum
        case .topicAliasMaximum: .topicAliasMaximum
        case .topicAlias: .topicAlias
        case .maximumQoS: .maximumQoS
        case .retainAvailable: .retainAvailable
        case .userProperty: .userProperty
        case .maximumPacketSize: .maximumPacketSize
        case .wildcardSubscriptionAvailable: .wildcardSubscriptionAvailable
        case .subscriptionIdentifiersAvailable: .subscriptionIdentifiersAvailable
        case .sharedSubscriptionAvailable: .sharedSubscriptionAvailable
        }
    }

    /// The byte that identifies a property on the wire; it fixes the value's type.
    public enum Identifier: UInt8, Sendable, Hashable, CaseIterable {
        /// 0x01, identifying `Property.payloadFormatIndicator`.
        case payloadFormatIndicator = 0x01
        /// 0x02, identifying `Property.messageExpiryInterval`.
        case messageExpiryInterval = 0x02
        /// 0x03, identifying `Property.contentType`.
        case contentType = 0x03
        /// 0x08, identifying `Property.responseTopic`.
        case responseTopic = 0x08
        /// 0x09, identifying `Property.correlationData`.
        case correlationData = 0x09
        /// 0x0B, identifying `Property.subscriptionIdentifier`.
        case subscriptionIdentifier = 0x0B
        /// 0x11, identifying `Property.sessionExpiryInterval`.
        case sessionExpiryInterval = 0x11
        /// 0x12, identifying `Property.assignedClientIdentifier`.
        case assignedClientIdentifier = 0x12
        /// 0x13, identifying `Property.serverKeepAlive`.
        case serverKeepAlive = 0x13
        /// 0x15, identifying `Property.authenticationMethod`.
        case authenticationMethod = 0x15
        /// 0x16, identifying `Property.authenticationData`.
        case authenticationData = 0x16
        /// 0x17, identifying `Property.requestProblemInformation`.
        case requestProblemInformation = 0x17
        /// 0x18, identifying `Property.willDelayInterval`.
        case willDelayInterval = 0x18
        /// 0x19, identifying `Property.requestResponseInformation`.
        case requestResponseInformation = 0x19
        /// 0x1A, identifying `Property.responseInformation`.
        case responseInformation = 0x1A
        /// 0x1C, identifying `Property.serverReference`.
        case serverReference = 0x1C
        /// 0x1F, identifying `Property.reasonString`.
        case reasonString = 0x1F
        /// 0x21, identifying `Property.receiveMaximum`.
        case receiveMaximum = 0x21
        /// 0x22, identifying `Property.topicAliasMaximum`.
        case topicAliasMaximum = 0x22
        /// 0x23, identifying `Property.topicAlias`.
        case topicAlias = 0x23
        /// 0x24, identifying `Property.maximumQoS`.
        case maximumQoS = 0x24
        /// 0x25, identifying `Property.retainAvailable`.
        case retainAvailable = 0x25
        /// 0x26, identifying `Property.userProperty`.
        case userProperty = 0x26
        /// 0x27, identifying `Property.maximumPacketSize`.
        case maximumPacketSize = 0x27
        /// 0x28, identifying `Property.wildcardSubscriptionAvailable`.
        case wildcardSubscriptionAvailable = 0x28
        /// 0x29, identifying `Property.subscriptionIdentifiersAvailable`.
        case subscriptionIdentifiersAvailable = 0x29
        /// 0x2A, identifying `Property.sharedSubscriptionAvailable`.
        case sharedSubscriptionAvailable = 0x2A

        /// The packets (and the will) this property may appear in.
        public var allowedIn: PropertyContext.Set {
            switch self {
            case .payloadFormatIndicator, .messageExpiryInterval, .contentType, .responseTopic, .correlationData:
                [.publish, .will]
            case .subscriptionIdentifier: [.publish, .subscribe]
            case .sessionExpiryInterval: [.connect, .connAck, .disconnect]
            case .assignedClientIdentifier, .serverKeepAlive, .responseInformation, .maximumQoS, .retainAvailable,
                .wildcardSubscriptionAvailable, .subscriptionIdentifiersAvailable, .sharedSubscriptionAvailable:
                [.connAck]
            case .authenticationMethod, .authenticationData: [.connect, .connAck, .auth]
            case .requestProblemInformation, .requestResponseInformation: [.connect]
            case .willDelayInterval: [.will]
            case .serverReference: [.connAck, .disconnect]
            case .reasonString: [.connAck, .acknowledgement, .subAck, .unsubAck, .disconnect, .auth]
            case .receiveMaximum, .topicAliasMaximum, .maximumPacketSize: [.connect, .connAck]
            case .topicAlias: [.publish]
            case .userProperty: .all
            }
        }

        /// User Property may repeat anywhere; Subscription Identifier may repeat in a PUBLISH (MQTT-3.3.4-4).
        public func mayRepeat(in context: PropertyContext) -> Bool {
            self == .userProperty || (self == .subscriptionIdentifier && context == .publish)
        }
    }
}

/// Where a property list stands: the packet type, or the will properties of CONNECT.
public enum PropertyContext: UInt8, Sendable, Hashable {
    /// The packet whose properties these are; `will` is CONNECT's will properties, `acknowledgement` any of
    /// PUBACK, PUBREC, PUBREL and PUBCOMP.
    case connect, connAck, publish, will, acknowledgement, subscribe, subAck, unsubscribe, unsubAck, disconnect, auth

    /// Several contexts: where a property is allowed.
    public struct Set: OptionSet, Sendable, Hashable {
        /// One bit per context, at the context's raw value.
        public var rawValue: UInt16
        /// The set whose bits are `rawValue`.
        public init(rawValue: UInt16) { self.rawValue = rawValue }
        /// The set of `context` alone.
        public init(_ context: PropertyContext) { self.rawValue = 1 << context.rawValue }

        /// CONNECT.
        public static let connect = Set(.connect)
        /// CONNACK.
        public static let connAck = Set(.connAck)
        /// PUBLISH.
        public static let publish = Set(.publish)
        /// CONNECT's will properties.
        public static let will = Set(.will)
        /// PUBACK, PUBREC, PUBREL and PUBCOMP.
        public static let acknowledgement = Set(.acknowledgement)
        /// SUBSCRIBE.
        public static let subscribe = Set(.subscribe)
        /// SUBACK.
        public static let subAck = Set(.subAck)
        /// UNSUBSCRIBE.
        public static let unsubscribe = Set(.unsubscribe)
        /// UNSUBACK.
        public static let unsubAck = Set(.unsubAck)
        /// DISCONNECT.
        public static let disconnect = Set(.disconnect)
        /// AUTH.
        public static let auth = Set(.auth)
        /// Every context.
        public static let all = Set(rawValue: 0x7FF)
    }
}
