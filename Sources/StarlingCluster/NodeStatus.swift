/// A node of the cluster as this node sees it.
public struct NodeStatus: Sendable, Hashable, Codable {
    public var name: String
    /// Where its MQTT listener is reached, `host:port`.
    public var address: String
    /// Heard from within the node timeout.
    public var alive: Bool
    /// Whether this is the node answering.
    public var isSelf: Bool
    /// Whether this node's link to it is connected (always false for itself).
    public var linked: Bool
    /// How many topic filters its clients subscribe to.
    public var routes: Int
    /// Messages forwarded to this node from it since this node started.
    public var forwardedFrom: UInt64

    public init(name: String, address: String, alive: Bool, isSelf: Bool, linked: Bool, routes: Int, forwardedFrom: UInt64) {
        self.name = name
        self.address = address
        self.alive = alive
        self.isSelf = isSelf
        self.linked = linked
        self.routes = routes
        self.forwardedFrom = forwardedFrom
    }
}
