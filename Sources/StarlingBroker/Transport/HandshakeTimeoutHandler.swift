import Logging
import NIOCore

/// Closes a connection that has not finished what comes before MQTT (a PROXY header, the TLS handshake, the
/// WebSocket upgrade) in time; removed once the MQTT connection handler takes over, which has its own timeout
/// for CONNECT. Plain TCP listeners do without it.
final class HandshakeTimeoutHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    private let timeout: TimeAmount
    private let logger: Logger
    private var scheduled: Scheduled<Void>?

    init(timeout: TimeAmount, logger: Logger) {
        self.timeout = timeout
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { schedule(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        schedule(context: context)
        context.fireChannelActive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        scheduled?.cancel()
        scheduled = nil
    }

    private func schedule(context: ChannelHandlerContext) {
        guard scheduled == nil else { return }
        scheduled = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [logger] in
            logger.info("closing connection that did not finish its handshake in time", metadata: [
                "peer": "\(context.channel.remoteAddress.map { "\($0)" } ?? "unknown")",
            ])
            context.close(promise: nil)
        }
    }
}
