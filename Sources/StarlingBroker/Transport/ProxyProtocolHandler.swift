import Logging
import NIOCore

/// Reads the PROXY protocol header (version 1 or 2, https://www.haproxy.org/download/2.9/doc/proxy-protocol.txt)
/// that a load balancer sends before the client's own bytes, hands the client's address on and removes itself.
///
/// Whatever follows the header in the same read is passed on to the handlers `onHeader` installed. A connection
/// that does not start with a valid header is closed: on a listener configured for it, a client that can reach
/// the broker directly could otherwise claim any address.
final class ProxyProtocolHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    /// Installs the rest of the pipeline for the client at this address (nil: the header says the connection
    /// is the proxy's own, such as a health check, so the socket's address stays).
    private let onHeader: (ChannelHandlerContext, SocketAddress?) throws -> Void
    private let logger: Logger
    private var buffered: ByteBuffer?
    private var done = false

    init(logger: Logger, onHeader: @escaping (ChannelHandlerContext, SocketAddress?) throws -> Void) {
        self.logger = logger
        self.onHeader = onHeader
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !done else {
            context.fireChannelRead(data)
            return
        }
        var incoming = unwrapInboundIn(data)
        if buffered == nil {
            buffered = incoming
        } else {
            buffered!.writeBuffer(&incoming)
        }
        let header: ProxyHeader?
        do {
            header = try ProxyHeader.parse(&buffered!)
        } catch {
            logger.info("closing connection with a bad PROXY protocol header", metadata: [
                "peer": "\(context.channel.remoteAddress.map { "\($0)" } ?? "unknown")", "error": "\(error)",
            ])
            done = true
            buffered = nil
            context.close(promise: nil)
            return
        }
        guard let header else { return }
        done = true
        let rest = buffered!
        buffered = nil
        do {
            try onHeader(context, header.source)
        } catch {
            logger.error("could not set up the connection", metadata: ["error": "\(error)"])
            context.close(promise: nil)
            return
        }
        if rest.readableBytes > 0 {
            context.fireChannelRead(wrapInboundOut(rest))
        }
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}
