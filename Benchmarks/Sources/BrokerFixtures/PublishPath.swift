import MQTT
import NIOCore
import NIOEmbedded
@_spi(Benchmarks) import StarlingBroker

/// One publisher and `subscribers` subscribers to `bench/topic`, each on an `EmbeddedChannel` with the broker's
/// handler. A QoS 1 message is acknowledged by every subscriber, so that the window never fills.
///
/// With large payloads (`publishRound`), the publisher's bytes come as a socket gives them, in reads of
/// `readSize` bytes that end anywhere in a packet, so that packets straddle reads.
public final class PublishPath {
    private let loop = EmbeddedEventLoop()
    private let publisher: EmbeddedChannel
    private var subscribers: [EmbeddedChannel] = []
    private let publish: ByteBuffer
    private let qos: QoS
    private var decoder = PacketDecoder(version: .v3_1_1)
    private var acknowledgementBytes = ByteBuffer()
    /// `messagesPerRound` PUBLISH packets back to back, cut into reads.
    private var reads: [ByteBuffer] = []
    public let messagesPerRound: Int

    public init(subscribers count: Int, qos: QoS, payloadSize: Int = 64, readSize: Int = 65_536) throws {
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
        let payload = ByteBuffer(repeating: 0x2A, count: payloadSize)
        publish = try Packet.publish(PublishPacket(topic: "bench/topic", payload: payload, qos: qos, packetIdentifier: qos == .atMostOnce ? nil : 1))
            .encoded(version: .v3_1_1)
        // Enough packets that the reads end at many places within one.
        messagesPerRound = max(1, 16 * readSize / publish.readableBytes)
        var stream = ByteBuffer()
        for _ in 0..<messagesPerRound { stream.writeImmutableBuffer(publish) }
        while stream.readableBytes > 0 {
            // Each read in a buffer of its own, as the channel allocates one for each.
            var read = ByteBuffer()
            read.writeImmutableBuffer(stream.readSlice(length: min(readSize, stream.readableBytes))!)
            reads.append(read)
        }
    }

    /// Publishes `messagesPerRound` QoS 0 messages in reads that cut them anywhere, and takes what the broker
    /// wrote to each subscriber; returns the bytes written.
    public func publishRound() throws -> Int {
        var written = 0
        for read in reads {
            try publisher.writeInbound(read)
            for subscriber in subscribers {
                while let bytes = try subscriber.readOutbound(as: ByteBuffer.self) { written += bytes.readableBytes }
            }
        }
        return written
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
    public func publishOnce() throws -> Int {
        try publisher.writeInbound(publish)
        var written = 0
        for subscriber in subscribers {
            while var bytes = try subscriber.readOutbound(as: ByteBuffer.self) {
                written += bytes.readableBytes
                if qos != .atMostOnce, case .publish(let delivered)? = try decoder.decode(buffer: &bytes), let identifier = delivered.packetIdentifier {
                    try subscriber.writeInbound(acknowledgement(identifier))
                }
            }
        }
        // The publisher's PUBACK.
        while try publisher.readOutbound(as: ByteBuffer.self) != nil {}
        return written
    }

    /// A PUBACK for `identifier`, in a buffer reused once the broker has let go of the last one.
    private func acknowledgement(_ identifier: UInt16) -> ByteBuffer {
        acknowledgementBytes.clear()
        acknowledgementBytes.writeBytes([0x40, 0x02])
        acknowledgementBytes.writeInteger(identifier)
        return acknowledgementBytes
    }
}

public enum PublishPathError: Error {
    case noConnAck
    case noSubAck
}
