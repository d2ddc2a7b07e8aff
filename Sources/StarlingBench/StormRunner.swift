#if os(Linux)
import MQTT
import NIOCore

/// The reconnect storm: N clients with persistent sessions, one subscription each, all drop their connections at
/// once; a QoS 1 message is published to all of them while they are away; all reconnect at once (a window of
/// handshakes in flight). Measured: the time from the first reconnect until every session is resumed and has
/// delivered the message, and what the broker's CPU did meanwhile. Plain TCP, without SwiftNIO
/// (`BenchRawConnections`), so that the load generator keeps up.
public enum StormRunner {
    public struct Options: Sendable {
        public var host = "127.0.0.1"
        public var port = 1883
        public var clients = 10_000
        public var version: ProtocolVersion = .v3_1_1
        /// Handshakes under way at once.
        public var window = 64
        public var sourceAddresses = 0
        public var userName: String?
        public var password: String?
        /// The broker's process, for its CPU during the storm.
        public var brokerProcessIdentifier: Int?
        /// How long the broker gets to take in the dropped connections before the message is published.
        public var settle: TimeAmount = .seconds(2)

        public init() {}
    }

    public struct Result: Sendable, Codable, Equatable {
        /// "storm", so that saved results say what they are beside other scenarios'.
        public var scenario = "storm"
        public var clients: Int
        /// Sessions subscribed before the drop.
        public var subscribed: Int
        /// Reconnections whose CONNACK said Session Present, and those that received the message.
        public var sessionsPresent: Int
        public var received: Int
        public var failed: Int
        public var firstError: String?
        /// From the first reconnect until the last session delivered the message.
        public var seconds: Double
        /// CPU seconds over the storm: the broker's, if its process was given, and the load generator's.
        public var brokerCPUSeconds: Double?
        public var generatorCPUSeconds: Double

        public var lost: Int { max(0, clients - received) }
        public var perSecond: Double { seconds > 0 ? Double(received) / seconds : 0 }
        public var brokerMicrosecondsPerClient: Double? { brokerCPUSeconds.map { $0 / Double(max(1, clients)) * 1e6 } }
    }

    public static func run(_ options: Options) async throws -> Result {
        let address = try SocketAddress.makeAddressResolvingHost(options.host, port: options.port)
        let tag = String(NIODeadline.now().uptimeNanoseconds % 1_000_000, radix: 36)
        let topic = "storm/\(tag)"
        let version = options.version
        func connect(_ index: Int, cleanStart: Bool) throws -> [UInt8] {
            let packet = Packet.connect(ConnectPacket(
                protocolVersion: version, clientIdentifier: "storm-\(tag)-\(index)", cleanStart: cleanStart, keepAlive: 600,
                userName: options.userName, password: options.password.map { ByteBuffer(string: $0) },
                properties: version == .v5 ? [.sessionExpiryInterval(3_600)] : []))
            return Array(try packet.encoded(version: version).readableBytesView)
        }
        let subscribe = Array(try Packet.subscribe(SubscribePacket(
            packetIdentifier: 1, subscriptions: [SubscribePacket.Subscription(topicFilter: topic, options: SubscriptionOptions(qos: .atLeastOnce))]
        )).encoded(version: version).readableBytesView)

        // The sessions, each subscribed; then every connection drops.
        guard let setup = BenchRawConnections(
            address: address, sourceAddresses: options.sourceAddresses,
            connects: try (0..<options.clients).map { try connect($0, cleanStart: version == .v5) }, version: version,
            window: options.window, keepAlive: 600, afterConnAck: .subscribe(subscribe))
        else { throw BenchError.noConnection(attempts: options.clients, firstError: "the broker's address is not IPv4") }
        let subscribed = try await setup.run { $0.connectAll(rate: nil) }
        _ = try await setup.run { $0.closeAll() }
        await setup.shutdown()
        if subscribed.connected == 0 {
            throw BenchError.noConnection(attempts: options.clients, firstError: subscribed.firstError ?? "no connection")
        }
        try await Task.sleep(nanoseconds: UInt64(options.settle.nanoseconds))

        // A message for every session while they are away.
        guard let publisher = BenchRawConnections(
            address: address, sourceAddresses: 0,
            connects: [Array(try Packet.connect(ConnectPacket(
                protocolVersion: version, clientIdentifier: "storm-\(tag)-publisher", cleanStart: true, keepAlive: 600,
                userName: options.userName, password: options.password.map { ByteBuffer(string: $0) })).encoded(version: version).readableBytesView)],
            version: version, window: 1, keepAlive: 600,
            afterConnAck: .publish(Array(try Packet.publish(PublishPacket(
                topic: topic, payload: ByteBuffer(string: "storm"), qos: .atLeastOnce, packetIdentifier: 1)).encoded(version: version).readableBytesView)))
        else { throw BenchError.noConnection(attempts: 1, firstError: "the broker's address is not IPv4") }
        let published = try await publisher.run { $0.connectAll(rate: nil) }
        _ = try await publisher.run { $0.closeAll() }
        await publisher.shutdown()
        guard published.connected == 1 else {
            throw BenchError.noConnection(attempts: 1, firstError: published.firstError ?? "the message was not acknowledged")
        }

        // The storm.
        guard let storm = BenchRawConnections(
            address: address, sourceAddresses: options.sourceAddresses,
            connects: try (0..<options.clients).map { try connect($0, cleanStart: false) }, version: version,
            window: options.window, keepAlive: 600, afterConnAck: .awaitPublish)
        else { throw BenchError.noConnection(attempts: options.clients, firstError: "the broker's address is not IPv4") }
        let cpuBefore = CPUSample(brokerProcessIdentifier: options.brokerProcessIdentifier)
        let started = BenchRawConnections.now()
        let outcome = try await storm.run { $0.connectAll(rate: nil) }
        let cpu = CPUSample(brokerProcessIdentifier: options.brokerProcessIdentifier)
        _ = try await storm.run { $0.closeAll() }
        await storm.shutdown()
        var brokerSeconds: Double?
        if let after = cpu.brokerSeconds, let before = cpuBefore.brokerSeconds { brokerSeconds = after - before }
        return Result(
            clients: options.clients, subscribed: subscribed.connected, sessionsPresent: outcome.sessionsPresent,
            received: outcome.publishesReceived, failed: outcome.failures, firstError: outcome.firstError ?? subscribed.firstError,
            seconds: Double(max(outcome.lastDoneAt, started) - started) / 1e9,
            brokerCPUSeconds: brokerSeconds, generatorCPUSeconds: cpu.generatorSeconds - cpuBefore.generatorSeconds)
    }
}
#endif
