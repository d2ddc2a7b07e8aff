import NIOConcurrencyHelpers
import NIOCore
import NIOWebSocket

/// The client side of MQTT over WebSocket for tests: masked binary frames out, binary frame payloads in. A test
/// finds it in a `RawClient`'s pipeline to send frames of its own or to read the broker's close status.
public final class ClientWebSocketFrames: ChannelDuplexHandler {
    /// Frames from the broker.
    public typealias InboundIn = WebSocketFrame
    /// The MQTT bytes of binary and continuation frames, for the packet decoder.
    public typealias InboundOut = ByteBuffer
    /// MQTT bytes from the packet encoder, or a `RawClient`'s raw bytes.
    public typealias OutboundIn = ByteBuffer
    /// Masked binary frames, one per write.
    public typealias OutboundOut = WebSocketFrame

    private var context: ChannelHandlerContext?
    /// The status code of the broker's close frame, once one has come (0 for a close frame without one).
    public let receivedCloseStatus = NIOLockedValueBox<UInt16?>(nil)

    /// A handler to add once the WebSocket upgrade has succeeded, as `RawTransport.webSocket` does.
    public init() {}

    /// Keeps the context, for `send(_:_:fin:masked:rsv1:)`.
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

    /// Passes on the payload of binary and continuation frames; a close frame records its status in
    /// `receivedCloseStatus` and closes the connection; other frames (ping, pong, text) are ignored.
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

    /// Sends each non-empty write as one masked binary frame; empty writes (the raw client's flushes) send
    /// nothing.
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
