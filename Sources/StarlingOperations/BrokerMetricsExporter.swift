import MQTT
import NIOConcurrencyHelpers
import Prometheus
import StarlingBroker

/// Turns `BrokerStatistics`, gathered from the event loops when Prometheus scrapes, into the registry's
/// `starling_` counters and gauges: the publish path counts in plain per-loop fields and pays nothing more.
/// Labels are bounded: QoS, reason codes, drop reasons, outcomes and the configured listeners, never a client
/// identifier or a topic.
final class BrokerMetricsExporter: Sendable {
    private let registry: PrometheusCollectorRegistry
    private let listeners: [String]
    /// Counters remember the total they were last set to, as Prometheus counters only go up by increments.
    private let counters = NIOLockedValueBox<[CounterKey: (counter: Counter, last: UInt64)]>([:])
    private let gauges = NIOLockedValueBox<[CounterKey: Gauge]>([:])

    private struct CounterKey: Hashable {
        var name: String
        var labels: [String]
    }

    init(registry: PrometheusCollectorRegistry, listeners: [String], version: String) {
        self.registry = registry
        self.listeners = listeners
        registry.makeGauge(descriptor: Self.descriptor("starling_build_info", "Always 1; the version is a label."), labels: [("version", version)])
            .set(to: 1.0)
    }

    /// Brings every metric up to `statistics`.
    func update(_ statistics: BrokerStatistics) {
        gauge("starling_uptime_seconds", "Seconds since the broker started.", Double(statistics.uptime))

        gauge("starling_connections", "Network connections from their CONNECT until they close.", Double(statistics.connectedClients))
        gauge("starling_connections_hibernating", "Connected clients whose idle connection hibernates.", Double(statistics.hibernatingClients))
        counter("starling_connections_accepted_total", "Connections accepted on the listeners.", statistics.acceptedConnections)
        for (reason, count) in statistics.refusedConnections {
            counter(
                "starling_connections_refused_total", "CONNECTs refused, by reason code.", count,
                [("reason", Self.label(reason)), ("code", reason.hexadecimal)])
        }
        for (index, url) in listeners.enumerated() where index < statistics.listenerConnections.count {
            gauge("starling_listener_connections", "Open connections by listener.", Double(statistics.listenerConnections[index]), [("listener", url)])
        }

        gauge("starling_sessions", "Sessions, connected or kept for a client that is away.", Double(statistics.sessions))
        gauge("starling_sessions_offline", "Sessions kept for a client that is away.", Double(statistics.offlineSessions))
        let sessions = statistics.sessionOutcomes
        let sessionHelp = "What became of sessions: created, resumed, taken over, expired."
        counter("starling_session_events_total", sessionHelp, sessions.created, [("event", "created")])
        counter("starling_session_events_total", sessionHelp, sessions.resumed, [("event", "resumed")])
        counter("starling_session_events_total", sessionHelp, sessions.takenOver, [("event", "taken_over")])
        counter("starling_session_events_total", sessionHelp, sessions.expired, [("event", "expired")])

        gauge("starling_subscriptions", "Subscriptions of every session; each member of a shared subscription counts once.", Double(statistics.subscriptions))
        gauge("starling_subscriptions_shared", "Members of shared subscriptions.", Double(statistics.sharedSubscriptions))
        gauge("starling_retained_messages", "Topics with a retained message.", Double(statistics.retainedMessages))
        gauge("starling_retained_bytes", "Payload bytes of the retained messages.", Double(statistics.retainedBytes))

        for qos in [QoS.atMostOnce, .atLeastOnce, .exactlyOnce] {
            let label = [("qos", "\(qos.rawValue)")]
            counter("starling_messages_received_total", "PUBLISH packets received from clients, by QoS.", statistics.received.messages(qos), label)
            counter("starling_messages_sent_total", "PUBLISH packets sent to clients, by QoS.", statistics.sent.messages(qos), label)
            counter("starling_payload_bytes_received_total", "Payload bytes of PUBLISH packets received, by QoS.", statistics.received.payloadBytes(qos), label)
            counter("starling_payload_bytes_sent_total", "Payload bytes of PUBLISH packets sent, by QoS.", statistics.sent.payloadBytes(qos), label)
        }
        counter("starling_bytes_received_total", "Bytes of MQTT packets read from clients.", statistics.bytesReceived)
        counter("starling_bytes_sent_total", "Bytes of MQTT packets written to clients.", statistics.bytesSent)

        let drops = statistics.drops
        let dropHelp = "Messages not delivered to a subscriber, by reason."
        counter("starling_messages_dropped_total", dropHelp, drops.queueFull, [("reason", "queue_full")])
        counter("starling_messages_dropped_total", dropHelp, drops.queueBytesFull, [("reason", "queue_bytes_full")])
        counter("starling_messages_dropped_total", dropHelp, drops.tooLarge, [("reason", "too_large")])
        counter("starling_messages_dropped_total", dropHelp, drops.expired, [("reason", "expired")])

        let security = statistics.security
        let authenticationHelp = "Clients the authenticator let in or refused."
        counter("starling_authentications_total", authenticationHelp, security.authenticationsSucceeded, [("outcome", "success")])
        counter("starling_authentications_total", authenticationHelp, security.authenticationsFailed, [("outcome", "failure")])
        let authorizationHelp = "PUBLISH packets and subscriptions an ACL or authorizer allowed or denied."
        counter("starling_authorizations_total", authorizationHelp, security.publishesAllowed, [("action", "publish"), ("outcome", "allowed")])
        counter("starling_authorizations_total", authorizationHelp, security.publishesDenied, [("action", "publish"), ("outcome", "denied")])
        counter("starling_authorizations_total", authorizationHelp, security.subscriptionsAllowed, [("action", "subscribe"), ("outcome", "allowed")])
        counter("starling_authorizations_total", authorizationHelp, security.subscriptionsDenied, [("action", "subscribe"), ("outcome", "denied")])

        counter("starling_store_commits_total", "Commits of the store.", statistics.storeCommits)
        counter("starling_store_commit_failures_total", "Commits of the store that failed.", statistics.storeCommitFailures)

        let flow = statistics.flowControl
        counter("starling_flow_control_publishers_slowed_total", "Publishers slowed to the pace of a congested subscriber.", flow.publishersSlowed)
        counter("starling_flow_control_stalled_subscribers_closed_total", "Subscribers closed for not reading at all.", flow.stalledSubscribersClosed)
        counter("starling_outbound_limit_reached_total", "Times a connection's unsent output reached its limit.", statistics.outboundLimitReached)
        counter("starling_websocket_violations_total", "WebSocket connections closed for a frame RFC 6455 forbids.", statistics.webSocketViolations)
    }

    private static func descriptor(_ name: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
    }

    /// Brings the bridges' metrics up to `bridges`; their names are the configuration's, so bounded.
    func update(_ bridges: [BridgeStatus]) {
        for bridge in bridges {
            let label = [("bridge", bridge.name)]
            gauge("starling_bridge_up", "1 while the bridge's link to its remote broker is up, else 0.", bridge.isUp ? 1 : 0, label)
            let help = "Messages a bridge forwarded, out to its remote broker or in from it."
            counter("starling_bridge_messages_total", help, bridge.forwardedOut, label + [("direction", "out")])
            counter("starling_bridge_messages_total", help, bridge.forwardedIn, label + [("direction", "in")])
        }
    }

    /// The cluster's metrics: nodes alive and gone, and messages each other node forwarded here (its name is a
    /// label; a cluster has few nodes).
    func update(_ nodes: [ClusterMember]) {
        let alive = nodes.filter(\.isAlive).count
        gauge("starling_cluster_nodes", "Nodes of the cluster as this node sees them, itself included.", Double(alive), [("state", "alive")])
        gauge("starling_cluster_nodes", "Nodes of the cluster as this node sees them, itself included.", Double(nodes.count - alive), [("state", "gone")])
        for node in nodes where !node.isSelf {
            counter(
                "starling_cluster_forwarded_messages_total", "Messages another node of the cluster forwarded to this one.", node.forwardedFrom,
                [("node", node.name)])
            counter(
                "starling_cluster_link_held_back_total",
                "Times the link from another node stopped reading because this node's routing fell behind.", node.heldBack,
                [("node", node.name)])
            gauge("starling_cluster_link_up", "1 while this node's link to another node is connected, else 0.", node.isLinked ? 1 : 0, [("node", node.name)])
        }
    }

    /// `bad_user_name_or_password` for 0x86.
    private static func label(_ reason: ReasonCode) -> String {
        let name = ReasonCode.names[reason.rawValue] ?? "unknown"
        return String(name.lowercased().map { $0.isLetter || $0.isNumber ? $0 : "_" })
    }

    private func counter(_ name: String, _ help: String, _ total: UInt64, _ labels: [(String, String)] = []) {
        let key = CounterKey(name: name, labels: labels.flatMap { [$0.0, $0.1] })
        counters.withLockedValue { counters in
            let entry = counters[key] ?? (
                registry.makeCounter(descriptor: Self.descriptor(name, help), labels: labels), 0)
            // Broker counters only grow; wrapping around is the one way they could go back.
            let delta = total &- entry.last
            if delta > 0 && delta < UInt64(Int64.max) { entry.counter.increment(by: Int64(delta)) }
            counters[key] = (entry.counter, total)
        }
    }

    private func gauge(_ name: String, _ help: String, _ value: Double, _ labels: [(String, String)] = []) {
        let key = CounterKey(name: name, labels: labels.flatMap { [$0.0, $0.1] })
        let gauge = gauges.withLockedValue { gauges in
            if let gauge = gauges[key] { return gauge }
            let made = registry.makeGauge(descriptor: Self.descriptor(name, help), labels: labels)
            gauges[key] = made
            return made
        }
        gauge.set(to: value)
    }
}
