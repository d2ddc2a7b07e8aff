import NIOCore

extension ClientCore {
    /// Registers a subscription stream and queues its SUBSCRIBE. The stream receives messages from now on,
    /// so nothing that arrives between SUBSCRIBE and SUBACK (retained messages, say) is missed.
    func subscribe(
        _ subscriptions: [SubscribePacket.Subscription], properties: Properties, receivesUnclaimed: Bool = false,
        sink: MessageSink, promise: EventLoopPromise<SubscriptionAck>
    ) {
        if case .shutDown(let error) = state {
            sink.finish(error ?? .shutdown)
            return promise.fail(error ?? .shutdown)
        }
        var filters: [TopicFilter] = []
        for subscription in subscriptions {
            guard let filter = try? TopicFilter(subscription.topicFilter) else {
                let error = MQTTClientError(.invalidTopic, "'\(subscription.topicFilter)' is not a valid topic filter")
                sink.finish(error)
                return promise.fail(error)
            }
            filters.append(filter)
        }
        guard !filters.isEmpty else {
            let error = MQTTClientError(.invalidTopic, "a subscription needs at least one topic filter")
            sink.finish(error)
            return promise.fail(error)
        }
        let owner = nextSubscriptionIdentifier
        // Subscription identifiers run from 1 to 268,435,455 (3.8.2.1.2).
        nextSubscriptionIdentifier = nextSubscriptionIdentifier == 268_435_455 ? 1 : nextSubscriptionIdentifier + 1
        liveSubscriptions[owner] = LiveSubscription(filters: filters, sink: sink, receivesUnclaimed: receivesUnclaimed)
        var properties = properties
        properties.remove(.subscriptionIdentifier)
        let packet = SubscribePacket(packetIdentifier: 1, subscriptions: subscriptions, properties: properties)
        pendingControl.append(PendingControl(request: .subscribe(packet, owner: owner, promise: promise), sequence: nextSequence()))
        sendPendingControl()
    }

    /// Ends the live subscription `owner` and unsubscribes from those of its filters no other live
    /// subscription uses. The promise gets the UNSUBACK, or nil when nothing had to be sent.
    func release(_ owner: Int, promise: EventLoopPromise<UnsubscribeResult?>?) {
        guard let live = liveSubscriptions.removeValue(forKey: owner) else {
            promise?.succeed(nil)
            return
        }
        live.sink.finish(nil)
        // A SUBSCRIBE still waiting to be sent is simply dropped.
        if let index = pendingControl.firstIndex(where: { if case .subscribe(_, owner, _) = $0.request { true } else { false } }) {
            if case .subscribe(_, _, let waiting) = pendingControl.remove(at: index).request { waiting?.fail(CancellationError()) }
        }
        let stillUsed = Set(liveSubscriptions.values.flatMap(\.rawFilters))
        var filters: [String] = []
        for filter in live.rawFilters where !stillUsed.contains(filter) && !filters.contains(filter) {
            if session.subscriptions[filter] != nil { filters.append(filter) }
        }
        guard !filters.isEmpty, !isShutDown else {
            promise?.succeed(nil)
            return
        }
        let acknowledged = promise.map { promise in
            let unsubAck = eventLoop.makePromise(of: UnsubscribeResult.self)
            unsubAck.futureResult.map { Optional($0) }.cascade(to: promise)
            return unsubAck
        }
        unsubscribe(filters, properties: [], promise: acknowledged)
    }

    func unsubscribe(_ filters: [String], properties: Properties, promise: EventLoopPromise<UnsubscribeResult>?) {
        if case .shutDown(let error) = state {
            promise?.fail(error ?? .shutdown)
            return
        }
        for filter in filters where (try? TopicFilter(filter)) == nil {
            promise?.fail(MQTTClientError(.invalidTopic, "'\(filter)' is not a valid topic filter"))
            return
        }
        guard !filters.isEmpty else {
            promise?.fail(MQTTClientError(.invalidTopic, "an unsubscribe needs at least one topic filter"))
            return
        }
        let packet = UnsubscribePacket(packetIdentifier: 1, topicFilters: filters, properties: properties)
        pendingControl.append(PendingControl(request: .unsubscribe(packet, promise: promise), sequence: nextSequence()))
        sendPendingControl()
    }

    /// After the broker lost the session, subscribes again to everything the live subscriptions hold.
    func resubscribe() {
        var pendingFilters = Set<String>()
        for pending in pendingControl {
            if case .subscribe(let packet, _, _) = pending.request { pendingFilters.formUnion(packet.subscriptions.map(\.topicFilter)) }
        }
        var byOwner: [Int: [SubscribePacket.Subscription]] = [:]
        for (filter, record) in session.subscriptions where !pendingFilters.contains(filter) {
            byOwner[record.owner, default: []].append(SubscribePacket.Subscription(topicFilter: filter, options: record.options))
        }
        session.subscriptions.removeAll()
        let requests = byOwner.sorted { $0.key < $1.key }.map { owner, subscriptions in
            PendingControl(
                request: .subscribe(SubscribePacket(packetIdentifier: 1, subscriptions: subscriptions), owner: owner, promise: nil),
                sequence: nextSequence())
        }
        if !requests.isEmpty { logger.debug("the broker has no session: subscribing again", metadata: ["subscriptions": "\(requests.count)"]) }
        pendingControl.insert(contentsOf: requests, at: 0)
    }

    /// Writes the SUBSCRIBE and UNSUBSCRIBE requests that have not been sent on this connection.
    func sendPendingControl() {
        guard case .connected(let connection) = state else { return }
        var wrote = false
        while !pendingControl.isEmpty, let identifier = session.packetIdentifiers.allocate() {
            let pending = pendingControl.removeFirst()
            switch pending.request {
            case .subscribe(var packet, let owner, _):
                packet.packetIdentifier = identifier
                let sendsIdentifier = connection.subscriptionIdentifiersAvailable
                if sendsIdentifier { packet.properties.append(.subscriptionIdentifier(owner)) }
                for subscription in packet.subscriptions {
                    session.subscriptions[subscription.topicFilter] = ClientSession.SubscriptionRecord(
                        options: subscription.options, owner: owner, identifierSent: sendsIdentifier)
                }
                connection.channel.write(Packet.subscribe(packet), promise: nil)
            case .unsubscribe(var packet, _):
                packet.packetIdentifier = identifier
                for filter in packet.topicFilters { session.subscriptions[filter] = nil }
                connection.channel.write(Packet.unsubscribe(packet), promise: nil)
            }
            awaitingAck[identifier] = pending
            wrote = true
        }
        if wrote { connection.channel.flush() }
    }

    func receivedSubAck(_ ack: SubAckPacket, on connection: Connection) {
        guard let pending = awaitingAck[ack.packetIdentifier], case .subscribe(let packet, let owner, let promise) = pending.request else {
            return connection.handler.close(with: .protocolError("SUBACK for unknown packet identifier \(ack.packetIdentifier)"), reasonCode: .protocolError)
        }
        guard ack.reasonCodes.count == packet.subscriptions.count else {
            return connection.handler.close(
                with: .protocolError("SUBACK has \(ack.reasonCodes.count) reason codes for \(packet.subscriptions.count) filters"),
                reasonCode: .protocolError)
        }
        awaitingAck[ack.packetIdentifier] = nil
        session.packetIdentifiers.release(ack.packetIdentifier)
        for (subscription, code) in zip(packet.subscriptions, ack.reasonCodes) where code.isFailure {
            if session.subscriptions[subscription.topicFilter]?.owner == owner { session.subscriptions[subscription.topicFilter] = nil }
        }
        let result = SubscribeResult(reasonCodes: ack.reasonCodes, properties: ack.properties)
        if ack.reasonCodes.allSatisfy(\.isFailure) {
            let filters = packet.subscriptions.map(\.topicFilter).joined(separator: ", ")
            let error = MQTTClientError(
                .subscriptionRefused, "the broker refused the subscription to \(filters)", reasonCodes: ack.reasonCodes,
                reasonString: ack.properties.reasonString)
            if let live = liveSubscriptions.removeValue(forKey: owner) { live.sink.finish(error) }
            if promise == nil { logger.warning("resubscription refused", metadata: ["error": "\(error)"]) }
            promise?.fail(error)
        } else {
            promise?.succeed(SubscriptionAck(owner: owner, result: result))
        }
        sendPendingControl()
    }

    func receivedUnsubAck(_ ack: UnsubAckPacket, on connection: Connection) {
        guard let pending = awaitingAck[ack.packetIdentifier], case .unsubscribe(let packet, let promise) = pending.request else {
            return connection.handler.close(with: .protocolError("UNSUBACK for unknown packet identifier \(ack.packetIdentifier)"), reasonCode: .protocolError)
        }
        awaitingAck[ack.packetIdentifier] = nil
        session.packetIdentifiers.release(ack.packetIdentifier)
        let codes = connection.version == .v5 ? ack.reasonCodes : Array(repeating: ReasonCode.success, count: packet.topicFilters.count)
        if !codes.isEmpty, codes.allSatisfy(\.isFailure) {
            promise?.fail(MQTTClientError(
                .unsubscribeRefused, "the broker refused to unsubscribe from \(packet.topicFilters.joined(separator: ", "))",
                reasonCodes: codes, reasonString: ack.properties.reasonString))
        } else {
            promise?.succeed(UnsubscribeResult(reasonCodes: codes, properties: ack.properties))
        }
        sendPendingControl()
    }

    /// Stops waiting for a SUBSCRIBE or UNSUBSCRIBE; a subscription given up on this way is released.
    func cancelControl(_ future: ObjectIdentifier) {
        func matches(_ request: ControlRequest) -> Bool {
            switch request {
            case .subscribe(_, _, let promise): promise.map { ObjectIdentifier($0.futureResult) } == future
            case .unsubscribe(_, let promise): promise.map { ObjectIdentifier($0.futureResult) } == future
            }
        }
        var found: ControlRequest?
        if let index = pendingControl.firstIndex(where: { matches($0.request) }) {
            found = pendingControl.remove(at: index).request
        } else if let (identifier, pending) = awaitingAck.first(where: { matches($0.value.request) }) {
            found = pending.request
            // The answer is still expected; keep the flow but forget who waited for it.
            switch pending.request {
            case .subscribe(let packet, let owner, _):
                awaitingAck[identifier]?.request = .subscribe(packet, owner: owner, promise: nil)
            case .unsubscribe(let packet, _):
                awaitingAck[identifier]?.request = .unsubscribe(packet, promise: nil)
            }
        }
        switch found {
        case .subscribe(_, let owner, let promise):
            promise?.fail(CancellationError())
            release(owner, promise: nil)
        case .unsubscribe(_, let promise):
            promise?.fail(CancellationError())
        case nil:
            break
        }
    }
}
