import Logging
import MQTT
import NIOCore

/// PUBLISH, SUBSCRIBE, UNSUBSCRIBE and DISCONNECT from a connected client.
extension ConnectionHandler {
    func handlePublish(_ publish: PublishPacket, session: Session) {
        let limits = core.configuration.limits
        var topic = publish.topic
        if version == .v5 && !publish.properties.isEmpty {
            if let alias = publish.properties.topicAlias {
                // MQTT-3.3.2-8/-9: alias 0 or above the announced maximum is invalid.
                guard alias != 0, alias <= limits.topicAliasMaximum else {
                    disconnect(reason: .topicAliasInvalid)
                    return
                }
                if topic.isEmpty {
                    guard let known = topicAliases[alias] else {
                        disconnect(reason: .protocolError, reasonString: "unknown topic alias")
                        return
                    }
                    topic = known
                } else {
                    topicAliases[alias] = topic
                }
            }
            // MQTT-3.3.4-6: a client does not send Subscription Identifiers.
            if !publish.properties.subscriptionIdentifiers.isEmpty {
                disconnect(reason: .protocolError, reasonString: "Subscription Identifier in PUBLISH")
                return
            }
            if publish.properties.payloadFormatIndicator == 1 && !publish.payload.isValidUTF8 {
                // MQTT-3.3.2-? / 5.4.1: a payload that is not the UTF-8 it claims to be.
                acknowledge(publish, reasonCode: .payloadFormatInvalid)
                return
            }
        }
        do {
            try TopicName.validate(topic, limits: limits.topicLimits)
        } catch {
            disconnect(reason: .topicNameInvalid)
            return
        }
        if publish.qos == .exactlyOnce, let identifier = publish.packetIdentifier {
            if session.receivedQoS2.contains(identifier) {
                // A resent QoS 2 PUBLISH is acknowledged again but not delivered twice (4.3.3).
                send(.pubRec(AcknowledgementPacket(packetIdentifier: identifier)))
                return
            }
            guard session.receivedQoS2.count < Int(limits.receiveMaximum) else {
                // MQTT-3.3.4-9: more unacknowledged QoS 2 PUBLISH packets than the Receive Maximum.
                disconnect(reason: .receiveMaximumExceeded)
                return
            }
        }
        let message = Message(publish: publish, topic: topic, publisher: session.clientIdentifier, now: .now())
        let receivers = core.publish(message, on: loop)
        acknowledge(publish, reasonCode: receivers == 0 ? .noMatchingSubscribers : .success)
        if publish.qos == .exactlyOnce, let identifier = publish.packetIdentifier {
            session.receivedQoS2.insert(identifier)
        }
    }

    private func acknowledge(_ publish: PublishPacket, reasonCode: ReasonCode) {
        guard let identifier = publish.packetIdentifier else {
            if reasonCode.isFailure { disconnect(reason: reasonCode) }
            return
        }
        let ack = AcknowledgementPacket(packetIdentifier: identifier, reasonCode: reasonCode)
        send(publish.qos == .atLeastOnce ? .pubAck(ack) : .pubRec(ack))
    }

    func handleSubscribe(_ subscribe: SubscribePacket, session: Session) {
        let limits = core.configuration.limits
        let v5 = version == .v5
        let identifier = subscribe.properties.subscriptionIdentifiers.first
        var reasonCodes: [ReasonCode] = []
        var accepted: [(filter: TopicFilter, options: SubscriptionOptions, isNew: Bool)] = []
        for subscription in subscribe.subscriptions {
            guard let filter = try? TopicFilter(subscription.topicFilter, limits: limits.topicLimits) else {
                reasonCodes.append(v5 ? .topicFilterInvalid : .subscriptionFailure)
                continue
            }
            let isNew = session.subscriptions[filter.rawValue] == nil
            if isNew && session.subscriptions.count >= limits.maximumSubscriptionsPerClient {
                reasonCodes.append(v5 ? .quotaExceeded : .subscriptionFailure)
                continue
            }
            session.subscriptions[filter.rawValue] = Session.SubscriptionRecord(filter: filter, options: subscription.options, identifier: identifier)
            accepted.append((filter, subscription.options, isNew))
            reasonCodes.append(.granted(subscription.options.qos))
        }
        let suback = Packet.subAck(SubAckPacket(packetIdentifier: subscribe.packetIdentifier, reasonCodes: reasonCodes))
        guard !accepted.isEmpty else {
            send(suback)
            return
        }
        let entries = accepted.map { (filter: $0.filter, subscriber: TopicTree.Subscriber(session: session, options: $0.options, identifier: identifier)) }
        let loop = self.loop
        let core = self.core
        // SUBACK goes out once every loop routes to the new subscriptions, so that a message published after
        // the client saw SUBACK always reaches it; the client's next packets wait until then.
        pause()
        core.updateSubscriptions(on: loop.eventLoop) { tree in
            for entry in entries { tree.insert(entry.filter, entry.subscriber) }
        }.assumeIsolated().whenComplete { [self] _ in
            send(suback)
            let now = NIODeadline.now()
            for entry in accepted where !entry.filter.isShared {
                // MQTT-3.3.1-9/-10/-11: retained messages by Retain Handling; none for shared subscriptions.
                switch entry.options.retainHandling {
                case .doNotSend: continue
                case .sendOnNewSubscribe where !entry.isNew: continue
                default: break
                }
                let messages = core.retained.withLockedValue { $0.matching(entry.filter, now: now) }
                for message in messages {
                    let delivery = Delivery(
                        message: message, qos: min(message.qos, entry.options.qos), retain: true,
                        subscriptionIdentifiers: identifier.map { [$0] } ?? [])
                    loop.deliver(delivery, to: session)
                }
            }
            if core.events.hasListeners {
                core.events.emit(.subscribed(clientIdentifier: session.clientIdentifier, topicFilters: accepted.map(\.filter.rawValue)))
            }
            resume()
        }
    }

    func handleUnsubscribe(_ unsubscribe: UnsubscribePacket, session: Session) {
        var reasonCodes: [ReasonCode] = []
        var removed: [TopicFilter] = []
        for raw in unsubscribe.topicFilters {
            if let record = session.subscriptions.removeValue(forKey: raw) {
                removed.append(record.filter)
                reasonCodes.append(.success)
            } else {
                reasonCodes.append(.noSubscriptionExisted)
            }
        }
        let unsuback = Packet.unsubAck(UnsubAckPacket(packetIdentifier: unsubscribe.packetIdentifier, reasonCodes: reasonCodes))
        guard !removed.isEmpty else {
            send(unsuback)
            return
        }
        let loop = self.loop
        let core = self.core
        let filters = removed
        pause()
        core.updateSubscriptions(on: loop.eventLoop) { tree in
            for filter in filters { tree.remove(filter, session: session) }
        }.assumeIsolated().whenComplete { [self] _ in
            send(unsuback)
            if core.events.hasListeners {
                core.events.emit(.unsubscribed(clientIdentifier: session.clientIdentifier, topicFilters: filters.map(\.rawValue)))
            }
            resume()
        }
    }

    func handleDisconnect(_ packet: DisconnectPacket, session: Session) {
        if version == .v5, let expiry = packet.properties.sessionExpiryInterval {
            // MQTT-3.14.2-2: a session that was to end with the connection cannot be given an expiry now.
            guard session.expiryInterval != 0 || expiry == 0 else {
                disconnect(reason: .protocolError, reasonString: "Session Expiry Interval was 0 in CONNECT")
                return
            }
            session.expiryInterval = expiry
        }
        // MQTT-3.14.4-3: the will is deleted unless the reason is 0x04 Disconnect with Will Message.
        disconnectedNormally = packet.reasonCode != .disconnectWithWillMessage
        close()
    }
}
