import Benchmark
import MQTT
import NIOCore
import NIOEmbedded
@_spi(Benchmarks) import StarlingBroker

/// The broker's hot structures: the publish path from a PUBLISH's bytes to the bytes written to each subscriber,
/// and matching a topic against 100,000 subscriptions with wildcards.
///
/// The publish path runs the broker's own connection handlers on `EmbeddedChannel`s: decode, route, encode,
/// write, with no socket. Every benchmark runs its body a thousand times per iteration (`.kilo` scaling); the
/// framework reports each metric per message: throughput, and malloc calls per message (for the publish path to
/// 100 subscribers, per message, not per delivery: divide by 100).
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.throughput, .wallClock, .cpuTotal, .mallocCountTotal],
        warmupIterations: 1,
        scalingFactor: .kilo,
        maxDuration: .seconds(3),
        maxIterations: 20
    )

    for subscribers in [1, 100] {
        for qos in [QoS.atMostOnce, .atLeastOnce] {
            Benchmark("Publish path, QoS \(qos.rawValue), to \(subscribers) subscriber\(subscribers == 1 ? "" : "s")") { benchmark in
                let path = try PublishPath(subscribers: subscribers, qos: qos)
                benchmark.startMeasurement()
                for _ in benchmark.scaledIterations {
                    blackHole(try path.publishOnce())
                }
                // Before the channels are let go of, which the closure's end would count.
                benchmark.stopMeasurement()
            }
        }
    }

    Benchmark("Topic matching, 100,000 subscriptions with wildcards") { benchmark in
        var tree = try TopicMatchingProbe(filters: TopicMatchingFixture.filters)
        let topics = TopicMatchingFixture.topics
        benchmark.startMeasurement()
        for index in benchmark.scaledIterations {
            blackHole(tree.match(topics[index % topics.count]))
        }
        // Before the 100,000 subscriptions are let go of, which the closure's end would count.
        benchmark.stopMeasurement()
    }
}

/// One publisher and `subscribers` subscribers to `bench/topic`, each on an `EmbeddedChannel` with the broker's
/// handler. A QoS 1 message is acknowledged by every subscriber, so that the window never fills.
final class PublishPath {
    private let loop = EmbeddedEventLoop()
    private let publisher: EmbeddedChannel
    private var subscribers: [EmbeddedChannel] = []
    private let publish: ByteBuffer
    private let qos: QoS
    private var packetIdentifier: UInt16 = 0
    private var decoder = PacketDecoder(version: .v3_1_1)

    init(subscribers count: Int, qos: QoS) throws {
        let probe = BrokerProbe(eventLoop: loop)
        self.qos = qos
        publisher = try Self.connect("publisher", probe: probe, loop: loop)
        for index in 0..<count {
            let subscriber = try Self.connect("subscriber-\(index)", probe: probe, loop: loop)
            let subscribe = SubscribePacket(packetIdentifier: 1, subscriptions: [.init(topicFilter: "bench/topic", qos: qos)])
            try subscriber.writeInbound(try Packet.subscribe(subscribe).encoded(version: .v3_1_1))
            loop.run()
            guard try subscriber.readOutbound(as: ByteBuffer.self) != nil else { throw PublishPathError.noSubAck }
            subscribers.append(subscriber)
        }
        let payload = ByteBuffer(repeating: 0x2A, count: 64)
        publish = try Packet.publish(PublishPacket(topic: "bench/topic", payload: payload, qos: qos, packetIdentifier: qos == .atMostOnce ? nil : 1))
            .encoded(version: .v3_1_1)
    }

    private static func connect(_ clientIdentifier: String, probe: BrokerProbe, loop: EmbeddedEventLoop) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel(handler: probe.connectionHandler(), loop: loop)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1883)).wait()
        try channel.writeInbound(try Packet.connect(ConnectPacket(clientIdentifier: clientIdentifier)).encoded(version: .v3_1_1))
        loop.run()
        guard try channel.readOutbound(as: ByteBuffer.self) != nil else { throw PublishPathError.noConnAck }
        return channel
    }

    /// Publishes one message and takes what the broker wrote to each subscriber; returns the bytes written.
    func publishOnce() throws -> Int {
        try publisher.writeInbound(publish)
        var written = 0
        for subscriber in subscribers {
            while var bytes = try subscriber.readOutbound(as: ByteBuffer.self) {
                written += bytes.readableBytes
                if qos != .atMostOnce, case .publish(let delivered)? = try decoder.decode(buffer: &bytes), let identifier = delivered.packetIdentifier {
                    try subscriber.writeInbound(PublishPath.acknowledgement(identifier))
                }
            }
        }
        // The publisher's PUBACK.
        while try publisher.readOutbound(as: ByteBuffer.self) != nil {}
        return written
    }

    private static func acknowledgement(_ identifier: UInt16) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeBytes([0x40, 0x02])
        buffer.writeInteger(identifier)
        return buffer
    }
}

enum PublishPathError: Error {
    case noConnAck
    case noSubAck
}

/// 100,000 subscriptions in the shape of a fleet: `fleet/<site>/<device>/<metric>` for 1,000 sites × 10 devices
/// × 10 metrics, less some replaced by wildcards (`+` for a device or a metric, `#` under a site).
enum TopicMatchingFixture {
    static let filters: [String] = (0..<100_000).map { index in
        let site = index / 100, device = (index / 10) % 10, metric = index % 10
        switch index % 20 {
        case 0: return "fleet/\(site)/+/metric\(metric)"
        case 1: return "fleet/\(site)/device\(device)/+"
        case 2: return "fleet/\(site)/#"
        default: return "fleet/\(site)/device\(device)/metric\(metric)"
        }
    }

    static let topics: [String] = (0..<1_000).map { index in
        "fleet/\((index * 7) % 1_000)/device\(index % 10)/metric\((index / 10) % 10)"
    }
}
