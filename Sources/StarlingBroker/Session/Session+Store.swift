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
            subscriptions[ExactString(filter.rawValue)] = SubscriptionRecord(filter: filter, options: subscription.options, identifier: subscription.identifier)
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
        nextSequence.store(highest + 1 + 32_768, ordering: .relaxed)
        receivedQoS2 = Set(stored.receivedQoS2)
    }
}
