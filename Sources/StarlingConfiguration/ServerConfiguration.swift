import Logging
import StarlingBroker

/// Everything `starling serve` runs with: the broker's configuration and the process's own settings.
public struct ServerConfiguration: Sendable {
    public var broker: BrokerConfiguration
    public var logLevel: Logger.Level = .info
    /// Event loop threads; 0 means one per core.
    public var threads: Int = 0
    /// What the configuration did not stop the broker for but an operator should hear about.
    public var warnings: [String] = []

    public init(broker: BrokerConfiguration = BrokerConfiguration(listeners: [])) {
        self.broker = broker
    }
}
