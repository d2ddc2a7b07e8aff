import MQTT
import NIOCore

extension BrokerCore {
    /// Takes up what the store kept: the retained messages, and the persistent sessions with their subscriptions
    /// in every loop's tree, their queued and in-flight messages and their expiry, which kept counting in wall-clock
    /// time while the broker was down, and their pending wills, due as their stored time says or, for a client that
    /// was connected when the broker went down, as on any connection lost without DISCONNECT. Runs before any
    /// listener is bound.
    func restore(from store: any BrokerStore) async throws {
        try await adopt(try await store.load(), store: store)
    }

    /// Takes up `state` as `restore` does: at start, or while running for sessions another cluster node handed
    /// over (then a session of the same client identifier that is here already is kept instead).
    ///
    /// `closing`, a session here whose subscriptions leave every loop's tree at the moment the adopted ones join
    /// it: each message routed meanwhile reaches one or the other, never both.
    func adopt(_ state: StoredState, store: any BrokerStore, closing: String? = nil) async throws {
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

        var restored: [(session: Session, expiresAt: WallClockTime?, willAt: WallClockTime?)] = []
        var endedWithWill: [Session] = []
        for stored in state.sessions {
            if sessions.session(for: stored.clientIdentifier) != nil {
                logger.warning("a session handed over is here already; the one here is kept", metadata: ["client": "\(stored.clientIdentifier)"])
                continue
            }
            if let expiresAt = stored.expiresAt, expiresAt <= wallNow {
                changes.append(.sessionDeleted(clientIdentifier: stored.clientIdentifier))
                if let will = stored.will {
                    // Its will was due at the latest when the session ended (3.1.3.2.2): it goes out now.
                    let ended = sessions.makeSession(stored.clientIdentifier, on: loops[0])
                    ended.isAlive = false
                    ended.will = will.will
                    endedWithWill.append(ended)
                }
                continue
            }
            let loop = loops[restored.count % loops.count]
            let session = sessions.makeSession(stored.clientIdentifier, on: loop)
            session.restore(stored, now: now, wallNow: wallNow, topicLimits: topicLimits)
            // A session whose client was connected when the broker went down counts its expiry from now, and
            // keeps that end from now on.
            var expiresAt = stored.expiresAt
            if expiresAt == nil && stored.expiryInterval != UInt32.max {
                expiresAt = wallNow.adding(milliseconds: Int64(stored.expiryInterval) * 1_000)
                changes.append(.sessionSaved(clientIdentifier: stored.clientIdentifier, expiryInterval: stored.expiryInterval, expiresAt: expiresAt))
            }
            var willAt: WallClockTime?
            if let will = stored.will {
                session.will = will.will
                if let publishAt = will.publishAt {
                    willAt = publishAt
                } else {
                    // The client was connected when the broker went down: its network connection closed without
                    // DISCONNECT, so the will is due as for any lost connection (3.1.2.5), after the Will Delay
                    // Interval or at the session's end if earlier. When the broker went down is not known, so the
                    // delay counts from this restart, as the session's expiry does.
                    let wait = min(will.properties.willDelayInterval ?? 0, stored.expiryInterval)
                    willAt = wallNow.adding(milliseconds: Int64(wait) * 1_000)
                    if wait > 0 {
                        changes.append(.willSaved(clientIdentifier: stored.clientIdentifier, StoredWill(will.will, publishAt: willAt)))
                    }
                }
            }
            restored.append((session, expiresAt, willAt))
        }
        if !changes.isEmpty { try await store.commit(changes) }
        sessions.restore(restored.map(\.session))

        var entries: [(filter: TopicFilter, subscriber: TopicTree.Subscriber)] = []
        for entry in restored {
            for (key, record) in entry.session.subscriptions {
                let filter = TopicFilter(validated: key.string)
                entries.append((
                    filter,
                    TopicTree.Subscriber(session: entry.session, options: record.options, identifier: record.identifier)))
            }
        }
        var closed: (session: Session, filters: [TopicFilter])?
        if let closing, let session = sessions.session(for: closing) {
            let filters = try await loops[session.homeIndex.load(ordering: .acquiring)].eventLoop.submit {
                session.subscriptions.keys.map { TopicFilter(validated: $0.string) }
            }.get()
            closed = (session, filters)
        }
        if !entries.isEmpty || closed != nil {
            let inserted = entries
            let removed = closed
            try await updateSubscriptions(on: loops[0].eventLoop) { tree in
                if let removed {
                    for filter in removed.filters { _ = tree.remove(filter, session: removed.session) }
                }
                for entry in inserted { tree.insert(entry.filter, entry.subscriber) }
            }.get()
        }
        if closing != nil {
            // Their node is gone with their clients: what their shared subscriptions had not finished goes to a
            // connected member of the group, here or on another node (4.8.2), as for any client that leaves.
            for entry in restored {
                let session = entry.session
                let loop = loops[session.homeIndex.load(ordering: .acquiring)]
                try await loop.eventLoop.submit {
                    if session.connection == nil { loop.handOverSharedDeliveries(of: session) }
                }.get()
            }
        }
        for entry in restored where entry.expiresAt != nil || entry.willAt != nil {
            let session = entry.session
            let loop = loops[session.homeIndex.load(ordering: .acquiring)]
            let expiresIn = entry.expiresAt.map { TimeAmount.milliseconds($0.millisecondsSinceEpoch - wallNow.millisecondsSinceEpoch) }
            let willIn = entry.willAt.map { TimeAmount.milliseconds($0.millisecondsSinceEpoch - wallNow.millisecondsSinceEpoch) }
            try await loop.eventLoop.submit {
                // A client that reconnects first cancels them, as for any session without a connection (MQTT-3.1.3-9).
                if let expiresIn {
                    session.expiryTask = loop.eventLoop.scheduleTask(in: expiresIn) {
                        loop.counters.sessionOutcomes.expired &+= 1
                        self.sessions.end(session, loop: loop)
                    }
                }
                guard let willIn else { return }
                if willIn <= .zero {
                    self.sessions.publishWill(of: session, loop: loop)
                } else {
                    session.willTask = loop.eventLoop.scheduleTask(in: willIn) {
                        session.willTask = nil
                        self.sessions.publishWill(of: session, loop: loop)
                    }
                }
            }.get()
        }
        if !endedWithWill.isEmpty {
            let loop = loops[0]
            let ended = endedWithWill
            try await loop.eventLoop.submit {
                for session in ended { self.sessions.publishWill(of: session, loop: loop) }
            }.get()
        }
        if !restored.isEmpty || !state.retained.isEmpty {
            logger.notice("restored from the store", metadata: ["sessions": "\(restored.count)", "retained": "\(state.retained.count - expiredRetained.count)"])
        }
    }
}
