import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import ServiceLifecycle
import StarlingBroker

/// An in-process broker for tests, listening on 127.0.0.1 on a free port, with event loops of its own: two
/// unless told otherwise, so that publisher and subscriber usually sit on different loops and cross-loop
/// delivery is exercised.
///
/// ```swift
/// try await TestBroker.with({ $0.limits.maximumQueuedMessages = 10 }) { broker in
///     let client = try await broker.client("probe")
///     try await client.subscribe("a/b", qos: .atLeastOnce)
/// }
/// ```
///
/// The broker runs as a `Service` in a `ServiceGroup`, as an application would run it; `stop()` shuts it down
/// gracefully and `start()` runs a new one with the same configuration on the same ports.
public final class TestBroker: Sendable {
    /// The loops the broker runs on; shut down by `shutdown()`.
    public let group: MultiThreadedEventLoopGroup
    private let authenticator: (any ConnectionAuthenticator)?
    private let accessControl: AccessControl?
    private let store: (any BrokerStore)?
    private let hooks: BrokerHooks
    private let logger: Logger
    private let state: NIOLockedValueBox<State>

    private struct State {
        /// The listeners' ports are the bound ones once the broker has run: a restart keeps them.
        var configuration: BrokerConfiguration
        var broker: MQTTBroker?
        var running: Running?
        var addresses: [SocketAddress] = []
    }

    private struct Running {
        var services: ServiceGroup
        var task: Task<Void, any Error>
    }

    /// A configuration for tests: one plain TCP listener on 127.0.0.1 and a free port, and no `$SYS` topics,
    /// which tests that count retained messages or `$` topics must not see.
    public static var defaultConfiguration: BrokerConfiguration {
        var configuration = BrokerConfiguration(listeners: [.init(host: "127.0.0.1", port: 0)])
        configuration.systemTopicsInterval = nil
        return configuration
    }

    /// Logs only what would point at a broker bug: tests provoke protocol violations and broken connections on
    /// purpose.
    public static let quietLogger: Logger = {
        var logger = Logger(label: "starling-test")
        logger.logLevel = .error
        return logger
    }()

    /// Starts a broker; the collaborators are given to `MQTTBroker`'s initializer as they are. Throws if the
    /// broker cannot start (a listener that cannot be bound, a store that cannot be loaded).
    /// - Parameters:
    ///   - configuration: the broker's configuration; `defaultConfiguration` unless given. A listener on port 0
    ///     keeps the port the system picked across `restart()`.
    ///   - authenticator: decides who may connect; nil lets every client in.
    ///   - accessControl: who may publish and subscribe to what; nil allows everything.
    ///   - store: where sessions and retained messages are kept; nil keeps them in the broker's memory only, so
    ///     that `restart()` starts empty.
    ///   - hooks: the application's extension points.
    ///   - loops: the number of event loop threads, 2 by default.
    ///   - logger: where the broker logs; `quietLogger` by default.
    public init(
        configuration: BrokerConfiguration = TestBroker.defaultConfiguration,
        authenticator: (any ConnectionAuthenticator)? = nil, accessControl: AccessControl? = nil,
        store: (any BrokerStore)? = nil, hooks: BrokerHooks = BrokerHooks(), loops: Int = 2,
        logger: Logger = TestBroker.quietLogger
    ) async throws {
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: loops)
        self.authenticator = authenticator
        self.accessControl = accessControl
        self.store = store
        self.hooks = hooks
        self.logger = logger
        self.state = NIOLockedValueBox(State(configuration: configuration))
        do {
            try await start()
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
    }

    /// Runs `body` against a started broker whose configuration `configure` adjusts from
    /// `defaultConfiguration`, and shuts the broker and its loops down afterwards, also on failure.
    public static func with<T: Sendable>(
        loops: Int = 2, authenticator: (any ConnectionAuthenticator)? = nil, accessControl: AccessControl? = nil,
        store: (any BrokerStore)? = nil, hooks: BrokerHooks = BrokerHooks(),
        _ configure: (inout BrokerConfiguration) -> Void = { _ in },
        _ body: (TestBroker) async throws -> T
    ) async throws -> T {
        var configuration = defaultConfiguration
        configure(&configuration)
        let broker = try await TestBroker(
            configuration: configuration, authenticator: authenticator, accessControl: accessControl, store: store,
            hooks: hooks, loops: loops)
        let result: Result<T, any Error>
        do {
            result = .success(try await body(broker))
        } catch {
            result = .failure(error)
        }
        await broker.shutdown()
        return try result.get()
    }

    /// The broker that runs, or ran last.
    public var broker: MQTTBroker {
        state.withLockedValue { $0.broker! }
    }

    /// Every listener's address, in the configuration's order.
    public var addresses: [SocketAddress] {
        state.withLockedValue { $0.addresses }
    }

    /// The port of the first listener.
    public var port: Int {
        addresses.first?.port ?? 0
    }

    /// The `mqtt://` URL of the first listener, for clients that take one.
    public var url: String {
        "mqtt://127.0.0.1:\(port)"
    }

    /// Runs a new broker after `stop()`, with the same configuration and collaborators, on the same ports. Its
    /// sessions and retained messages start empty unless the store kept them.
    public func start() async throws {
        let configuration = state.withLockedValue { state in
            precondition(state.running == nil, "the broker is running")
            return state.configuration
        }
        let (bound, announce) = AsyncStream.makeStream(of: [SocketAddress].self)
        let broker = MQTTBroker(
            configuration: configuration, authenticator: authenticator, accessControl: accessControl, store: store,
            hooks: hooks, eventLoopGroup: group, logger: logger,
            onServerRunning: { addresses in
                announce.yield(addresses)
                announce.finish()
            })
        let services = ServiceGroup(configuration: ServiceGroupConfiguration(services: [broker], logger: logger))
        let task = Task {
            // A broker that fails to start ends the stream without addresses, and the error is thrown below.
            defer { announce.finish() }
            try await services.run()
        }
        var addresses: [SocketAddress]?
        for await announced in bound { addresses = announced }
        guard let addresses else {
            // Also reached when the caller is cancelled while the broker starts: the broker must not outlive it.
            try await withTaskCancellationHandler { try await task.value } onCancel: { task.cancel() }
            throw RawClient.Failure(description: "the broker stopped before it was listening")
        }
        state.withLockedValue { state in
            state.broker = broker
            state.running = Running(services: services, task: task)
            state.addresses = addresses
            for (index, address) in addresses.enumerated() {
                if let port = address.port { state.configuration.listeners[index].port = port }
            }
        }
    }

    /// Shuts the broker down gracefully, as a `ServiceGroup` does: closes the listeners and every connection,
    /// telling 5.0 clients 0x8B (Server shutting down); returns once it has finished. Does nothing if it is not
    /// running.
    public func stop() async {
        guard let running = state.withLockedValue({ state in
            defer { state.running = nil }
            return state.running
        }) else { return }
        await running.services.triggerGracefulShutdown()
        _ = try? await running.task.value
    }

    /// `stop()` then `start()`.
    public func restart() async throws {
        await stop()
        try await start()
    }

    /// Stops the broker and its event loops; it cannot start again.
    public func shutdown() async {
        await stop()
        try? await group.shutdownGracefully()
    }
}
