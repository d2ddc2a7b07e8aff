import Atomics
import Logging
import MQTT
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import ServiceLifecycle
import StarlingBroker
import StarlingClient

/// A bridge from a broker to a remote MQTT broker, run as a swift-service-lifecycle `Service` beside the
/// `MQTTBroker`: messages matching its `out` rules go to the remote, those matching its `in` rules come back, and
/// nothing acknowledged is lost while the link is down.
///
/// The bridge is two clients of the Starling client library: one at the local broker, with a persistent session
/// subscribed to the `out` filters (No Local, Retain As Published), and one at the remote broker, subscribed to
/// the `in` filters. A local message is acknowledged to the local broker only once the remote has acknowledged
/// it, in order; when the link fails, the local client leaves and the local broker keeps what is still to go
/// out in the bridge's session (in its store, within its queue limits), sending it again when the link is back.
/// The link's state is `$SYS/broker/connection/NAME/state`, 1 up and 0 down, retained, as Mosquitto publishes it.
public final class MQTTBridge: Service, Sendable {
    public let name: String
    public let configuration: BridgeConfiguration
    private let broker: MQTTBroker
    private let local: @Sendable () async throws -> (host: String, port: Int)
    private let group: any EventLoopGroup
    private let logger: Logger
    private let state = NIOLockedValueBox(LinkState())
    /// Counted for every message, so atomics rather than the lock.
    private let forwardedOut = ManagedAtomic<UInt64>(0)
    private let forwardedIn = ManagedAtomic<UInt64>(0)

    private struct LinkState {
        var isUp = false
        var connections: UInt64 = 0
        /// The state last published, so that each change is said once.
        var published: Bool?
    }

    /// - Parameters:
    ///   - local: where the local broker listens for plain MQTT, asked once it runs (its first listener's address,
    ///     say, from `MQTTBroker`'s `onServerRunning`).
    public init(
        name: String, configuration: BridgeConfiguration, broker: MQTTBroker,
        local: @escaping @Sendable () async throws -> (host: String, port: Int),
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger = Logger(label: "starling.bridge")
    ) {
        self.name = name
        self.configuration = configuration
        self.broker = broker
        self.local = local
        self.group = eventLoopGroup
        var logger = logger
        logger[metadataKey: "bridge"] = "\(name)"
        self.logger = logger
    }

    /// Whether the link to the remote is up.
    public var isUp: Bool { state.withLockedValue { $0.isUp } }

    /// Messages sent to the remote and brought in from it since the bridge started.
    public var forwarded: (out: UInt64, in: UInt64) {
        (forwardedOut.load(ordering: .relaxed), forwardedIn.load(ordering: .relaxed))
    }

    /// The topic the bridge's state is published on.
    public var stateTopic: String { "$SYS/broker/connection/\(name)/state" }

    /// Keeps the link up until a graceful shutdown or cancellation: connects, forwards, and when either side
    /// fails connects again after a delay that grows with each failure, trying the remote's addresses in turn.
    public func run() async throws {
        for rule in configuration.topics { try rule.validate() }
        guard !configuration.addresses.isEmpty else { throw BridgeError.noAddress(name) }
        // Each message waits for the remote's acknowledgement before it is acknowledged here: a window of the
        // broker's usual size would hold the link to a few round trips' worth.
        broker.allowSendWindow(Self.localWindow, forClientIdentifier: localClientIdentifier)
        await publishState(up: false)
        try? await cancelWhenGracefulShutdown { try await self.keepLinked() }
        await publishState(up: false)
    }

    private func keepLinked() async throws {
        var failures = 0
        var addressIndex = 0
        var generator = SystemRandomNumberGenerator()
        let retry = ReconnectPolicy(
            initialDelay: configuration.retryDelay, maximumDelay: configuration.maximumRetryDelay, multiplier: 2, jitter: 0.25)
        while !Task.isCancelled {
            let address = configuration.addresses[addressIndex % configuration.addresses.count]
            let linksBefore = state.withLockedValue { $0.connections }
            do {
                try await link(to: address)
            } catch is CancellationError {
                return
            } catch {
                try Task.checkCancellation()
                logger.warning("bridge link down", metadata: ["remote": "\(Self.display(address))", "error": "\(error)"])
            }
            if state.withLockedValue({ $0.connections }) != linksBefore {
                // The link was up: the first delay again, and the same address first.
                failures = 1
            } else {
                failures += 1
                // The next address, for fail-over.
                addressIndex += 1
            }
            await publishState(up: false)
            try Task.checkCancellation()
            try await Task.sleep(nanoseconds: UInt64(retry.delay(beforeAttempt: max(1, failures), using: &generator).nanoseconds))
        }
    }

    /// One life of the link: both clients connected, forwarding both ways until one of them fails.
    private func link(to address: MQTTURL) async throws {
        let (localHost, localPort) = try await local()
        // Both clients on one event loop: a message and its acknowledgement pass between them without waking
        // another thread.
        let loop = group.next()
        let remote = MQTTClient(configuration: remoteClientConfiguration(address), eventLoopGroup: loop, logger: logger)
        let localClient = MQTTClient(configuration: localClientConfiguration(host: localHost, port: localPort), eventLoopGroup: loop, logger: logger)
        // Asked for before connecting, so that no loss goes unseen.
        let remoteEvents = remote.connectionEvents()
        let localEvents = localClient.connectionEvents()
        let inRules = configuration.topics.filter(\.bringsIn)
        let outRules = configuration.topics.filter(\.sendsOut)
        let noLocal = configuration.protocolVersion == .v5
        // Made before connecting, so that what a resumed session sends right after CONNACK is not missed; and
        // given what no filter of this run claims (a session's subscriptions from an earlier configuration).
        let pendingIncoming = inRules.isEmpty ? nil : remote.makeSubscription(to: inRules.map {
            SubscribePacket.Subscription(
                topicFilter: $0.remoteFilter, options: SubscriptionOptions(qos: $0.qos, noLocal: noLocal, retainAsPublished: noLocal))
        }, receivingUnclaimed: true)
        let pendingOutgoing = outRules.isEmpty ? nil : localClient.makeSubscription(to: outRules.map {
            SubscribePacket.Subscription(
                topicFilter: $0.localFilter, options: SubscriptionOptions(qos: $0.qos, noLocal: true, retainAsPublished: true))
        }, receivingUnclaimed: true)
        // The clients end before their subscription streams do, whatever ends the link: a stream whose consumer
        // stops would otherwise unsubscribe, and the sessions would forget the filters the bridge needs kept.
        try await withTaskCancellationHandler {
            try await forward(remote: remote, local: localClient, address: address, inRules: inRules, outRules: outRules,
                pendingIncoming: pendingIncoming, pendingOutgoing: pendingOutgoing, remoteEvents: remoteEvents, localEvents: localEvents)
        } onCancel: {
            localClient.beginDisconnect()
            remote.beginDisconnect()
        }
    }

    private func forward(
        remote: MQTTClient, local localClient: MQTTClient, address: MQTTURL, inRules: [BridgeTopicRule], outRules: [BridgeTopicRule],
        pendingIncoming: MQTTClient.PendingSubscription?, pendingOutgoing: MQTTClient.PendingSubscription?,
        remoteEvents: AsyncStream<ConnectionEvent>, localEvents: AsyncStream<ConnectionEvent>
    ) async throws {
        try await remote.withConnection { remote in
            try await localClient.withConnection { localClient in
                let incoming = try await pendingIncoming?.acknowledged()
                let outgoing = try await pendingOutgoing?.acknowledged()
                state.withLockedValue {
                    $0.isUp = true
                    $0.connections += 1
                }
                logger.notice("bridge up", metadata: ["remote": "\(Self.display(address))"])
                await publishState(up: true)
                defer { state.withLockedValue { $0.isUp = false } }
                let echoes = NIOLockedValueBox(EchoGuard())
                let forwarder = LinkForwarder(
                    name: name, guardsEchoes: configuration.protocolVersion != .v5, logger: logger,
                    forwardedOut: forwardedOut, forwardedIn: forwardedIn)
                try await withThrowingTaskGroup(of: Void.self) { group in
                    // A side that goes quiet is lost all the same: its connection's end ends the link.
                    for events in [remoteEvents, localEvents] {
                        group.addTask {
                            for await event in events { if case .disconnected = event { return } }
                        }
                    }
                    if let outgoing {
                        group.addTask { try await forwarder.forwardOut(outgoing, rules: outRules, from: localClient, to: remote, echoes: echoes) }
                    }
                    if let incoming {
                        group.addTask { try await forwarder.bringIn(incoming, rules: inRules, from: remote, to: localClient, echoes: echoes) }
                    }
                    // Either side's end is the link's end: its stream ends when its connection is lost.
                    _ = try? await group.next()
                    await localClient.disconnect()
                    await remote.disconnect()
                    group.cancelAll()
                    throw BridgeError.linkLost(name)
                }
            }
        }
    }

    /// `mqtts://host:8883`, without credentials.
    static func display(_ address: MQTTURL) -> String {
        let port = address.port ?? MQTTClientConfiguration.defaultPort(
            transport: address.scheme.usesWebSocket ? .webSocket(path: address.path) : .tcp, tls: address.scheme.usesTLS)
        let host = address.host.contains(":") ? "[\(address.host)]" : address.host
        return "\(address.scheme.rawValue)://\(host):\(port)\(address.path)"
    }

    /// What a message carries on to the other broker: its application properties, not those of its last hop.
    static func forwardable(_ properties: Properties) -> Properties {
        var kept = properties
        kept.remove(.topicAlias)
        kept.remove(.subscriptionIdentifier)
        return kept
    }

    private func remoteClientConfiguration(_ address: MQTTURL) -> MQTTClientConfiguration {
        var client = MQTTClientConfiguration(
            host: address.host, port: address.port, transport: address.scheme.usesWebSocket ? .webSocket(path: address.path) : .tcp,
            tls: address.scheme.usesTLS ? (configuration.tls ?? .makeClientConfiguration()) : nil,
            protocolVersion: configuration.protocolVersion, clientIdentifier: configuration.clientIdentifier,
            cleanStart: configuration.cleanStart, sessionExpiryInterval: configuration.sessionExpiry, keepAlive: configuration.keepAlive,
            userName: configuration.userName ?? address.userName, password: configuration.password ?? address.password)
        client.reconnect = .disabled
        client.acknowledgesManually = true
        client.receiveMaximum = 1_000
        client.maximumQueuedPublishes = 100_000
        client.messageBufferLimit = 2_000
        return client
    }

    private func localClientConfiguration(host: String, port: Int) -> MQTTClientConfiguration {
        var client = MQTTClientConfiguration(
            host: host, port: port, protocolVersion: .v5, clientIdentifier: localClientIdentifier, cleanStart: false,
            sessionExpiryInterval: configuration.localSessionExpiry, keepAlive: 60, userName: configuration.localUserName,
            password: configuration.localPassword)
        client.reconnect = .disabled
        client.acknowledgesManually = true
        client.receiveMaximum = UInt16(Self.localWindow)
        client.maximumQueuedPublishes = 100_000
        client.messageBufferLimit = 2_000
        return client
    }

    /// The bridge's client identifier at the local broker.
    public var localClientIdentifier: String { "starling-bridge-\(name)" }
    static let localWindow = 1_000

    private func publishState(up: Bool) async {
        guard broker.isServing else { return }
        let changed = state.withLockedValue { state in
            defer { state.published = up }
            return state.published != up
        }
        guard changed else { return }
        await broker.publish(topic: stateTopic, payload: up ? "1" : "0", qos: .atLeastOnce, retain: true)
    }
}

/// Why a bridge stops or reconnects.
public enum BridgeError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The bridge was given no remote address.
    case noAddress(String)
    /// One side of the link was lost; the bridge connects again.
    case linkLost(String)

    public var description: String {
        switch self {
        case .noAddress(let name): "bridge \(name) has no remote address"
        case .linkLost(let name): "bridge \(name) lost its link"
        }
    }
}
