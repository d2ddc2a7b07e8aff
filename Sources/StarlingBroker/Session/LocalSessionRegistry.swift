import MQTT
import NIOConcurrencyHelpers
import NIOCore

/// The registry of a broker on its own: the sessions of this process, in one table under a lock taken on
/// connect, on session end and for statistics, never per message.
final class LocalSessionRegistry: SessionRegistry {
    /// By the client identifier's bytes: a canonically equivalent identifier is another client's.
    private let sessions = NIOLockedValueBox<[ExactString: Session]>([:])
    /// For each client identifier with a CONNECT claiming its session, when the last of them will have done so.
    private let turns = NIOLockedValueBox<[ExactString: EventLoopFuture<Void>]>([:])
    private let maximumSessions: Int
    private let loops: [BrokerLoop]

    init(loops: [BrokerLoop], maximumSessions: Int) {
        self.loops = loops
        self.maximumSessions = maximumSessions
    }

    var count: Int {
        sessions.withLockedValue { $0.count }
    }

    func session(for clientIdentifier: String) -> Session? {
        sessions.withLockedValue { $0[ExactString(clientIdentifier)] }
    }

    func allSessions() -> [Session] {
        sessions.withLockedValue { Array($0.values) }
    }

    /// A new session of `clientIdentifier` living on `loop`, not yet registered.
    func makeSession(_ clientIdentifier: String, on loop: BrokerLoop) -> Session {
        let session = Session(clientIdentifier: clientIdentifier, homeIndex: loop.index)
        #if DEBUG
        loop.core?.liveObjects.track(session, as: .session)
        #endif
        return session
    }

    /// Registers sessions restored from the store.
    func restore(_ restored: [Session]) {
        sessions.withLockedValue { sessions in
            for session in restored { sessions[ExactString(session.clientIdentifier)] = session }
        }
    }

    /// Finds or creates the session of `clientIdentifier` for a connection on `loop`, once every earlier claim of
    /// the same identifier has been answered: two CONNECTs at once on different loops would otherwise both take
    /// the session over from the same state, and both keep it. `answer` runs on `loop`.
    func claim(_ clientIdentifier: String, cleanStart: Bool, on loop: BrokerLoop, _ answer: @escaping (SessionClaim) -> Void) {
        let key = ExactString(clientIdentifier)
        if let claim = claimAtOnce(key, clientIdentifier, on: loop) { return answer(claim) }
        let turn = loop.eventLoop.makePromise(of: Void.self)
        let earlier = turns.withLockedValue { turns -> EventLoopFuture<Void>? in
            defer { turns[key] = turn.futureResult }
            return turns[key]
        }
        turn.futureResult.whenComplete { [turns] _ in
            turns.withLockedValue { turns in
                if turns[key] === turn.futureResult { turns.removeValue(forKey: key) }
            }
        }
        guard let earlier else { return take(clientIdentifier, cleanStart: cleanStart, on: loop, turn: turn, answer) }
        earlier.hop(to: loop.eventLoop).assumeIsolated().whenComplete { _ in
            self.take(clientIdentifier, cleanStart: cleanStart, on: loop, turn: turn, answer)
        }
    }

    /// A claim that no other claim of the identifier awaits and that finds no session is answered under the locks,
    /// without taking a turn: nothing can come between, and most connections are such claims. Nil otherwise.
    private func claimAtOnce(_ key: ExactString, _ clientIdentifier: String, on loop: BrokerLoop) -> SessionClaim? {
        let maximumSessions = self.maximumSessions
        // The only place both locks are held, always in this order.
        return turns.withLockedValue { turns in
            guard turns[key] == nil else { return nil }
            return sessions.withLockedValue { sessions in
                guard sessions[key] == nil else { return nil }
                guard sessions.count < maximumSessions else { return .refused(maximumSessions: maximumSessions) }
                let fresh = makeSession(clientIdentifier, on: loop)
                sessions[key] = fresh
                return .granted(fresh, present: false)
            }
        }
    }

    /// Takes the client's session over from another connection if it has one; answers, then ends `turn`.
    private func take(
        _ clientIdentifier: String, cleanStart: Bool, on loop: BrokerLoop, turn: EventLoopPromise<Void>,
        _ answer: @escaping (SessionClaim) -> Void
    ) {
        let key = ExactString(clientIdentifier)
        let maximumSessions = self.maximumSessions
        let found = sessions.withLockedValue { sessions -> (Session, Session?)? in
            let previous = sessions[key]
            if let previous, !cleanStart { return (previous, previous) }
            if previous == nil && sessions.count >= maximumSessions { return nil }
            let fresh = makeSession(clientIdentifier, on: loop)
            sessions[key] = fresh
            return (fresh, previous)
        }
        // Sessions of clients that are away count too: without a bound, new client identifiers could fill memory.
        guard let (session, previous) = found else {
            answer(.refused(maximumSessions: maximumSessions))
            return turn.succeed()
        }
        guard let previous else {
            answer(.granted(session, present: false))
            return turn.succeed()
        }
        let resume = session === previous
        let previousLoop = loops[previous.homeIndex.load(ordering: .acquiring)]
        previousLoop.eventLoop.submit { () -> Bool in
            // A session that ends with its connection (3.1.1 Clean Session 1, 5.0 expiry 0) is not resumed by
            // the connection that takes it over, even without Clean Start (MQTT-3.1.2-6, MQTT-3.2.2-3).
            let resume = resume && previous.expiryInterval > 0
            if let connection = previous.connection { SessionAttachment.takeOver(from: connection, resuming: resume) }
            guard previous.isAlive else { return false }
            guard resume else {
                self.end(previous, loop: previousLoop)
                return false
            }
            // The client is back in time: its pending will is not sent (MQTT-3.1.3-9) and the session stays.
            previous.connection = nil
            // Its congestion and the timer watching it stay on this loop, which is letting go of the session.
            previous.relieveCongestion(loop: previousLoop)
            previous.expiryTask?.cancel()
            previous.expiryTask = nil
            previous.willTask?.cancel()
            previous.willTask = nil
            previous.will = nil
            // What the old loop recorded for the session reaches the store before what the new loop will.
            previousLoop.storeChanges?.handOff()
            previous.homeIndex.store(loop.index, ordering: .releasing)
            return true
        }.hop(to: loop.eventLoop).assumeIsolated().whenComplete { [self] result in
            defer { turn.succeed() }
            let resumed = (try? result.get()) ?? false
            guard resume && !resumed else { return answer(.granted(session, present: resumed)) }
            // The session ended while the take-over was under way: start a fresh one.
            let fresh = makeSession(clientIdentifier, on: loop)
            sessions.withLockedValue { sessions in
                if sessions[key] == nil || sessions[key] === previous { sessions[key] = fresh }
            }
            answer(.granted(fresh, present: false))
        }
    }

    /// Lets another cluster node take the session of `clientIdentifier` over (the cluster's counterpart of `take`):
    /// its connection is told 0x8E Session taken over and closed; a session that is not resumed ends here (its
    /// will as for a local take-over); one that is resumed leaves this broker without ending: its pending will
    /// is dropped (MQTT-3.1.3-9), its subscriptions leave every loop's tree, and what was recorded for it is
    /// committed before `done` is called, so that its stored rows are whole when they move (only that: no other
    /// session's changes hold the hand-over up). `done` gets whether there was a session to hand over.
    func handOver(_ clientIdentifier: String, resume: Bool, _ done: @escaping @Sendable (Bool) -> Void) {
        guard let previous = session(for: clientIdentifier) else { return done(false) }
        let loop = loops[previous.homeIndex.load(ordering: .acquiring)]
        loop.eventLoop.execute { [self] in
            let resume = resume && previous.expiryInterval > 0
            if let connection = previous.connection { SessionAttachment.takeOver(from: connection, resuming: resume) }
            guard previous.isAlive else { return done(false) }
            guard resume else {
                end(previous, loop: loop)
                return done(false)
            }
            previous.connection = nil
            previous.relieveCongestion(loop: loop)
            previous.expiryTask?.cancel()
            previous.expiryTask = nil
            previous.willTask?.cancel()
            previous.willTask = nil
            if previous.will != nil, previous.isStored.load(ordering: .relaxed) || previous.isWillStored.load(ordering: .relaxed) {
                loop.storeChanges?.append(.willDeleted(clientIdentifier: clientIdentifier))
            }
            previous.will = nil
            previous.isAlive = false
            sessions.withLockedValue { sessions in
                let key = ExactString(clientIdentifier)
                if sessions[key] === previous { sessions.removeValue(forKey: key) }
            }
            let filters = previous.subscriptions.keys.map { TopicFilter(validated: $0.string) }
            // Out of every tree first, so that no loop records a delivery for it after the commit below.
            let removals = loops.map { replica in
                replica.eventLoop.submit { for filter in filters { replica.subscriptions.remove(filter, session: previous) } }
            }
            EventLoopFuture.andAllComplete(removals, on: loop.eventLoop).whenComplete { _ in
                let commits = self.loops.map { replica in
                    replica.eventLoop.flatSubmit { () -> EventLoopFuture<Void> in
                        // Only the batches that hold something of this session: a loop busy with other sessions'
                        // messages does not hold the move up.
                        guard let changes = replica.storeChanges, let ticket = changes.lastTicket(recordingFor: clientIdentifier) else {
                            return replica.eventLoop.makeSucceededVoidFuture()
                        }
                        changes.handOff()
                        let promise = replica.eventLoop.makePromise(of: Void.self)
                        changes.whenCommitted(ticket) { _ in promise.succeed() }
                        return promise.futureResult
                    }
                }
                EventLoopFuture.andAllComplete(commits, on: loop.eventLoop).whenComplete { _ in done(true) }
            }
        }
    }

    /// The connection of `session` is gone: publish or schedule its will (none after a normal DISCONNECT,
    /// MQTT-3.1.2-10), then end the session or start its expiry.
    func connectionLost(_ session: Session, willDiscarded: Bool, loop: BrokerLoop) {
        session.connection = nil
        let storeChanges = session.isStored.load(ordering: .relaxed) ? loop.storeChanges : nil
        if willDiscarded {
            if session.will != nil {
                session.will = nil
                storeChanges?.append(.willDeleted(clientIdentifier: session.clientIdentifier))
            }
        } else if let will = session.will {
            let delay = session.version == .v5 ? (will.properties.willDelayInterval ?? 0) : 0
            if delay == 0 || session.expiryInterval == 0 {
                publishWill(of: session, loop: loop)
            } else {
                // 3.1.3.2.2: the will waits for the earlier of its delay and the end of the session.
                let wait = min(delay, session.expiryInterval)
                // Stored as a wall-clock time, so that the wait goes on counting across a restart.
                let publishAt = WallClockTime.now().adding(milliseconds: Int64(wait) * 1_000)
                storeChanges?.append(.willSaved(clientIdentifier: session.clientIdentifier, StoredWill(will, publishAt: publishAt)))
                session.willTask = loop.eventLoop.scheduleTask(in: .seconds(Int64(wait))) {
                    session.willTask = nil
                    self.publishWill(of: session, loop: loop)
                }
            }
        }
        // The expiry starts counting, in wall-clock time.
        if session.expiryInterval > 0 { storeChanges?.append(session.savedChange(disconnectedAt: .now())) }
        if session.expiryInterval == 0 {
            end(session, loop: loop)
            return
        }
        loop.handOverSharedDeliveries(of: session)
        if session.expiryInterval != UInt32.max {
            session.expiryTask = loop.eventLoop.scheduleTask(in: .seconds(Int64(session.expiryInterval))) {
                loop.counters.sessionOutcomes.expired &+= 1
                self.end(session, loop: loop)
            }
        }
    }

    /// Ends `session` for good: its subscriptions go, its pending will is published. Runs on the session's loop.
    func end(_ session: Session, loop: BrokerLoop) {
        guard session.isAlive else { return }
        session.isAlive = false
        let wasStored = session.isStored.exchange(false, ordering: .relaxed)
        if let storeChanges = loop.storeChanges, wasStored || session.isWillStored.exchange(false, ordering: .relaxed) {
            storeChanges.append(.sessionDeleted(clientIdentifier: session.clientIdentifier))
            // Handed off now, before a new session of the same client can record itself from another loop.
            storeChanges.handOff()
        }
        session.expiryTask?.cancel()
        session.expiryTask = nil
        // Its publishers wait no more, and nothing watches it.
        session.relieveCongestion(loop: loop)
        if session.willTask != nil {
            session.willTask?.cancel()
            session.willTask = nil
            publishWill(of: session, loop: loop)
        }
        sessions.withLockedValue { sessions in
            let key = ExactString(session.clientIdentifier)
            if sessions[key] === session {
                sessions.removeValue(forKey: key)
            }
        }
        let filters = session.subscriptions.keys.map { TopicFilter(validated: $0.string) }
        let unfinished = session.unfinishedSharedDeliveries()
        session.subscriptions.removeAll()
        session.inflight.removeAll()
        session.queue.removeAll()
        // Nobody waits for this removal, so it is sent one way: a future gathering the loops' answers could
        // be left unfulfilled on a loop that stops first when the application shuts the group down.
        for replica in loops where !filters.isEmpty || (replica === loop && !unfinished.isEmpty) {
            let home = replica === loop
            replica.eventLoop.execute {
                for filter in filters { replica.subscriptions.remove(filter, session: session) }
                // Once this session has left its groups here, their other members take what it left undone.
                if home && !unfinished.isEmpty {
                    replica.reassign(unfinished)
                    replica.flush()
                }
            }
        }
    }

    /// Publishes the will of `session` now and forgets it.
    func publishWill(of session: Session, loop: BrokerLoop) {
        guard let will = session.will else { return }
        session.will = nil
        if let storeChanges = loop.storeChanges, session.isStored.load(ordering: .relaxed) || session.isWillStored.load(ordering: .relaxed) {
            storeChanges.append(.willDeleted(clientIdentifier: session.clientIdentifier))
        }
        var properties = will.properties
        properties.remove(.willDelayInterval)
        let now = NIODeadline.now()
        let expiry = properties.messageExpiryInterval.map { now + .seconds(Int64($0)) }
        let message = Message(
            topic: will.topic, payload: will.payload, qos: will.qos, retain: will.retain, properties: properties,
            publisher: session.clientIdentifier, expiry: expiry)
        _ = loop.core?.publish(message, on: loop)
        loop.flush()
    }
}
