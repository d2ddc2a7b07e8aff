import Atomics
import Logging
import MQTT
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import ServiceLifecycle

/// An MQTT 3.1, 3.1.1 and 5.0 broker.
///
/// ```swift
/// let broker = MQTTBroker()
/// try await broker.run()          // serves on 0.0.0.0:1883 until cancelled or shut down gracefully
/// ```
///
/// It is a swift-service-lifecycle `Service`: `run()` binds the listeners, tells `onServerRunning` where they
/// are, serves until a graceful shutdown is requested or its task is cancelled, and then shuts down. It can run
/// in a `ServiceGroup` beside the rest of an application; `handle(_:)` attaches it to a channel that the
/// application accepted itself.
public final class MQTTBroker: Service, Sendable {
    /// The configuration the broker was made with; it cannot change while the broker lives.
    public let configuration: BrokerConfiguration
    let core: BrokerCore
    private let group: any EventLoopGroup
    private let onServerRunning: @Sendable ([SocketAddress]) async -> Void
    private let serverChannels = NIOLockedValueBox<[any Channel]>([])
    private let started = NIODeadline.now()
    private let systemTopics = NIOLockedValueBox<SystemTopics?>(nil)
    private let freedMemoryReturner = NIOLockedValueBox<FreedMemoryReturner?>(nil)
    let serving = ManagedAtomic(false)

    /// The version of Starling, defined here only: `starling --version` and `$SYS/broker/version` give it.
    public static let version = "0.1.0"

    /// - Parameters:
    ///   - configuration: listeners, limits and features, as plain values.
    ///   - authenticator: decides which clients may connect and runs enhanced authentication. Without one every
    ///     client is let in and a CONNECT naming an Authentication Method is refused with 0x8C; with one, clients
    ///     without a user name are refused unless `configuration.allowAnonymous` (see `PasswordFileAuthenticator`,
    ///     `SCRAMAuthenticator`).
    ///   - accessControl: who may publish and subscribe to what; nil allows everything and costs nothing.
    ///   - store: where persistent sessions and retained messages are kept across restarts; nil keeps them in
    ///     memory only. `configuration.durability` says when messages are acknowledged relative to it.
    ///   - hooks: the application's extension points besides the authenticator.
    ///   - eventLoopGroup: the loops that serve connections. Channels given to `handle(_:)` must belong to it.
    ///   - logger: where the broker logs listeners, refused logins, protocol violations and failures.
    ///   - onServerRunning: called by `run()` once every listener is bound, with their addresses in the
    ///     listeners' order (useful with port 0).
    public init(
        configuration: BrokerConfiguration = BrokerConfiguration(),
        authenticator: (any ConnectionAuthenticator)? = nil,
        accessControl: AccessControl? = nil,
        store: (any BrokerStore)? = nil,
        hooks: BrokerHooks = BrokerHooks(),
        eventLoopGroup: MultiThreadedEventLoopGroup = .singleton,
        logger: Logger = Logger(label: "starling"),
        onServerRunning: @escaping @Sendable ([SocketAddress]) async -> Void = { _ in }
    ) {
        self.configuration = configuration
        self.group = eventLoopGroup
        self.onServerRunning = onServerRunning
        self.core = BrokerCore(
            configuration: configuration, authenticator: authenticator, accessControl: accessControl, store: store,
            hooks: hooks, eventLoops: Array(eventLoopGroup.makeIterator()), logger: logger)
    }

    /// Whether a client without a user name or Authentication Method is let in: `configuration.allowAnonymous`,
    /// or, when that is nil, whether the broker has no authenticator.
    public var anonymousAllowed: Bool { core.anonymousAllowed }

    /// Serves until a graceful shutdown is requested or the task is cancelled, then shuts down: stops accepting
    /// connections and closes every client connection, telling 5.0 clients 0x8B (Server shutting down). Wills of
    /// the clients are published, as for any connection the server closes. Call it once.
    ///
    /// Throws if a listener cannot be bound, after closing those that were.
    public func run() async throws {
        let addresses: [SocketAddress]
        do {
            addresses = try await start()
        } catch {
            await shutdown()
            throw error
        }
        serving.store(true, ordering: .relaxed)
        await onServerRunning(addresses)
        try? await gracefulShutdown()
        serving.store(false, ordering: .relaxed)
        await shutdown()
    }

    /// Binds every listener and returns the bound addresses, in the listeners' order.
    private func start() async throws -> [SocketAddress] {
        if let writer = core.writer {
            try await core.restore(from: writer.store)
            writer.start(loops: core.loops)
        }
        let limits = configuration.limits
        if let interval = configuration.systemTopicsInterval, interval > .zero {
            let core = self.core
            let started = self.started
            systemTopics.withLockedValue { topics in
                if topics == nil { topics = SystemTopics(core: core, interval: interval, version: Self.version, started: started) }
            }
        }
        if let policy = limits.freedMemoryReturn {
            let core = self.core
            freedMemoryReturner.withLockedValue { returner in
                if returner == nil { returner = FreedMemoryReturner(core: core, policy: policy) }
            }
        }
        var addresses: [SocketAddress] = []
        let waterMark = ChannelOptions.Types.WriteBufferWaterMark(
            low: limits.maximumOutboundBytes / 2, high: limits.maximumOutboundBytes)
        for (index, listener) in configuration.listeners.enumerated() {
            let pipeline = try ListenerPipeline(listener: listener, index: index, core: core)
            let bootstrap = ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 1024)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                // Set here rather than as the bootstrap's child options, which are applied through a chain of
                // futures: a few allocations and callbacks per connection, on the path a connection storm takes.
                .childChannelInitializer { channel in
                    do {
                        if let options = channel.syncOptions {
                            try options.setOption(.socketOption(.tcp_nodelay), value: 1)
                            // Each channel keeps its last receive buffer for the next read: small at first, so
                            // that an idle connection holds little; it grows with the connection's traffic.
                            try options.setOption(.recvAllocator, value: CompactRecvByteBufferAllocator.broker)
                            try options.setOption(.writeBufferWaterMark, value: waterMark)
                        }
                    } catch {
                        return channel.eventLoop.makeFailedFuture(error)
                    }
                    return pipeline.initialize(channel)
                }
            let channel: any Channel
            do {
                channel = try await bootstrap.bind(host: listener.host, port: listener.port).get()
            } catch {
                throw ListenerBindError(listener: listener.url(port: listener.port), underlying: error)
            }
            serverChannels.withLockedValue { $0.append(channel) }
            if let address = channel.localAddress {
                addresses.append(address)
                core.logger.notice("listening", metadata: ["address": "\(listener.url(port: address.port ?? listener.port))"])
                if core.authenticator == nil, !address.isLoopback {
                    core.logger.warning("listening beyond this machine without authentication: any client may connect", metadata: [
                        "address": "\(listener.url(port: address.port ?? listener.port))",
                    ])
                }
            }
        }
        return addresses
    }

    /// What `run()` does once it stops serving.
    private func shutdown() async {
        let servers = serverChannels.withLockedValue { channels in
            defer { channels.removeAll() }
            return channels
        }
        for server in servers { try? await server.close() }
        systemTopics.withLockedValue { topics in
            topics?.cancel()
            topics = nil
        }
        freedMemoryReturner.withLockedValue { returner in
            returner?.cancel()
            returner = nil
        }
        var closed: [EventLoopFuture<Void>] = []
        for loop in core.loops {
            closed.append(loop.eventLoop.submit {
                for connection in loop.connections.elements { connection.disconnect(reason: .serverShuttingDown) }
            })
        }
        for future in closed { try? await future.get() }
        // Every hibernating connection has taken its socket back to say goodbye.
        await core.stopHibernation()
        if let writer = core.writer {
            for loop in core.loops {
                try? await loop.eventLoop.submit { loop.storeChanges?.handOff() }.get()
            }
            await writer.finish()
        }
        await core.eventSink.finish()
    }

    /// Adds the broker's handler to a connection the application accepted (the equivalent of aedes' `handle`);
    /// throws `BrokerError.foreignEventLoop` if the channel's event loop is not one of the broker's.
    public func handle(_ channel: any Channel) async throws {
        guard let loop = core.loop(for: channel.eventLoop) else { throw BrokerError.foreignEventLoop }
        #if DEBUG
        core.liveObjects.track(channel, as: .channel)
        #endif
        let core = self.core
        try await channel.eventLoop.submit {
            try channel.pipeline.syncOperations.addHandler(ConnectionHandler(core: core, loop: loop, remoteAddress: channel.remoteAddress))
        }.get()
    }

    /// Publishes a message from inside the application, as if a client had published it.
    public func publish(_ message: Message) async {
        let loop = core.loops[Int.random(in: 0..<core.loops.count)]
        let core = self.core
        // Its properties may have been set after `Message.init` dropped a Topic Alias or Subscription Identifier.
        var sanitized = message
        sanitized.removeTransportProperties()
        let message = sanitized
        try? await loop.eventLoop.submit {
            _ = core.publish(message, on: loop)
            loop.flush()
        }.get()
    }

    /// Publishes `payload` on `topic` from inside the application, as if a client had published it: delivered to
    /// each subscriber at no more than its subscription's QoS, kept as the topic's retained message when
    /// `retain`. A Message Expiry Interval in `properties` makes the message expire that many seconds from now;
    /// a Topic Alias or Subscription Identifier in them is dropped. Returns once the broker has taken the message
    /// on one of its event loops.
    public func publish(topic: String, payload: ByteBuffer, qos: QoS = .atMostOnce, retain: Bool = false, properties: Properties = []) async {
        let expiry = properties.messageExpiryInterval.map { NIODeadline.now() + .seconds(Int64($0)) }
        await publish(Message(topic: topic, payload: payload, qos: qos, retain: retain, properties: properties, expiry: expiry))
    }

    /// Publishes `payload`, as UTF-8, on `topic` from inside the application, without properties.
    public func publish(topic: String, payload: String, qos: QoS = .atMostOnce, retain: Bool = false) async {
        await publish(topic: topic, payload: ByteBuffer(string: payload), qos: qos, retain: retain)
    }

    /// Closes the connection of the client `clientIdentifier`, telling a 5.0 client `reason` first: for instance
    /// 0x9C (Use another server) or 0x9D (Server moved) with `serverReference` to send it elsewhere (4.11), or
    /// 0x98 (Administrative action). Its session stays as its expiry says; its will is published as for any
    /// connection the server closes. Returns whether the client was connected.
    @discardableResult
    public func disconnect(
        clientIdentifier: String, reason: ReasonCode = .administrativeAction, serverReference: String? = nil,
        reasonString: String? = nil
    ) async -> Bool {
        guard let session = core.sessions.session(for: clientIdentifier) else { return false }
        let properties: Properties = serverReference.map { [.serverReference($0)] } ?? []
        // The session may move to another loop while this call travels to it; then it follows.
        for _ in 0..<4 {
            let loop = core.loops[session.homeIndex.load(ordering: .acquiring)]
            let outcome = try? await loop.eventLoop.submit { () -> Bool? in
                guard session.homeIndex.load(ordering: .acquiring) == loop.index else { return nil }
                guard let connection = session.connection, connection.state == .connected else { return false }
                connection.disconnect(reason: reason, reasonString: reasonString, properties: properties)
                return true
            }.get()
            if let outcome { return outcome }
        }
        return false
    }

    /// What the broker has done since it started: clients, sessions, subscriptions, messages and bytes.
    public func statistics() async throws -> BrokerStatistics {
        var statistics = try await core.statistics(since: started).get()
        statistics.freedMemoryReturns = freedMemoryReturner.withLockedValue { $0?.returns.load(ordering: .relaxed) } ?? 0
        return statistics
    }

    /// A stream of what happens in the broker. Each call returns a new stream; events beyond `limit` unread
    /// ones are dropped oldest first. Without `includingPublications`, the stream leaves out `published`, one
    /// event per message routed, and so costs the publish path nothing.
    public func events(bufferingNewest limit: Int = 10_000, includingPublications: Bool = true) -> AsyncStream<BrokerEvent> {
        core.eventSink.streams.stream(bufferingNewest: limit, publications: includingPublications)
    }
}

/// Misuse of the `MQTTBroker` API. Failures to start throw from `run()`: `ListenerBindError` for a listener that
/// cannot be bound; the underlying library's error for a TLS configuration NIOSSL refuses or a store that cannot
/// be loaded.
public enum BrokerError: Error, Sendable, Hashable {
    /// A channel given to `handle(_:)` runs on an event loop outside the broker's group.
    case foreignEventLoop
    /// The store could not commit what a publish needed kept.
    case notStored
}
