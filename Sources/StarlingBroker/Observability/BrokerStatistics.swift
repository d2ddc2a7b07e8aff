import NIOCore

/// What the broker has done since it started, as `MQTTBroker.statistics()` reports it and the `$SYS/broker/`
/// topics publish it.
public struct BrokerStatistics: Sendable, Hashable {
    /// Seconds since the broker started.
    public var uptime: Int64 = 0
    /// Network connections from their CONNECT until they close, those still being authenticated included: the
    /// count held against `Limits.maximumConnections`.
    public var connectedClients = 0
    /// Connected clients whose idle connection hibernates (see `BrokerConfiguration.Limits.hibernateAfter`).
    public var hibernatingClients = 0
    /// Sessions, connected or kept for a client that is away.
    public var sessions = 0
    /// Subscriptions of every session, connected or not; each member of a shared subscription counts once.
    public var subscriptions = 0
    /// Topics that have a retained message.
    public var retainedMessages = 0
    /// PUBLISH packets received from clients.
    public var messagesReceived: UInt64 = 0
    /// PUBLISH packets sent to clients.
    public var messagesSent: UInt64 = 0
    /// Messages not delivered to a subscriber, all reasons together: `drops.total`.
    public var messagesDropped: UInt64 = 0
    /// Messages not delivered to a subscriber, by reason.
    public var drops = MessageDrops()
    /// Bytes of MQTT packets read from clients, after TLS and WebSocket framing are taken off.
    public var bytesReceived: UInt64 = 0
    /// Bytes of MQTT packets written to clients, before TLS and WebSocket framing are added.
    public var bytesSent: UInt64 = 0
    /// Times a connection's unsent output reached `Limits.maximumOutboundBytes` and the broker stopped reading
    /// from it until its client had read enough.
    public var outboundLimitReached: UInt64 = 0
    /// WebSocket connections closed for a frame that RFC 6455 or MQTT over WebSocket forbids.
    public var webSocketViolations: UInt64 = 0
    /// WebSocket upgrade requests refused for a head beyond `Limits.maximumUpgradeHeadBytes`.
    public var upgradeHeadsRefused: UInt64 = 0
    /// Times the memory freed after a wave of connections was given back to the system (`Limits.freedMemoryReturn`).
    public var freedMemoryReturns: UInt64 = 0
    /// Publishers slowed to the pace of their subscribers.
    public var flowControl = FlowControlStatistics()

    /// All counters at zero.
    public init() {}
}

/// The counters of one event loop, touched only on that loop, so that counting costs no atomic operation on
/// the publish path; a snapshot adds up every loop's.
struct LoopCounters {
    var messagesReceived: UInt64 = 0
    var messagesSent: UInt64 = 0
    var drops = MessageDrops()
    var bytesReceived: UInt64 = 0
    var bytesSent: UInt64 = 0
    var hibernatingConnections = 0
    /// Hibernating connections woken since the broker started.
    var wakes: UInt64 = 0
    var outboundLimitReached: UInt64 = 0
    var webSocketViolations: UInt64 = 0
    var upgradeHeadsRefused: UInt64 = 0
    var flowControl = FlowControlStatistics()

    static func + (lhs: LoopCounters, rhs: LoopCounters) -> LoopCounters {
        LoopCounters(
            messagesReceived: lhs.messagesReceived &+ rhs.messagesReceived, messagesSent: lhs.messagesSent &+ rhs.messagesSent,
            drops: lhs.drops + rhs.drops, bytesReceived: lhs.bytesReceived &+ rhs.bytesReceived,
            bytesSent: lhs.bytesSent &+ rhs.bytesSent, hibernatingConnections: lhs.hibernatingConnections + rhs.hibernatingConnections,
            wakes: lhs.wakes &+ rhs.wakes, outboundLimitReached: lhs.outboundLimitReached &+ rhs.outboundLimitReached,
            webSocketViolations: lhs.webSocketViolations &+ rhs.webSocketViolations,
            upgradeHeadsRefused: lhs.upgradeHeadsRefused &+ rhs.upgradeHeadsRefused, flowControl: lhs.flowControl + rhs.flowControl)
    }
}
