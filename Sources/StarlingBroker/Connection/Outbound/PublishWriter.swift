import MQTT
import NIOCore

/// How deliveries and answers are shaped for one client: the topic aliases the broker assigns, the properties a
/// message carries on, the client's Maximum Packet Size and whether it wants diagnostics. Held inline by the
/// connection; what it makes, the connection writes.
struct PublishWriter {
    /// 5.0: the aliases the broker uses for topics it sends, when the client accepts any (MQTT-3.1.2-26, -27).
    var outgoingAliases: OutgoingTopicAliases?
    /// 5.0: the client's Maximum Packet Size; larger messages are not sent to it (MQTT-3.1.2-25).
    var clientMaximumPacketSize = Int.max
    /// 5.0: whether reason strings and user properties may be sent on acknowledgements (MQTT-3.1.2-29).
    var problemInformation = true
    /// For a cluster link: each stored delivery carries its sequence number (`clusterSequenceProperty`), by which
    /// the other node records it taken.
    var stampsLinkSequence = false

    /// The PUBLISH that carries `delivery` to the client, or nil when it is larger than the client takes
    /// (MQTT-3.1.2-25: then it is discarded for this client as if it had been delivered).
    mutating func publish(
        _ delivery: Delivery, packetIdentifier: UInt16?, duplicate: Bool, now: NIODeadline, version: ProtocolVersion
    ) -> Packet? {
        var properties: Properties = []
        var topic = delivery.message.topic
        var newAlias: UInt16?
        if version == .v5 {
            properties = delivery.message.forwardedProperties(at: now)
            for identifier in delivery.subscriptionIdentifiers { properties.append(.subscriptionIdentifier(identifier)) }
            if stampsLinkSequence && delivery.sequence != 0 {
                properties.append(.userProperty(clusterSequenceProperty, String(delivery.sequence)))
            }
            switch outgoingAliases?.resolve(topic) {
            case .known(let alias):
                properties.append(.topicAlias(alias))
                topic = ""
            case .assign(let alias):
                properties.append(.topicAlias(alias))
                newAlias = alias
            case .topicOnly, nil:
                break
            }
        }
        let packet = Packet.publish(PublishPacket(
            topic: topic, payload: delivery.message.payload, qos: delivery.qos, retain: delivery.retain,
            duplicate: duplicate, packetIdentifier: packetIdentifier, properties: properties))
        if clientMaximumPacketSize != .max && packet.encodedSize(version: version) > clientMaximumPacketSize {
            return nil
        }
        // The mapping holds from the PUBLISH that announces it, so only once that PUBLISH goes out.
        if let newAlias { outgoingAliases?.commit(delivery.message.topic, alias: newAlias) }
        return packet
    }

    /// Takes from `packet` the diagnostics the client does not want or has no room for (5.0 only).
    func fit(_ packet: inout Packet) {
        packet.fitDiagnostics(problemInformation: problemInformation, maximumSize: clientMaximumPacketSize, version: .v5)
    }
}
