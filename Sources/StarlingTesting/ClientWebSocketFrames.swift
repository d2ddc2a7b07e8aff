import NIOConcurrencyHelpers
import NIOCore
import NIOWebSocket

/// The client side of MQTT over WebSocket for tests: masked binary frames out, binary frame payloads in. A test
/// finds it in a `RawClient`'s pipeline to send frames of its own or to read the broker's close status.
public final class ClientWebSocketFrames: ChannelDuplexHandler {
    public typealias InboundIn = WebSocketFrame
    public typealias InboundOut = ByteBuffer
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = WebSocketFrame

    private var context: ChannelHandlerContext?
    /// The status code of the broker's close frame, once one has come (0 for a close frame without one).
    public let receivedCloseStatus = NIOLockedValueBox<UInt16?>(nil)

    public init() {}

    public func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    /// The context refers back to this handler: kept past the channel's end, the pair would never be freed.
    public func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    /// Sends a frame of `opcode` as it is, for tests of what the broker does with frames MQTT does not use or
    /// that RFC 6455 forbids (unmasked, with a reserved bit set).
    public func send(_ opcode: WebSocketOpcode, _ bytes: [UInt8], fin: Bool = true, masked: Bool = true, rsv1: Bool = false) {
        guard let context else { return }
        let frame = WebSocketFrame(
            fin: fin, rsv1: rsv1, opcode: opcode, maskKey: masked ? .random() : nil, data: ByteBuffer(bytes: bytes))
        context.writeAndFlush(wrapOutboundOut(frame), promise: nil)
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .binary, .continuation:
            context.fireChannelRead(wrapInboundOut(frame.unmaskedData))
        case .connectionClose:
            var payload = frame.unmaskedData
            let status = payload.readInteger(as: UInt16.self) ?? 0
            receivedCloseStatus.withLockedValue { $0 = status }
            context.close(promise: nil)
        default:
            break
        }
    }

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let bytes = unwrapOutboundIn(data)
        // The raw client flushes with an empty write; an empty frame would be harmless but is left out.
        guard bytes.readableBytes > 0 else {
            promise?.succeed()
            return
        }
        context.write(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .binary, maskKey: .random(), data: bytes)), promise: promise)
    }
}
