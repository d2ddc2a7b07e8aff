import NIOCore
import NIOWebSocket

/// Carries the MQTT byte stream in binary WebSocket frames (section 6 of both specifications), at the broker's end
/// and at the client's: one set of RFC 6455 rules for both.
///
/// Frames and packets need not line up: a packet may be split across frames and a frame may hold several
/// packets (MQTT-6.0.0-2), so frame payloads go on as a plain byte stream for the packet decoder. Each buffer
/// written becomes one binary frame, masked by a client and unmasked by a server. Fragmented messages need no
/// reassembly for the same reason: continuation frames simply continue the stream.
///
/// NIOWebSocket's decoder enforces the frame size and that control frames are whole and at most 125 bytes, and
/// its `WebSocketProtocolErrorHandler` answers those errors with a close frame. The rules it leaves to the
/// endpoint are enforced here: masking as the role requires, no reserved bits or opcodes, fragments in order,
/// binary data only (MQTT-6.0.0-1), and a close handshake with a valid status and reason. A frame that breaks one
/// fails the connection: the close frame goes out, a `WebSocketViolation` goes down the pipeline, then the close.
public final class WebSocketStreamHandler: ChannelDuplexHandler {
    public typealias InboundIn = WebSocketFrame
    public typealias InboundOut = ByteBuffer
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = WebSocketFrame

    public enum Role: Sendable {
        case server
        case client
    }

    private let role: Role
    private var sentClose = false
    /// A binary message has begun and its last fragment has not come yet.
    private var inMessage = false
    /// Pongs written during this read burst, flushed at its end.
    private var pongsUnflushed = false
    /// The payload of the latest ping, held while the channel is not writable: RFC 6455 (5.5.3) lets an endpoint
    /// answer only the most recent of several pings, so a peer that pings without reading gets one pong queued,
    /// not one per ping.
    private var pendingPong: ByteBuffer?

    public init(role: Role) {
        self.role = role
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // Once the close frame is out, the peer's frames are read only to be discarded.
        guard !sentClose else { return }
        let frame = unwrapInboundIn(data)
        // RFC 6455 5.1: a client masks every frame and a server none; the other end closes on one that breaks this.
        guard (frame.maskKey != nil) == (role == .server) else {
            return fail(context: context, .protocolError, role == .server ? "unmasked frame" : "masked frame")
        }
        // 5.2: no extension was negotiated, so no reserved bit may be set.
        guard !frame.rsv1, !frame.rsv2, !frame.rsv3 else { return fail(context: context, .protocolError, "reserved bit set") }
        switch frame.opcode {
        case .binary:
            // 5.4: the fragments of one message are not interleaved with another message's.
            guard !inMessage else { return fail(context: context, .protocolError, "data frame inside a fragmented message") }
            inMessage = !frame.fin
            context.fireChannelRead(wrapInboundOut(frame.unmaskedData))
        case .continuation:
            guard inMessage else { return fail(context: context, .protocolError, "continuation frame without a message") }
            inMessage = !frame.fin
            context.fireChannelRead(wrapInboundOut(frame.unmaskedData))
        case .text:
            // MQTT-6.0.0-1: a text frame means the peer is not speaking MQTT; the connection is closed.
            fail(context: context, .unacceptableData, "text frame")
        case .ping:
            answerPing(context: context, payload: frame.unmaskedData)
        case .pong:
            break
        case .connectionClose:
            answerClose(context: context, payload: frame.unmaskedData)
        default:
            fail(context: context, .protocolError, "reserved opcode")
        }
    }

    public func channelReadComplete(context: ChannelHandlerContext) {
        if pongsUnflushed {
            pongsUnflushed = false
            context.flush()
        }
        context.fireChannelReadComplete()
    }

    public func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable, let payload = pendingPong, !sentClose {
            pendingPong = nil
            context.writeAndFlush(wrapOutboundOut(frame(.pong, payload)), promise: nil)
        }
        context.fireChannelWritabilityChanged()
    }

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // The decoder refused a frame and `WebSocketProtocolErrorHandler` has sent the close frame for it.
        if error is NIOWebSocketError { sentClose = true }
        context.fireErrorCaught(error)
    }

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        context.write(wrapOutboundOut(frame(.binary, unwrapOutboundIn(data))), promise: promise)
    }

    public func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        if mode == .all, context.channel.isActive {
            sendClose(context: context, status: .normalClosure)
        }
        context.close(mode: mode, promise: promise)
    }

    private func answerPing(context: ChannelHandlerContext, payload: ByteBuffer) {
        // The pong counts against the connection's outbound bytes like any other write; while they are used up,
        // only the latest ping is remembered, and answered once the peer has read.
        guard context.channel.isWritable else {
            pendingPong = payload
            return
        }
        context.write(wrapOutboundOut(frame(.pong, payload)), promise: nil)
        pongsUnflushed = true
    }

    /// Answers the peer's close frame with one echoing its status, and closes the connection (RFC 6455 5.5.1, 7.4).
    private func answerClose(context: ChannelHandlerContext, payload: ByteBuffer) {
        var payload = payload
        var status = WebSocketErrorCode.normalClosure
        if payload.readableBytes > 0 {
            guard let code = payload.readInteger(as: UInt16.self) else {
                return fail(context: context, .protocolError, "close frame with a one-byte status")
            }
            guard Self.mayBeSent(statusCode: code) else {
                return fail(context: context, .protocolError, "close frame with status \(code)")
            }
            // 8.1: the reason is UTF-8; 7.4.1: anything else fails the connection with 1007.
            let reason = payload.readableBytesView
            guard String(decoding: reason, as: UTF8.self).utf8.elementsEqual(reason) else {
                return fail(context: context, .dataInconsistentWithMessage, "close reason not UTF-8")
            }
            status = WebSocketErrorCode(codeNumber: Int(code))
        }
        sendClose(context: context, status: status)
        context.close(promise: nil)
    }

    /// Whether a peer may send `statusCode` in a close frame (RFC 6455 7.4.1, 7.4.2, and the IANA registry).
    public static func mayBeSent(statusCode code: UInt16) -> Bool {
        switch code {
        case 1000...1003, 1007...1014, 3000...4999: true
        default: false
        }
    }

    /// Fails the connection: the close frame with `status`, the violation down the pipeline, then the close.
    private func fail(context: ChannelHandlerContext, _ status: WebSocketErrorCode, _ reason: String) {
        sendClose(context: context, status: status)
        context.fireErrorCaught(WebSocketViolation(reason: reason, status: status))
        context.close(promise: nil)
    }

    private func sendClose(context: ChannelHandlerContext, status: WebSocketErrorCode) {
        guard !sentClose else { return }
        sentClose = true
        pendingPong = nil
        var data = context.channel.allocator.buffer(capacity: 2)
        data.write(webSocketErrorCode: status)
        context.writeAndFlush(wrapOutboundOut(frame(.connectionClose, data)), promise: nil)
    }

    private func frame(_ opcode: WebSocketOpcode, _ data: ByteBuffer) -> WebSocketFrame {
        WebSocketFrame(fin: true, opcode: opcode, maskKey: role == .client ? .random() : nil, data: data)
    }
}

@available(*, unavailable)
extension WebSocketStreamHandler: Sendable {}
