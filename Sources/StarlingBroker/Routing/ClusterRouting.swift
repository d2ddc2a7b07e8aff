/// Routing beyond the process, as a cluster sees it (given as `BrokerHooks.cluster`).
///
/// Each other node of a cluster keeps a link to this broker: a client whose identifier is `linkPrefix` and its node
/// name, subscribed to `#` with a persistent session. The broker delivers a message to a link's session only when
/// the link's node has a subscriber for its topic (`forwards`), and never a message that came from another node
/// (`MQTTBroker.publish(_:fromClusterNode:)`): each message crosses at most one link, from the node it was
/// published on to each node that wants it. Identifiers starting with `linkPrefix` are the cluster's: a client
/// that uses one is refused unless `admitsLink` lets it in, and a link is then under no ACL or publish limit.
public protocol ClusterRouting: Sendable {
    /// Whether a message published on this node to `topic` goes over the link `linkClientIdentifier`; `retain`
    /// is its RETAIN flag as published (every node keeps the retained messages).
    func forwards(topic: String, retain: Bool, toLink linkClientIdentifier: String) -> Bool
    /// Whether a client connecting as `linkClientIdentifier` with these credentials is another node's link.
    func admitsLink(clientIdentifier: String, userName: String?, password: [UInt8]?) -> Bool
    /// Makes this node the one that holds the session of `clientIdentifier`, before a CONNECT claims it here:
    /// when another node holds it, that node hands it over (`MQTTBroker.handOver`) and this one adopts it
    /// (`MQTTBroker.adopt`) before answering. Called off the event loops; the CONNECT waits for the answer.
    func claim(clientIdentifier: String, cleanStart: Bool) async -> ClusterClaim
}

/// What a cluster answers a CONNECT's claim on a session.
public enum ClusterClaim: Sendable, Hashable {
    /// The session, if there is one, is on this node now.
    case granted
    /// The CONNECT is refused with `reason` (0x88 Server unavailable, say, while the cluster cannot be asked).
    case refused(ReasonCode, String)
}

/// The client identifiers of cluster links start with this.
public let clusterLinkPrefix = "$cluster/"

/// The user property by which a message sent over a cluster link carries the sequence number of its delivery to
/// the link's session, for the receiving node to record it taken (`StoreChange.clusterDeliveryTaken`).
public let clusterSequenceProperty = "$cluster/sequence"

extension String {
    /// Whether this is a cluster link's client identifier; the first byte alone answers for nearly every client.
    public var isClusterLink: Bool {
        utf8.first == UInt8(ascii: "$") && hasPrefix(clusterLinkPrefix)
    }
}
