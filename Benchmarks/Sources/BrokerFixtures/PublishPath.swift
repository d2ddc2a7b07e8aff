import MQTT
import NIOCore
import NIOEmbedded
@_spi(Benchmarks) import StarlingBroker

/// One publisher and `subscribers` subscribers to `bench/topic`, each on an `EmbeddedChannel` with the broker's
/// handler. A QoS 1 message is acknowledged by every subscriber, so that the window never fills.
public final class PublishPath {
    private let loop = EmbeddedEventLoop()
    private let publisher: EmbeddedChannel
    private var subscribers: [EmbeddedChannel] = []
    private let publish: ByteBuffer
    private let qos: QoS
    private var decoder = PacketDecoder(version: .v3_1_1)
    private var acknowledgementBytes = ByteBuffer()

    public init(subscribers count: Int, qos: QoS) throws {
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
