/// Routing beyond the process, as a cluster sees it (given as `BrokerHooks.cluster`).
///
/// Each other node of a cluster keeps a link to this broker: a client whose identifier is `linkPrefix` and its node
/// name, subscribed to `#` with a persistent session. The broker delivers a message to a link's session only when
/// the link's node has a subscriber for its topic (`forwards`), and never a message that came from another node
/// (`MQTTBroker.publish(_:fromClusterNode:)`): each message crosses at most one link, from the node it was
/// published on to each node that wants it. Identifiers starting with `linkPrefix` are the cluster's: a client
/// that uses one is refused unless `admitsLink` lets it in, and a link is then under no ACL or publish limit.
public protocol ClusterRouting: Sendable {
    /// Whether a message published on this node to `topic` goes over the link `linkClientIdentifier`.
    func forwards(topic: String, toLink linkClientIdentifier: String) -> Bool
    /// Whether a client connecting as `linkClientIdentifier` with these credentials is another node's link.
    func admitsLink(clientIdentifier: String, userName: String?, password: [UInt8]?) -> Bool
}

/// The client identifiers of cluster links start with this.
public let clusterLinkPrefix = "$cluster/"

extension String {
    /// Whether this is a cluster link's client identifier; the first byte alone answers for nearly every client.
    var isClusterLink: Bool {
        utf8.first == UInt8(ascii: "$") && hasPrefix(clusterLinkPrefix)
    }
}
