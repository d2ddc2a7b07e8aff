import MQTT
import NIOCore

/// A session and its client as they were at one moment, for the admin API: `MQTTBroker.clients()`.
public struct ClientSnapshot: Sendable, Hashable {
    public var clientIdentifier: String
    /// Whether a connection holds the session now.
    public var isConnected: Bool
    /// Who the connected client authenticated as; nil for anonymous clients and sessions whose client is away.
    public var userName: String?
    /// The connected client's address; nil when away.
    public var remoteAddress: SocketAddress?
    /// The protocol the client last connected with.
    public var protocolVersion: ProtocolVersion
    /// The connected client's Keep Alive in seconds (0: none); nil when away.
    public var keepAlive: Int?
    /// When the connected client connected, in seconds since 1970; nil when away.
    public var connectedSince: Int64?
    /// Seconds the session outlives its connection; `UInt32.max` never expires.
    public var sessionExpiryInterval: UInt32
    /// QoS 1 and 2 messages sent and not yet acknowledged.
    public var inflight: Int
    /// Messages waiting to be sent.
    public var queued: Int
    /// The session's subscriptions as the client made them (and a store keeps them), ordered by filter.
    public var subscriptions: [StoredSubscription]

    public init(
        clientIdentifier: String, isConnected: Bool, userName: String? = nil, remoteAddress: SocketAddress? = nil,
        protocolVersion: ProtocolVersion, keepAlive: Int? = nil, connectedSince: Int64? = nil, sessionExpiryInterval: UInt32 = 0,
        inflight: Int = 0, queued: Int = 0, subscriptions: [StoredSubscription] = []
    ) {
        self.clientIdentifier = clientIdentifier
        self.isConnected = isConnected
        self.userName = userName
        self.remoteAddress = remoteAddress
        self.protocolVersion = protocolVersion
        self.keepAlive = keepAlive
        self.connectedSince = connectedSince
        self.sessionExpiryInterval = sessionExpiryInterval
        self.inflight = inflight
        self.queued = queued
        self.subscriptions = subscriptions
    }
}

extension StoredSubscription {
    /// The shared subscription group, for a `$share/GROUP/filter` subscription.
    public var shareGroup: String? { TopicFilter(validated: topicFilter).shareName }

    /// The filter without a `$share/GROUP/` prefix: what topics it matches.
    public var matchingFilter: String { TopicFilter(validated: topicFilter).filter }
}
