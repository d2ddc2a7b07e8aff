import MQTT
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
    /// Connections accepted on the listeners since the broker started, whatever became of them.
    public var acceptedConnections: UInt64 = 0
    /// CONNECTs refused, by the reason code of the refusal (5.0's, also for 3.1.1 clients told by return code).
    public var refusedConnections: [ReasonCode: UInt64] = [:]
    /// Open connections by listener, in the configuration's order of listeners.
    public var listenerConnections: [Int] = []
    /// Sessions, connected or kept for a client that is away.
    public var sessions = 0
    /// Sessions kept for a client that is away.
    public var offlineSessions = 0
    /// What became of sessions.
    public var sessionOutcomes = SessionOutcomes()
    /// Subscriptions of every session, connected or not; each member of a shared subscription counts once.
    public var subscriptions = 0
    /// Of `subscriptions`, members of shared subscriptions.
    public var sharedSubscriptions = 0
    /// Topics that have a retained message.
    public var retainedMessages = 0
    /// Payload bytes of the retained messages.
    public var retainedBytes = 0
    /// PUBLISH packets received from clients: `received.messages`.
    public var messagesReceived: UInt64 = 0
    /// PUBLISH packets sent to clients: `sent.messages`.
    public var messagesSent: UInt64 = 0
    /// PUBLISH packets received from clients and their payload bytes, by QoS as published.
    public var received = QoSTally()
    /// PUBLISH packets sent to clients and their payload bytes, by QoS as sent.
    public var sent = QoSTally()
    /// Authentication and authorization decisions.
    public var security = SecurityOutcomes()
    /// Commits of the store, and those that failed.
    public var storeCommits: UInt64 = 0
    public var storeCommitFailures: UInt64 = 0
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
    var received = QoSTally()
    var sent = QoSTally()
    var refusedConnections: [ReasonCode: UInt64] = [:]
    var security = SecurityOutcomes()
    var sessionOutcomes = SessionOutcomes()
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
    /// Filled only in a snapshot: the loop's open connections by listener, and the shared subscriptions of its
    /// sessions.
    var listenerConnections: [Int] = []
    var sharedSubscriptions = 0

    static func + (lhs: LoopCounters, rhs: LoopCounters) -> LoopCounters {
        LoopCounters(
            received: lhs.received + rhs.received, sent: lhs.sent + rhs.sent,
            refusedConnections: lhs.refusedConnections.merging(rhs.refusedConnections, uniquingKeysWith: &+),
            security: lhs.security + rhs.security, sessionOutcomes: lhs.sessionOutcomes + rhs.sessionOutcomes,
            drops: lhs.drops + rhs.drops, bytesReceived: lhs.bytesReceived &+ rhs.bytesReceived,
            bytesSent: lhs.bytesSent &+ rhs.bytesSent, hibernatingConnections: lhs.hibernatingConnections + rhs.hibernatingConnections,
            wakes: lhs.wakes &+ rhs.wakes, outboundLimitReached: lhs.outboundLimitReached &+ rhs.outboundLimitReached,
            webSocketViolations: lhs.webSocketViolations &+ rhs.webSocketViolations,
            upgradeHeadsRefused: lhs.upgradeHeadsRefused &+ rhs.upgradeHeadsRefused, flowControl: lhs.flowControl + rhs.flowControl,
            listenerConnections: elementwiseSum(lhs.listenerConnections, rhs.listenerConnections),
            sharedSubscriptions: lhs.sharedSubscriptions + rhs.sharedSubscriptions)
    }

    private static func elementwiseSum(_ lhs: [Int], _ rhs: [Int]) -> [Int] {
        var sum = lhs.count >= rhs.count ? lhs : rhs
        for (index, value) in (lhs.count >= rhs.count ? rhs : lhs).enumerated() { sum[index] += value }
        return sum
    }
}
