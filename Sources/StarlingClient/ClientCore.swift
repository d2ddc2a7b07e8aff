import Logging
import NIOCore

/// Everything a client knows, confined to one event loop: the session (which outlives connections), the
/// current connection or attempt, the requests waiting to be sent, and the streams messages go to.
///
/// Every connection of a client is opened on this same loop, so channel handlers call into the core directly
/// and the core writes to channels directly; the async API of `MQTTClient` hops onto the loop once per call.
final class ClientCore {
    enum State {
        case idle
        case connecting(Attempt)
        case connected(Connection)
        case shutDown(MQTTClientError?)
    }

    struct Attempt {
        let id: UInt64
        let promise: EventLoopPromise<ConnectResult>
        let timeout: Scheduled<Void>
        var channel: (any Channel)?
    }

    struct QueuedPublish {
        var packet: PublishPacket
        let promise: EventLoopPromise<PublishResult>
        /// Its key in `MQTTClientConfiguration.outgoingStore`, when it is kept there.
        var storeKey: UInt64? = nil
    }

    enum ControlRequest {
        /// `owner` is the live subscription the filters belong to.
        case subscribe(SubscribePacket, owner: Int, promise: EventLoopPromise<SubscriptionAck>?)
        case unsubscribe(UnsubscribePacket, promise: EventLoopPromise<UnsubscribeResult>?)
    }

    struct PendingControl {
        var request: ControlRequest
        let sequence: UInt64
    }

    /// A subscription whose messages go to its own stream.
    struct LiveSubscription {
        let filters: [TopicFilter]
        let sink: MessageSink
        /// Also receives the messages that no stream's filters claim: those of subscriptions a resumed session
        /// kept from an earlier connection.
        var receivesUnclaimed = false
        var rawFilters: [String] { filters.map(\.rawValue) }
    }

    struct SubscriptionAck: Sendable {
        let owner: Int
        let result: SubscribeResult
    }

    let eventLoop: any EventLoop
    let configuration: MQTTClientConfiguration
    let logger: Logger
    private let connector: Result<TransportConnector, MQTTClientError>

    var state = State.idle
    private var nextConnectionID: UInt64 = 0
    private var hasConnected = false
    private var assignedClientIdentifier: String?
    /// Set by `disconnect()`: the connection loop must not connect again.
    private(set) var isShutdownRequested = false
    private var closedPromise: EventLoopPromise<MQTTClientError?>?
    private var sleeper: (task: Scheduled<Void>, promise: EventLoopPromise<Void>)?

    var session = ClientSession()
    var queuedPublishes = CircularBuffer<QueuedPublish>()
    /// A flush of the publishes written in this turn of the event loop is already on its way.
    var flushScheduled = false
    /// Removals from the outgoing store under way, and who waits for them all to end (`disconnect()`).
    var storeRemovalsPending = 0
    var storeRemovalsWaiters: [EventLoopPromise<Void>] = []
    var pendingControl: [PendingControl] = []
    var awaitingAck: [UInt16: PendingControl] = [:]
    private var nextControlSequence: UInt64 = 0
    var liveSubscriptions: [Int: LiveSubscription] = [:]
    var nextSubscriptionIdentifier = 1
    var messageListeners: [ObjectIdentifier: MessageSink] = [:]
    /// The streams whose consumers have fallen behind; while any has, the client reads nothing from the broker.
    var laggingStreams: Set<ObjectIdentifier> = []
    var eventListeners: [UInt64: AsyncStream<ConnectionEvent>.Continuation] = [:]
    var nextListenerID: UInt64 = 0

    init(eventLoop: any EventLoop, configuration: MQTTClientConfiguration, logger: Logger) {
        self.eventLoop = eventLoop
        self.configuration = configuration
        self.logger = logger
        connector = Result { try TransportConnector(configuration: configuration) }.mapError { $0 as! MQTTClientError }
    }

    var bound: NIOLoopBound<ClientCore> { NIOLoopBound(self, eventLoop: eventLoop) }

    var isShutDown: Bool {
        if case .shutDown = state { return true }
        return false
    }

    func nextSequence() -> UInt64 {
        nextControlSequence += 1
        return nextControlSequence
    }

    // MARK: Connecting

    /// Makes one connection attempt; the future succeeds once the broker has accepted it.
    func connect() -> EventLoopFuture<ConnectResult> {
        eventLoop.preconditionInEventLoop()
        switch state {
        case .shutDown(let error):
            return eventLoop.makeFailedFuture(error ?? .shutdown)
        case .connecting, .connected:
            return eventLoop.makeFailedFuture(MQTTClientError(.invalidConfiguration, "the client is already connecting"))
        case .idle:
            break
        }
        let connector: TransportConnector
        switch self.connector {
        case .failure(let error): return eventLoop.makeFailedFuture(error)
        case .success(let value): connector = value
        }
        nextConnectionID += 1
        let id = nextConnectionID
        closedPromise = nil
        let promise = eventLoop.makePromise(of: ConnectResult.self)
        let connectTimeout = configuration.connectTimeout
        let timeout = eventLoop.assumeIsolated().scheduleTask(in: connectTimeout) { [self] in
            attemptFailed(id, error: MQTTClientError(.timedOut, "the broker did not accept the connection within \(connectTimeout)"))
        }
        state = .connecting(Attempt(id: id, promise: promise, timeout: timeout))

        var packet = configuration.connectPacket(resuming: hasConnected)
        if let assignedClientIdentifier, packet.clientIdentifier.isEmpty {
            // A 5.0 broker named this client; the same name is needed to resume its session.
            packet.clientIdentifier = assignedClientIdentifier
        }
        let connect = packet
        let version = configuration.protocolVersion
        let options = DecodingOptions(
            maximumPacketSize: configuration.maximumPacketSize.map { Int($0) } ?? 268_435_460, utf8Policy: .wellFormed)
        let pingTimeout = configuration.pingTimeout
        let connectsWhenActive = configuration.transport == .tcp
        let bound = self.bound
        let packetObserver = configuration.packetObserver
        let authentication = version == .v5 ? configuration.authentication : nil
        logger.debug("connecting", metadata: ["broker": "\(configuration.host):\(configuration.port)", "attempt": "\(id)"])
        connector.connect(on: eventLoop) { channel in
            // Each connection authenticates anew, with an exchange of its own that lives on its loop.
            var connect = connect
            let exchange = authentication?.makeExchange()
            if let authentication, let exchange {
                connect.properties.set(.authenticationMethod(authentication.method))
                if let data = try exchange.initialData() { connect.properties.set(.authenticationData(data)) }
            }
            let handler = MQTTConnectionHandler(
                core: bound.value, connectionID: id, connect: connect, authentication: exchange, pingTimeout: pingTimeout,
                connectsWhenActive: connectsWhenActive)
            try channel.pipeline.syncOperations.addHandlers([
                ByteToMessageHandler(PacketDecoder(version: version, options: options)),
                MessageToByteHandler(PacketEncoder(version: version)),
            ])
            if let packetObserver { try channel.pipeline.syncOperations.addHandler(PacketObserverHandler(packetObserver)) }
            try channel.pipeline.syncOperations.addHandler(handler)
        }.assumeIsolated().whenComplete { [self] result in
            switch result {
            case .success(let channel):
                switch state {
                case .connecting(var attempt) where attempt.id == id:
                    attempt.channel = channel
                    state = .connecting(attempt)
                case .connected(let connection) where connection.id == id:
                    // CONNACK came before this callback; the connection is already in place.
                    break
                default:
                    // The attempt timed out or the client shut down meanwhile.
                    channel.close(promise: nil)
                }
            case .failure(let error):
                attemptFailed(id, error: error as? MQTTClientError ?? MQTTClientError(.connectFailed, "could not connect", underlying: error))
            }
        }
        return promise.futureResult
    }

    private func attemptFailed(_ id: UInt64, error: MQTTClientError) {
        guard case .connecting(let attempt) = state, attempt.id == id else { return }
        // Idle first: closing the channel reports back here, and that report must not replace `error`.
        state = .idle
        attempt.timeout.cancel()
        attempt.channel?.close(promise: nil)
        logger.debug("connection attempt failed", metadata: ["error": "\(error)"])
        attempt.promise.fail(error)
    }

    /// Called by the handler when CONNACK accepts the connection.
    func connectionAccepted(_ connAck: ConnAckPacket, connectionID: UInt64, channel: any Channel, handler: MQTTConnectionHandler) {
        guard case .connecting(let attempt) = state, attempt.id == connectionID else {
            channel.close(promise: nil)
            return
        }
        attempt.timeout.cancel()
        let connection = Connection(id: connectionID, channel: channel, handler: handler, connAck: connAck, configuration: configuration)
        state = .connected(connection)
        hasConnected = true
        if let assigned = connAck.properties.assignedClientIdentifier { assignedClientIdentifier = assigned }
        closedPromise = eventLoop.makePromise(of: MQTTClientError?.self)
        let result = ConnectResult(sessionPresent: connAck.sessionPresent, properties: connAck.properties, protocolVersion: connection.version)
        logger.debug("connected", metadata: ["sessionPresent": "\(connAck.sessionPresent)"])
        updateReading()
        resumeSession(sessionPresent: connAck.sessionPresent, on: connection)
        emit(.connected(result))
        attempt.promise.succeed(result)
    }

    /// Called by the handler when its channel closes, with the reason.
    func connectionClosed(connectionID: UInt64, error: MQTTClientError) {
        switch state {
        case .connecting(let attempt) where attempt.id == connectionID:
            attemptFailed(connectionID, error: error)
        case .connected(let connection) where connection.id == connectionID:
            state = .idle
            // Requests the broker never answered go out again on the next connection, in their order.
            let unanswered = awaitingAck.sorted { $0.value.sequence < $1.value.sequence }
            for (identifier, _) in unanswered { session.packetIdentifiers.release(identifier) }
            pendingControl.insert(contentsOf: unanswered.map(\.value), at: 0)
            awaitingAck.removeAll()
            let reported: MQTTClientError? = isShutdownRequested ? nil : error
            if let reported { logger.info("connection lost", metadata: ["error": "\(reported)"]) }
            emit(.disconnected(reported))
            if isShutdownRequested { terminate(nil) }
            closedPromise?.succeed(reported)
        default:
            break
        }
    }

    /// Succeeds when the current connection ends, with the reason (nil when ended by `disconnect()`).
    func connectionEnded() -> EventLoopFuture<MQTTClientError?> {
        if let closedPromise { return closedPromise.futureResult }
        if case .shutDown(let error) = state { return eventLoop.makeSucceededFuture(error) }
        return eventLoop.makeSucceededFuture(.lost)
    }

    /// Waits before the next attempt; ends early when the client shuts down.
    func sleep(for delay: TimeAmount) -> EventLoopFuture<Void> {
        guard !isShutDown else { return eventLoop.makeSucceededVoidFuture() }
        let promise = eventLoop.makePromise(of: Void.self)
        let task = eventLoop.assumeIsolated().scheduleTask(in: delay) { promise.succeed() }
        sleeper = (task, promise)
        promise.futureResult.assumeIsolated().whenComplete { [self] _ in sleeper = nil }
        return promise.futureResult
    }

    // MARK: Ending

    /// Ends the client: sends DISCONNECT if connected, closes, and fails whatever is still waiting.
    func disconnect(_ packet: DisconnectPacket) -> EventLoopFuture<Void> {
        isShutdownRequested = true
        switch state {
        case .connected(let connection):
            connection.channel.writeAndFlush(Packet.disconnect(packet), promise: nil)
            connection.channel.close(promise: nil)
            return connection.channel.closeFuture
        case .connecting(let attempt):
            attemptFailed(attempt.id, error: .shutdown)
            terminate(nil)
        case .idle:
            terminate(nil)
        case .shutDown:
            break
        }
        return eventLoop.makeSucceededVoidFuture()
    }

    /// Moves to the final state: every waiting caller gets `error` (or `clientShutdown`), every stream ends.
    func terminate(_ error: MQTTClientError?) {
        guard !isShutDown else { return }
        isShutdownRequested = true
        if case .connected(let connection) = state { connection.channel.close(promise: nil) }
        if case .connecting(let attempt) = state { attemptFailed(attempt.id, error: error ?? .shutdown) }
        state = .shutDown(error)
        let failure = error ?? .shutdown
        if let sleeper {
            sleeper.task.cancel()
            sleeper.promise.succeed()
        }
        while let queued = queuedPublishes.popFirst() { queued.promise.fail(failure) }
        for flow in session.outgoingInOrder { flow.promise?.fail(failure) }
        for pending in pendingControl + awaitingAck.values.sorted(by: { $0.sequence < $1.sequence }) {
            switch pending.request {
            case .subscribe(_, _, let promise): promise?.fail(failure)
            case .unsubscribe(_, let promise): promise?.fail(failure)
            }
        }
        pendingControl.removeAll()
        awaitingAck.removeAll()
        for live in liveSubscriptions.values { live.sink.finish(error) }
        liveSubscriptions.removeAll()
        for listener in messageListeners.values { listener.finish(error) }
        messageListeners.removeAll()
        laggingStreams.removeAll()
        for listener in eventListeners.values { listener.finish() }
        eventListeners.removeAll()
        closedPromise?.succeed(error)
    }

    func addMessageListener(_ sink: MessageSink) {
        if case .shutDown(let error) = state { return sink.finish(error) }
        messageListeners[sink.id] = sink
    }

    // MARK: Back-pressure

    /// A stream's consumer took enough of its messages: reading from the broker may go on.
    func streamCaughtUp(_ id: ObjectIdentifier) {
        if laggingStreams.remove(id) != nil { updateReading() }
    }

    /// A stream ended on the consumer's side (its task cancelled, or the stream dropped): a subscription's
    /// filters are released, a listener is forgotten.
    func streamTerminated(_ id: ObjectIdentifier) {
        if laggingStreams.remove(id) != nil { updateReading() }
        if messageListeners.removeValue(forKey: id) != nil { return }
        if let owner = liveSubscriptions.first(where: { $0.value.sink.id == id })?.key {
            release(owner, promise: nil)
        }
    }

    /// Reads from the broker only while no stream's consumer lags behind.
    func updateReading() {
        guard case .connected(let connection) = state else { return }
        let paused = !laggingStreams.isEmpty
        guard paused != connection.handler.readsPaused else { return }
        connection.handler.readsPaused = paused
        connection.channel.setOption(ChannelOptions.autoRead, value: !paused).whenFailure { _ in }
        emit(paused ? .receivingPaused : .receivingResumed)
    }

    func addEventListener(_ continuation: AsyncStream<ConnectionEvent>.Continuation) {
        guard !isShutDown else { return continuation.finish() }
        nextListenerID += 1
        let id = nextListenerID
        eventListeners[id] = continuation
        let bound = self.bound
        continuation.onTermination = { _ in bound.eventLoop.execute { bound.value.eventListeners[id] = nil } }
    }

    func emit(_ event: ConnectionEvent) {
        for listener in eventListeners.values { listener.yield(event) }
    }

    /// Stops waiting for whatever the future belongs to; work already on the wire completes unobserved.
    func cancel(_ future: ObjectIdentifier) {
        if let index = queuedPublishes.firstIndex(where: { ObjectIdentifier($0.promise.futureResult) == future }) {
            queuedPublishes.remove(at: index).promise.fail(CancellationError())
            return
        }
        if let promise = session.detachOutgoing(waitingOn: future) {
            promise.fail(CancellationError())
            return
        }
        cancelControl(future)
    }
}
