import Logging
import NIOPosix
import StarlingBroker

/// An in-process Starling broker for one test, on an ephemeral 127.0.0.1 port, with loops of its own.
final class StarlingTestBroker: RunningBroker {
    private let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
    private var broker: MQTTBroker?
    private(set) var port = 0

    init() async throws {
        do {
            try await start()
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
    }

    var url: String { "mqtt://127.0.0.1:\(port)" }

    /// Starts a new broker, on the port of the previous one if there was one: its sessions start empty.
    func start() async throws {
        let configuration = BrokerConfiguration(listeners: [.init(host: "127.0.0.1", port: port)])
        let broker = MQTTBroker(configuration: configuration, eventLoopGroup: group, logger: Self.quietLogger)
        let addresses = try await broker.start()
        self.broker = broker
        port = addresses[0].port!
    }

    /// Closes every connection (0x8B to 5.0 clients) and the listener.
    func stop() async {
        guard let broker else { return }
        self.broker = nil
        await broker.shutdown()
    }

    func restart() async throws {
        await stop()
        try await start()
    }

    /// Stops the broker and its loops; the broker cannot start again.
    func shutdown() async {
        await stop()
        try? await group.shutdownGracefully()
    }

    /// Logs only what would point at a broker bug: the client tests break connections on purpose.
    static let quietLogger: Logger = {
        var logger = Logger(label: "starling-client-test")
        logger.logLevel = .error
        return logger
    }()
}
