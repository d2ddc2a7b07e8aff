import Logging
import NIOCore
import NIOSSL
import NIOTLS

/// Waits for the TLS handshake of a connection, then hands on the client certificate it verified (if any) and
/// removes itself. No application data is decrypted before the handshake completes, so nothing passes it.
final class TLSClientCertificateHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    /// Installs the rest of the pipeline for a client that presented this certificate.
    private let onHandshake: (ChannelHandlerContext, ClientCertificate?) throws -> Void
    private let logger: Logger

    init(logger: Logger, onHandshake: @escaping (ChannelHandlerContext, ClientCertificate?) throws -> Void) {
        self.logger = logger
        self.onHandshake = onHandshake
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard let tlsEvent = event as? TLSUserEvent, case .handshakeCompleted = tlsEvent else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        do {
            let certificate = try context.pipeline.syncOperations.nioSSL_peerCertificate().map(ClientCertificate.init)
            try onHandshake(context, certificate)
        } catch {
            logger.error("could not set up the connection", metadata: ["error": "\(error)"])
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A refused certificate, a protocol version below the minimum, a client speaking plain MQTT to TLS...
        logger.info("TLS handshake failed", metadata: [
            "peer": "\(context.channel.remoteAddress.map { "\($0)" } ?? "unknown")", "error": "\(error)",
        ])
        context.close(promise: nil)
    }
}
