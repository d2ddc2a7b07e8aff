import Atomics
import CoreMetrics
import Logging
import MQTT
import NIOConcurrencyHelpers
import NIOCore

/// The state shared by every connection of one broker: the event loops' replicas, the session registry and
/// the retained messages. Only the per-loop replicas are on the publish path; the locks here are taken on
/// connect, disconnect, subscribe and retained publishes.
final class BrokerCore: Sendable {
    let configuration: BrokerConfiguration
    /// The protocol's rules for CONNECT, from the configuration once.
    let connectNegotiation: ConnectNegotiation
    /// The protocol's rules for PUBLISH, from the configuration once.
    let publishValidation: PublishValidation
    /// The protocol's rules for SUBSCRIBE, from the configuration once.
    let subscribeNegotiation: SubscribeNegotiation
    /// Decides who may connect; nil lets every client in and refuses enhanced authentication.
    let authenticator: (any ConnectionAuthenticator)?
    /// Who may publish and subscribe to what; nil allows everything.
    let accessControl: AccessControl?
    let hooks: BrokerHooks
    /// Whether a client without a user name or Authentication Method is let in (see
    /// `BrokerConfiguration.allowAnonymous`).
    let anonymousAllowed: Bool
    let loops: [BrokerLoop]
    private let loopIndexes: [ObjectIdentifier: Int]
    /// Who holds the session of each client identifier.
    let sessions: any SessionRegistry
    /// Where published messages go.
    let router: any MessageRouter
    let retained = NIOLockedValueBox(RetainedStore())
    let connectionCount = ManagedAtomic(0)
    let retainedRefusals = RareLog()
    /// Connections whose unsent output reached `maximumOutboundBytes`, so that the broker stopped reading them.
    let outboundLimitLog = RareLog()
    /// WebSocket connections closed for a frame RFC 6455 or MQTT over WebSocket forbids.
    let webSocketViolationLog = RareLog()
    /// WebSocket upgrade requests closed for a head beyond `maximumUpgradeHeadBytes`.
    let upgradeHeadLimitLog = RareLog()
    /// Numbers the connections for `AuthenticationRequest.connectionNumber`.
    let connectionNumbers = ManagedAtomic<UInt64>(0)
    /// Connections accepted on the listeners, whatever became of them.
    let acceptedConnections = ManagedAtomic<UInt64>(0)
    let events = BrokerEventBroadcaster()
    let logger: Logger
    /// The turns of the shared groups by filter, held weakly: the groups in the replicas keep them alive.
    private let sharedGroupCursors = NIOLockedValueBox(SharedGroupCursors())
    /// Commits the loops' changes to the configured store; nil without one.
    let writer: StoreWriter?
    let connectionRate: AddressRateLimiter?
    let failedLogins: AddressRateLimiter?
    let authenticationsInFlight: AuthenticationsInFlight
    /// Where every observable event goes.
    let eventSink: BrokerEventSink
    /// Made when the first connection hibernates; `failed` once it could not be made, and none will.
    private let hibernation = NIOLockedValueBox<(watcher: HibernationWatcher?, failed: Bool)>((nil, false))
    #if DEBUG
    let liveObjects = LiveObjects()
    #endif
    let pendingSubscriptionChanges: PendingSubscriptionChanges
    /// The connections waiting for congested sessions (see `FlowControl`).
    let congestionWaiters = CongestionWaiters()
    /// Clients allowed more messages in flight than `Limits.maximumInflight` (`MQTTBroker.allowSendWindow`);
    /// the flag spares the lock to every other connection.
    let widerSendWindows = NIOLockedValueBox<[ExactString: Int]>([:])
    let hasWiderSendWindows = ManagedAtomic(false)

    init(
        configuration: BrokerConfiguration, authenticator: (any ConnectionAuthenticator)? = nil,
        accessControl: AccessControl? = nil, store: (any BrokerStore)? = nil, hooks: BrokerHooks = BrokerHooks(),
        eventLoops: [any EventLoop], logger: Logger
    ) {
        self.configuration = configuration
        self.publishValidation = PublishValidation(configuration: configuration)
        self.connectNegotiation = ConnectNegotiation(configuration: configuration, enhancedAuthenticationAvailable: authenticator != nil)
        self.subscribeNegotiation = SubscribeNegotiation(configuration: configuration)
        self.authenticator = authenticator
        self.accessControl = accessControl
        self.hooks = hooks
        self.anonymousAllowed = configuration.allowAnonymous ?? (authenticator == nil)
        self.logger = logger
        self.connectionRate = configuration.limits.connectionRatePerAddress.map(AddressRateLimiter.init)
        self.failedLogins = configuration.limits.failedLoginsPerAddress.map(AddressRateLimiter.init)
        self.authenticationsInFlight = AuthenticationsInFlight(
            maximum: configuration.limits.maximumAuthentications, maximumPerAddress: configuration.limits.maximumAuthenticationsPerAddress)
        self.eventSink = BrokerEventSink(observer: hooks.observer)
        let pending = PendingSubscriptionChanges(loopCount: eventLoops.count)
        self.pendingSubscriptionChanges = pending
        let deliveryDuration = hooks.metrics.map { CoreMetrics.Timer(label: "starling_delivery_duration_seconds", factory: $0) }
        let loops = eventLoops.enumerated().map {
            BrokerLoop(
                index: $0.offset, eventLoop: $0.element, loopCount: eventLoops.count, configuration: configuration, logger: logger,
                pendingSubscriptionChanges: pending, deliveryDuration: deliveryDuration, cluster: hooks.cluster)
        }
        self.loops = loops
        self.sessions = LocalSessionRegistry(loops: loops, maximumSessions: configuration.limits.maximumSessions)
        self.router = LocalMessageRouter()
        var indexes: [ObjectIdentifier: Int] = [:]
        for loop in loops { indexes[ObjectIdentifier(loop.eventLoop)] = loop.index }
        self.loopIndexes = indexes
        self.writer = store.map { StoreWriter(store: $0, durability: configuration.durability, logger: logger, metrics: hooks.metrics) }
        for loop in loops { loop.core = self }
        if let writer { for loop in loops { loop.storeChanges = LoopStoreChanges(loop: loop, writer: writer) } }
    }

    func hibernationWatcher() -> HibernationWatcher? {
        hibernation.withLockedValue { hibernation in
            if let watcher = hibernation.watcher { return watcher }
            // Elsewhere than on Linux idle connections simply stay awake: nothing has failed.
            guard !hibernation.failed, HibernationWatcher.isAvailable else { return nil }
            do {
                hibernation.watcher = try HibernationWatcher(logger: logger)
            } catch {
                hibernation.failed = true
                logger.error("idle connections cannot hibernate", metadata: ["error": "\(error)"])
            }
            return hibernation.watcher
        }
    }

    var runningHibernationWatcher: HibernationWatcher? {
        hibernation.withLockedValue { $0.watcher }
    }

    func stopHibernation() async {
        let watcher = hibernation.withLockedValue { hibernation in
            defer { hibernation = (nil, true) }
            return hibernation.watcher
        }
        await watcher?.stop()
    }

    func loop(for eventLoop: any EventLoop) -> BrokerLoop? {
        loopIndexes[ObjectIdentifier(eventLoop)].map { loops[$0] }
    }

    /// Runs `body` on every loop's replica; the future completes when all have run it. Called on one of the
    /// loops, it updates that loop's replica at once, before the loop reads anything more; every other loop
    /// makes the change before it routes its next message (`PendingSubscriptionChanges`). So a PUBLISH handled
    /// after a SUBSCRIBE is routed by the subscription, SUBACK or not.
    func updateSubscriptions(on eventLoop: any EventLoop, _ body: @escaping @Sendable (inout TopicTree) -> Void) -> EventLoopFuture<Void> {
        let pending = pendingSubscriptionChanges
        pending.add(body)
        let futures = loops.map { loop in
            guard loop.eventLoop === eventLoop, eventLoop.inEventLoop else {
                return loop.eventLoop.submit { pending.catchUp(loop) }
            }
            pending.catchUp(loop)
            return eventLoop.makeSucceededVoidFuture()
        }
        return EventLoopFuture.andAllSucceed(futures, on: eventLoop)
    }

    /// The cursor every replica's copy of the shared group `filter` takes turns by.
    func sharedGroupCursor(for filter: TopicFilter) -> SharedGroupCursor {
        sharedGroupCursors.withLockedValue { $0.cursor(for: filter.rawValue) }
    }

    /// Routes `message` from any thread: stores it if retained, then delivers it on `loop`. A `publisher` whose
    /// message went to a congested session waits for it (see `FlowControl`).
    func publish(_ message: Message, on loop: BrokerLoop, publisher: ConnectionHandler? = nil) -> Int {
        if message.retain && configuration.retainAvailable {
            let limits = configuration.limits
            if !retained.withLockedValue({ $0.retain(message, limits: limits) }) {
                retainedRefusals.logRarely(logger, "retained store full: message delivered but not retained", topic: message.topic)
            } else if let storeChanges = loop.storeChanges {
                storeChanges.recordRetained(message)
            }
        }
        if eventSink.isListeningForPublications { eventSink.emit(.published(message)) }
        let receivers = router.route(message, on: loop)
        if let congested = loop.takeCongestedSession(), let publisher { CongestionWait.start(publisher, waitingFor: congested) }
        return receivers
    }
}

/// The cursors of the shared groups that exist, by filter.
private struct SharedGroupCursors {
    private struct Entry {
        weak var cursor: SharedGroupCursor?
    }

    private var entries: [ExactString: Entry] = [:]
    /// Entries of groups gone from every replica are swept when the table outgrows this.
    private var sweepAt = 64

    mutating func cursor(for key: String) -> SharedGroupCursor {
        let key = ExactString(key)
        if let cursor = entries[key]?.cursor { return cursor }
        if entries.count >= sweepAt {
            entries = entries.filter { $0.value.cursor != nil }
            sweepAt = max(64, entries.count * 2)
        }
        let cursor = SharedGroupCursor()
        entries[key] = Entry(cursor: cursor)
        return cursor
    }
}
