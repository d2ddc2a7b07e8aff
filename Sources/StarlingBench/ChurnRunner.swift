import MQTT
import NIOCore
import NIOPosix

/// The churn soak: rounds of short-lived connections of every kind against one broker, with the broker's
/// resident memory read after each round. A broker that keeps something of every connection it has ever had
/// grows round after round; one that does not levels off after the first rounds.
public enum ChurnRunner {
    public struct Options: Sendable {
        public var host = "127.0.0.1"
        public var port = 1883
        public var rounds = 20
        public var connectionsPerRound = 50_000
        /// Connections under way at once.
        public var concurrency = 256
        /// User name and password every connection gives in CONNECT.
        public var userName: String?
        public var password: String?
        /// The broker's process, whose resident memory is read after each round.
        public var brokerProcessIdentifier: Int?
        /// How long to wait after a round before reading the broker's memory: persistent sessions expire one
        /// second after their connection ends.
        public var settle: TimeAmount = .seconds(2)
        public var threads = 1
        /// Stop after this long, whatever is left.
        public var timeout: TimeAmount = .seconds(1_800)

        public init() {}
    }

    /// Runs every round; `progress` is called after each.
    public static func run(_ options: Options, progress: (@Sendable (ChurnResult.Round) -> Void)? = nil) async throws -> ChurnResult {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, options.threads))
        defer { group.shutdownGracefully { _ in } }
        let address = try SocketAddress.makeAddressResolvingHost(options.host, port: options.port)
        let tag = String(NIODeadline.now().uptimeNanoseconds % 1_000_000, radix: 36)
        let deadline = NIODeadline.now() + options.timeout
        var result = ChurnResult(
            connectionsPerRound: options.connectionsPerRound,
            brokerBytesBefore: options.brokerProcessIdentifier.flatMap(ProcessMemory.residentBytes(of:)))
        for round in 0..<options.rounds where NIODeadline.now() < deadline {
            let start = NIODeadline.now()
            let outcome = await runRound(round, options: options, group: group, address: address, tag: tag)
            let seconds = Double((NIODeadline.now() - start).nanoseconds) / 1e9
            try await Task.sleep(nanoseconds: UInt64(options.settle.nanoseconds))
            let entry = ChurnResult.Round(
                index: round, connections: outcome.connections, failed: outcome.failed, seconds: seconds,
                brokerBytes: options.brokerProcessIdentifier.flatMap(ProcessMemory.residentBytes(of:)),
                firstError: outcome.firstError)
            result.rounds.append(entry)
            progress?(entry)
        }
        return result
    }

    /// The plans of one round: of every ten connections, two 3.1.1 and two 5.0 clean sessions, two persistent
    /// 5.0 sessions that expire a second after their connection ends, and two pairs of a session and the
    /// connection that takes it over; half end with DISCONNECT, half drop their socket.
    static func plans(round: Int, count: Int, tag: String) -> [[ChurnConnection.Plan]] {
        (0..<count).map { index in
            let identifier = "churn-\(tag)-\(round)-\(index)"
            let topic = "churn/\(tag)/\(round)/\(index)"
            let disconnects = index % 2 == 0
            switch index % 10 {
            case 0, 1:
                return [.init(version: .v3_1_1, clientIdentifier: identifier, topic: topic, sessionExpiry: nil, disconnects: disconnects, awaitsTakeOver: false)]
            case 2, 3:
                return [.init(version: .v5, clientIdentifier: identifier, topic: topic, sessionExpiry: nil, disconnects: disconnects, awaitsTakeOver: false)]
            case 4, 5:
                return [.init(version: .v5, clientIdentifier: identifier, topic: topic, sessionExpiry: 1, disconnects: disconnects, awaitsTakeOver: false)]
            default:
                let version: ProtocolVersion = index % 10 < 8 ? .v3_1_1 : .v5
                let expiry: UInt32? = version == .v5 ? 1 : nil
                return [
                    .init(version: version, clientIdentifier: identifier, topic: topic, sessionExpiry: expiry, disconnects: false, awaitsTakeOver: true),
                    .init(version: version, clientIdentifier: identifier, topic: topic, sessionExpiry: expiry, disconnects: disconnects, awaitsTakeOver: false),
                ]
            }
        }
    }

    private struct RoundOutcome {
        var connections = 0
        var failed = 0
        var firstError: String?
    }

    private static func runRound(
        _ round: Int, options: Options, group: MultiThreadedEventLoopGroup, address: SocketAddress, tag: String
    ) async -> RoundOutcome {
        let plans = plans(round: round, count: options.connectionsPerRound, tag: tag)
        return await withTaskGroup(of: (Int, String?).self) { tasks in
            var outcome = RoundOutcome()
            func absorb(_ result: (Int, String?)) {
                outcome.connections += result.0
                if let error = result.1 {
                    outcome.failed += 1
                    if outcome.firstError == nil { outcome.firstError = error }
                }
            }
            for (index, sequence) in plans.enumerated() {
                if index >= max(1, options.concurrency), let result = await tasks.next() { absorb(result) }
                let eventLoop = group.next()
                tasks.addTask {
                    var made = 0
                    var earlier: ChurnConnection?
                    for var plan in sequence {
                        plan.userName = options.userName
                        plan.password = options.password
                        let connection = ChurnConnection(plan: plan, eventLoop: eventLoop)
                        do {
                            try await open(connection, to: address, on: eventLoop)
                            made += 1
                            try await connection.connected.futureResult.get()
                            if let earlier { try await within(earlier.finished.futureResult, on: eventLoop) }
                            if !plan.awaitsTakeOver { try await within(connection.finished.futureResult, on: eventLoop) }
                        } catch {
                            return (made, "\(error)")
                        }
                        earlier = connection
                    }
                    return (made, nil)
                }
            }
            for await result in tasks { absorb(result) }
            return outcome
        }
    }

    private static func open(_ connection: ChurnConnection, to address: SocketAddress, on eventLoop: any EventLoop) async throws {
        _ = try await ClientBootstrap(group: eventLoop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(.seconds(10))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(PacketDecoder(version: connection.plan.version)))
                    try channel.pipeline.syncOperations.addHandler(connection)
                }
            }
            .connect(to: address).get()
    }

    /// Waits for `future`, failing after ten seconds: a broker that stops answering must not hold the run.
    private static func within(_ future: EventLoopFuture<Void>, on eventLoop: any EventLoop) async throws {
        let promise = eventLoop.makePromise(of: Void.self)
        let timeout = eventLoop.scheduleTask(in: .seconds(10)) { promise.fail(ChurnError.timedOut) }
        future.cascade(to: promise)
        defer { timeout.cancel() }
        try await promise.futureResult.get()
    }
}

/// What a churn soak measured: the broker's memory after each round.
public struct ChurnResult: Sendable, Codable {
    public struct Round: Sendable, Codable {
        public var index: Int
        /// Connections opened in the round, the connections that took sessions over included.
        public var connections: Int
        public var failed: Int
        public var seconds: Double
        public var brokerBytes: Int?
        public var firstError: String?
    }

    public var connectionsPerRound: Int
    public var brokerBytesBefore: Int?
    public var rounds: [Round] = []

    public var totalConnections: Int { rounds.reduce(0) { $0 + $1.connections } }
    public var totalFailed: Int { rounds.reduce(0) { $0 + $1.failed } }

    /// How much the broker grew per connection from the end of the warm-up (the first quarter of the rounds,
    /// at least one) to the last round: about zero when nothing is kept.
    public var bytesPerConnectionAfterWarmUp: Double? {
        let warmUp = max(1, rounds.count / 4)
        guard rounds.count > warmUp, let first = rounds[warmUp - 1].brokerBytes, let last = rounds.last?.brokerBytes else { return nil }
        let connections = rounds[warmUp...].reduce(0) { $0 + $1.connections }
        return connections > 0 ? Double(last - first) / Double(connections) : nil
    }
}
