import Logging
import MQTT
import NIOCore

/// A PUBLISH from a connected client, from the protocol's checks to the acknowledgement: `PublishValidation`'s
/// verdict, the payload size, the rate limits and the ACL, the publish authorizer, routing, then PUBACK or
/// PUBREC once the store keeps what they acknowledge.
enum PublishReception {
    static func receive(_ publish: PublishPacket, session: Session, on connection: ConnectionHandler) {
        let core = connection.core
        connection.loop.counters.received.count(publish.qos, payloadBytes: publish.payload.readableBytes)
        let topic: String
        switch core.publishValidation.validate(
            publish, version: connection.version, aliases: &connection.topicAliases, unreleased: session.receivedQoS2)
        {
        case .accept(let resolved):
            topic = resolved
        case .acknowledgeAgain:
            connection.sendDurably(.pubRec(AcknowledgementPacket(packetIdentifier: publish.packetIdentifier!)))
            return
        case .refuse(let reason, let why):
            acknowledge(publish, reasonCode: reason, reasonString: why, on: connection)
            return
        case .disconnect(let reason, let why):
            connection.disconnect(reason: reason, reasonString: why)
            return
        }
        // Checks beyond the protocol's: a payload size, rate limits or an ACL.
        // Guards may hold only the client's identity (a user name kept for the admin API): they check nothing.
        if connection.guards?.checksPublishes == true || core.configuration.limits.maximumPayloadSize != nil,
            !admit(publish, topic: topic, session: session, on: connection)
        {
            return
        }
        let message = Message(publish: publish, topic: topic, publisher: session.clientIdentifier, now: .now())
        connection.loop.sampleDeliveryDuration()
        if let authorizer = core.hooks.publishAuthorizer {
            authorize(message, publish: publish, session: session, authorizer: authorizer, on: connection)
            return
        }
        route(message, for: publish, session: session, on: connection)
    }

    private static func route(_ message: Message, for publish: PublishPacket, session: Session, on connection: ConnectionHandler) {
        let receivers = connection.core.publish(message, on: connection.loop, publisher: connection)
        // A hook's answer can come after the connection ended (the message still counts), and the session may
        // belong to another connection by then.
        guard connection.state == .connected else { return }
        if publish.qos == .exactlyOnce, let identifier = publish.packetIdentifier {
            session.receivedQoS2.insert(identifier)
            session.recordReceivedQoS2(identifier, released: false, in: connection.loop.storeChanges)
        }
        acknowledge(publish, reasonCode: receivers == 0 ? .noMatchingSubscribers : .success, on: connection)
    }

    private static func acknowledge(
        _ publish: PublishPacket, reasonCode: ReasonCode, reasonString: String? = nil, on connection: ConnectionHandler
    ) {
        guard let identifier = publish.packetIdentifier else {
            if reasonCode.isFailure {
                connection.disconnect(reason: reasonCode, reasonString: reasonString)
            } else if connection.pressure != nil {
                CongestionWait.publishedUnacknowledged(on: connection)
            }
            return
        }
        let properties: Properties = reasonString.map { [.reasonString($0)] } ?? []
        let ack = AcknowledgementPacket(packetIdentifier: identifier, reasonCode: reasonCode, properties: properties)
        connection.sendDurably(publish.qos == .atLeastOnce ? .pubAck(ack) : .pubRec(ack))
    }

    /// Checks a PUBLISH against the payload size, the rate limits and the ACL; answers it and returns false if
    /// one of them refuses it.
    private static func admit(_ publish: PublishPacket, topic: String, session: Session, on connection: ConnectionHandler) -> Bool {
        let limits = connection.core.configuration.limits
        let guards = connection.guards
        if let maximum = limits.maximumPayloadSize, publish.payload.readableBytes > maximum {
            refuse(publish, session: session, reason: .quotaExceeded, why: "payload larger than \(maximum) bytes", topic: topic, on: connection)
            return false
        }
        if guards?.publishQuota?.admit(payloadBytes: publish.payload.readableBytes, now: .now()) == false {
            refuse(publish, session: session, reason: .quotaExceeded, why: "publish rate limit exceeded", topic: topic, on: connection)
            return false
        }
        if guards?.access != nil {
            // In place: the rules keep their answers per topic.
            guard guards?.access?.mayPublish(topic) == true else {
                connection.loop.counters.security.publishesDenied &+= 1
                refuse(publish, session: session, reason: .notAuthorized, why: "not allowed to publish to this topic", topic: topic, on: connection)
                return false
            }
            // Counted once the publish authorizer, if any, has allowed it too.
            if connection.core.hooks.publishAuthorizer == nil { connection.loop.counters.security.publishesAllowed &+= 1 }
        }
        return true
    }

    private static func authorize(
        _ message: Message, publish: PublishPacket, session: Session, authorizer: any PublishAuthorizer, on connection: ConnectionHandler
    ) {
        guard let client = connection.clientInfo else { return }
        connection.hookCalls.run("publish authorizer", { try await authorizer.authorizePublish(message, from: client) }) { result in
            switch result {
            case .success(.allow):
                connection.loop.counters.security.publishesAllowed &+= 1
                route(message, for: publish, session: session, on: connection)
            case .success(.rewrite(var rewritten)):
                do {
                    try TopicName.validate(rewritten.topic, limits: connection.core.configuration.limits.topicLimits)
                } catch {
                    connection.logger.error("publish authorizer rewrote the topic to an invalid one", metadata: ["topic": "\(rewritten.topic)"])
                    refuse(publish, session: session, reason: .implementationSpecificError, why: "rewritten topic is invalid", topic: message.topic, on: connection)
                    return
                }
                rewritten.publisher = message.publisher
                connection.loop.counters.security.publishesAllowed &+= 1
                route(rewritten, for: publish, session: session, on: connection)
            case .success(.refuse(let reason)):
                connection.loop.counters.security.publishesDenied &+= 1
                refuse(
                    publish, session: session, reason: reason.isFailure ? reason : .notAuthorized, why: "refused by the publish authorizer",
                    topic: message.topic, on: connection)
            case .failure:
                connection.loop.counters.security.publishesDenied &+= 1
                refuse(publish, session: session, reason: .notAuthorized, why: "publish authorizer failed", topic: message.topic, on: connection)
            }
        }
    }

    /// Refuses a PUBLISH: 5.0 says so in PUBACK / PUBREC; QoS 0 messages, and every message of 3.1.1 (which
    /// has no way to say no), are acknowledged as usual and dropped, as Mosquitto does.
    private static func refuse(
        _ publish: PublishPacket, session: Session, reason: ReasonCode, why: String, topic: String, on connection: ConnectionHandler
    ) {
        connection.logRefusal(why, topic: topic)
        guard let identifier = publish.packetIdentifier, connection.state == .connected else { return }
        if connection.version == .v5 {
            acknowledge(publish, reasonCode: reason, reasonString: why, on: connection)
        } else if publish.qos == .exactlyOnce {
            session.receivedQoS2.insert(identifier)
            connection.send(.pubRec(AcknowledgementPacket(packetIdentifier: identifier)))
        } else {
            connection.send(.pubAck(AcknowledgementPacket(packetIdentifier: identifier)))
        }
    }
}
