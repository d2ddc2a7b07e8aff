import MQTT

/// The protocol's rules for a client's PUBLISH before it is routed (3.3): QoS and RETAIN against what CONNACK
/// announced, topic aliases, properties a client may not send, the topic name, and QoS 2 flows. The limits,
/// ACL and hooks a broker adds come after, in the connection.
///
/// Plain values only, so that every rule is tested from tables (`PublishValidationRuleTests`).
struct PublishValidation: Sendable, Hashable {
    var maximumQoS: QoS
    var retainAvailable: Bool
    var topicAliasMaximum: UInt16
    var topicLimits: TopicLimits
    /// The Receive Maximum the broker announced: the most QoS 2 messages a client may leave unreleased.
    var receiveMaximum: UInt16

    init(configuration: BrokerConfiguration) {
        maximumQoS = configuration.maximumQoS
        retainAvailable = configuration.retainAvailable
        topicAliasMaximum = configuration.limits.topicAliasMaximum
        topicLimits = configuration.limits.topicLimits
        receiveMaximum = configuration.limits.receiveMaximum
    }

    /// What becomes of a PUBLISH.
    enum Verdict: Equatable {
        /// Valid: route it to `topic` (its alias resolved).
        case accept(topic: String)
        /// A QoS 2 PUBLISH resent before its release: acknowledged again, not delivered twice (4.3.3).
        case acknowledgeAgain
        /// Refused with this reason in its acknowledgement; the connection stays.
        case refuse(ReasonCode, reasonString: String)
        /// A protocol error: the connection ends with this reason.
        case disconnect(ReasonCode, reasonString: String)
    }

    /// Checks `publish`, resolving and recording its topic alias in `aliases`; `unreleased` holds the packet
    /// identifiers of the client's QoS 2 messages not yet released, read only for a QoS 2 PUBLISH.
    func validate(
        _ publish: PublishPacket, version: ProtocolVersion, aliases: inout IncomingTopicAliases,
        unreleased: @autoclosure () -> Set<UInt16>
    ) -> Verdict {
        if publish.qos > maximumQoS {
            // MQTT-3.2.2-11 and 3.3.1.2: a QoS above the Maximum QoS in CONNACK.
            return .disconnect(.qosNotSupported, reasonString: "QoS above the Maximum QoS \(maximumQoS.rawValue)")
        }
        if publish.retain && !retainAvailable {
            // MQTT-3.2.2-14: RETAIN 1 after Retain Available 0 in CONNACK.
            return .disconnect(.retainNotSupported, reasonString: "retained messages are not available")
        }
        var topic = publish.topic
        if version == .v5 && !publish.properties.isEmpty {
            if let alias = publish.properties.topicAlias {
                switch aliases.resolve(topic: topic, alias: alias, maximum: topicAliasMaximum) {
                case .success(let resolved):
                    topic = resolved
                case .failure(let failure):
                    let why = if case .outOfRange = failure {
                        "topic alias \(alias) outside 1...\(topicAliasMaximum)"
                    } else {
                        "unknown topic alias"
                    }
                    return .disconnect(failure.reasonCode, reasonString: why)
                }
            }
            // MQTT-3.3.4-6: a client does not send Subscription Identifiers.
            if publish.properties.contains(where: { $0.identifier == .subscriptionIdentifier }) {
                return .disconnect(.protocolError, reasonString: "Subscription Identifier in PUBLISH")
            }
            if publish.properties.payloadFormatIndicator == 1 && !publish.payload.isValidUTF8 {
                // 3.3.2.3.2: a payload that is not the UTF-8 its Payload Format Indicator claims, refused with 0x99.
                return .refuse(.payloadFormatInvalid, reasonString: "payload is not UTF-8 as its Payload Format Indicator says")
            }
        }
        do {
            try TopicName.validate(topic, limits: topicLimits)
        } catch {
            return .disconnect(.topicNameInvalid, reasonString: "invalid topic name")
        }
        if publish.qos == .exactlyOnce, let identifier = publish.packetIdentifier {
            let unreleased = unreleased()
            if unreleased.contains(identifier) { return .acknowledgeAgain }
            guard unreleased.count < Int(receiveMaximum) else {
                // MQTT-3.3.4-9: more unacknowledged QoS 2 PUBLISH packets than the Receive Maximum.
                return .disconnect(.receiveMaximumExceeded, reasonString: "more than \(receiveMaximum) QoS 2 messages unacknowledged")
            }
        }
        return .accept(topic: topic)
    }
}
