import NIOCore
import NIOWebSocket

/// Carries the MQTT byte stream in binary WebSocket frames (section 6 of both specifications).
///
/// MQTT packets are not aligned with frames: a frame may hold part of a packet or several packets, so inbound
/// frame payloads are passed on as a plain byte stream for the packet decoder to split. Every outbound buffer
/// becomes one masked binary frame, as RFC 6455 requires of a client.
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
            let pong = WebSocketFrame(fin: true, opcode: .pong, maskKey: .random(), data: frame.unmaskedData)
            context.writeAndFlush(wrapOutboundOut(pong), promise: nil)
        case .pong:
            break
        case .connectionClose:
            sendClose(context: context, status: .normalClosure)
            context.close(promise: nil)
        case .text:
            // MQTT-6.0.0-1: MQTT travels in binary frames only; a text frame means the peer is not speaking MQTT.
            context.fireErrorCaught(MQTTClientError.protocolError("the broker sent a WebSocket text frame"))
        default:
            context.fireErrorCaught(MQTTClientError.protocolError("unknown WebSocket opcode \(frame.opcode)"))
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let frame = WebSocketFrame(fin: true, opcode: .binary, maskKey: .random(), data: unwrapOutboundIn(data))
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
        let frame = WebSocketFrame(fin: true, opcode: .connectionClose, maskKey: .random(), data: data)
        context.writeAndFlush(wrapOutboundOut(frame), promise: nil)
    }
}
