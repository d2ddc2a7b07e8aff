import MQTT
import NIOCore

/// What a cluster node (`ClusterRouting`) asks of its broker: publishing what other nodes forward, handing
/// sessions over and taking them up, and giving back what was queued for a node that is gone.
extension MQTTBroker {
    /// Publishes a message another node of the cluster forwarded (`ClusterRouting`): to this node's subscribers
    /// only, never over another link. The future succeeds once the message is as safe as a client's PUBACK would
    /// say: routed and, for QoS 1 and 2 with `Durability.everyAck`, committed to the store for every persistent
    /// session it reached; it fails with `BrokerError.notStored` when that commit failed (send it again). The
    /// messages of one node go through one event loop, in the order given.
    ///
    /// `sequence`, the number of the message's delivery to this node's link session on `node`
    /// (`clusterSequenceProperty`), is recorded taken in the same commit (`StoreChange.clusterDeliveryTaken`) when
    /// the message is QoS 2: should `node` die before it hears that this node has the message, it must not be sent
    /// on again. A QoS 1 message may then arrive twice, as QoS 1 allows, and costs no row of its own.
    ///
    /// `shares`: the shared subscriptions (`$share/GROUP/FILTER`) whose groups the other node gave the message to
    /// (`clusterShareProperty`); no other group here gets it.
    public func forward(_ message: Message, fromClusterNode node: String, sequence: UInt64? = nil, shares: [String] = []) -> EventLoopFuture<Void> {
        let loop = inboxLoop(forNode: node)
        let core = self.core
        let message = Self.arrivingFromCluster(message)
        return loop.eventLoop.flatSubmit {
            Self.route(message, fromClusterNode: node, sequence: sequence, shares: shares, on: loop, core: core)
            return Self.afterRouting(CollectionOfOne(message), on: loop)
        }
    }

    /// An inbox for what `node` forwards, for a link that brings many messages: the same as `forward` for each,
    /// routed in batches (`ClusterInbox`). `done` is called on an event loop with the tokens of each batch, in
    /// order, once its messages are as safe as a PUBACK says, or with the error of its commit. `limit`: how many
    /// messages may wait for the loop before the link is to stop reading (`ClusterInbox.waitForRoom`).
    public func clusterInbox<Token: Sendable>(
        fromNode node: String, limit: Int = 10_000, done: @escaping @Sendable ([Token], Result<Void, any Error>) -> Void
    ) -> ClusterInbox<Token> {
        ClusterInbox(node: node, loop: inboxLoop(forNode: node), core: core, limit: limit, done: done)
    }

    /// The loop that routes what `node` forwards: always the same one, so that its messages keep their order.
    private func inboxLoop(forNode node: String) -> BrokerLoop {
        var hasher = Hasher()
        hasher.combine(node)
        return core.loops[Int(UInt(bitPattern: hasher.finalize()) % UInt(core.loops.count))]
    }

    static func arrivingFromCluster(_ message: Message) -> Message {
        var forwarded = message
        forwarded.removeTransportProperties()
        forwarded.fromClusterNode = true
        return forwarded
    }

    /// Routes one forwarded message on `loop`, recording a QoS 2 message's `sequence` taken in the same commit.
    static func route(_ message: Message, fromClusterNode node: String, sequence: UInt64?, shares: [String], on loop: BrokerLoop, core: BrokerCore) {
        if let sequence, message.qos == .exactlyOnce {
            loop.storeChanges?.append(.clusterDeliveryTaken(node: node, sequence: sequence))
        }
        loop.assignedShares = shares
        defer { loop.assignedShares = [] }
        _ = core.publish(message, on: loop)
    }

    /// Publishes `messages` in order on `loop`; the future succeeds once the last is as safe as a PUBACK says.
    private static func publishDurably(_ messages: [Message], on loop: BrokerLoop, core: BrokerCore) -> EventLoopFuture<Void> {
        for message in messages { _ = core.publish(message, on: loop) }
        return afterRouting(messages, on: loop)
    }

    /// Flushes what `loop` routed; the future succeeds once `messages`, routed there, are as safe as a PUBACK
    /// says: at once unless one of them is QoS 1 or 2 and acknowledgements wait for the store's commit.
    static func afterRouting(_ messages: some Sequence<Message>, on loop: BrokerLoop) -> EventLoopFuture<Void> {
        guard messages.contains(where: { $0.qos != .atMostOnce }), let changes = loop.storeChanges, changes.holdsAcknowledgements else {
            loop.flush()
            return loop.eventLoop.makeSucceededVoidFuture()
        }
        let ticket = changes.currentTicket
        loop.flush()
        let promise = loop.eventLoop.makePromise(of: Void.self)
        changes.whenCommitted(ticket) { failed in
            if failed { promise.fail(BrokerError.notStored) } else { promise.succeed() }
        }
        return promise.futureResult
    }

    /// Publishes again, as if published here, the messages the session of `clientIdentifier` has not delivered
    /// (in flight and not yet released, then queued, in order), and then ends the session: a cluster node does so
    /// with its link to a node that is gone, so that what was queued for that node's clients reaches them where
    /// they are now. Returns how many were published; throws `BrokerError.notStored` when they could not be
    /// committed (the session then stays).
    ///
    /// `excluding`: the sequence numbers of deliveries not to publish again (the other node had taken them).
    @discardableResult
    public func republishUndelivered(ofSession clientIdentifier: String, excluding: Set<UInt64> = []) async throws -> Int {
        guard let session = core.sessions.session(for: clientIdentifier) else { return 0 }
        let core = self.core
        let loop = core.loops[session.homeIndex.load(ordering: .acquiring)]
        let messages = try await loop.eventLoop.submit { () -> [Message] in
            guard session.isAlive else { return [] }
            var deliveries = session.inflight.values.filter { !$0.released }.map(\.delivery).sorted { $0.sequence < $1.sequence }
            deliveries.append(contentsOf: session.queue)
            // Routed afresh: the groups the gone node was to deliver to are chosen again.
            return deliveries.filter { $0.sequence == 0 || !excluding.contains($0.sequence) }.map { $0.message.removingClusterStamps() }
        }.get()
        try await loop.eventLoop.flatSubmit { Self.publishDurably(messages, on: loop, core: core) }.get()
        try await loop.eventLoop.submit {
            if let connection = session.connection, connection.state == .connected {
                session.expiryInterval = 0
                connection.disconnect(reason: .administrativeAction)
            }
            core.sessions.end(session, loop: loop)
            loop.flush()
        }.get()
        return messages.count
    }

    /// Another cluster node takes the session of `clientIdentifier` over: its connection here is told 0x8E Session
    /// taken over and closed. When `resume`, the session leaves this broker without ending (its pending will is
    /// dropped, as for a client back in time) and the call returns true once everything recorded for it is
    /// committed to the store, for the other node to take its rows; otherwise it ends here, and the call returns
    /// false. False, too, when there is no such session.
    public func handOver(clientIdentifier: String, resume: Bool) async -> Bool {
        await withCheckedContinuation { continuation in
            core.sessions.handOver(clientIdentifier, resume: resume) { continuation.resume(returning: $0) }
        }
    }

    /// Takes up sessions another cluster node handed over, as they were stored there: their subscriptions,
    /// queued and in-flight messages, expiry and will, as a restart from the store would. A client identifier
    /// that has a session here already keeps that one. Needs a store.
    ///
    /// `closingLink`, for the sessions of a node that is gone: the client identifier of that node's link. On each
    /// event loop the link stops taking messages at the moment the sessions start to, so that a message published
    /// here meanwhile goes either into the link's queue, which `republishUndelivered` then sends on, or to the
    /// sessions: never both.
    public func adopt(_ sessions: [StoredSession], closingLink: String? = nil) async throws {
        guard let store = core.writer?.store else { return }
        try await core.adopt(StoredState(sessions: sessions), store: store, closing: closingLink)
    }
}
