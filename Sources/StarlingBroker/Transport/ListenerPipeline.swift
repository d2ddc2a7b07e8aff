import Atomics
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL
import NIOWebSocket
import StarlingWebSocket

/// Sets up each connection accepted on one listener: PROXY header, TLS, WebSocket upgrade, then MQTT, each
/// stage installing the next once it is done and removing itself, so that a connection that has reached MQTT
/// carries nothing but what its transport needs.
struct ListenerPipeline: Sendable {
    let listener: BrokerConfiguration.Listener
    let core: BrokerCore
    let sslContext: NIOSSLContext?
    /// The listener's place in the configuration.
    let index: Int
    /// Connections open on this listener, when it has a limit of its own.
    let openConnections: ManagedAtomic<Int>?

    init(listener: BrokerConfiguration.Listener, index: Int, core: BrokerCore) throws {
        self.listener = listener
        self.index = index
        self.core = core
        self.sslContext = try listener.transport.tlsConfiguration.map(NIOSSLContext.init(configuration:))
        self.openConnections = listener.maximumConnections.map { _ in ManagedAtomic(0) }
    }

    private var hasHandshake: Bool {
        listener.proxyProtocol || sslContext != nil || listener.transport.webSocketPath != nil
    }

    func initialize(_ channel: any Channel) -> EventLoopFuture<Void> {
        #if DEBUG
        core.liveObjects.track(channel, as: .channel)
        #endif
        core.acceptedConnections.wrappingIncrement(ordering: .relaxed)
        return channel.eventLoop.makeCompletedFuture {
            if let openConnections, let maximum = listener.maximumConnections {
                guard openConnections.loadThenWrappingIncrement(ordering: .relaxed) < maximum else {
                    openConnections.wrappingDecrement(ordering: .relaxed)
                    core.logger.warning("refusing connection: listener's maximum connections reached", metadata: [
                        "listener": "\(listener.host):\(listener.port)", "maximum": "\(maximum)",
                    ])
                    channel.close(promise: nil)
                    return
                }
                channel.closeFuture.whenComplete { _ in openConnections.wrappingDecrement(ordering: .relaxed) }
            }
            let sync = channel.pipeline.syncOperations
            if hasHandshake {
                try sync.addHandler(HandshakeTimeoutHandler(timeout: core.configuration.limits.connectTimeout, logger: core.logger))
            }
            if listener.proxyProtocol {
                try sync.addHandler(ProxyProtocolHandler(logger: core.logger) { context, source in
                    try afterProxyHeader(context.channel, remoteAddress: source ?? context.channel.remoteAddress)
                })
            } else {
                try afterProxyHeader(channel, remoteAddress: channel.remoteAddress)
            }
        }
    }

    private func afterProxyHeader(_ channel: any Channel, remoteAddress: SocketAddress?) throws {
        guard let sslContext else {
            try afterTLS(channel, remoteAddress: remoteAddress, certificate: nil)
            return
        }
        let sync = channel.pipeline.syncOperations
        try sync.addHandler(NIOSSLServerHandler(context: sslContext))
        try sync.addHandler(TLSClientCertificateHandler(logger: core.logger) { context, certificate in
            try afterTLS(context.channel, remoteAddress: remoteAddress, certificate: certificate)
        })
    }

    private func afterTLS(_ channel: any Channel, remoteAddress: SocketAddress?, certificate: ClientCertificate?) throws {
        guard let path = listener.transport.webSocketPath else {
            try addMQTT(channel, remoteAddress: remoteAddress, certificate: certificate)
            return
        }
        guard let loop = core.loop(for: channel.eventLoop) else { throw BrokerError.foreignEventLoop }
        let refusal = WebSocketUpgradeRefusal()
        let upgrader = NIOWebSocketServerUpgrader(
            maxFrameSize: webSocketMaximumFrameSize,
            automaticErrorHandling: true,
            shouldUpgrade: { channel, head in
                guard Self.path(of: head.uri) == path else { return channel.eventLoop.makeSucceededFuture(nil) }
                var headers = HTTPHeaders()
                // Browsers drop a connection whose answer names no subprotocol of those offered.
                if let subprotocol = Self.subprotocol(offered: head.headers["Sec-WebSocket-Protocol"]) {
                    headers.add(name: "Sec-WebSocket-Protocol", value: subprotocol)
                }
                return channel.eventLoop.makeSucceededFuture(headers)
            },
            upgradePipelineHandler: { [self] channel, _ in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    if let context = try? sync.context(handlerType: WebSocketUpgradeRefusal.self) {
                        sync.removeHandler(context: context, promise: nil)
                    }
                    if let context = try? sync.context(handlerType: UpgradeHeadLimitHandler.self) {
                        sync.removeHandler(context: context, promise: nil)
                    }
                    try sync.addHandler(WebSocketStreamHandler(role: .server))
                    try addMQTT(channel, remoteAddress: remoteAddress, certificate: certificate)
                }
            })
        let sync = channel.pipeline.syncOperations
        try sync.addHandler(UpgradeHeadLimitHandler(maximum: core.configuration.limits.maximumUpgradeHeadBytes, core: core, loop: loop))
        try sync.configureHTTPServerPipeline(withServerUpgrade: (upgraders: [upgrader], completionHandler: { _ in }))
        try sync.addHandler(refusal)
    }

    private func addMQTT(_ channel: any Channel, remoteAddress: SocketAddress?, certificate: ClientCertificate?) throws {
        guard let loop = core.loop(for: channel.eventLoop) else { throw BrokerError.foreignEventLoop }
        let sync = channel.pipeline.syncOperations
        if hasHandshake, let context = try? sync.context(handlerType: HandshakeTimeoutHandler.self) {
            sync.removeHandler(context: context, promise: nil)
        }
        try sync.addHandler(ConnectionHandler(
            core: core, loop: loop, remoteAddress: remoteAddress, clientCertificate: certificate,
            userNameFromCertificate: listener.userNameFromCertificate,
            // With TLS or WebSocket the pipeline holds state of its own; only a bare socket can be picked up again.
            mayHibernate: sslContext == nil && listener.transport.webSocketPath == nil,
            listenerConnections: openConnections, listenerIndex: index))
    }

    /// Room for the largest packet the broker accepts in one frame, whatever else the frame carries.
    private var webSocketMaximumFrameSize: Int {
        min(Int(UInt32.max), max(core.configuration.limits.maximumPacketSize, 1 << 16) + (1 << 14))
    }

    static func path(of uri: String) -> Substring {
        uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
    }

    /// The subprotocol to answer with: `mqtt` (3.1.1 and 5.0, MQTT-6.0.0-3/-4) or `mqttv3.1`, the name 3.1 clients use.
    static func subprotocol(offered: [String]) -> String? {
        let names = offered.flatMap { $0.split(separator: ",") }.map { $0.trimmingSpaces() }
        return names.first { $0 == "mqtt" || $0 == "mqttv3.1" }.map(String.init)
    }
}

extension Substring {
    fileprivate func trimmingSpaces() -> Substring {
        let isContent = { (character: Character) in character != " " && character != "\t" }
        guard let first = firstIndex(where: isContent), let last = lastIndex(where: isContent) else { return "" }
        return self[first...last]
    }
}
