/// Routing beyond the process, as a cluster sees it (given as `BrokerHooks.cluster`).
///
/// Each other node of a cluster keeps a link to this broker: a client whose identifier is `linkPrefix` and its node
/// name, subscribed to `#` with a persistent session. The broker delivers a message to a link's session only when
/// the link's node has a subscriber for its topic (`forwarding`), and never a message that came from another node
/// (`MQTTBroker.forward(_:fromClusterNode:sequence:shares:)`): each message crosses at most one link, from the node
/// it was published on to each node that wants it. A shared subscription's group gets it once in the whole
/// cluster: here when a member here is connected, else on the one node `forwarding` gives the group to, which the
/// message carries over the link (`clusterShareProperty`). Identifiers starting with `linkPrefix` are the cluster's: a client
/// that uses one is refused unless `admitsLink` lets it in, and a link is then under no ACL or publish limit.
public protocol ClusterRouting: Sendable {
    /// Where a message published on this node to `topic` goes beyond it, asked once per message on the event loop
    /// routing it; `retain` is its RETAIN flag as published (every node keeps the retained messages).
    /// `localShares`: the shared subscriptions (`$share/GROUP/FILTER`) matching `topic` with a connected member
    /// here, which take the message here; any other group matching it with members on other nodes is given to
    /// one of those nodes.
    func forwarding(topic: String, retain: Bool, localShares: [String]) -> ClusterForwarding
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

/// The links one message goes over, and the shared subscriptions each link's node is to deliver it to.
public struct ClusterForwarding: Sendable, Hashable {
    public struct Link: Sendable, Hashable {
        public var clientIdentifier: String
        /// Shared subscriptions, `$share/GROUP/FILTER`, whose group gets the message on that node.
        public var shares: [String]

        public init(clientIdentifier: String, shares: [String] = []) {
            self.clientIdentifier = clientIdentifier
            self.shares = shares
        }
    }

    public var links: [Link]

    public init(links: [Link] = []) {
        self.links = links
    }

    /// The shared subscriptions the link `clientIdentifier` carries, or nil when the message does not go over it.
    func shares(forLink clientIdentifier: String) -> [String]? {
        links.first { $0.clientIdentifier.hasSameBytes(as: clientIdentifier) }?.shares
    }

    /// The link whose node takes the message for the shared subscription `share`, if another node does.
    func link(givenShare share: String) -> Link? {
        links.first { link in link.shares.contains { $0.hasSameBytes(as: share) } }
    }
}

/// The client identifiers of cluster links start with this.
public let clusterLinkPrefix = "$cluster/"

/// The user property by which a message sent over a cluster link carries the sequence number of its delivery to
/// the link's session, for the receiving node to record it taken (`StoreChange.clusterDeliveryTaken`).
public let clusterSequenceProperty = "$cluster/sequence"

/// The user property by which a message sent over a cluster link names a shared subscription, `$share/GROUP/FILTER`,
/// whose group the receiving node is to deliver it to: one property per group. A node delivers a forwarded message
/// to no other group.
public let clusterShareProperty = "$cluster/share"

extension String {
    /// Whether this is a cluster link's client identifier; the first byte alone answers for nearly every client.
    public var isClusterLink: Bool {
        utf8.first == UInt8(ascii: "$") && hasPrefix(clusterLinkPrefix)
    }
}
