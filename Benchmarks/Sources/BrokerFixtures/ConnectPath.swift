import MQTT
import NIOCore
import NIOEmbedded
@_spi(Benchmarks) import StarlingBroker

/// A client's connection from end to end, on an `EmbeddedChannel` with the broker's handler: the channel becomes
/// active, CONNECT (MQTT 3.1.1, clean session) goes in, CONNACK comes out, then DISCONNECT and close. What one
/// connection costs the broker in instructions and allocations, and, held open, in bytes.
public final class ConnectPath {
    private let loop = EmbeddedEventLoop()
    private let probe: BrokerProbe
    private var number = 0

    public init() {
        probe = BrokerProbe(eventLoop: loop)
    }

    /// Connects one client, with an identifier of its own, and leaves it connected.
    public func open() throws -> EmbeddedChannel {
        number += 1
        let channel = EmbeddedChannel(handler: probe.connectionHandler(), loop: loop)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1883)).wait()
        let connect = ConnectPacket(clientIdentifier: "client-\(number)", keepAlive: 60)
        try channel.writeInbound(try Packet.connect(connect).encoded(version: .v3_1_1))
        loop.run()
        guard try channel.readOutbound(as: ByteBuffer.self) != nil else { throw PublishPathError.noConnAck }
        return channel
    }

    /// Ends a connection the way a client does: DISCONNECT, then close.
    public func close(_ channel: EmbeddedChannel) throws {
        try channel.writeInbound(try Packet.disconnect(DisconnectPacket()).encoded(version: .v3_1_1))
        loop.run()
        _ = try? channel.finish()
    }

    /// One connection, opened and closed.
    public func connectOnce() throws {
        try close(try open())
    }
}
