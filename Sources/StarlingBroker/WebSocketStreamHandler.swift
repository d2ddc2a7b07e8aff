import NIOCore
import NIOWebSocket

/// Carries the MQTT byte stream in binary WebSocket frames (section 6 of both specifications), server side.
///
/// Frames and packets need not line up: a packet may be split across frames and a frame may hold several
/// packets, so frame payloads go on as a plain byte stream for the packet decoder. Each buffer the connection
/// writes becomes one unmasked binary frame, as RFC 6455 requires of a server. Fragmented messages need no
/// reassembly for the same reason: continuation frames simply continue the stream.
final class WebSocketStreamHandler: ChannelDuplexHandler {
    typealias InboundIn = WebSocketFrame
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = WebSocketFrame

    private var sentClose = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .binary, .continuation:
            context.fireChannelRead(wrapInboundOut(frame.unmaskedData))
        case .ping:
            let pong = WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)
            context.writeAndFlush(wrapOutboundOut(pong), promise: nil)
        case .pong:
            break
        case .connectionClose:
            sendClose(context: context, status: .normalClosure)
            context.close(promise: nil)
        case .text:
            // MQTT-6.0.0-1: a text frame means the peer is not speaking MQTT; the connection is closed.
            sendClose(context: context, status: .unacceptableData)
            context.close(promise: nil)
        default:
            sendClose(context: context, status: .protocolError)
            context.close(promise: nil)
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let frame = WebSocketFrame(fin: true, opcode: .binary, data: unwrapOutboundIn(data))
        context.write(wrapOutboundOut(frame), promise: promise)
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        if mode == .all, context.channel.isActive {
            sendClose(context: context, status: .normalClosure)
        }
        context.close(mode: mode, promise: promise)
    }

    private func sendClose(context: ChannelHandlerContext, status: WebSocketErrorCode) {
        guard !sentClose else { return }
        sentClose = true
        var data = context.channel.allocator.buffer(capacity: 2)
        data.write(webSocketErrorCode: status)
        context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: data)), promise: nil)
    }
}
