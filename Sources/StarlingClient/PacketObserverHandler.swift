import NIOCore

/// Shows `MQTTClientConfiguration.packetObserver` each packet between the codec and the connection's handler, and
/// passes it on unchanged.
final class PacketObserverHandler: ChannelDuplexHandler {
    typealias InboundIn = Packet
    typealias InboundOut = Packet
    typealias OutboundIn = Packet
    typealias OutboundOut = Packet

    private let observe: @Sendable (MQTTClientConfiguration.PacketDirection, Packet) -> Void

    init(_ observe: @escaping @Sendable (MQTTClientConfiguration.PacketDirection, Packet) -> Void) {
        self.observe = observe
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        observe(.received, unwrapInboundIn(data))
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        observe(.sent, unwrapOutboundIn(data))
        context.write(data, promise: promise)
    }
}
