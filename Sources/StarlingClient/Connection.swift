import NIOCore

/// One accepted connection and what the broker's CONNACK allows on it. Topic aliases live here because they
/// end with the connection (3.3.2.3.4); everything that must survive lives in `ClientSession`.
final class Connection {
    let id: UInt64
    let channel: any Channel
    let handler: MQTTConnectionHandler
    let version: ProtocolVersion
    /// How many QoS 1 and 2 publishes may await acknowledgement at once (the broker's Receive Maximum, or less
    /// when the configuration says so).
    let receiveMaximum: Int
    let maximumPacketSize: Int
    let maximumQoS: QoS
    let retainAvailable: Bool
    let subscriptionIdentifiersAvailable: Bool
    /// The Topic Alias Maximum this client announced: aliases above it are a protocol error.
    let incomingAliasMaximum: UInt16
    /// Nil when the broker takes no aliases or the client uses none.
    let outgoingAliases: OutgoingTopicAliases?
    var incomingAliases = IncomingTopicAliases()

    init(
        id: UInt64, channel: any Channel, handler: MQTTConnectionHandler, connAck: ConnAckPacket,
        configuration: MQTTClientConfiguration
    ) {
        self.id = id
        self.channel = channel
        self.handler = handler
        self.version = configuration.protocolVersion
        let properties = configuration.protocolVersion == .v5 ? connAck.properties : []
        receiveMaximum = min(Int(properties.receiveMaximum ?? UInt16.max), max(configuration.maximumInflightPublishes ?? .max, 1))
        maximumPacketSize = properties.maximumPacketSize.map { Int($0) } ?? 268_435_460
        maximumQoS = properties.maximumQoS ?? .exactlyOnce
        retainAvailable = properties.retainAvailable ?? true
        subscriptionIdentifiersAvailable = version == .v5 && (properties.subscriptionIdentifiersAvailable ?? true)
        incomingAliasMaximum = version == .v5 ? configuration.topicAliasMaximum : 0
        let aliasMaximum = version == .v5 && configuration.usesTopicAliases ? (properties.topicAliasMaximum ?? 0) : 0
        outgoingAliases = aliasMaximum > 0 ? OutgoingTopicAliases(capacity: aliasMaximum) : nil
    }
}
