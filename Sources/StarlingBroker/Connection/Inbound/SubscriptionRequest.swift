import Logging
import MQTT
import NIOCore

/// SUBSCRIBE and UNSUBSCRIBE from a connected client: `SubscribeNegotiation`'s answer (with the ACL's and the
/// subscribe authorizer's), the session's subscriptions and their store records, the change reaching every
/// loop's topic tree, then SUBACK or UNSUBACK and the retained messages. The client's next packets wait until
/// every loop routes by the change, so that a message published after SUBACK always reaches the subscriber.
enum SubscriptionRequest {
    /// `decisions`: the subscribe authorizer's answers, one per subscription, once it has given them.
    static func subscribe(
        _ subscribe: SubscribePacket, session: Session, decisions: [SubscribeAuthorization]? = nil, on connection: ConnectionHandler
    ) {
        let core = connection.core
        if decisions == nil, let authorizer = core.hooks.subscribeAuthorizer {
            authorize(subscribe, session: session, authorizer: authorizer, on: connection)
            return
        }
        let identifier = subscribe.properties.subscriptionIdentifiers.first
        let guards = connection.guards
        let outcome = core.subscribeNegotiation.negotiate(
            subscribe, version: connection.version, decisions: decisions,
            maySubscribe: { guards?.access?.maySubscribe($0) != false },
            isSubscribed: { session.subscriptions[ExactString($0.rawValue)] != nil },
            subscriptionCount: session.subscriptions.count)
        let answer: SubscribeNegotiation.Answer
        switch outcome {
        case .disconnect(let reason, let why):
            connection.disconnect(reason: reason, reasonString: why)
            return
        case .answer(let negotiated):
            answer = negotiated
        }
        for topicFilter in answer.denied { connection.logRefusal("not allowed to subscribe", topic: topicFilter) }
        let accepted = answer.accepted
        if guards?.access != nil || decisions != nil {
            connection.loop.counters.security.subscriptionsDenied &+= UInt64(answer.denied.count)
            connection.loop.counters.security.subscriptionsAllowed &+= UInt64(accepted.count)
        }
        for entry in accepted {
            session.subscriptions[ExactString(entry.filter.rawValue)] = PackedSubscription(options: entry.options, identifier: identifier)
        }
        let loop = connection.loop
        session.recordSubscribed(accepted.map(\.filter), options: accepted.map(\.options), identifier: identifier, in: loop.storeChanges)
        let properties: Properties = answer.problems.isEmpty ? [] : [.reasonString(answer.problems.joined(separator: "; "))]
        let suback = Packet.subAck(SubAckPacket(packetIdentifier: subscribe.packetIdentifier, reasonCodes: answer.reasonCodes, properties: properties))
        guard !accepted.isEmpty else {
            connection.send(suback)
            return
        }
        let entries = accepted.map { entry in
            (filter: entry.filter,
             subscriber: TopicTree.Subscriber(
                session: session, options: entry.options, identifier: identifier, share: entry.filter.isShared ? entry.filter : nil),
             cursor: entry.filter.isShared ? core.sharedGroupCursor(for: entry.filter) : nil)
        }
        connection.pause()
        core.updateSubscriptions(on: loop.eventLoop) { tree in
            for entry in entries { tree.insert(entry.filter, entry.subscriber, cursor: entry.cursor) }
        }.assumeIsolated().whenComplete { _ in
            connection.sendDurably(suback)
            sendRetained(for: accepted, identifier: identifier, to: session, on: loop, core: core)
            if core.eventSink.isListening {
                core.eventSink.emit(.subscribed(connection.observedClient(session), topicFilters: accepted.map(\.filter.rawValue)))
            }
            connection.resume()
        }
    }

    /// MQTT-3.3.1-9/-10/-11: the retained messages for new subscriptions, by Retain Handling; none for shared
    /// subscriptions.
    private static func sendRetained(
        for accepted: [SubscribeNegotiation.Accepted], identifier: Int?, to session: Session, on loop: BrokerLoop, core: BrokerCore
    ) {
        let now = NIODeadline.now()
        for entry in accepted where !entry.filter.isShared {
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
    }

    private static func authorize(
        _ subscribe: SubscribePacket, session: Session, authorizer: any SubscribeAuthorizer, on connection: ConnectionHandler
    ) {
        guard let client = connection.clientInfo else { return }
        let subscriptions = subscribe.subscriptions
        connection.hookCalls.run("subscribe authorizer", {
            var decisions: [SubscribeAuthorization] = []
            for subscription in subscriptions {
                decisions.append(try await authorizer.authorizeSubscribe(subscription.topicFilter, options: subscription.options, for: client))
            }
            return decisions
        }) { result in
            guard connection.state == .connected else { return }
            let decisions = (try? result.get()) ?? Array(repeating: .refuse(.notAuthorized), count: subscriptions.count)
            self.subscribe(subscribe, session: session, decisions: decisions, on: connection)
        }
    }

    static func unsubscribe(_ unsubscribe: UnsubscribePacket, session: Session, on connection: ConnectionHandler) {
        var reasonCodes: [ReasonCode] = []
        var removed: [TopicFilter] = []
        for raw in unsubscribe.topicFilters {
            if session.subscriptions.removeValue(forKey: ExactString(raw)) != nil {
                removed.append(TopicFilter(validated: raw))
                reasonCodes.append(.success)
            } else {
                reasonCodes.append(.noSubscriptionExisted)
            }
        }
        let unsuback = Packet.unsubAck(UnsubAckPacket(packetIdentifier: unsubscribe.packetIdentifier, reasonCodes: reasonCodes))
        let loop = connection.loop
        session.recordUnsubscribed(removed, in: loop.storeChanges)
        guard !removed.isEmpty else {
            connection.send(unsuback)
            return
        }
        let core = connection.core
        let filters = removed
        connection.pause()
        core.updateSubscriptions(on: loop.eventLoop) { tree in
            for filter in filters { tree.remove(filter, session: session) }
        }.assumeIsolated().whenComplete { _ in
            connection.sendDurably(unsuback)
            if core.eventSink.isListening {
                core.eventSink.emit(.unsubscribed(connection.observedClient(session), topicFilters: filters.map(\.rawValue)))
            }
            connection.resume()
        }
    }
}
