import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization

/// An MQTT 3.1.1 and 5.0 client.
///
/// A client keeps one session with a broker across as many connections as it takes: `run()` (a
/// swift-service-lifecycle `Service`) connects, reconnects with backoff when the connection is lost, and resumes
/// the session or subscribes again when the broker lost it. For a short program, `withConnection(_:)` and
/// `withMQTTClient(url:_:)` connect, run a closure, and disconnect.
///
/// Publishing, subscribing and unsubscribing work from any task; they wait for the broker's acknowledgement.
/// Publishes made while disconnected wait (up to `maximumQueuedPublishes`) for the next connection.
public final class MQTTClient: Sendable {
    /// What the client was made with; fixed for its lifetime.
    public let configuration: MQTTClientConfiguration
    /// Where the client logs its connections, losses and reconnections.
    public let logger: Logger
    let core: NIOLoopBoundBox<ClientCore>
    /// Whether what the outgoing store kept has been queued (once per client).
    private let restoredStore = Atomic<Bool>(false)

    var eventLoop: any EventLoop { core.eventLoop }

    /// A client for `configuration`, not yet connected: call `run()` or `withConnection(_:)`. It stays on one
    /// event loop of `eventLoopGroup`.
    public init(
        configuration: MQTTClientConfiguration, eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "starling.client")
    ) {
        self.configuration = configuration
        self.logger = logger
        let eventLoop = eventLoopGroup.any()
        core = .makeBoxSendingValue(
            ClientCore(eventLoop: eventLoop, configuration: configuration, logger: logger), eventLoop: eventLoop)
    }

    deinit {
        // Nothing may wait forever on a client nobody can reach any more.
        let core = self.core
        core.eventLoop.execute { core.value.terminate(nil) }
    }

    // MARK: Connection

    /// Connects and stays connected until `disconnect()`, task cancellation or graceful shutdown, reconnecting as
    /// `configuration.reconnect` allows. Throws when it gives up (a refusal that cannot change, such as bad
    /// credentials, or a loss with reconnection disabled).
    public func run() async throws {
        try await restoreStoredPublishes()
        try await withTaskCancellationOrGracefulShutdownHandler {
            try await self.maintainConnection(connected: false)
        } onCancelOrGracefulShutdown: {
            self.startDisconnect()
        }
    }

    /// Connects (one attempt, a failure thrown, unless `configuration.reconnect.retriesFirstConnection`), runs
    /// `body`, then disconnects. While `body` runs, the connection is maintained as `configuration.reconnect`
    /// allows.
    @discardableResult
    public func withConnection<Value>(
        isolation: isolated (any Actor)? = #isolation, _ body: (MQTTClient) async throws -> Value
    ) async throws -> Value {
        try await restoreStoredPublishes()
        if configuration.reconnect.retriesFirstConnection {
            guard try await connectWithRetries() else { throw MQTTClientError.shutdown }
        } else {
            do {
                _ = try await onLoop { $0.connect() }
            } catch {
                try? await withCore { $0.terminate(error as? MQTTClientError) }
                throw error
            }
        }
        return try await withThrowingTaskGroup(of: Void.self, returning: Value.self, isolation: isolation) { group in
            group.addTask { try await self.maintainConnection(connected: true) }
            let outcome: Result<Value, any Error>
            do {
                outcome = .success(try await body(self))
            } catch {
                outcome = .failure(error)
            }
            await self.disconnect()
            // The loop ends with the disconnect; what it met on the way already reached the operations it affected.
            _ = try? await group.next()
            return try outcome.get()
        }
    }

    /// Sends DISCONNECT (with `reasonCode` in 5.0), closes the connection and ends the client: `run()` returns,
    /// streams finish, and operations still waiting fail with `MQTTClientError.Code.clientShutdown`. Returns once
    /// the outgoing store (if any) has forgotten what the broker acknowledged.
    public func disconnect(reasonCode: ReasonCode = .normalDisconnection, properties: Properties = []) async {
        let packet = DisconnectPacket(reasonCode: reasonCode, properties: properties)
        _ = try? await eventLoop.flatSubmit { self.core.value.disconnect(packet) }.get()
        // The outgoing store's last removals, so that it can be closed as soon as this returns.
        _ = try? await onLoop { $0.storeRemovalsSettled() }
    }

    private func startDisconnect() {
        beginDisconnect()
    }

    /// Starts `disconnect()` without waiting for it: the client ends before anything asked of it afterwards, so
    /// that, for instance, subscription streams that end next do not unsubscribe a persistent session's filters.
    public func beginDisconnect() {
        let core = self.core
        core.eventLoop.execute { _ = core.value.disconnect(DisconnectPacket()) }
    }

    /// The connection loop: waits for the connection to end, then reconnects with backoff until shut down.
    func maintainConnection(connected: Bool) async throws {
        let policy = configuration.reconnect
        var connected = connected
        while true {
            if !connected {
                guard try await connectWithRetries() else { return }
                connected = true
            }
            let reason = try await onLoop { $0.connectionEnded() }
            connected = false
            if try await withCore({ $0.isShutdownRequested }) { return }
            guard policy.isEnabled, reason?.isRetriable ?? true else {
                let error = reason ?? .lost
                try await withCore { $0.terminate(error) }
                throw error
            }
            try await pause(beforeAttempt: 1)
        }
    }

    /// Connects, trying again after each failure that may pass as `configuration.reconnect` allows; false if the
    /// client was shut down meanwhile. Throws, having ended the client, when it gives up.
    private func connectWithRetries() async throws -> Bool {
        var failures = 0
        while true {
            do {
                _ = try await onLoop { $0.connect() }
                return true
            } catch {
                if try await withCore({ $0.isShutdownRequested }) { return false }
                let error = error as? MQTTClientError ?? MQTTClientError(.connectFailed, "could not connect", underlying: error)
                failures += 1
                guard error.isRetriable, configuration.reconnect.allowsAttempt(after: failures) else {
                    try await withCore { $0.terminate(error) }
                    throw error
                }
                try await pause(beforeAttempt: failures + 1)
            }
        }
    }

    private func pause(beforeAttempt attempt: Int) async throws {
        let delay = configuration.reconnect.delay(beforeAttempt: attempt)
        logger.debug("reconnecting", metadata: ["attempt": "\(attempt)", "delay": "\(delay)"])
        try await onLoop { core in
            core.emit(.reconnecting(attempt: attempt, delay: .nanoseconds(delay.nanoseconds)))
            return core.sleep(for: delay)
        }
    }

    /// Every change of the connection from now on; the stream ends when the client does.
    public func connectionEvents() -> AsyncStream<ConnectionEvent> {
        let (stream, continuation) = AsyncStream.makeStream(of: ConnectionEvent.self)
        let core = self.core
        core.eventLoop.execute { core.value.addEventListener(continuation) }
        return stream
    }

    // MARK: Publishing

    /// Publishes a message and returns once its QoS flow is complete: when written for QoS 0, on PUBACK for
    /// QoS 1, on PUBCOMP for QoS 2. A refusal by the broker (a 5.0 reason code of 0x80 or more) is thrown as
    /// `MQTTClientError.Code.publishRefused` with the reason code.
    @discardableResult
    public func publish(
        topic: String, payload: ByteBuffer, qos: QoS = .atMostOnce, retain: Bool = false, properties: Properties = []
    ) async throws -> PublishResult {
        let packet = PublishPacket(topic: topic, payload: payload, qos: qos, retain: retain, properties: properties)
        var storeKey: UInt64?
        if qos != .atMostOnce, let store = configuration.outgoingStore {
            try await restoreStoredPublishes()
            storeKey = try await store.add(packet)
        }
        return try await request { [storeKey] core, promise in core.publish(packet, storeKey: storeKey, promise: promise) }
    }

    /// Queues, once per client and ahead of anything published since, what the outgoing store kept from before.
    func restoreStoredPublishes() async throws {
        guard let store = configuration.outgoingStore, restoredStore.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged
        else { return }
        let stored = try await store.load()
        guard !stored.isEmpty else { return }
        logger.debug("sending publishes kept in the outgoing store", metadata: ["count": "\(stored.count)"])
        let core = self.core
        try await core.eventLoop.submit {
            for message in stored {
                // Nobody waits for these: the store forgets each once the broker has it.
                core.value.publish(message.publish, storeKey: message.key, promise: core.eventLoop.makePromise())
            }
        }.get()
    }

    /// Queues a message at once, in the order of the calls, and returns a future that completes when its QoS
    /// flow does, as `publish` returns: for pipelines that keep many messages in flight and must keep their
    /// order (a bridge). The future fails as `publish` throws.
    public func queuePublish(
        topic: String, payload: ByteBuffer, qos: QoS = .atMostOnce, retain: Bool = false, properties: Properties = []
    ) -> EventLoopFuture<PublishResult> {
        let packet = PublishPacket(topic: topic, payload: payload, qos: qos, retain: retain, properties: properties)
        let core = self.core
        let promise = core.eventLoop.makePromise(of: PublishResult.self)
        core.eventLoop.execute { core.value.publish(packet, promise: promise) }
        return promise.futureResult
    }

    /// Publishes `payload` as UTF-8 text; see `publish(topic:payload:qos:retain:properties:)`.
    @discardableResult
    public func publish(
        topic: String, payload: String, qos: QoS = .atMostOnce, retain: Bool = false, properties: Properties = []
    ) async throws -> PublishResult {
        try await publish(topic: topic, payload: ByteBuffer(string: payload), qos: qos, retain: retain, properties: properties)
    }

    /// Publishes `payload`'s bytes; see `publish(topic:payload:qos:retain:properties:)`.
    @discardableResult
    public func publish(
        topic: String, payload: [UInt8], qos: QoS = .atMostOnce, retain: Bool = false, properties: Properties = []
    ) async throws -> PublishResult {
        try await publish(topic: topic, payload: ByteBuffer(bytes: payload), qos: qos, retain: retain, properties: properties)
    }

    /// With `MQTTClientConfiguration.acknowledgesManually`, says the application is done with `message`: its
    /// PUBACK (QoS 1) or PUBREC (QoS 2) goes out. Does nothing for QoS 0, or when the connection the message came
    /// on is gone (the broker then sends it again, to a persistent session).
    public func acknowledge(_ message: MQTTMessage) {
        guard message.qos != .atMostOnce else { return }
        let core = self.core
        core.eventLoop.execute { core.value.acknowledge(message) }
    }

    /// Acknowledges each of `messages`, in order, as `acknowledge(_:)` does, with one write to the socket for all.
    public func acknowledge(_ messages: [MQTTMessage]) {
        guard messages.contains(where: { $0.qos != .atMostOnce }) else { return }
        let core = self.core
        core.eventLoop.execute {
            for message in messages { core.value.acknowledge(message, flush: false) }
            core.value.flush()
        }
    }

    // MARK: Subscribing

    /// Subscribes and returns the subscription's own message stream with the broker's SUBACK. Throws
    /// `MQTTClientError.Code.subscriptionRefused` when the broker refuses every filter.
    public func subscribe(to subscriptions: [SubscribePacket.Subscription], properties: Properties = []) async throws -> MQTTSubscription {
        let pending = makeSubscription(to: subscriptions, properties: properties)
        return try await pending.acknowledged()
    }

    /// Subscribes to one topic filter (wildcards `+` and `#` allowed) with the highest QoS wanted for its messages.
    public func subscribe(to filter: String, qos: QoS = .atMostOnce) async throws -> MQTTSubscription {
        try await subscribe(to: [SubscribePacket.Subscription(topicFilter: filter, qos: qos)])
    }

    /// Subscribes to several topic filters in one SUBSCRIBE, all with the same QoS, as one stream.
    public func subscribe(to filters: [String], qos: QoS = .atMostOnce) async throws -> MQTTSubscription {
        try await subscribe(to: filters.map { SubscribePacket.Subscription(topicFilter: $0, qos: qos) })
    }

    /// Subscribes, runs `body` with the subscription, and unsubscribes when `body` returns or throws.
    @discardableResult
    public func withSubscription<Value>(
        to subscriptions: [SubscribePacket.Subscription], properties: Properties = [],
        isolation: isolated (any Actor)? = #isolation, _ body: (MQTTSubscription) async throws -> Value
    ) async throws -> Value {
        let subscription = try await subscribe(to: subscriptions, properties: properties)
        let outcome: Result<Value, any Error>
        do {
            outcome = .success(try await body(subscription))
        } catch {
            outcome = .failure(error)
        }
        do {
            try await subscription.unsubscribe()
        } catch {
            logger.debug("unsubscribe at the end of a subscription's scope failed", metadata: ["error": "\(error)"])
        }
        return try outcome.get()
    }

    /// Subscribes to one topic filter, runs `body` with the subscription, and unsubscribes when `body` returns or
    /// throws.
    @discardableResult
    public func withSubscription<Value>(
        to filter: String, qos: QoS = .atMostOnce, isolation: isolated (any Actor)? = #isolation,
        _ body: (MQTTSubscription) async throws -> Value
    ) async throws -> Value {
        try await withSubscription(to: [SubscribePacket.Subscription(topicFilter: filter, qos: qos)], isolation: isolation, body)
    }

    /// A subscription registered at once (its stream receives matching messages from this moment) whose
    /// SUBSCRIBE goes out as soon as the client is connected.
    public struct PendingSubscription: Sendable {
        let client: MQTTClient
        /// The topic filters being subscribed to.
        public let filters: [String]
        let stream: MQTTMessageStream
        let acknowledgement: EventLoopFuture<ClientCore.SubscriptionAck>

        /// Waits for the SUBACK (throwing `subscriptionRefused` when every filter was refused).
        public func acknowledged() async throws -> MQTTSubscription {
            let core = client.core
            let token = ObjectIdentifier(acknowledgement)
            let ack = try await withTaskCancellationHandler {
                try await acknowledgement.get()
            } onCancel: {
                core.eventLoop.execute { core.value.cancel(token) }
            }
            return MQTTSubscription(result: ack.result, filters: filters, owner: ack.owner, client: client, stream: stream)
        }
    }

    /// Registers a subscription without waiting: made before connecting, it cannot miss the messages the broker
    /// sends for it right after CONNACK (from a resumed session, for instance).
    ///
    /// With `receivingUnclaimed`, the stream also receives every message that no subscription stream's filters
    /// and no `messages()` stream claim: those of the subscriptions a resumed session kept from an earlier
    /// connection, which the client would otherwise drop. A command-line subscriber prints them, as
    /// mosquitto_sub does.
    public func makeSubscription(
        to subscriptions: [SubscribePacket.Subscription], properties: Properties = [], receivingUnclaimed: Bool = false
    ) -> PendingSubscription {
        let (stream, sink) = MQTTMessageStream.make(core: core, limit: configuration.messageBufferLimit)
        let promise = eventLoop.makePromise(of: ClientCore.SubscriptionAck.self)
        let core = self.core
        core.eventLoop.execute {
            core.value.subscribe(
                subscriptions, properties: properties, receivesUnclaimed: receivingUnclaimed, sink: sink, promise: promise)
        }
        return PendingSubscription(
            client: self, filters: subscriptions.map(\.topicFilter), stream: stream, acknowledgement: promise.futureResult)
    }

    /// Unsubscribes from `filters` directly, whatever subscription streams use them (they stop receiving those
    /// messages). Useful to remove subscriptions a persistent session kept from an earlier run.
    @discardableResult
    public func unsubscribe(from filters: [String], properties: Properties = []) async throws -> UnsubscribeResult {
        try await request { core, promise in core.unsubscribe(filters, properties: properties, promise: promise) }
    }

    func release(_ owner: Int) async throws -> UnsubscribeResult? {
        try await request { core, promise in core.release(owner, promise: promise) }
    }

    /// Every message this client receives from now on, whichever subscription it is for (including
    /// subscriptions a resumed session brought back). The stream ends when the client does.
    public func messages() -> MQTTMessageStream {
        let (stream, sink) = MQTTMessageStream.make(core: core, limit: configuration.messageBufferLimit)
        let core = self.core
        core.eventLoop.execute { core.value.addMessageListener(sink) }
        return stream
    }

    // MARK: Hopping onto the loop

    func onLoop<Value: Sendable>(_ body: @escaping @Sendable (ClientCore) -> EventLoopFuture<Value>) async throws -> Value {
        let core = self.core
        return try await core.eventLoop.flatSubmit { body(core.value) }.get()
    }

    func withCore<Value: Sendable>(_ body: @escaping @Sendable (ClientCore) -> Value) async throws -> Value {
        let core = self.core
        return try await core.eventLoop.submit { body(core.value) }.get()
    }

    /// Starts an operation on the loop and waits for its promise; cancelling the waiting task stops the wait
    /// (and withdraws the operation if it has not reached the broker yet).
    private func request<Value: Sendable>(_ start: @escaping @Sendable (ClientCore, EventLoopPromise<Value>) -> Void) async throws -> Value {
        let core = self.core
        let promise = core.eventLoop.makePromise(of: Value.self)
        core.eventLoop.execute { start(core.value, promise) }
        let future = promise.futureResult
        let token = ObjectIdentifier(future)
        return try await withTaskCancellationHandler {
            try await future.get()
        } onCancel: {
            core.eventLoop.execute { core.value.cancel(token) }
        }
    }
}

extension MQTTClient: Service {}
