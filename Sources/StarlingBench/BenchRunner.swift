import MQTT
import NIOCore
import NIOPosix

/// A benchmark scenario and its parameters.
public struct BenchOptions: Sendable {
    public enum Scenario: String, Sendable, CaseIterable {
        /// P publishers on their own topics, one subscriber on a wildcard.
        case fanin
        /// P publisher/subscriber pairs, each on its own topic.
        case pairs
        /// One publisher, S subscribers on one topic.
        case fanout
    }

    public var scenario: Scenario = .fanin
    public var host = "127.0.0.1"
    public var port = 1883
    public var version: ProtocolVersion = .v3_1_1
    public var qos: QoS = .atMostOnce
    public var publishers = 10
    public var subscribers = 1
    public var messagesPerPublisher = 100_000
    public var payloadSize = 64
    public var inflight = 64
    public var timeout: TimeAmount = .seconds(60)
    public var threads = 1

    public init() {}
}

/// What a run measured.
public struct BenchResult: Sendable {
    public var expected: Int
    public var delivered: Int
    public var duplicates: Int
    public var outOfOrder: Int
    public var seconds: Double
    public var latencyMicroseconds: (p50: Double, p99: Double, max: Double)

    public var lost: Int { expected - delivered }
    public var rate: Double { seconds > 0 ? Double(delivered) / seconds : 0 }
}

public enum BenchRunner {
    public static func run(_ options: BenchOptions) async throws -> BenchResult {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, options.threads))
        do {
            let result = try await run(options, on: group)
            try await group.shutdownGracefully()
            return result
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
    }

    private static func run(_ options: BenchOptions, on group: MultiThreadedEventLoopGroup) async throws -> BenchResult {
        let m = options.messagesPerPublisher
        var publisherTopics: [String] = []
        var subscriberFilters: [(filter: String, expected: Int, publishers: Int)] = []
        switch options.scenario {
        case .fanin:
            publisherTopics = (0..<options.publishers).map { "bench/fanin/\($0)" }
            subscriberFilters = [("bench/fanin/+", options.publishers * m, options.publishers)]
        case .pairs:
            publisherTopics = (0..<options.publishers).map { "bench/pairs/\($0)" }
            subscriberFilters = (0..<options.publishers).map { ("bench/pairs/\($0)", m, options.publishers) }
        case .fanout:
            publisherTopics = ["bench/fanout"]
            subscriberFilters = (0..<options.subscribers).map { _ in ("bench/fanout", m, 1) }
        }

        var subscribers: [(BenchConnection, BenchReceiver, any Channel)] = []
        for (index, subscription) in subscriberFilters.enumerated() {
            let eventLoop = group.next()
            let receiver = BenchReceiver(expected: subscription.expected, publishers: subscription.publishers, messagesPerPublisher: m, eventLoop: eventLoop)
            let handler = BenchConnection(
                role: .subscriber(filter: subscription.filter), qos: options.qos, version: options.version,
                payloadSize: options.payloadSize, inflightWindow: options.inflight, clientIdentifier: "bench-sub-\(index)",
                receiver: receiver, eventLoop: eventLoop)
            let channel = try await connect(handler, on: eventLoop, options: options)
            try await handler.connected.futureResult.get()
            subscribers.append((handler, receiver, channel))
        }
        var publishers: [(BenchConnection, any Channel)] = []
        for (index, topic) in publisherTopics.enumerated() {
            let eventLoop = group.next()
            let handler = BenchConnection(
                role: .publisher(topic: topic, count: m, publisherIndex: index), qos: options.qos, version: options.version,
                payloadSize: options.payloadSize, inflightWindow: options.inflight, clientIdentifier: "bench-pub-\(index)",
                receiver: nil, eventLoop: eventLoop)
            let channel = try await connect(handler, on: eventLoop, options: options)
            try await handler.connected.futureResult.get()
            publishers.append((handler, channel))
        }

        for (handler, channel) in publishers {
            channel.eventLoop.execute { handler.startPublishing() }
        }
        let allDone = EventLoopFuture.andAllComplete(subscribers.map { $0.1.done.futureResult }, on: group.next())
        let timeout = options.timeout
        // The run ends when every subscriber has all its messages, or at the timeout with what arrived.
        try? await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await allDone.get() }
            tasks.addTask {
                try await Task.sleep(nanoseconds: UInt64(timeout.nanoseconds))
                throw CancellationError()
            }
            defer { tasks.cancelAll() }
            try await tasks.next()
        }

        var delivered = 0
        var duplicates = 0
        var outOfOrder = 0
        var firstAt = UInt64.max
        var lastAt: UInt64 = 0
        var latencies: [UInt64] = []
        for (_, receiver, channel) in subscribers {
            let snapshot = try await channel.eventLoop.submit {
                (receiver.received, receiver.duplicates, receiver.outOfOrder, receiver.firstAt, receiver.lastAt, receiver.latencies)
            }.get()
            delivered += snapshot.0
            duplicates += snapshot.1
            outOfOrder += snapshot.2
            if snapshot.0 > 0 {
                firstAt = min(firstAt, snapshot.3)
                lastAt = max(lastAt, snapshot.4)
            }
            latencies.append(contentsOf: snapshot.5)
        }
        for (_, _, channel) in subscribers { try? await channel.close() }
        for (_, channel) in publishers { try? await channel.close() }
        latencies.sort()
        func percentile(_ p: Double) -> Double {
            guard !latencies.isEmpty else { return 0 }
            return Double(latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))]) / 1_000
        }
        let seconds = lastAt > firstAt ? Double(lastAt - firstAt) / 1e9 : 0
        return BenchResult(
            expected: subscriberFilters.reduce(0) { $0 + $1.expected }, delivered: delivered, duplicates: duplicates,
            outOfOrder: outOfOrder, seconds: seconds,
            latencyMicroseconds: (percentile(0.5), percentile(0.99), latencies.last.map { Double($0) / 1_000 } ?? 0))
    }

    private static func connect(_ handler: BenchConnection, on eventLoop: any EventLoop, options: BenchOptions) async throws -> any Channel {
        try await ClientBootstrap(group: eventLoop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(PacketDecoder(version: options.version)))
                    try channel.pipeline.syncOperations.addHandler(handler)
                }
            }
            .connect(host: options.host, port: options.port).get()
    }
}
