import Logging
import NIOCore

/// Bounds what a client on a WebSocket listener may send before its upgrade is done: the HTTP request line and
/// headers, and whatever follows them unasked. Beyond `maximum` bytes the client is answered 431 (Request Header
/// Fields Too Large) and the connection closed. Sits in front of the HTTP decoder, which bounds single headers
/// but not the request line, and is removed once the connection is upgraded.
final class UpgradeHeadLimitHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    private let maximum: Int
    private let core: BrokerCore
    private let loop: BrokerLoop
    private var received = 0
    /// The HTTP layer has begun a response (a refusal of a request for something else): no 431 goes after it.
    private var responded = false
    private var refused = false

    init(maximum: Int, core: BrokerCore, loop: BrokerLoop) {
        self.maximum = maximum
        self.core = core
        self.loop = loop
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !refused else { return }
        received += unwrapInboundIn(data).readableBytes
        guard received > maximum else {
            context.fireChannelRead(data)
            return
        }
        refused = true
        loop.counters.upgradeHeadsRefused &+= 1
        core.upgradeHeadLimitLog.logRarely(core.logger, "closing connection whose upgrade request is too large", metadata: [
            "peer": "\(context.channel.remoteAddress.map { "\($0)" } ?? "unknown")", "maximum_upgrade_head_bytes": "\(maximum)",
        ])
        let channel = context.channel
        let closed: EventLoopFuture<Void>
        if responded {
            closed = context.eventLoop.makeSucceededVoidFuture()
        } else {
            closed = context.writeAndFlush(wrapOutboundOut(.byteBuffer(ByteBuffer(string: Self.response))))
        }
        // Only the sending side closes at once: a socket closed with unread input is reset, and the reset can
        // destroy the answer before the client reads it. What the client still sends is discarded meanwhile.
        closed.assumeIsolated().whenComplete { _ in
            context.close(mode: .output).whenFailure { _ in channel.close(promise: nil) }
        }
        context.eventLoop.scheduleTask(in: .seconds(2)) { channel.close(promise: nil) }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        responded = true
        context.write(data, promise: promise)
    }

    static let response = "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
}
