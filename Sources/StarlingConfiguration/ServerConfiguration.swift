import Logging
import StarlingBroker

/// Everything `starling serve` runs with: the broker's configuration and the process's own settings.
public struct ServerConfiguration: Sendable {
    public var broker: BrokerConfiguration
    public var logLevel: Logger.Level = .info
    /// Event loop threads; 0 means one per core.
    public var threads: Int = 0
    /// The directory of the database (`starling.db`) that keeps persistent sessions and retained messages.
    public var dataDirectory = "./data"
    /// Sessions and retained messages in memory only, lost when the broker stops.
    public var memory = false
    /// `every-ack` or `periodic`; with `periodic`, commits every `durabilityInterval` milliseconds.
    public var durabilityMode = "every-ack"
    public var durabilityInterval: Int = 100
    /// What the configuration did not stop the broker for but an operator should hear about.
    public var warnings: [String] = []

    public init(broker: BrokerConfiguration = BrokerConfiguration(listeners: [])) {
        self.broker = broker
    }
}
