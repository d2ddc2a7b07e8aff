/// A node of a cluster as another node (or itself) sees it: what `ClusterNode.nodes()` answers, and what the
/// operations listener shows in `/metrics` and `GET /api/v1/nodes`.
public struct ClusterMember: Sendable, Hashable {
    public var name: String
    /// Where its MQTT listener is reached, `host:port`.
    public var address: String
    public var isAlive: Bool
    /// Whether it is the node answering.
    public var isSelf: Bool
    /// Whether the answering node's link to it is connected.
    public var isLinked: Bool
    /// Topic filters its clients subscribe to.
    public var routes: Int
    /// Messages it forwarded to the node answering since that node started.
    public var forwardedFrom: UInt64
    /// Times the answering node's link from it stopped reading because the answering node's routing fell behind
    /// (`ClusterConfiguration.linkInboxLimit` messages waiting).
    public var heldBack: UInt64

    public init(
        name: String, address: String, isAlive: Bool, isSelf: Bool, isLinked: Bool, routes: Int, forwardedFrom: UInt64, heldBack: UInt64 = 0
    ) {
        self.name = name
        self.address = address
        self.isAlive = isAlive
        self.isSelf = isSelf
        self.isLinked = isLinked
        self.routes = routes
        self.forwardedFrom = forwardedFrom
        self.heldBack = heldBack
    }
}
