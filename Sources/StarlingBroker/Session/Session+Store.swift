import MQTT
import NIOCore

/// How a session is stored and taken up again after a restart.
extension Session {
    /// The packet identifier of a stored delivery follows from its sequence number, so that a delivery resent after
    /// a restart carries the identifier the client may already hold for it (the QoS 2 exactly-once flow needs it).
    static func packetIdentifier(forSequence sequence: UInt64) -> UInt16 {
        UInt16((sequence &- 1) % 65_535) + 1
    }

    /// The session as a store keeps it: `expiresAt` only once its connection has gone.
    func savedChange(disconnectedAt now: WallClockTime?) -> StoreChange {
        let expiresAt = now.flatMap { now in
            expiryInterval == UInt32.max ? nil : now.adding(milliseconds: Int64(expiryInterval) * 1_000)
        }
        return .sessionSaved(clientIdentifier: clientIdentifier, expiryInterval: expiryInterval, expiresAt: expiresAt)
    }

    /// Takes up a stored session: in-flight QoS 2 messages whose PUBREL went out stay in flight, every other delivery
    /// is queued in its order.
    func restore(_ stored: StoredSession, now: NIODeadline, wallNow: WallClockTime, topicLimits: TopicLimits) {
        expiryInterval = stored.expiryInterval
        isStored.store(true, ordering: .relaxed)
        for subscription in stored.subscriptions {
            guard let filter = try? TopicFilter(subscription.topicFilter, limits: topicLimits) else { continue }
            subscriptions[ExactString(filter.rawValue)] = PackedSubscription(options: subscription.options, identifier: subscription.identifier)
        }
        var highest: UInt64 = 0
        for stored in stored.deliveries {
            highest = max(highest, stored.sequence)
            let delivery = Delivery(
                message: Message(stored.message, now: now, wallNow: wallNow), qos: stored.qos, retain: stored.retain,
                subscriptionIdentifiers: stored.subscriptionIdentifiers,
                share: stored.share.flatMap { try? TopicFilter($0, limits: topicLimits) }, sequence: stored.sequence)
            if stored.released {
                inflight[Self.packetIdentifier(forSequence: stored.sequence)] = Outbound(delivery: delivery, released: true)
            } else {
                queue.append(delivery)
            }
        }
        // Deliveries sent but not committed before the crash may have left their packet identifiers with the client;
        // new ones start half the identifier space away from them.
        nextSequence.store(
            clientIdentifier.isClusterLink ? max(highest + 1 + 32_768, Self.linkSequenceFloor()) : highest + 1 + 32_768, ordering: .relaxed)
        receivedQoS2 = Set(stored.receivedQoS2)
    }
}

/// What a session's changes record in the store, on its loop.
extension Session {
    /// The session is stored while it outlives its connection (Session Expiry Interval above 0, or Clean Session 0).
    /// `keepingWill` (a cluster): a session that ends with its connection is stored too when it has a will, with
    /// its will and nothing else (`isWillStored`).
    func recordAttached(in storeChanges: LoopStoreChanges?, keepingWill: Bool = false) {
        guard let storeChanges else { return }
        if expiryInterval > 0 {
            isStored.store(true, ordering: .relaxed)
            isWillStored.store(false, ordering: .relaxed)
            storeChanges.append(savedChange(disconnectedAt: nil))
            // Replaces the will of an earlier connection, which a reconnect cancelled (MQTT-3.1.3-9) or which went out.
            storeChanges.append(
                will.map { .willSaved(clientIdentifier: clientIdentifier, StoredWill($0, publishAt: nil)) }
                    ?? .willDeleted(clientIdentifier: clientIdentifier))
            return
        }
        let wasStored = isStored.exchange(false, ordering: .relaxed)
        if keepingWill, let will {
            isWillStored.store(true, ordering: .relaxed)
            storeChanges.append(savedChange(disconnectedAt: nil))
            storeChanges.append(.willSaved(clientIdentifier: clientIdentifier, StoredWill(will, publishAt: nil)))
        } else if wasStored || isWillStored.exchange(false, ordering: .relaxed) {
            storeChanges.append(.sessionDeleted(clientIdentifier: clientIdentifier))
        }
    }

    func recordSubscribed(_ filters: [TopicFilter], options: [SubscriptionOptions], identifier: Int?, in storeChanges: LoopStoreChanges?) {
        guard let storeChanges, isStored.load(ordering: .relaxed) else { return }
        for (filter, options) in zip(filters, options) {
            storeChanges.append(.subscriptionSaved(
                clientIdentifier: clientIdentifier,
                StoredSubscription(topicFilter: filter.rawValue, options: options, identifier: identifier)))
        }
    }

    func recordUnsubscribed(_ filters: [TopicFilter], in storeChanges: LoopStoreChanges?) {
        guard let storeChanges, isStored.load(ordering: .relaxed) else { return }
        for filter in filters {
            storeChanges.append(.subscriptionDeleted(clientIdentifier: clientIdentifier, topicFilter: filter.rawValue))
        }
    }

    /// A QoS 2 PUBLISH answered with PUBREC, or its PUBREL: a resent PUBLISH after a restart must be recognised.
    func recordReceivedQoS2(_ packetIdentifier: UInt16, released: Bool, in storeChanges: LoopStoreChanges?) {
        guard let storeChanges, isStored.load(ordering: .relaxed) else { return }
        storeChanges.append(
            released
                ? .qos2Released(clientIdentifier: clientIdentifier, packetIdentifier: packetIdentifier)
                : .qos2Received(clientIdentifier: clientIdentifier, packetIdentifier: packetIdentifier))
    }
}
