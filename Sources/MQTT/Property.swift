import NIOCore

/// One MQTT 5.0 property (section 2.2.2.2), with its value in its wire type.
public enum Property: Sendable, Hashable {
    case payloadFormatIndicator(UInt8)
    case messageExpiryInterval(UInt32)
    case contentType(String)
    case responseTopic(String)
    case correlationData(ByteBuffer)
    case subscriptionIdentifier(Int)
    case sessionExpiryInterval(UInt32)
    case assignedClientIdentifier(String)
    case serverKeepAlive(UInt16)
    case authenticationMethod(String)
    case authenticationData(ByteBuffer)
    case requestProblemInformation(Bool)
    case willDelayInterval(UInt32)
    case requestResponseInformation(Bool)
    case responseInformation(String)
    case serverReference(String)
    case reasonString(String)
    case receiveMaximum(UInt16)
    case topicAliasMaximum(UInt16)
    case topicAlias(UInt16)
    case maximumQoS(QoS)
    case retainAvailable(Bool)
    case userProperty(String, String)
    case maximumPacketSize(UInt32)
    case wildcardSubscriptionAvailable(Bool)
    case subscriptionIdentifiersAvailable(Bool)
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

    public enum Identifier: UInt8, Sendable, Hashable, CaseIterable {
        case payloadFormatIndicator = 0x01
        case messageExpiryInterval = 0x02
        case contentType = 0x03
        case responseTopic = 0x08
        case correlationData = 0x09
        case subscriptionIdentifier = 0x0B
        case sessionExpiryInterval = 0x11
        case assignedClientIdentifier = 0x12
        case serverKeepAlive = 0x13
        case authenticationMethod = 0x15
        case authenticationData = 0x16
        case requestProblemInformation = 0x17
        case willDelayInterval = 0x18
        case requestResponseInformation = 0x19
        case responseInformation = 0x1A
        case serverReference = 0x1C
        case reasonString = 0x1F
        case receiveMaximum = 0x21
        case topicAliasMaximum = 0x22
        case topicAlias = 0x23
        case maximumQoS = 0x24
        case retainAvailable = 0x25
        case userProperty = 0x26
        case maximumPacketSize = 0x27
        case wildcardSubscriptionAvailable = 0x28
        case subscriptionIdentifiersAvailable = 0x29
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
    case connect, connAck, publish, will, acknowledgement, subscribe, subAck, unsubscribe, unsubAck, disconnect, auth

    public struct Set: OptionSet, Sendable, Hashable {
        public var rawValue: UInt16
        public init(rawValue: UInt16) { self.rawValue = rawValue }
        public init(_ context: PropertyContext) { self.rawValue = 1 << context.rawValue }

        public static let connect = Set(.connect)
        public static let connAck = Set(.connAck)
        public static let publish = Set(.publish)
        public static let will = Set(.will)
        public static let acknowledgement = Set(.acknowledgement)
        public static let subscribe = Set(.subscribe)
        public static let subAck = Set(.subAck)
        public static let unsubscribe = Set(.unsubscribe)
        public static let unsubAck = Set(.unsubAck)
        public static let disconnect = Set(.disconnect)
        public static let auth = Set(.auth)
        public static let all = Set(rawValue: 0x7FF)
    }
}
