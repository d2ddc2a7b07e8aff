import ArgumentParser
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import ServiceLifecycle
import StarlingBroker
import Metrics
import StarlingBridge
import StarlingConfiguration
import StarlingOperations
import StarlingCluster
import StarlingPostgres
import StarlingSQLite

/// `starling` / `starling serve`: runs the broker.
///
/// Every flag is also a key of the configuration file and a `STARLING_` environment variable; a flag given
/// here wins over both (see `ConfigurationLoader`).
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the broker (the default when no subcommand is given).",
        discussion: """
            Settings come from, in order of precedence: these flags, STARLING_ environment variables \
            (STARLING_MAX_PACKET_SIZE, STARLING_LISTENERS_DEFAULT_PORT), the --config file, the defaults. \
            starling.example.yaml documents every setting.
            """
    )

    private static let limits = BrokerConfiguration.Limits()

    @Option(name: .long, help: "Configuration file (YAML).")
    var config: String?

    @Option(name: .long, help: "Address of the listener named default (default: 0.0.0.0).")
    var host: String?

    @Option(name: .long, help: "Port of the listener named default (default: 1883).")
    var port: Int?

    @Option(name: .long, help: "Largest packet accepted from a client, in bytes (default: \(limits.maximumPacketSize)).")
    var maxPacketSize: Int?

    @Option(name: .long, help: "Unacknowledged QoS 1/2 messages in flight to each client (default: \(limits.maximumInflight)).")
    var maxInflight: Int?

    @Option(name: .long, help: "Messages queued for a client while it is away, and with --flow-control false while connected (default: \(limits.maximumQueuedMessages)).")
    var maxQueued: Int?

    @Option(name: .long, help: "Payload bytes queued for a client, connected or away, beyond which messages to it are dropped; with flow control its publishers are slowed at half of it (default: \(limits.maximumQueuedBytes)).")
    var maxQueuedBytes: Int?

    @Option(name: .long, help: "Slow publishers down to the pace of the subscribers they feed instead of dropping what they sent: true or false (default: true).")
    var flowControl: Bool?

    @Option(name: .long, help: "Messages queued for a connected client at which the clients publishing to it are slowed (default: \(FlowControl().highWater)).")
    var queueHighWater: Int?

    @Option(name: .long, help: "Messages queued at which slowed publishers go on (default: \(FlowControl().lowWater)).")
    var queueLowWater: Int?

    @Option(name: .long, help: "Messages queued for a connected client in all, beyond which they are dropped (default: \(FlowControl().maximumQueued)).")
    var maxQueuedConnected: Int?

    @Option(name: .long, help: "Acknowledgements withheld from a slowed client before its socket stops being read (default: \(FlowControl().maximumWithheldAcknowledgements)).")
    var maxWithheldAcks: Int?

    @Option(name: .long, help: "Concurrent client connections (default: \(limits.maximumConnections)).")
    var maxConnections: Int?

    @Option(name: .long, help: "Bytes in a topic name or filter (default: \(limits.maximumTopicLength)).")
    var maxTopicLength: Int?

    @Option(name: .long, help: "Levels in a topic name or filter (default: \(limits.maximumTopicLevels)).")
    var maxTopicLevels: Int?

    @Option(name: .long, help: "Subscriptions per client (default: \(limits.maximumSubscriptionsPerClient)).")
    var maxSubscriptions: Int?

    @Option(name: .long, help: "Sessions kept at once, connected or waiting for their client (default: \(limits.maximumSessions)).")
    var maxSessions: Int?

    @Option(name: .long, help: "Retained messages kept at once (default: \(limits.maximumRetainedMessages)).")
    var maxRetainedMessages: Int?

    @Option(name: .long, help: "Payload bytes of all retained messages together (default: \(limits.maximumRetainedBytes)).")
    var maxRetainedBytes: Int?

    @Option(name: .long, help: "Longest keep alive accepted, in seconds; 5.0 clients are told, 3.1.1 clients asking for more are refused (default: \(limits.maximumKeepAlive)).")
    var maxKeepalive: Int?

    @Option(name: .long, help: "Receive Maximum announced to 5.0 clients (default: \(limits.receiveMaximum)).")
    var receiveMaximum: Int?

    @Option(name: .long, help: "Topic Alias Maximum announced to 5.0 clients; 0 disables inbound aliases (default: \(limits.topicAliasMaximum)).")
    var topicAliasMaximum: Int?

    @Option(name: .long, help: "Bytes written to a client and not yet sent beyond which later messages wait in its queue and its socket is not read (default: \(limits.maximumOutboundBytes)).")
    var maxOutboundBytes: Int?

    @Option(name: .long, help: "Seconds a connection may go without sending CONNECT (default: 10).")
    var connectTimeout: Int?

    @Option(name: .long, help: "Bytes of the HTTP request asking a WebSocket listener for the upgrade; beyond them the client is answered 431 and closed (default: \(limits.maximumUpgradeHeadBytes)).")
    var maxUpgradeHeadBytes: Int?

    @Option(name: .long, help: "Seconds a client may leave its socket unread before it is disconnected (default: 60).")
    var drainTimeout: Int?

    @Option(name: .long, help: "Seconds a plain TCP connection may stay idle before it hibernates, its channel let go of until it is needed; 0 keeps connections awake (default: 10).")
    var hibernateAfter: Int?

    @Option(name: .long, help: "Awake connections beyond which idle ones hibernate after a few tenths of a second rather than --hibernate-after; a number above --max-connections turns it off (default: 1000).")
    var hibernateQuicklyAbove: Int?

    @Option(name: .long, help: "Seconds the authenticator may take over one decision (default: 10).")
    var authTimeout: Int?

    @Option(name: .long, help: "Connections accepted after which, once they stop coming, the memory they freed is given back to the system; 0 never (default: 1000).")
    var returnFreedMemoryAfter: Int?

    @Option(name: .long, help: "Bytes in a client identifier (default: \(limits.maximumClientIdentifierLength)).")
    var maxClientIdLength: Int?

    @Option(name: .long, help: "Topic aliases the broker uses towards a 5.0 client, at most the client's own maximum; 0 uses none (default: \(limits.maximumOutboundTopicAliases)).")
    var outboundTopicAliasMaximum: Int?

    @Option(name: .long, help: "Retained messages: true or false (default: true).")
    var retainAvailable: Bool?

    @Option(name: .long, help: "Subscriptions with + or #: true or false (default: true).")
    var wildcardSubscriptionAvailable: Bool?

    @Option(name: .long, help: "Subscription Identifiers: true or false (default: true).")
    var subscriptionIdentifiersAvailable: Bool?

    @Option(name: .long, help: "$share/ subscriptions: true or false (default: true).")
    var sharedSubscriptionAvailable: Bool?

    @Option(name: .long, help: "Highest QoS accepted and granted: 0, 1 or 2 (default: 2).")
    var maximumQos: Int?

    @Option(name: .long, help: "How a shared subscription picks a member: round_robin or hash_by_client (default: round_robin).")
    var sharedSubscriptionPolicy: String?

    @Option(name: .long, help: "Queue QoS 0 messages for offline persistent sessions: true or false (default: false).")
    var queueQos0WhileOffline: Bool?

    @Option(name: .long, help: "Response Information sent to 5.0 clients that ask for it (default: none).")
    var responseInformation: String?

    @Option(name: .long, help: "Seconds between updates of the $SYS/broker/ topics; 0 publishes none (default: 10).")
    var sysInterval: Int?

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical (default: info).")
    var logLevel: String?

    @Option(name: .long, help: "Event loop threads; 0 is one per core (default: 0).")
    var threads: Int?

    @Option(name: .long, help: "Directory of the database (starling.db) that keeps persistent sessions and retained messages (default: ./data).")
    var dataDir: String?

    @Flag(name: .long, help: "Keep sessions and retained messages in memory only: they are lost when the broker stops.")
    var memory = false

    @Option(name: .customLong("store-url"), help: "Keep sessions and retained messages in this PostgreSQL database (postgres://USER:PASSWORD@HOST:PORT/DATABASE) instead of --data-dir.")
    var storeURL: String?

    @Option(name: .long, help: "Run as one node of a cluster whose nodes share this PostgreSQL database (postgres://…); STARLING_CLUSTER says the same.")
    var cluster: String?

    @Option(name: .long, help: "This node's name in the cluster, unique among its nodes (default: the host name).")
    var node: String?

    @Option(name: .long, help: "HOST:PORT where the other nodes reach this node's MQTT listener (default: the first plain listener's, 127.0.0.1 for one on every address).")
    var clusterAddress: String?

    @Option(name: .long, help: "every-ack: acknowledge QoS 1/2 messages once committed to disk; periodic: acknowledge at once, commit every --durability-interval-ms (default: every-ack).")
    var durability: String?

    @Option(name: .long, help: "Milliseconds between commits with --durability periodic (default: 100).")
    var durabilityIntervalMs: Int?

    @Option(name: .long, help: "Port of the operations listener: Prometheus /metrics, /healthz, the admin API under /api/v1 and the dashboard at /; off unless given (default: off).")
    var httpPort: Int?

    @Option(name: .long, help: "Address of the operations listener; beyond 127.0.0.1 it needs --http-token or http.users_from_password_file (default: 127.0.0.1).")
    var httpHost: String?

    @Option(name: .long, help: "Bearer token the operations listener requires (Authorization: Bearer TOKEN); STARLING_HTTP_TOKEN keeps it off the command line.")
    var httpToken: String?

    @OptionGroup(title: "Authentication, access control and client limits")
    var security: SecurityOptions

    /// The store the settings name: PostgreSQL with `store_url`, else SQLite in the data directory.
    static func openStore(_ settings: ServerConfiguration, logger: Logger) async throws -> (store: any BrokerStore, place: String) {
        if let cluster = settings.cluster.url {
            // A node keeps its sessions in the cluster's database, under its name.
            let url = try PostgresURL(cluster)
            let node = settings.cluster.node ?? Self.hostName
            return (try await PostgresBrokerStore.open(url: url, node: node, logger: logger), "\(url) (node \(node))")
        }
        if let storeURL = settings.storeURL {
            let url = try PostgresURL(storeURL)
            return (try await PostgresBrokerStore.open(url: url, logger: logger), "\(url)")
        }
        let dataDir = settings.dataDirectory
        let relative = dataDir.hasSuffix("/") ? dataDir + "starling.db" : dataDir + "/starling.db"
        // Said in full at start: a relative data directory is relative to wherever the broker was started.
        let path = relative.hasPrefix("/") ? relative : URL(fileURLWithPath: relative).standardizedFileURL.path
        return (try await SQLiteBrokerStore.open(path: path, logger: logger), path)
    }

    /// This machine's name, a node's name unless one is given.
    static var hostName: String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count) == 0 else { return "starling" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The flags given, by configuration key: one line per setting.
    var flagValues: [String: String] {
        let flags: [(String, (any CustomStringConvertible)?)] = [
            ("listeners.default.host", host),
            ("listeners.default.port", port),
            ("max_packet_size", maxPacketSize),
            ("max_inflight", maxInflight),
            ("max_queued", maxQueued),
            ("max_queued_bytes", maxQueuedBytes),
            ("flow_control", flowControl),
            ("queue_high_water", queueHighWater),
            ("queue_low_water", queueLowWater),
            ("max_queued_connected", maxQueuedConnected),
            ("max_withheld_acks", maxWithheldAcks),
            ("max_connections", maxConnections),
            ("max_topic_length", maxTopicLength),
            ("max_topic_levels", maxTopicLevels),
            ("max_subscriptions", maxSubscriptions),
            ("max_sessions", maxSessions),
            ("max_retained_messages", maxRetainedMessages),
            ("max_retained_bytes", maxRetainedBytes),
            ("max_keepalive", maxKeepalive),
            ("receive_maximum", receiveMaximum),
            ("topic_alias_maximum", topicAliasMaximum),
            ("max_outbound_bytes", maxOutboundBytes),
            ("connect_timeout", connectTimeout),
            ("max_upgrade_head_bytes", maxUpgradeHeadBytes),
            ("drain_timeout", drainTimeout),
            ("hibernate_after", hibernateAfter),
            ("hibernate_quickly_above", hibernateQuicklyAbove),
            ("auth_timeout", authTimeout),
            ("return_freed_memory_after", returnFreedMemoryAfter),
            ("max_client_id_length", maxClientIdLength),
            ("outbound_topic_alias_maximum", outboundTopicAliasMaximum),
            ("retain_available", retainAvailable),
            ("wildcard_subscription_available", wildcardSubscriptionAvailable),
            ("subscription_identifiers_available", subscriptionIdentifiersAvailable),
            ("shared_subscription_available", sharedSubscriptionAvailable),
            ("maximum_qos", maximumQos),
            ("shared_subscription_policy", sharedSubscriptionPolicy),
            ("queue_qos0_while_offline", queueQos0WhileOffline),
            ("response_information", responseInformation),
            ("sys_interval", sysInterval),
            ("log_level", logLevel),
            ("threads", threads),
            ("data_dir", dataDir),
            // Left off, the flag must not override the file.
            ("memory", memory ? true : nil),
            ("store_url", storeURL),
            ("cluster.url", cluster),
            ("cluster.node", node),
            ("cluster.address", clusterAddress),
            ("durability", durability),
            ("durability_interval_ms", durabilityIntervalMs),
            ("http.port", httpPort),
            ("http.host", httpHost),
            ("http.token", httpToken),
        ] + security.flagValues
        return Dictionary(flags.compactMap { key, value in value.map { (key, "\($0)") } }, uniquingKeysWith: { _, last in last })
    }

    func run() async throws {
        let settings: ServerConfiguration
        do {
            settings = try ConfigurationLoader.load(file: config, flags: flagValues)
        } catch let error as ConfigurationError {
            // Before logging is set up: the message goes straight to standard error, with EX_CONFIG.
            ClientStandardStreams.write(Array("starling: configuration error: \(error)\n".utf8), to: ClientStandardStreams.standardError)
            throw ExitCode(78)
        }
        let level = settings.logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "starling")
        for warning in settings.warnings { logger.warning("\(warning)") }

        var configuration = settings.broker
        let securityFiles: SecurityFiles
        do {
            securityFiles = try SecurityOptions.apply(settings, to: &configuration)
        } catch {
            logger.critical("configuration error: \(error)")
            throw ExitCode(78)
        }
        let hangUp = securityFiles.reloadOnHangUp(logger: logger)
        let watch = securityFiles.watch(every: settings.reloadInterval ?? 0, logger: logger)
        defer {
            hangUp.cancel()
            watch?.cancel()
        }

        var store: (any BrokerStore)?
        if !settings.memory {
            let opened: (store: any BrokerStore, place: String)
            do {
                opened = try await Self.openStore(settings, logger: logger)
            } catch {
                logger.critical("cannot open the store", metadata: ["error": "\(error)"])
                throw ExitCode(3)
            }
            store = opened.store
            configuration.durability = settings.durabilityMode == "periodic"
                ? .periodic(.milliseconds(Int64(settings.durabilityInterval))) : .everyAck
            logger.notice("store", metadata: ["at": "\(opened.place)", "durability": "\(settings.durabilityMode)"])
        }
        var operations: OperationsConfiguration?
        if let port = settings.http.port {
            let http = settings.http
            if http.usersFromPasswordFile && securityFiles.passwords == nil {
                logger.critical("configuration error: http.users_from_password_file needs a password file (password_file, --password-file)")
                throw ExitCode(78)
            }
            let configured = OperationsConfiguration(
                host: http.host, port: port, tls: http.tls, token: http.token,
                users: http.usersFromPasswordFile ? securityFiles.passwords : nil)
            if let problem = configured.problem {
                logger.critical("configuration error: \(problem)")
                throw ExitCode(78)
            }
            operations = configured
        }
        let metrics = OperationsMetrics()
        // Hummingbird's request metrics and the broker's latencies land in the registry /metrics renders.
        if operations != nil { MetricsSystem.bootstrap(metrics.factory) }
        // Bridges reach the local broker through its first plain MQTT listener, once it is bound.
        let bridgeListener = configuration.listeners.firstIndex { if case .tcp = $0.transport { true } else { false } }
        if !settings.bridges.isEmpty && bridgeListener == nil {
            logger.critical("configuration error: bridges need a plain MQTT listener (protocol mqtt) to reach the broker through")
            throw ExitCode(78)
        }
        let boundAddresses = BoundAddresses()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: settings.threads == 0 ? System.coreCount : settings.threads)
        var clusterNode: ClusterNode?
        if let url = settings.cluster.url {
            let plain = configuration.listeners.firstIndex { if case .tcp = $0.transport { true } else { false } }
            guard settings.cluster.address != nil || plain != nil else {
                logger.critical("configuration error: a cluster node needs a plain MQTT listener (protocol mqtt) or cluster.address")
                throw ExitCode(78)
            }
            var cluster = ClusterConfiguration(url: try PostgresURL(url), node: settings.cluster.node ?? Self.hostName, address: settings.cluster.address ?? "")
            cluster.nodeTimeout = .milliseconds(Int64((settings.cluster.nodeTimeout ?? 10) * 1000))
            clusterNode = ClusterNode(configuration: cluster, eventLoopGroup: group, logger: logger)
        }
        let broker = MQTTBroker(
            configuration: configuration, authenticator: securityFiles.passwords, accessControl: securityFiles.accessControl,
            store: store, hooks: BrokerHooks(metrics: operations == nil ? nil : metrics.factory, cluster: clusterNode), eventLoopGroup: group,
            logger: logger, onServerRunning: { boundAddresses.set($0) })
        var running: [any Service] = [broker]
        if let clusterNode {
            let plain = configuration.listeners.firstIndex { if case .tcp = $0.transport { true } else { false } }
            let host = plain.map { configuration.listeners[$0].host }.map { $0 == "0.0.0.0" ? "127.0.0.1" : $0 == "::" ? "::1" : $0 }
            running.append(ClusterService(node: clusterNode, broker: broker, store: store as? PostgresBrokerStore) {
                if let given = settings.cluster.address { return given }
                let port = try await boundAddresses.get()[plain!].port ?? 0
                return host!.contains(":") ? "[\(host!)]:\(port)" : "\(host!):\(port)"
            })
        }
        var bridges: [MQTTBridge] = []
        if let bridgeListener {
            let host = configuration.listeners[bridgeListener].host
            let localHost = host == "0.0.0.0" ? "127.0.0.1" : host == "::" ? "::1" : host
            for bridge in settings.bridges {
                bridges.append(MQTTBridge(
                    name: bridge.name, configuration: bridge.configuration, broker: broker,
                    local: { (localHost, try await boundAddresses.get()[bridgeListener].port ?? 0) }, eventLoopGroup: group, logger: logger))
            }
        }
        running += bridges as [any Service]
        if let operations {
            let linked = bridges
            var nodes: (@Sendable () -> [ClusterMember])?
            if let cluster = clusterNode {
                nodes = { cluster.nodes() }
            }
            running.append(OperationsServer(
                broker: broker, configuration: operations, metrics: metrics,
                bridges: {
                    linked.map { BridgeStatus(name: $0.name, isUp: $0.isUp, forwardedOut: $0.forwarded.out, forwardedIn: $0.forwarded.in) }
                }, nodes: nodes, logger: logger))
        }
        let services = ServiceGroup(
            configuration: .init(services: running, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await services.run()
        try await group.shutdownGracefully()
        logger.notice("stopped")
    }
}

/// The broker's listener addresses once it has bound them, for the bridges that connect to it.
final class BoundAddresses: Sendable {
    private struct State {
        var addresses: [SocketAddress]?
        var waiters: [Int: CheckedContinuation<[SocketAddress], any Error>] = [:]
        var nextWaiter = 0
    }

    private let state = NIOLockedValueBox(State())

    func set(_ bound: [SocketAddress]) {
        let waiting = state.withLockedValue { state in
            state.addresses = bound
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for waiter in waiting { waiter.resume(returning: bound) }
    }

    /// Waits for the addresses; throws `CancellationError` when the task is cancelled first (the broker never
    /// bound them, say, and the process is stopping).
    func get() async throws -> [SocketAddress] {
        let identifier = state.withLockedValue { state in
            defer { state.nextWaiter += 1 }
            return state.nextWaiter
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let known = state.withLockedValue { state -> [SocketAddress]?? in
                    if let addresses = state.addresses { return .some(addresses) }
                    if Task.isCancelled { return .some(nil) }
                    state.waiters[identifier] = continuation
                    return .none
                }
                switch known {
                case .some(.some(let addresses)): continuation.resume(returning: addresses)
                case .some(.none): continuation.resume(throwing: CancellationError())
                case .none: break
                }
            }
        } onCancel: {
            let waiter = state.withLockedValue { $0.waiters.removeValue(forKey: identifier) }
            waiter?.resume(throwing: CancellationError())
        }
    }
}

/// A cluster node run beside its broker, once the broker's listener is bound (its address is the node's).
struct ClusterService: Service {
    let node: ClusterNode
    let broker: MQTTBroker
    let store: PostgresBrokerStore?
    let address: @Sendable () async throws -> String

    func run() async throws {
        node.attach(broker, store: store, address: try await address())
        try await node.run()
    }
}
