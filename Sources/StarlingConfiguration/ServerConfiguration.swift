import Logging
import NIOSSL
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
    /// A `postgres://` URL: sessions and retained messages kept in that PostgreSQL database instead of
    /// `dataDirectory`.
    public var storeURL: String?
    /// `every-ack` or `periodic`; with `periodic`, commits every `durabilityInterval` milliseconds.
    public var durabilityMode = "every-ack"
    public var durabilityInterval: Int = 100
    /// Authentication, access control and the client limits that `starling serve` builds into the broker's
    /// configuration (see its SecurityOptions): files are read there, rates become token buckets there.
    public var passwordFile: String?
    public var aclFile: String?
    public var allowAnonymous = false
    /// Seconds between checks of the password and ACL files for changes; 0 reloads on SIGHUP only.
    public var reloadInterval: Double? = 0
    public var maximumPayloadSize: Int?
    public var publishRate: Double?
    public var publishBandwidth: Double?
    public var connectionRate: Double?
    public var failedLogins: Int?
    /// Authenticator decisions under way at once, in all and per IP address; 0 for no bound.
    public var loginsInProgress: Int?
    public var loginsInProgressPerAddress: Int?
    /// Mosquitto's `use_username_as_clientid`: the user name is the client identifier.
    public var userNameAsClientIdentifier = false
    /// Client identifiers must be the user name or start with it and `clientIdentifierSeparator`.
    public var clientIdentifierPrefixedByUserName = false
    public var clientIdentifierSeparator = "-"
    /// The operations listener (metrics, admin API, dashboard); off while `http.port` is nil.
    public var http = HTTPSettings()
    /// The `cluster` section: the broker as one node of several on one PostgreSQL database; off while `url` is nil.
    public var cluster = ClusterSettings()
    /// Bridges to other brokers, from the `bridges` section of the file.
    public var bridges: [NamedBridge] = []
    /// What the configuration did not stop the broker for but an operator should hear about.
    public var warnings: [String] = []

    public init(broker: BrokerConfiguration = BrokerConfiguration(listeners: [])) {
        self.broker = broker
    }

    /// The `cluster` section.
    public struct ClusterSettings: Sendable {
        /// The `postgres://` URL of the database the nodes share; nil: no cluster.
        public var url: String?
        /// This node's name, unique in the cluster; the host name when not given.
        public var node: String?
        /// `host:port` where the other nodes reach this node's MQTT listener; the first plain listener's when not
        /// given (127.0.0.1 for one on every address).
        public var address: String?
        /// Seconds without a heartbeat after which a node is taken as gone.
        public var nodeTimeout: Double? = 10
    }

    /// The `http` section: where the operations listener listens and who may use it.
    public struct HTTPSettings: Sendable {
        /// 127.0.0.1 unless told otherwise.
        public var host = "127.0.0.1"
        /// Nil keeps the listener off.
        public var port: Int?
        /// The bearer token requests must carry.
        public var token: String?
        /// Whether users of the password file may sign in with HTTP Basic credentials.
        public var usersFromPasswordFile = false
        /// HTTPS with this certificate chain and key (PEM files).
        public var tlsCertificate: String?
        public var tlsKey: String?
        /// Made from `tlsCertificate` and `tlsKey` once both are read.
        public var tls: TLSConfiguration?
    }
}
