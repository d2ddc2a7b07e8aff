import MQTT
import NIOCore

extension BrokerCore {
    /// Takes up what the store kept: the retained messages, and the persistent sessions with their subscriptions
    /// in every loop's tree, their queued and in-flight messages and their expiry, which kept counting in wall-clock
    /// time while the broker was down. Runs before any listener is bound.
    func restore(from store: any BrokerStore) async throws {
        let state = try await store.load()
        let now = NIODeadline.now()
        let wallNow = WallClockTime.now()
        let topicLimits = configuration.limits.topicLimits
        var changes: [StoreChange] = []
        let expiredRetained = retained.withLockedValue { retained -> [String] in
            var expired: [String] = []
            for stored in state.retained {
                let message = Message(stored, now: now, wallNow: wallNow)
                if message.isExpired(at: now) {
                    expired.append(stored.topic)
                } else {
                    retained.retain(message, limits: configuration.limits)
                }
            }
            return expired
        }
        for topic in expiredRetained { changes.append(.retainedDeleted(topic: topic)) }

        var restored: [(session: Session, expiresAt: WallClockTime?)] = []
        for stored in state.sessions {
            if let expiresAt = stored.expiresAt, expiresAt <= wallNow {
                changes.append(.sessionDeleted(clientIdentifier: stored.clientIdentifier))
                continue
            }
            let loop = loops[restored.count % loops.count]
            let session = Session(clientIdentifier: stored.clientIdentifier, homeIndex: loop.index)
            session.restore(stored, now: now, wallNow: wallNow, topicLimits: topicLimits)
            // A session whose client was connected when the broker went down counts its expiry from now, and
            // keeps that end from now on.
            var expiresAt = stored.expiresAt
            if expiresAt == nil && stored.expiryInterval != UInt32.max {
                expiresAt = wallNow.adding(milliseconds: Int64(stored.expiryInterval) * 1_000)
                changes.append(.sessionSaved(clientIdentifier: stored.clientIdentifier, expiryInterval: stored.expiryInterval, expiresAt: expiresAt))
            }
            restored.append((session, expiresAt))
        }
        if !changes.isEmpty { try await store.commit(changes) }
        sessions.withLockedValue { sessions in
            for entry in restored { sessions[entry.session.clientIdentifier] = entry.session }
        }

        var entries: [(filter: TopicFilter, subscriber: TopicTree.Subscriber)] = []
        for entry in restored {
            for record in entry.session.subscriptions.values {
                entries.append((
                    record.filter,
                    TopicTree.Subscriber(
                        session: entry.session, options: record.options, identifier: record.identifier,
                        share: record.filter.isShared ? record.filter : nil)))
            }
        }
        if !entries.isEmpty {
            let inserted = entries
            try await updateSubscriptions(on: loops[0].eventLoop) { tree in
                for entry in inserted { tree.insert(entry.filter, entry.subscriber) }
            }.get()
        }
        for entry in restored {
            guard let expiresAt = entry.expiresAt else { continue }
            let session = entry.session
            let loop = loops[session.homeIndex.load(ordering: .acquiring)]
            let delay = TimeAmount.milliseconds(expiresAt.millisecondsSinceEpoch - wallNow.millisecondsSinceEpoch)
            try await loop.eventLoop.submit {
                // A client that reconnects first cancels it, as for any session without a connection.
                session.expiryTask = loop.eventLoop.scheduleTask(in: delay) { self.endSession(session, loop: loop) }
            }.get()
        }
        if !restored.isEmpty || !state.retained.isEmpty {
            logger.notice("restored from the store", metadata: ["sessions": "\(restored.count)", "retained": "\(state.retained.count - expiredRetained.count)"])
        }
    }
}
