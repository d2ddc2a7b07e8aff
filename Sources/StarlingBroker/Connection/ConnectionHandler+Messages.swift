import Logging
import MQTT
import NIOCore

/// PUBLISH, SUBSCRIBE, UNSUBSCRIBE and DISCONNECT from a connected client.
extension ConnectionHandler {
    func handlePublish(_ publish: PublishPacket, session: Session) {
        loop.counters.messagesReceived &+= 1
        let limits = core.configuration.limits
        if publish.qos > core.configuration.maximumQoS {
            // MQTT-3.2.2-11 and 3.3.1.2: a QoS above the Maximum QoS in CONNACK.
            disconnect(reason: .qosNotSupported, reasonString: "QoS above the Maximum QoS \(core.configuration.maximumQoS.rawValue)")
            return
        }
        if publish.retain && !core.configuration.retainAvailable {
            // MQTT-3.2.2-14: RETAIN 1 after Retain Available 0 in CONNACK.
            disconnect(reason: .retainNotSupported, reasonString: "retained messages are not available")
            return
        }
        var topic = publish.topic
        if version == .v5 && !publish.properties.isEmpty {
            if let alias = publish.properties.topicAlias {
                // MQTT-3.3.2-8/-9: alias 0 or above the announced maximum is invalid.
                guard alias != 0, alias <= limits.topicAliasMaximum else {
                    disconnect(reason: .topicAliasInvalid, reasonString: "topic alias \(alias) outside 1...\(limits.topicAliasMaximum)")
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
            if publish.properties.contains(where: { $0.identifier == .subscriptionIdentifier }) {
                disconnect(reason: .protocolError, reasonString: "Subscription Identifier in PUBLISH")
                return
            }
            if publish.properties.payloadFormatIndicator == 1 && !publish.payload.isValidUTF8 {
                // 3.3.2.3.2: a payload that is not the UTF-8 its Payload Format Indicator claims, refused with 0x99.
                acknowledge(publish, reasonCode: .payloadFormatInvalid, reasonString: "payload is not UTF-8 as its Payload Format Indicator says")
                return
            }
        }
        do {
            try TopicName.validate(topic, limits: limits.topicLimits)
        } catch {
            disconnect(reason: .topicNameInvalid, reasonString: "invalid topic name")
            return
        }
        if publish.qos == .exactlyOnce, let identifier = publish.packetIdentifier {
            if session.receivedQoS2.contains(identifier) {
                // A resent QoS 2 PUBLISH is acknowledged again but not delivered twice (4.3.3).
                sendDurably(.pubRec(AcknowledgementPacket(packetIdentifier: identifier)))
                return
            }
            guard session.receivedQoS2.count < Int(limits.receiveMaximum) else {
                // MQTT-3.3.4-9: more unacknowledged QoS 2 PUBLISH packets than the Receive Maximum.
                disconnect(reason: .receiveMaximumExceeded, reasonString: "more than \(limits.receiveMaximum) QoS 2 messages unacknowledged")
                return
            }
        }
        if guarded, !admitPublish(publish, topic: topic, session: session) { return }
        let message = Message(publish: publish, topic: topic, publisher: session.clientIdentifier, now: .now())
        if let authorizer = core.hooks.publishAuthorizer {
            authorizePublish(message, publish: publish, session: session, authorizer: authorizer)
            return
        }
        route(message, for: publish, session: session)
    }

    /// Whether a PUBLISH has checks beyond the protocol's to pass: a payload size, rate limits or an ACL.
    private var guarded: Bool {
        guards != nil || core.configuration.limits.maximumPayloadSize != nil
    }

    func route(_ message: Message, for publish: PublishPacket, session: Session) {
        let receivers = core.publish(message, on: loop, publisher: self)
        // A hook's answer can come after the connection ended (the message still counts), and the session may
        // belong to another connection by then.
        guard state == .connected else { return }
        if publish.qos == .exactlyOnce, let identifier = publish.packetIdentifier {
            session.receivedQoS2.insert(identifier)
            recordReceivedQoS2(identifier, released: false, session: session)
        }
        acknowledge(publish, reasonCode: receivers == 0 ? .noMatchingSubscribers : .success)
    }

    func acknowledge(_ publish: PublishPacket, reasonCode: ReasonCode, reasonString: String? = nil) {
        guard let identifier = publish.packetIdentifier else {
            if reasonCode.isFailure { disconnect(reason: reasonCode, reasonString: reasonString) }
            return
        }
        let properties: Properties = reasonString.map { [.reasonString($0)] } ?? []
        let ack = AcknowledgementPacket(packetIdentifier: identifier, reasonCode: reasonCode, properties: properties)
        sendDurably(publish.qos == .atLeastOnce ? .pubAck(ack) : .pubRec(ack))
    }

    /// `decisions`: the subscribe authorizer's answers, one per subscription, once it has given them.
    func handleSubscribe(_ subscribe: SubscribePacket, session: Session, decisions: [SubscribeAuthorization]? = nil) {
        let configuration = core.configuration
        if decisions == nil, let authorizer = core.hooks.subscribeAuthorizer {
            authorizeSubscribe(subscribe, session: session, authorizer: authorizer)
            return
        }
        let limits = configuration.limits
        let v5 = version == .v5
        let identifier = subscribe.properties.subscriptionIdentifiers.first
        if identifier != nil && !configuration.subscriptionIdentifiersAvailable {
            // 3.2.2.3.12: a Subscription Identifier after Subscription Identifiers Available 0 in CONNACK.
            disconnect(reason: .subscriptionIdentifiersNotSupported, reasonString: "Subscription Identifiers are not available")
            return
        }
        let sharedRefused = !configuration.sharedSubscriptionAvailable
        let wildcardsRefused = !configuration.wildcardSubscriptionAvailable
        if v5 && (sharedRefused || wildcardsRefused) {
            // 3.2.2.3.11, .13: the client was told these are not available, so using them is a Protocol Error that
            // ends the connection, before any of the packet's subscriptions takes effect.
            for subscription in subscribe.subscriptions {
                guard let filter = try? TopicFilter(subscription.topicFilter, limits: limits.topicLimits) else { continue }
                if sharedRefused && filter.isShared {
                    disconnect(reason: .sharedSubscriptionsNotSupported, reasonString: "shared subscriptions are not available")
                    return
                }
                if wildcardsRefused && filter.hasWildcards {
                    disconnect(reason: .wildcardSubscriptionsNotSupported, reasonString: "wildcard subscriptions are not available")
                    return
                }
            }
        }
        var reasonCodes: [ReasonCode] = []
        var problems: [String] = []
        var accepted: [(filter: TopicFilter, options: SubscriptionOptions, isNew: Bool)] = []
        for (index, subscription) in subscribe.subscriptions.enumerated() {
            guard let filter = try? TopicFilter(subscription.topicFilter, limits: limits.topicLimits) else {
                reasonCodes.append(v5 ? .topicFilterInvalid : .subscriptionFailure)
                if v5 { problems.append("invalid topic filter \"\(subscription.topicFilter)\"") }
                continue
            }
            // A 3.1.1 client cannot be told what is not available: only its subscription fails.
            if (sharedRefused && filter.isShared) || (wildcardsRefused && filter.hasWildcards) {
                reasonCodes.append(.subscriptionFailure)
                continue
            }
            if guards?.access?.maySubscribe(filter) == false {
                // 5.0 3.9.3: Not authorized; 3.1.1: Failure.
                reasonCodes.append(v5 ? .notAuthorized : .subscriptionFailure)
                if v5 { problems.append("not allowed to subscribe to \"\(subscription.topicFilter)\"") }
                logRefusal("not allowed to subscribe", topic: subscription.topicFilter)
                continue
            }
            var maximumQoS = configuration.maximumQoS
            switch decisions?[index] {
            case .refuse(let reason):
                reasonCodes.append(v5 ? (reason.isFailure ? reason : .notAuthorized) : .subscriptionFailure)
                continue
            case .downgrade(let qos):
                maximumQoS = min(maximumQoS, qos)
            case .allow, nil:
                break
            }
            let isNew = session.subscriptions[ExactString(filter.rawValue)] == nil
            if isNew && session.subscriptions.count >= limits.maximumSubscriptionsPerClient {
                reasonCodes.append(v5 ? .quotaExceeded : .subscriptionFailure)
                if v5 { problems.append("more than \(limits.maximumSubscriptionsPerClient) subscriptions") }
                continue
            }
            // MQTT-3.2.2-10: any requested QoS is accepted, and granted up to the Maximum QoS.
            var options = subscription.options
            options.qos = min(options.qos, maximumQoS)
            session.subscriptions[ExactString(filter.rawValue)] = Session.SubscriptionRecord(filter: filter, options: options, identifier: identifier)
            accepted.append((filter, options, isNew))
            reasonCodes.append(.granted(options.qos))
        }
        recordSubscribed(accepted.map(\.filter), options: accepted.map(\.options), identifier: identifier, session: session)
        let properties: Properties = problems.isEmpty ? [] : [.reasonString(problems.joined(separator: "; "))]
        let suback = Packet.subAck(SubAckPacket(packetIdentifier: subscribe.packetIdentifier, reasonCodes: reasonCodes, properties: properties))
        guard !accepted.isEmpty else {
            send(suback)
            return
        }
        let entries = accepted.map { entry in
            (filter: entry.filter,
             subscriber: TopicTree.Subscriber(
                session: session, options: entry.options, identifier: identifier, share: entry.filter.isShared ? entry.filter : nil),
             cursor: entry.filter.isShared ? self.core.sharedGroupCursor(for: entry.filter) : nil)
        }
        let loop = self.loop
        let core = self.core
        // SUBACK goes out once every loop routes to the new subscriptions, so that a message published after
        // the client saw SUBACK always reaches it; the client's next packets wait until then.
        pause()
        core.updateSubscriptions(on: loop.eventLoop) { tree in
            for entry in entries { tree.insert(entry.filter, entry.subscriber, cursor: entry.cursor) }
        }.assumeIsolated().whenComplete { [self] _ in
            sendDurably(suback)
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
            if core.eventSink.isListening {
                core.eventSink.emit(.subscribed(observedClient(session), topicFilters: accepted.map(\.filter.rawValue)))
            }
            resume()
        }
    }

    func handleUnsubscribe(_ unsubscribe: UnsubscribePacket, session: Session) {
        var reasonCodes: [ReasonCode] = []
        var removed: [TopicFilter] = []
        for raw in unsubscribe.topicFilters {
            if let record = session.subscriptions.removeValue(forKey: ExactString(raw)) {
                removed.append(record.filter)
                reasonCodes.append(.success)
            } else {
                reasonCodes.append(.noSubscriptionExisted)
            }
        }
        let unsuback = Packet.unsubAck(UnsubAckPacket(packetIdentifier: unsubscribe.packetIdentifier, reasonCodes: reasonCodes))
        recordUnsubscribed(removed, session: session)
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
            sendDurably(unsuback)
            if core.eventSink.isListening {
                core.eventSink.emit(.unsubscribed(observedClient(session), topicFilters: filters.map(\.rawValue)))
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
