import ArgumentParser
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import StarlingBroker

/// `starling` / `starling serve`: runs the broker.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the broker (the default when no subcommand is given)."
    )

    @Option(name: .long, help: "Address to listen on.")
    var host = "0.0.0.0"

    @Option(name: .long, help: "TCP port to listen on.")
    var port = 1883

    @Option(name: .long, help: "Largest packet accepted from a client, in bytes.")
    var maxPacketSize = BrokerConfiguration.Limits().maximumPacketSize

    @Option(name: .long, help: "Unacknowledged QoS 1/2 messages in flight to each client.")
    var maxInflight = BrokerConfiguration.Limits().maximumInflight

    @Option(name: .long, help: "Messages queued per session beyond the inflight window or while offline.")
    var maxQueued = BrokerConfiguration.Limits().maximumQueuedMessages

    @Option(name: .long, help: "Concurrent client connections.")
    var maxConnections = BrokerConfiguration.Limits().maximumConnections

    @Option(name: .long, help: "Bytes in a topic name or filter.")
    var maxTopicLength = BrokerConfiguration.Limits().maximumTopicLength

    @Option(name: .long, help: "Levels in a topic name or filter.")
    var maxTopicLevels = BrokerConfiguration.Limits().maximumTopicLevels

    @Option(name: .long, help: "Subscriptions per client.")
    var maxSubscriptions = BrokerConfiguration.Limits().maximumSubscriptionsPerClient

    @Option(name: .long, help: "Longest keep alive accepted, in seconds (5.0 clients are told; 3.1.1 clients asking for more are refused).")
    var maxKeepalive = BrokerConfiguration.Limits().maximumKeepAlive

    @Option(name: .long, help: "Receive Maximum announced to 5.0 clients.")
    var receiveMaximum = BrokerConfiguration.Limits().receiveMaximum

    @Option(name: .long, help: "Topic Alias Maximum announced to 5.0 clients (0 disables inbound aliases).")
    var topicAliasMaximum = BrokerConfiguration.Limits().topicAliasMaximum

    @Option(name: .long, help: "Bytes buffered for a client before QoS 0 messages to it are dropped.")
    var maxOutboundBytes = BrokerConfiguration.Limits().maximumOutboundBytes

    @Option(name: .long, help: "Seconds a connection may go without sending CONNECT.")
    var connectTimeout = 10

    @Option(name: .long, help: "Seconds a client may leave its socket unread before it is disconnected.")
    var drainTimeout = 60

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel = "info"

    @Option(name: .long, help: "Event loop threads (default: one per core).")
    var threads = System.coreCount

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "starling")
        var configuration = BrokerConfiguration(listeners: [.init(host: host, port: port)])
        configuration.limits.maximumPacketSize = maxPacketSize
        configuration.limits.maximumInflight = maxInflight
        configuration.limits.maximumQueuedMessages = maxQueued
        configuration.limits.maximumConnections = maxConnections
        configuration.limits.maximumTopicLength = maxTopicLength
        configuration.limits.maximumTopicLevels = maxTopicLevels
        configuration.limits.maximumSubscriptionsPerClient = maxSubscriptions
        configuration.limits.maximumKeepAlive = maxKeepalive
        configuration.limits.receiveMaximum = receiveMaximum
        configuration.limits.topicAliasMaximum = topicAliasMaximum
        configuration.limits.maximumOutboundBytes = maxOutboundBytes
        configuration.limits.connectTimeout = .seconds(Int64(connectTimeout))
        configuration.limits.drainTimeout = .seconds(Int64(drainTimeout))

        let group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, threads))
        let broker = MQTTBroker(configuration: configuration, eventLoopGroup: group, logger: logger)
        let services = ServiceGroup(
            configuration: .init(services: [broker], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await services.run()
        try await group.shutdownGracefully()
        logger.notice("stopped")
    }
}
