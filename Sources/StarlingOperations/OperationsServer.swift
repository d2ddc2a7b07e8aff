import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore
import NIOSSL
import Prometheus
import ServiceLifecycle
import StarlingBroker

/// The broker's operations listener, a swift-service-lifecycle `Service` to run beside the broker: Prometheus
/// metrics at `/metrics`, `/healthz` and `/readyz`, the admin API under `/api/v1` and the dashboard at `/`.
///
/// ```swift
/// let metrics = OperationsMetrics()
/// let broker = MQTTBroker(hooks: BrokerHooks(metrics: metrics.factory))
/// let operations = OperationsServer(broker: broker, configuration: OperationsConfiguration(port: 8080), metrics: metrics)
/// try await ServiceGroup(services: [broker, operations], logger: logger).run()
/// ```
public struct OperationsServer: Service {
    public let broker: MQTTBroker
    public let configuration: OperationsConfiguration
    public let metrics: OperationsMetrics
    private let logger: Logger
    private let onServerRunning: @Sendable (SocketAddress) async -> Void
    private let bridges: @Sendable () -> [BridgeStatus]
    private let nodes: (@Sendable () -> [ClusterMember])?

    /// - Parameters:
    ///   - bridges: the state of the broker's bridges to other brokers, asked at each scrape and request.
    ///   - nodes: the cluster's nodes as this one sees them, for a broker that is a node of one.
    ///   - onServerRunning: called once the listener is bound, with its address (useful with port 0).
    public init(
        broker: MQTTBroker, configuration: OperationsConfiguration, metrics: OperationsMetrics = OperationsMetrics(),
        bridges: @escaping @Sendable () -> [BridgeStatus] = { [] }, nodes: (@Sendable () -> [ClusterMember])? = nil,
        logger: Logger = Logger(label: "starling.http"), onServerRunning: @escaping @Sendable (SocketAddress) async -> Void = { _ in }
    ) {
        self.broker = broker
        self.bridges = bridges
        self.nodes = nodes
        self.configuration = configuration
        self.metrics = metrics
        self.logger = logger
        self.onServerRunning = onServerRunning
    }

    /// Serves until a graceful shutdown is requested or the task is cancelled. Throws
    /// `OperationsConfigurationError.credentialsRequired` for a listener beyond loopback without credentials,
    /// and what binding or TLS throws.
    public func run() async throws {
        if let problem = configuration.problem { throw problem }
        let history = StatsHistory(length: configuration.historyLength)
        let router = makeRouter(history: history)
        let server: HTTPServerBuilder = try configuration.tls.map { try .tls(.http1(), tlsConfiguration: $0) } ?? .http1()
        let logger = self.logger
        let scheme = configuration.tls == nil ? "http" : "https"
        let onServerRunning = self.onServerRunning
        let application = Application(
            router: router, server: server,
            configuration: ApplicationConfiguration(address: .hostname(configuration.host, port: configuration.port), serverName: "Starling"),
            onServerRunning: { channel in
                if let address = channel.localAddress {
                    logger.notice("operations listening", metadata: ["address": "\(scheme)://\(configuration.host):\(address.port ?? configuration.port)"])
                    await onServerRunning(address)
                }
            },
            logger: logger)
        let url = "\(scheme)://\(configuration.host):\(configuration.port)"
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask {
                do {
                    try await application.run()
                } catch let error as IOError {
                    // Binding is the one I/O the server does itself before serving.
                    throw ListenerBindError(listener: url, underlying: error)
                }
            }
            group.addTask { await sample(into: history) }
        }
    }

    private func sample(into history: StatsHistory) async {
        let broker = self.broker
        let interval = configuration.historyInterval
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                if broker.isServing, let statistics = try? await broker.statistics() {
                    history.append(StatsSample(
                        time: Date().timeIntervalSince1970, connections: statistics.connectedClients,
                        messagesReceived: statistics.messagesReceived, messagesSent: statistics.messagesSent,
                        messagesDropped: statistics.messagesDropped))
                }
                try await Task.sleep(for: interval)
            }
        }
    }

    private func makeRouter(history: StatsHistory) -> Router<OperationsRequestContext> {
        let broker = self.broker
        let registry = metrics.registry
        let exporter = BrokerMetricsExporter(registry: registry, listeners: broker.configuration.listeners.map(\.url), version: MQTTBroker.version)
        let assets = DashboardAssets(logger: logger)
        let router = Router(context: OperationsRequestContext.self)
        router.add(middleware: AdminErrorMiddleware())
        router.add(middleware: CredentialsMiddleware(token: configuration.token, users: configuration.users))
        router.add(middleware: MetricsMiddleware())

        router.get("healthz") { _, _ in
            guard broker.isServing else { throw AdminError(.serviceUnavailable, "not serving: starting or shutting down") }
            return Self.json(#"{"status":"ok"}"#)
        }
        router.get("readyz") { _, _ in
            guard broker.isServing else { throw AdminError(.serviceUnavailable, "not serving: starting or shutting down") }
            let statistics = try await broker.statistics()
            guard statistics.connectedClients < broker.configuration.limits.maximumConnections else {
                throw AdminError(.serviceUnavailable, "at its maximum of connections")
            }
            return Self.json(#"{"status":"ready"}"#)
        }
        let bridges = self.bridges
        let nodes = self.nodes
        router.get("metrics") { _, _ in
            exporter.update(try await broker.statistics())
            exporter.update(bridges())
            if let nodes { exporter.update(nodes()) }
            var bytes: [UInt8] = []
            registry.emit(into: &bytes)
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
        }
        router.get("/") { _, _ in try Self.serve(assets["dashboard/index.html"]) }
        router.get("assets/{name}") { _, context in try Self.serve(assets["dashboard/" + (context.parameters.get("name") ?? "")]) }
        let api = router.group("api/v1")
        api.get("openapi.json") { _, _ in try Self.serve(assets["openapi.json"]) }
        AdminAPI(
            broker: broker, bridges: bridges, nodes: nodes, history: history, historyInterval: configuration.historyInterval,
            maximumBodyBytes: configuration.maximumBodyBytes)
            .add(to: api)
        AdminAPI.refuseUndeclaredMethods(on: api)
        return router
    }

    private static func serve(_ asset: DashboardAssets.Asset?) throws -> Response {
        guard let asset else { throw AdminError(.notFound, "no such file") }
        return Response(
            status: .ok, headers: [.contentType: asset.contentType, .cacheControl: "no-cache"],
            body: .init(byteBuffer: ByteBuffer(bytes: asset.bytes)))
    }

    private static func json(_ text: String) -> Response {
        Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
