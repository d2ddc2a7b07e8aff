import MQTT
import NIOCore
import NIOSSL
import StarlingClient

/// One bridge to a remote broker, as Mosquitto's `connection` block has it: where the remote is, who the bridge
/// is there, and which topics go which way.
public struct BridgeConfiguration: Sendable {
    /// The remote broker's addresses, tried in turn (fail-over): `mqtt://`, `mqtts://`, `ws://`, `wss://`.
    public var addresses: [MQTTURL]
    /// The bridge's client identifier at the remote broker.
    public var clientIdentifier: String
    public var userName: String?
    public var password: String?
    /// For `mqtts://` and `wss://` addresses: the authority to trust, the client certificate, verification.
    public var tls: TLSConfiguration?
    /// 3.1.1 or 5.0 towards the remote.
    public var protocolVersion: ProtocolVersion
    public var keepAlive: UInt16
    /// Without a clean start the remote keeps the bridge's session, and queues what it has for the bridge while
    /// the link is down.
    public var cleanStart: Bool
    public var sessionExpiry: UInt32
    public var topics: [BridgeTopicRule]
    /// The first delay before connecting again after the link failed; it doubles up to `maximumRetryDelay`, with
    /// jitter.
    public var retryDelay: TimeAmount
    public var maximumRetryDelay: TimeAmount
    /// How long the bridge's session at the local broker outlives a link that stays down: while it lives, the
    /// local broker keeps what is to go out (QoS 1 and 2, in its store), within its queue limits.
    public var localSessionExpiry: UInt32
    /// Credentials at the local broker, when it asks for them.
    public var localUserName: String?
    public var localPassword: String?

    public init(
        addresses: [MQTTURL], clientIdentifier: String, userName: String? = nil, password: String? = nil,
        tls: TLSConfiguration? = nil, protocolVersion: ProtocolVersion = .v5, keepAlive: UInt16 = 60, cleanStart: Bool = false,
        sessionExpiry: UInt32 = 86_400, topics: [BridgeTopicRule], retryDelay: TimeAmount = .milliseconds(500),
        maximumRetryDelay: TimeAmount = .seconds(30), localSessionExpiry: UInt32 = 7 * 86_400, localUserName: String? = nil,
        localPassword: String? = nil
    ) {
        self.addresses = addresses
        self.clientIdentifier = clientIdentifier
        self.userName = userName
        self.password = password
        self.tls = tls
        self.protocolVersion = protocolVersion
        self.keepAlive = keepAlive
        self.cleanStart = cleanStart
        self.sessionExpiry = sessionExpiry
        self.topics = topics
        self.retryDelay = retryDelay
        self.maximumRetryDelay = maximumRetryDelay
        self.localSessionExpiry = localSessionExpiry
        self.localUserName = localUserName
        self.localPassword = localPassword
    }
}

/// Which way a topic rule forwards.
public enum BridgeDirection: String, Sendable, Hashable, CaseIterable {
    /// Local messages go to the remote broker.
    case out
    /// The remote broker's messages are published locally.
    case `in`
    case both
}

/// One `topic PATTERN DIRECTION QOS LOCAL_PREFIX REMOTE_PREFIX` line of Mosquitto's bridge: the local topics
/// are `localPrefix + pattern`, the remote ones `remotePrefix + pattern`, the rest of the topic kept.
public struct BridgeTopicRule: Sendable, Hashable {
    public var pattern: String
    public var direction: BridgeDirection
    /// The highest QoS forwarded; a message keeps its own QoS when lower.
    public var qos: QoS
    public var localPrefix: String
    public var remotePrefix: String

    public init(pattern: String, direction: BridgeDirection, qos: QoS = .atMostOnce, localPrefix: String = "", remotePrefix: String = "") {
        self.pattern = pattern
        self.direction = direction
        self.qos = qos
        self.localPrefix = localPrefix
        self.remotePrefix = remotePrefix
    }

    var sendsOut: Bool { direction != .in }
    var bringsIn: Bool { direction != .out }
    /// The filter the bridge subscribes to at the local broker.
    public var localFilter: String { localPrefix + pattern }
    /// The filter the bridge subscribes to at the remote broker.
    public var remoteFilter: String { remotePrefix + pattern }

    /// Throws `MQTTError` when the prefixed filters are not valid topic filters.
    public func validate() throws {
        try TopicFilter.validateFilter(localFilter)
        try TopicFilter.validateFilter(remoteFilter)
    }

    /// The remote topic of a local message this rule forwards, or nil when the rule does not take it.
    func remoteTopic(forLocal topic: String) -> String? {
        guard sendsOut, let rest = Self.strip(localPrefix, from: topic), TopicFilter.matches(filter: pattern, topic: rest) else { return nil }
        return remotePrefix + rest
    }

    /// The local topic of a remote message this rule brings in, or nil when the rule does not take it.
    func localTopic(forRemote topic: String) -> String? {
        guard bringsIn, let rest = Self.strip(remotePrefix, from: topic), TopicFilter.matches(filter: pattern, topic: rest) else { return nil }
        return localPrefix + rest
    }

    private static func strip(_ prefix: String, from topic: String) -> String? {
        guard topic.utf8.starts(with: prefix.utf8) else { return nil }
        let rest = String(Substring(topic.utf8.dropFirst(prefix.utf8.count)))
        return rest.isEmpty ? nil : rest
    }
}
