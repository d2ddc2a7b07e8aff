import NIOCore
import NIOHTTP1
import NIOSSL
import NIOWebSocket

/// What a `RawClient` can speak MQTT over besides plain TCP.
public enum RawTransport {
    /// TLS with `configuration`, checking the broker's certificate for 127.0.0.1.
    public static func tls(_ configuration: TLSConfiguration) throws -> RawClient.Transport {
        let context = try NIOSSLContext(configuration: configuration)
        return { channel, addMQTT in
            try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: context, serverHostname: nil))
            try addMQTT()
            return channel.eventLoop.makeSucceededVoidFuture()
        }
    }

    /// A WebSocket at `path` offering `subprotocols` (over TLS with `tls`): every write of the client becomes one
    /// binary frame (see `ClientWebSocketFrames`), so a test decides how packets fall into frames by how it
    /// writes them.
    public static func webSocket(path: String = "/mqtt", subprotocols: String? = "mqtt", tls: TLSConfiguration? = nil) throws -> RawClient.Transport {
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
