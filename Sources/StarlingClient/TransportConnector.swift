import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSOCKS
import NIOSSL
import NIOWebSocket
import StarlingWebSocket

/// Opens the byte stream MQTT runs over: TCP, optionally TLS, optionally a WebSocket on top, and then lets
/// `addMQTTHandlers` complete the pipeline.
struct TransportConnector: Sendable {
    let configuration: MQTTClientConfiguration
    let sslContext: NIOSSLContext?
    /// Where the socket is bound before it connects (`localAddress`).
    let localAddress: SocketAddress?

    init(configuration: MQTTClientConfiguration) throws {
        self.configuration = configuration
        if let address = configuration.localAddress {
            do {
                localAddress = try SocketAddress.makeAddressResolvingHost(address, port: 0)
            } catch {
                throw MQTTClientError(.invalidConfiguration, "cannot bind to the local address '\(address)'", underlying: error)
            }
        } else {
            localAddress = nil
        }
        if let tls = configuration.tls {
            do {
                sslContext = try NIOSSLContext(configuration: tls)
            } catch {
                throw MQTTClientError(.invalidConfiguration, "cannot set up TLS", underlying: error)
            }
        } else {
            sslContext = nil
        }
    }

    /// Connects, and succeeds once the stream is ready for MQTT (after the WebSocket upgrade, if any).
    func connect(
        on eventLoop: any EventLoop, addMQTTHandlers: @escaping @Sendable (any Channel) throws -> Void
    ) -> EventLoopFuture<any Channel> {
        let ready = eventLoop.makePromise(of: Void.self)
        let configuration = configuration
        let sslContext = sslContext
        let serverName = configuration.tlsServerName ?? (Self.isIPAddress(configuration.host) ? nil : configuration.host)
        var bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(configuration.connectTimeout)
        if configuration.unixSocketPath == nil {
            bootstrap = bootstrap.channelOption(.socketOption(.tcp_nodelay), value: 1)
        }
        if let localAddress { bootstrap = bootstrap.bind(to: localAddress) }
        bootstrap = bootstrap
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if configuration.socksProxy != nil {
                        // Ahead of everything else: what the handlers behind it write waits until the proxy has
                        // connected to the broker.
                        let target = SOCKSAddress.domain(configuration.host, port: configuration.port)
                        try channel.pipeline.syncOperations.addHandler(SOCKSClientHandler(targetAddress: target))
                    }
                    if let sslContext {
                        let handler = try NIOSSLClientHandler(context: sslContext, serverHostname: serverName)
                        try channel.pipeline.syncOperations.addHandler(handler)
                    }
                    switch configuration.transport {
                    case .tcp:
                        try addMQTTHandlers(channel)
                    case .webSocket(let path):
                        try Self.addWebSocketUpgrade(
                            to: channel, configuration: configuration, path: path, ready: ready,
                            addMQTTHandlers: addMQTTHandlers)
                    }
                }
            }
        let connected: EventLoopFuture<any Channel>
        if let path = configuration.unixSocketPath {
            connected = bootstrap.connect(unixDomainSocketPath: path)
        } else if let proxy = configuration.socksProxy {
            connected = bootstrap.connect(host: proxy.host, port: proxy.port)
        } else {
            connected = bootstrap.connect(host: configuration.host, port: configuration.port)
        }
        connected.whenComplete { result in
            switch result {
            case .success:
                if case .tcp = configuration.transport { ready.succeed() }
            case .failure(let error):
                ready.fail(error)
            }
        }
        return ready.futureResult.flatMap { connected }.flatMapErrorThrowing { error in
            if let error = error as? MQTTClientError { throw error }
            let target = configuration.unixSocketPath
                ?? configuration.socksProxy.map { "\(configuration.host):\(configuration.port) through the proxy \($0.host):\($0.port)" }
                ?? "\(configuration.host):\(configuration.port)"
            throw MQTTClientError(.connectFailed, "could not connect to \(target)", underlying: error)
        }
    }

    private static func addWebSocketUpgrade(
        to channel: any Channel, configuration: MQTTClientConfiguration, path: String, ready: EventLoopPromise<Void>,
        addMQTTHandlers: @escaping @Sendable (any Channel) throws -> Void
    ) throws {
        let maximumFrame = Int(configuration.maximumPacketSize ?? 268_435_460)
        let upgrader = NIOTypedWebSocketClientUpgrader<Bool>(maxFrameSize: min(maximumFrame, 1 << 28)) { channel, _ in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(WebSocketStreamHandler(role: .client))
                try addMQTTHandlers(channel)
                return true
            }
        }
        var headers = HTTPHeaders()
        let defaultPort = MQTTClientConfiguration.defaultPort(transport: configuration.transport, tls: configuration.tls != nil)
        let host = configuration.host.contains(":") ? "[\(configuration.host)]" : configuration.host
        headers.add(name: "Host", value: configuration.port == defaultPort ? host : "\(host):\(configuration.port)")
        // MQTT-6.0.0-3: the client offers "mqtt" as the WebSocket subprotocol.
        headers.add(name: "Sec-WebSocket-Protocol", value: "mqtt")
        let request = HTTPRequestHead(version: .http1_1, method: .GET, uri: path.isEmpty ? "/" : path, headers: headers)
        let upgrade = NIOTypedHTTPClientUpgradeConfiguration<Bool>(
            upgradeRequestHead: request, upgraders: [upgrader],
            notUpgradingCompletionHandler: { channel in channel.eventLoop.makeSucceededFuture(false) })
        let negotiated = try channel.pipeline.syncOperations.configureUpgradableHTTPClientPipeline(
            configuration: .init(upgradeConfiguration: upgrade))
        negotiated.whenComplete { result in
            switch result {
            case .success(true):
                ready.succeed()
                // The upgrade handler refuses writes until it has finished; it has once this turn of the loop ends.
                channel.eventLoop.execute {
                    channel.pipeline.fireUserInboundEventTriggered(MQTTConnectionHandler.TransportReady())
                }
            case .success(false):
                ready.fail(MQTTClientError(.connectFailed, "the server refused the WebSocket upgrade at '\(path)'"))
                channel.close(promise: nil)
            case .failure(let error):
                ready.fail(MQTTClientError(.connectFailed, "WebSocket upgrade failed", underlying: error))
                channel.close(promise: nil)
            }
        }
    }

    static func isIPAddress(_ host: String) -> Bool {
        (try? SocketAddress(ipAddress: host, port: 0)) != nil
    }
}
