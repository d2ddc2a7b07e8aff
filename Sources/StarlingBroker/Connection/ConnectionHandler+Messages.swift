import Logging
import MQTT
import NIOCore

/// PUBLISH, SUBSCRIBE, UNSUBSCRIBE and DISCONNECT from a connected client.
extension ConnectionHandler {
    func handlePublish(_ publish: PublishPacket, session: Session) {
        loop.counters.messagesReceived &+= 1
        let topic: String
        switch core.publishValidation.validate(publish, version: version, aliases: &topicAliases, unreleased: session.receivedQoS2) {
        case .accept(let resolved):
            topic = resolved
        case .acknowledgeAgain:
            sendDurably(.pubRec(AcknowledgementPacket(packetIdentifier: publish.packetIdentifier!)))
            return
        case .refuse(let reason, let why):
            acknowledge(publish, reasonCode: reason, reasonString: why)
            return
        case .disconnect(let reason, let why):
            disconnect(reason: reason, reasonString: why)
            return
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
            session.recordReceivedQoS2(identifier, released: false, in: loop.storeChanges)
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
        if decisions == nil, let authorizer = core.hooks.subscribeAuthorizer {
            authorizeSubscribe(subscribe, session: session, authorizer: authorizer)
            return
        }
        let identifier = subscribe.properties.subscriptionIdentifiers.first
        let guards = self.guards
        let outcome = core.subscribeNegotiation.negotiate(
            subscribe, version: version, decisions: decisions,
            maySubscribe: { guards?.access?.maySubscribe($0) != false },
            isSubscribed: { session.subscriptions[ExactString($0.rawValue)] != nil },
            subscriptionCount: session.subscriptions.count)
        let answer: SubscribeNegotiation.Answer
        switch outcome {
        case .disconnect(let reason, let why):
            disconnect(reason: reason, reasonString: why)
            return
        case .answer(let negotiated):
            answer = negotiated
        }
        for topicFilter in answer.denied { logRefusal("not allowed to subscribe", topic: topicFilter) }
        let accepted = answer.accepted
        for entry in accepted {
            session.subscriptions[ExactString(entry.filter.rawValue)] = Session.SubscriptionRecord(
                filter: entry.filter, options: entry.options, identifier: identifier)
        }
        let problems = answer.problems
        let reasonCodes = answer.reasonCodes
        session.recordSubscribed(accepted.map(\.filter), options: accepted.map(\.options), identifier: identifier, in: loop.storeChanges)
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
        session.recordUnsubscribed(removed, in: loop.storeChanges)
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
        switch machine.receiveDisconnect(packet, sessionExpiryInterval: session.expiryInterval) {
        case .close(let expiryInterval):
            if let expiryInterval { session.expiryInterval = expiryInterval }
            close()
        case .disconnect(let reason, let why):
            disconnect(reason: reason, reasonString: why)
        }
    }
}
