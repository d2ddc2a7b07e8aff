import StarlingPostgres

/// What a node needs to join a cluster.
public struct ClusterConfiguration: Sendable, Hashable {
    /// The PostgreSQL database the nodes share: their sessions, retained messages, members and routes.
    public var url: PostgresURL
    /// This node's name, unique in the cluster: its sessions are kept under it, and other nodes' links name it.
    public var node: String
    /// Where the other nodes reach this node's MQTT listener, `host:port`.
    public var address: String
    /// How often the node says it is alive and brings its routes and its view of the others up to date.
    public var heartbeat: Duration = .seconds(1)
    /// A node not heard from for this long is taken as gone: no message is forwarded to it until it is back.
    public var nodeTimeout: Duration = .seconds(10)
    /// Messages from one other node that may wait for this node's routing loop before the link from that node
    /// stops reading (and that node holds them, bounded by its own queue limits).
    public var linkInboxLimit: Int = 10_000

    public init(url: PostgresURL, node: String, address: String) {
        self.url = url
        self.node = node
        self.address = address
    }
}

extension ClusterConfiguration {
    /// `nodeTimeout` in seconds, as the database's intervals take it.
    var nodeTimeoutSeconds: Double {
        Double(nodeTimeout.components.seconds) + Double(nodeTimeout.components.attoseconds) / 1e18
    }
}
