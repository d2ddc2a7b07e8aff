import CoreMetrics
import Logging
import MQTT
import NIOCore

/// The broker's state for one event loop: a replica of the subscription tree, the connections with output
/// waiting for a flush, and the deliveries bound for sessions on other loops, sent there in one batch.
final class BrokerLoop: @unchecked Sendable {
    // Sendable proof: `index`, `eventLoop`, `configuration`, `logger` and `deliveryDuration` are immutable, and
    // `core` is set once by the core's initialiser before any connection exists; every other member is touched only on `eventLoop`
    // (the connection handlers of this loop and tasks submitted to it), asserted in debug builds.
    let index: Int
    let eventLoop: any EventLoop
    let configuration: BrokerConfiguration
    let logger: Logger
    /// Weak, because a task queued on a loop (a batch of deliveries from another loop, say) may run after the
    /// application has let go of a broker it shut down: it then finds no broker rather than a freed one.
    weak var core: BrokerCore?
    /// Where sampled delivery times go (`BrokerHooks.metrics`); nil times nothing.
    let deliveryDuration: CoreMetrics.Timer?
    /// The cluster's routing (`BrokerHooks.cluster`); nil on a broker on its own.
    let cluster: (any ClusterRouting)?
    /// Messages read until the next one is timed.
    @exclusivity(unchecked) private var deliverySampleCountdown: UInt8 = 64
    /// When the message being timed was read (uptime nanoseconds); 0 when none is.
    @exclusivity(unchecked) private var deliverySampleReadAt: UInt64 = 0

    // The fields marked `@exclusivity(unchecked)` are the ones every message routed touches. Each access to them
    // is a read, an assignment, or a mutation by a method of the value's own type that calls nothing back
    // (matching into `matches`, appending to `dirty`): no two can overlap, so the run-time exclusivity checks are
    // left out.
    @exclusivity(unchecked) var subscriptions: TopicTree
    @exclusivity(unchecked) var counters = LoopCounters()
    @exclusivity(unchecked) private var matches: [TopicTree.Subscriber] = []
    @exclusivity(unchecked) private var dirty: [ConnectionHandler] = []
    /// The connections being flushed, kept between flushes so that swapping it with `dirty` allocates nothing.
    @exclusivity(unchecked) private var flushing: [ConnectionHandler] = []
    @exclusivity(unchecked) private var isFlushingConnections = false
    @exclusivity(unchecked) var outputBuffers = OutputBufferPool()
    @exclusivity(unchecked) private var outboxes: [[(Session, Delivery)]]
    @exclusivity(unchecked) private var hasOutbox = false
    /// The changes this loop records for the broker's store; nil without a store.
    @exclusivity(unchecked) var storeChanges: LoopStoreChanges?
    let deadlineWheel: DeadlineWheel
    let hibernationQueue: HibernationQueue
    /// This loop's open connections, so that a shutdown can say goodbye to each; confined to the loop, so that
    /// connecting and closing take no lock.
    var connections = PlacedList<ConnectionHandler>(place: \.registryPosition)
    /// Connected clients on this loop that could hibernate and are awake.
    var awakeConnections = 0
    /// This loop's share of `Limits.hibernateQuicklyAbove`.
    let quickHibernationThreshold: Int?
    /// Subscription changes made on another loop that this replica may not have yet: made before routing.
    let pendingSubscriptionChanges: PendingSubscriptionChanges
    /// The first congested session (not the publisher's own) that the message being routed went to; the
    /// publishing connection takes it after routing and waits for it (see `FlowControl`).
    @exclusivity(unchecked) private var congestedSession: Session?
    /// Where the message being routed goes beyond this node, in a cluster: set for each message published here
    /// before it is delivered, and read only for such a message.
    private var forwarding: ClusterForwarding?
    /// While a message from another node is routed: the shared subscriptions whose groups take it here
    /// (`clusterShareProperty`). Kept here rather than in `Message`, which every delivery copies.
    var assignedShares: [String] = []

    init(
        index: Int, eventLoop: any EventLoop, loopCount: Int, configuration: BrokerConfiguration, logger: Logger,
        pendingSubscriptionChanges: PendingSubscriptionChanges, deliveryDuration: CoreMetrics.Timer? = nil,
        cluster: (any ClusterRouting)? = nil
    ) {
        self.index = index
        self.cluster = cluster
        self.deliveryDuration = deliveryDuration
        self.pendingSubscriptionChanges = pendingSubscriptionChanges
        self.eventLoop = eventLoop
        self.configuration = configuration
        self.logger = logger
        self.deadlineWheel = DeadlineWheel(eventLoop: eventLoop)
        self.hibernationQueue = HibernationQueue(eventLoop: eventLoop)
        self.quickHibernationThreshold = configuration.limits.hibernateQuicklyAbove.map { $0 / loopCount }
        self.subscriptions = TopicTree(sharedSubscriptionPolicy: configuration.sharedSubscriptionPolicy)
        self.outboxes = Array(repeating: [], count: loopCount)
    }

    /// Routes `message` to every matching subscription; returns how many copies went out.
    @discardableResult
    func route(_ message: Message) -> Int {
        eventLoop.preconditionInEventLoop()
        if pendingSubscriptionChanges.any { pendingSubscriptionChanges.catchUp(self) }
        congestedSession = nil
        // Emptied afterwards, not before: a session kept here would outlive its client until the next message.
        defer { matches.removeAll(keepingCapacity: true) }
        let mayRepeatSessions = subscriptions.match(message.topic, publisher: message.publisher, into: &matches)
        if let cluster { planForwarding(message, cluster) }
        switch matches.count {
        case 0:
            return 0
        case 1:
            return deliver(matches[0], message, identifiers: matches[0].identifier.map { [$0] } ?? []) ? 1 : 0
        default:
            guard mayRepeatSessions else {
                // One level's ordinary subscriptions, one per session: nothing to merge, so no sorting either.
                var delivered = 0
                for subscriber in matches where deliver(subscriber, message, identifiers: subscriber.identifier.map { [$0] } ?? []) {
                    delivered += 1
                }
                return delivered
            }
            // A session with several matching subscriptions receives the message once, at the highest QoS
            // granted, with every matching Subscription Identifier (MQTT-3.3.4-3 to -5).
            matches.sort { ObjectIdentifier($0.session) < ObjectIdentifier($1.session) }
            var delivered = 0
            var start = 0
            while start < matches.count {
                var end = start + 1
                while end < matches.count && matches[end].session === matches[start].session { end += 1 }
                // For the publisher's own session a No Local subscription does not match at all (MQTT-3.8.3-3):
                // it adds neither its QoS nor its Subscription Identifier.
                let isPublisher = message.publisher?.hasSameBytes(as: matches[start].session.clientIdentifier) == true
                var best: TopicTree.Subscriber?
                var identifiers: [Int] = []
                for candidate in matches[start..<end] where !(isPublisher && candidate.subscription.noLocal) {
                    if candidate.share != nil {
                        // 4.8.2: what a group hands this session is a copy of its own, besides the one the
                        // session's non-shared subscriptions give it.
                        if deliver(candidate, message, identifiers: candidate.identifier.map { [$0] } ?? []) { delivered += 1 }
                        continue
                    }
                    if let identifier = candidate.identifier { identifiers.append(identifier) }
                    guard var merged = best else {
                        best = candidate
                        continue
                    }
                    if candidate.options.qos > merged.options.qos { merged.options.qos = candidate.options.qos }
                    if candidate.options.retainAsPublished { merged.options.retainAsPublished = true }
                    best = merged
                }
                if let best, deliver(best, message, identifiers: identifiers) { delivered += 1 }
                start = end
            }
            return delivered
        }
    }

    private func deliver(_ subscriber: TopicTree.Subscriber, _ message: Message, identifiers: [Int]) -> Bool {
        // No Local: never back to the publisher's own connection (MQTT-3.8.3-3).
        let subscription = subscriber.subscription
        if subscription.noLocal, let publisher = message.publisher, publisher.hasSameBytes(as: subscriber.session.clientIdentifier) {
            return false
        }
        // A cluster link takes only what its node wants, and nothing that came from another node.
        if cluster != nil, subscriber.session.clientIdentifier.isClusterLink {
            guard !message.fromClusterNode, let shares = forwarding?.shares(forLink: subscriber.session.clientIdentifier) else { return false }
            deliver(Delivery(message: message.stamped(shares: shares), qos: message.qos, retain: message.retain, subscriptionIdentifiers: []),
                to: subscriber.session)
            return true
        }
        let delivery = Delivery(
            message: message, qos: min(message.qos, subscription.qos),
            retain: subscription.retainAsPublished ? message.retain : false,
            subscriptionIdentifiers: identifiers, share: subscriber.share)
        deliver(delivery, to: subscriber.session)
        return true
    }

    /// Asks the cluster where `message` goes beyond this node (`forwarding`), and keeps in `matches` only the
    /// shared groups that take it here: for a message from another node, those it was given to there; for one
    /// published here, those with a connected member here, and those with none that no other node takes.
    private func planForwarding(_ message: Message, _ cluster: any ClusterRouting) {
        if message.fromClusterNode {
            guard matches.contains(where: { $0.share != nil }) else { return }
            matches.removeAll { subscriber in
                guard let share = subscriber.share else { return false }
                return !assignedShares.contains { $0.hasSameBytes(as: share.rawValue) }
            }
            return
        }
        var localShares: [String] = []
        var waitingShares = false
        // A group's member is a connected one whenever the group has one (`TopicTree.choose`).
        for subscriber in matches where subscriber.share != nil {
            if subscriber.session.isConnected.load(ordering: .relaxed) {
                localShares.append(subscriber.share!.rawValue)
            } else {
                waitingShares = true
            }
        }
        let plan = cluster.forwarding(topic: message.topic, retain: message.retain, localShares: localShares)
        if waitingShares {
            matches.removeAll { subscriber in
                guard let share = subscriber.share, !subscriber.session.isConnected.load(ordering: .relaxed) else { return false }
                return plan.link(givenShare: share.rawValue) != nil
            }
        }
        forwarding = plan
    }

    /// Gives the deliveries a shared subscription's member left unfinished when its session ended to other
    /// members of their groups (4.8.2); those whose group has no member left are dropped.
    func reassign(_ deliveries: [Delivery]) {
        eventLoop.preconditionInEventLoop()
        for delivery in deliveries {
            guard let share = delivery.share,
                let member = subscriptions.sharedMember(of: share, publisher: delivery.message.publisher)
            else { continue }
            deliver(delivery, to: member, share: share)
        }
    }

    private func deliver(_ delivery: Delivery, to member: TopicTree.Subscriber, share: TopicFilter) {
        let message = delivery.message
        let reassigned = Delivery(
            message: message, qos: min(message.qos, member.subscription.qos),
            retain: member.subscription.retainAsPublished ? message.retain : false,
            subscriptionIdentifiers: member.identifier.map { [$0] } ?? [], share: share)
        deliver(reassigned, to: member.session)
    }

    /// Gives the shared subscriptions' deliveries that `session` has not finished to connected members of their
    /// groups, now that its client is gone (4.8.2 allows it as soon as the connection is lost): QoS 1 messages in
    /// flight and messages not yet sent. A QoS 2 message already sent waits for the client (MQTT-4.8.2-4).
    func handOverSharedDeliveries(of session: Session) {
        eventLoop.preconditionInEventLoop()
        session.handOverSharedDeliveries { delivery in
            guard let share = delivery.share else { return false }
            if let member = subscriptions.sharedMember(
                of: share, publisher: delivery.message.publisher, excluding: session, connectedOnly: true)
            {
                storeChanges?.recordRemoval(delivery, for: session)
                deliver(delivery, to: member, share: share)
                return true
            }
            // None here: a member on another node of the cluster, if there is one.
            guard let cluster, let core,
                let link = cluster.forwarding(topic: delivery.message.topic, retain: false, localShares: []).link(givenShare: share.rawValue),
                let linkSession = core.sessions.session(for: link.clientIdentifier)
            else { return false }
            storeChanges?.recordRemoval(delivery, for: session)
            let message = delivery.message.stamped(shares: [share.rawValue])
            deliver(Delivery(message: message, qos: message.qos, retain: message.retain, subscriptionIdentifiers: []), to: linkSession)
            return true
        }
        flush()
    }

    /// Hands `delivery` to `session` here if the session lives on this loop, else batches it for its loop.
    func deliver(_ delivery: Delivery, to session: Session) {
        if let storeChanges, delivery.qos != .atMostOnce, delivery.sequence == 0, session.isStored.load(ordering: .relaxed) {
            // Recorded here, on the publisher's loop, so that the publisher's acknowledgement waits for it.
            var recorded = delivery
            storeChanges.record(&recorded, for: session)
            dispatch(recorded, to: session)
            return
        }
        dispatch(delivery, to: session)
    }

    /// The congested session the last message routed went to, if any; forgotten once taken.
    func takeCongestedSession() -> Session? {
        defer { congestedSession = nil }
        return congestedSession
    }

    private func dispatch(_ delivery: Delivery, to session: Session) {
        if session.isCongested.load(ordering: .relaxed), congestedSession == nil,
            delivery.message.publisher?.hasSameBytes(as: session.clientIdentifier) != true
        {
            // A client publishing to itself never waits for itself: it could not drain while it waits.
            congestedSession = session
        }
        let home = session.homeIndex.load(ordering: .acquiring)
        if home == index {
            session.deliver(delivery, loop: self)
        } else {
            outboxes[home].append((session, delivery))
            hasOutbox = true
        }
    }

    /// Marks `connection` as holding output to flush at the end of this burst.
    func needsFlush(_ connection: ConnectionHandler) {
        dirty.append(connection)
    }

    /// Flushing a connection can lead to another flush (a socket that becomes writable again lets queued messages
    /// go, a failed write closes the connection): the inner one leaves the connections to the outer one, which
    /// goes on until none is left.
    private func flushConnections() {
        guard !isFlushingConnections else { return }
        isFlushingConnections = true
        while !dirty.isEmpty {
            swap(&dirty, &flushing)
            for connection in flushing { connection.flushOutput() }
            flushing.removeAll(keepingCapacity: true)
        }
        isFlushingConnections = false
    }

    /// Times one message read in 64 from its read to the flush of the connections it was written to; the clock
    /// is read only for that one.
    @inline(__always)
    func sampleDeliveryDuration() {
        guard deliveryDuration != nil else { return }
        deliverySampleCountdown &-= 1
        guard deliverySampleCountdown == 0 else { return }
        deliverySampleCountdown = 64
        if deliverySampleReadAt == 0 { deliverySampleReadAt = NIODeadline.now().uptimeNanoseconds }
    }

    /// Flushes every connection written to in this burst and sends the deliveries for other loops.
    func flush() {
        congestedSession = nil
        storeChanges?.handOff()
        let sampleReadAt = deliverySampleReadAt
        if sampleReadAt == 0 {
            flushConnections()
        } else {
            deliverySampleReadAt = 0
            let wroteHere = !dirty.isEmpty
            flushConnections()
            if wroteHere { deliveryDuration?.recordNanoseconds(Int64(NIODeadline.now().uptimeNanoseconds &- sampleReadAt)) }
        }
        guard hasOutbox else { return }
        hasOutbox = false
        guard let core else {
            for target in outboxes.indices { outboxes[target].removeAll() }
            return
        }
        for target in outboxes.indices where !outboxes[target].isEmpty {
            let batch = outboxes[target]
            outboxes[target].removeAll(keepingCapacity: true)
            let loop = core.loops[target]
            loop.eventLoop.execute {
                for (session, delivery) in batch { loop.deliver(delivery, to: session) }
                // The timed message goes on being timed where it is delivered.
                if sampleReadAt != 0, loop.deliverySampleReadAt == 0 { loop.deliverySampleReadAt = sampleReadAt }
                loop.flush()
            }
        }
    }
}
