import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL

/// Sends bytes to a listener as they are, over TCP or TLS, and gathers what comes back until the broker closes
/// the connection: for requests no HTTP client would send.
enum RawHTTPExchange {
    struct Outcome {
        var response: String
        /// The broker closed the connection; false when `timeout` ended the wait.
        var closed: Bool
    }

    static func send(_ request: [UInt8], port: Int, tls: TLSConfiguration? = nil, timeout: TimeAmount = .seconds(20)) async throws -> Outcome {
        let received = NIOLockedValueBox<[UInt8]>([])
        let sslContext = try tls.map(NIOSSLContext.init(configuration:))
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    if let sslContext { try sync.addHandler(NIOSSLClientHandler(context: sslContext, serverHostname: nil)) }
                    try sync.addHandler(Collector(received: received))
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        let timedOut = NIOLockedValueBox(false)
        let timer = channel.eventLoop.scheduleTask(in: timeout) {
            timedOut.withLockedValue { $0 = true }
            channel.close(promise: nil)
        }
        // The broker may close before it has taken everything: the write's failure then is the expected outcome.
        channel.writeAndFlush(ByteBuffer(bytes: request), promise: nil)
        try? await channel.closeFuture.get()
        timer.cancel()
        return Outcome(
            response: String(decoding: received.withLockedValue { $0 }, as: UTF8.self),
            closed: !timedOut.withLockedValue { $0 })
    }

    private final class Collector: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer

        let received: NIOLockedValueBox<[UInt8]>

        init(received: NIOLockedValueBox<[UInt8]>) {
            self.received = received
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let bytes = unwrapInboundIn(data)
            received.withLockedValue { $0 += bytes.readableBytesView }
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            // A reset or an unclean TLS end after the answer: the connection is over either way.
            context.close(promise: nil)
        }
    }
}
