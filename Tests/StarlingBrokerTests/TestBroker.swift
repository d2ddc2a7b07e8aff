import Logging
import MQTT
import NIOCore
import NIOPosix
import StarlingBroker

/// One broker for one test, on an ephemeral 127.0.0.1 port, with two event loops unless told otherwise, so that
/// publisher and subscriber usually sit on different loops and cross-loop delivery is exercised.
struct TestBroker: Sendable {
    let broker: MQTTBroker
    let group: MultiThreadedEventLoopGroup
    let port: Int
    /// Every listener's address, in the configuration's order; `port` is the first one's.
    var addresses: [SocketAddress] = []

    /// Runs `body` against a started broker and shuts the broker and its loops down afterwards, also on failure.
    static func with<T: Sendable>(
        loops: Int = 2,
        _ configure: (inout BrokerConfiguration) -> Void = { _ in },
        _ body: (TestBroker) async throws -> T
    ) async throws -> T {
        var configuration = BrokerConfiguration(listeners: [.init(host: "127.0.0.1", port: 0)])
        // Tests that count retained messages or "$" topics must not see the broker's own.
        configuration.systemTopicsInterval = nil
        configure(&configuration)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: loops)
        let broker = MQTTBroker(configuration: configuration, eventLoopGroup: group, logger: quietLogger)
        let result: Result<T, any Error>
        do {
            let addresses = try await broker.start()
            let testBroker = TestBroker(broker: broker, group: group, port: addresses[0].port!, addresses: addresses)
            result = .success(try await body(testBroker))
        } catch {
            result = .failure(error)
        }
        await broker.shutdown()
        try await group.shutdownGracefully()
        return try result.get()
    }

    /// Logs only what would point at a broker bug; the tests provoke every protocol violation on purpose.
    static let quietLogger: Logger = {
        var logger = Logger(label: "starling-test")
        logger.logLevel = .error
        return logger
    }()

    // MARK: Clients

    /// Connects a raw client and checks that the broker accepts it.
    func connect(
        _ clientIdentifier: String, version: ProtocolVersion = .v5, cleanStart: Bool = true, keepAlive: UInt16 = 0,
        will: ConnectPacket.Will? = nil, properties: Properties = []
    ) async throws -> (client: RawClient, connAck: ConnAckPacket) {
        let client = try await RawClient.open(port: port, version: version)
        try await client.send(.connect(ConnectPacket(
            protocolVersion: version, clientIdentifier: clientIdentifier, cleanStart: cleanStart, keepAlive: keepAlive,
            will: will, properties: properties)))
        let connAck = try await client.expectConnAck()
        guard connAck.reasonCode == .success else {
            throw RawClient.Failure(description: "CONNECT of \(clientIdentifier) refused: \(connAck)")
        }
        return (client, connAck)
    }

    /// Connects a raw client and returns only the client.
    func client(
        _ clientIdentifier: String, version: ProtocolVersion = .v5, cleanStart: Bool = true,
        will: ConnectPacket.Will? = nil, properties: Properties = []
    ) async throws -> RawClient {
        try await connect(clientIdentifier, version: version, cleanStart: cleanStart, will: will, properties: properties).client
    }

    /// Opens a TCP connection that has sent nothing yet.
    func open(version: ProtocolVersion = .v5) async throws -> RawClient {
        try await RawClient.open(port: port, version: version)
    }
}

extension RawClient {
    /// Subscribes and returns the SUBACK reason codes; the broker routes to the subscription once SUBACK is out.
    @discardableResult
    func subscribe(
        _ filters: [(String, SubscriptionOptions)], packetIdentifier: UInt16 = 1, subscriptionIdentifier: Int? = nil
    ) async throws -> [ReasonCode] {
        let properties: Properties = subscriptionIdentifier.map { [.subscriptionIdentifier($0)] } ?? []
        try await send(.subscribe(SubscribePacket(
            packetIdentifier: packetIdentifier,
            subscriptions: filters.map { SubscribePacket.Subscription(topicFilter: $0.0, options: $0.1) },
            properties: properties)))
        let subAck = try await expectSubAck()
        guard subAck.packetIdentifier == packetIdentifier else {
            throw Failure(description: "SUBACK for \(subAck.packetIdentifier), expected \(packetIdentifier)")
        }
        return subAck.reasonCodes
    }

    @discardableResult
    func subscribe(_ filter: String, qos: QoS = .atMostOnce, packetIdentifier: UInt16 = 1, subscriptionIdentifier: Int? = nil) async throws -> [ReasonCode] {
        try await subscribe([(filter, SubscriptionOptions(qos: qos))], packetIdentifier: packetIdentifier, subscriptionIdentifier: subscriptionIdentifier)
    }

    /// Publishes at QoS 0; nothing comes back.
    func publish(_ topic: String, _ payload: String, retain: Bool = false, properties: Properties = []) async throws {
        try await send(.publish(PublishPacket(topic: topic, payload: ByteBuffer(string: payload), retain: retain, properties: properties)))
    }

    /// Publishes at QoS 1 and waits for its PUBACK.
    @discardableResult
    func publishQoS1(_ topic: String, _ payload: String, packetIdentifier: UInt16 = 1, retain: Bool = false) async throws -> AcknowledgementPacket {
        try await send(.publish(PublishPacket(
            topic: topic, payload: ByteBuffer(string: payload), qos: .atLeastOnce, retain: retain, packetIdentifier: packetIdentifier)))
        let ack = try await expectPubAck()
        guard ack.packetIdentifier == packetIdentifier else {
            throw Failure(description: "PUBACK for \(ack.packetIdentifier), expected \(packetIdentifier)")
        }
        return ack
    }

    /// Publishes at QoS 1 to a topic this client is subscribed to: returns its own copy, which the broker may send
    /// before or after the PUBACK.
    func publishQoS1ToItself(_ topic: String, _ payload: String, packetIdentifier: UInt16 = 1) async throws -> PublishPacket {
        try await send(.publish(PublishPacket(
            topic: topic, payload: ByteBuffer(string: payload), qos: .atLeastOnce, packetIdentifier: packetIdentifier)))
        var acknowledged = false
        var copy: PublishPacket?
        while !acknowledged || copy == nil {
            switch try await nextPacket() {
            case .pubAck(let ack) where ack.packetIdentifier == packetIdentifier && !acknowledged: acknowledged = true
            case .publish(let publish) where copy == nil: copy = publish
            case let other: throw Failure(description: "expected PUBACK and PUBLISH, got \(other)")
            }
        }
        return copy!
    }

    /// The PUBLISH packets received before the first whose topic `isMarker` accepts, each QoS 1 one acknowledged:
    /// a marker published last shows that nothing more is coming.
    func publishes(until isMarker: (String) -> Bool) async throws -> [PublishPacket] {
        var received: [PublishPacket] = []
        while true {
            let publish = try await expectPublish()
            if isMarker(publish.topic) { return received }
            received.append(publish)
            if publish.qos == .atLeastOnce, let identifier = publish.packetIdentifier {
                try await send(.pubAck(AcknowledgementPacket(packetIdentifier: identifier)))
            }
        }
    }

    /// Ends the connection normally and waits until the broker has closed it.
    func disconnect(_ reasonCode: ReasonCode = .normalDisconnection, properties: Properties = []) async throws {
        try await send(.disconnect(DisconnectPacket(reasonCode: reasonCode, properties: properties)))
        try await expectClosed()
    }
}

extension PublishPacket {
    var payloadString: String { String(buffer: payload) }
}

extension TestBroker {
    /// Waits until the broker's statistics show what `condition` looks for; fails after `timeout`, naming `what`.
    func waitForStatistics(_ what: String, timeout: Duration = .seconds(20), until condition: (BrokerStatistics) -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while !condition(try await broker.statistics()) {
            guard ContinuousClock.now < deadline else {
                throw RawClient.Failure(description: "\(what): not within \(timeout)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Waits until the broker counts `count` connected clients: a connection it ended is no longer counted.
    func waitForConnectedClients(_ count: Int) async throws {
        try await waitForStatistics("\(count) connected clients") { $0.connectedClients == count }
    }
}
