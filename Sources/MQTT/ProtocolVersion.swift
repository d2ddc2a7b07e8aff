/// The protocol level carried in CONNECT; it decides how every later packet on the connection is encoded.
public enum ProtocolVersion: UInt8, Sendable, Hashable, CaseIterable, Comparable {
    /// MQTT 3.1, protocol name "MQIsdp".
    case v3_1 = 3
    /// MQTT 3.1.1, protocol name "MQTT".
    case v3_1_1 = 4
    /// MQTT 5.0, protocol name "MQTT".
    case v5 = 5

    /// The protocol name CONNECT carries for this level.
    public var protocolName: String {
        self == .v3_1 ? "MQIsdp" : "MQTT"
    }

    /// Ordered by protocol level: `.v3_1 < .v3_1_1 < .v5`.
    public static func < (lhs: ProtocolVersion, rhs: ProtocolVersion) -> Bool {
        lhs.rawValue < rhs.rawValue
    }
}

/// Quality of service of a message or subscription.
public enum QoS: UInt8, Sendable, Hashable, CaseIterable, Comparable {
    /// QoS 0: sent once, not acknowledged; lost if the connection is.
    case atMostOnce = 0
    /// QoS 1: acknowledged with PUBACK, sent again until it is; may arrive more than once.
    case atLeastOnce = 1
    /// QoS 2: a four-packet exchange (PUBLISH, PUBREC, PUBREL, PUBCOMP) that delivers it once and only once.
    case exactlyOnce = 2

    /// Ordered by guarantee: `.atMostOnce < .atLeastOnce < .exactlyOnce`.
    public static func < (lhs: QoS, rhs: QoS) -> Bool {
        lhs.rawValue < rhs.rawValue
    }
}
