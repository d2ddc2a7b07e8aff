import MQTT
import NIOCore
import NIOPosix

/// A broker whose every move the test makes: it accepts connections on a free 127.0.0.1 port and hands the
/// test each packet the client sends, so the test can check the exact packets and answer (or not) as it likes.
final class ScriptedBroker {
    let port: Int
    private let server: any Channel
    private var connections: AsyncStream<(any Channel, AsyncStream<Packet>)>.AsyncIterator

    /// Listens on `port`, or on a free port if 0.
    init(version: ProtocolVersion = .v5, port requested: Int = 0) async throws {
        let (stream, continuation) = AsyncStream.makeStream(of: (any Channel, AsyncStream<Packet>).self)
        server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let (packets, packetContinuation) = AsyncStream.makeStream(of: Packet.self)
                    try channel.pipeline.syncOperations.addHandlers([
                        ByteToMessageHandler(PacketDecoder(version: version)),
                        MessageToByteHandler(PacketEncoder(version: version)),
                        PacketForwarder(continuation: packetContinuation),
                    ])
                    continuation.yield((channel, packets))
                }
            }
            .bind(host: "127.0.0.1", port: requested).get()
        port = server.localAddress!.port!
        connections = stream.makeAsyncIterator()
    }

    var url: String { "mqtt://127.0.0.1:\(port)" }

    /// The next connection the client opens.
    func accept() async throws -> ScriptedConnection {
        guard let (channel, packets) = await connections.next() else { throw Closed() }
        return ScriptedConnection(channel: channel, packets: packets)
    }

    func close() async {
        try? await server.close()
    }

    struct Closed: Error {}
}

/// One client connection of a `ScriptedBroker`.
final class ScriptedConnection {
    let channel: any Channel
    private var packets: AsyncStream<Packet>.AsyncIterator

    init(channel: any Channel, packets: AsyncStream<Packet>) {
        self.channel = channel
        self.packets = packets.makeAsyncIterator()
    }

    /// The next packet from the client; throws when the connection closes first.
    func receive() async throws -> Packet {
        guard let packet = await packets.next() else { throw ScriptedBroker.Closed() }
        return packet
    }

    /// Whether the client closes the connection before sending anything more.
    func closesWithoutSending() async -> Bool {
        await packets.next() == nil
    }

    func send(_ packet: Packet) async throws {
        try await channel.writeAndFlush(packet)
    }

    /// Reads CONNECT and answers with `connAck`.
    @discardableResult
    func handshake(_ connAck: ConnAckPacket = ConnAckPacket()) async throws -> ConnectPacket {
        guard case .connect(let connect) = try await receive() else { throw Unexpected() }
        try await send(.connAck(connAck))
        return connect
    }

    func close() async {
        try? await channel.close()
    }

    struct Unexpected: Error {}
}

private final class PacketForwarder: ChannelInboundHandler, Sendable {
    typealias InboundIn = Packet
    let continuation: AsyncStream<Packet>.Continuation

    init(continuation: AsyncStream<Packet>.Continuation) {
        self.continuation = continuation
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        continuation.yield(unwrapInboundIn(data))
    }

    func channelInactive(context: ChannelHandlerContext) {
        continuation.finish()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
