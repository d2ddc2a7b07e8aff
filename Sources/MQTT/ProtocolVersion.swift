/// The protocol level carried in CONNECT; it decides how every later packet on the connection is encoded.
public enum ProtocolVersion: UInt8, Sendable, Hashable, CaseIterable, Comparable {
    /// MQTT 3.1, protocol name "MQIsdp".
    case v3_1 = 3
    /// MQTT 3.1.1, protocol name "MQTT".
    case v3_1_1 = 4
    /// MQTT 5.0, protocol name "MQTT".
    case v5 = 5

    public var protocolName: String {
        self == .v3_1 ? "MQIsdp" : "MQTT"
    }

    public static func < (lhs: ProtocolVersion, rhs: ProtocolVersion) -> Bool {
        lhs.rawValue < rhs.rawValue
    }
}

/// Quality of service of a message or subscription.
public enum QoS: UInt8, Sendable, Hashable, CaseIterable, Comparable {
    case atMostOnce = 0
    case atLeastOnce = 1
    case exactlyOnce = 2

    public static func < (lhs: QoS, rhs: QoS) -> Bool {
        lhs.rawValue < rhs.rawValue
    }
}
