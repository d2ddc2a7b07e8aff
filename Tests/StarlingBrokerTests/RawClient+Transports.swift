import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOSSL
import NIOWebSocket

/// What a raw test client can speak MQTT over besides plain TCP.
enum RawTransport {
    /// TLS with `configuration`, checking the broker's certificate for 127.0.0.1.
    static func tls(_ configuration: TLSConfiguration) throws -> RawClient.Transport {
        let context = try NIOSSLContext(configuration: configuration)
        return { channel, addMQTT in
            try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: context, serverHostname: nil))
            try addMQTT()
            return channel.eventLoop.makeSucceededVoidFuture()
        }
    }

    /// A WebSocket at `path` offering `subprotocols`: every write of the client becomes one binary frame, so a
    /// test decides how packets fall into frames by how it writes them.
    static func webSocket(path: String = "/mqtt", subprotocols: String? = "mqtt", tls: TLSConfiguration? = nil) throws -> RawClient.Transport {
        let sslContext = try tls.map(NIOSSLContext.init(configuration:))
        return { channel, addMQTT in
            let sync = channel.pipeline.syncOperations
            if let sslContext { try sync.addHandler(NIOSSLClientHandler(context: sslContext, serverHostname: nil)) }
            let upgrader = NIOTypedWebSocketClientUpgrader<Bool>(maxFrameSize: 1 << 24) { channel, _ in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ClientWebSocketFrames())
                    try addMQTT()
                    return true
                }
            }
            var headers = HTTPHeaders()
            headers.add(name: "Host", value: "127.0.0.1")
            if let subprotocols { headers.add(name: "Sec-WebSocket-Protocol", value: subprotocols) }
            let upgrade = NIOTypedHTTPClientUpgradeConfiguration<Bool>(
                upgradeRequestHead: HTTPRequestHead(version: .http1_1, method: .GET, uri: path, headers: headers),
                upgraders: [upgrader],
                notUpgradingCompletionHandler: { channel in channel.eventLoop.makeSucceededFuture(false) })
            let negotiated = try sync.configureUpgradableHTTPClientPipeline(configuration: .init(upgradeConfiguration: upgrade))
            return negotiated.flatMapThrowing { upgraded in
                guard upgraded else { throw RawClient.Failure(description: "the broker refused the WebSocket upgrade") }
            }
        }
    }
}

/// The client side of MQTT over WebSocket for tests: masked binary frames out, binary frame payloads in.
final class ClientWebSocketFrames: ChannelDuplexHandler {
    typealias InboundIn = WebSocketFrame
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = WebSocketFrame

    private var context: ChannelHandlerContext?
    /// The status code of the broker's close frame, once one has come (0 for a close frame without one).
    let receivedCloseStatus = NIOLockedValueBox<UInt16?>(nil)

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    /// The context refers back to this handler: kept past the channel's end, the pair would never be freed.
    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    /// Sends a frame of `opcode` as it is, for tests of what the broker does with frames MQTT does not use or
    /// that RFC 6455 forbids (unmasked, with a reserved bit set).
    func send(_ opcode: WebSocketOpcode, _ bytes: [UInt8], fin: Bool = true, masked: Bool = true, rsv1: Bool = false) {
        guard let context else { return }
        let frame = WebSocketFrame(
            fin: fin, rsv1: rsv1, opcode: opcode, maskKey: masked ? .random() : nil, data: ByteBuffer(bytes: bytes))
        context.writeAndFlush(wrapOutboundOut(frame), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
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

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let bytes = unwrapOutboundIn(data)
        // The raw client flushes with an empty write; an empty frame would be harmless but is left out.
        guard bytes.readableBytes > 0 else {
            promise?.succeed()
            return
        }
        context.write(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .binary, maskKey: .random(), data: bytes)), promise: promise)
    }
}
