import MQTT
import NIOCore
import StarlingBroker
import StarlingOperations
import StarlingTesting
import Testing

/// `/metrics`: the broker's counters in the Prometheus text format.
@Suite struct MetricsEndpointTests {
    /// The samples of an exposition, by name and labels as written (`name{a="b"}`).
    static func samples(_ text: String) -> [String: Double] {
        var samples: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            samples[String(line[..<space])] = value
        }
        return samples
    }

    @Test func countersFollowWhatClientsDo() async throws {
        try await OperationsHarness.with { operations in
            let subscriber = try await operations.broker.client("metrics-subscriber", version: .v5)
            _ = try await subscriber.subscribe("m/#", qos: .atLeastOnce)
            let publisher = try await operations.broker.client("metrics-publisher", version: .v5)
            _ = try await publisher.publishQoS1("m/1", "12345", retain: true)
            _ = try await subscriber.expectPublish()
            try await publisher.publish("m/0", "abc")
            _ = try await subscriber.expectPublish()

            let scrape = try await operations.request("/metrics")
            #expect(scrape.status == .ok)
            #expect(scrape.headers["Content-Type"].first?.hasPrefix("text/plain; version=0.0.4") == true)
            let samples = Self.samples(scrape.body)
            #expect(samples[#"starling_messages_received_total{qos="1"}"#] == 1)
            #expect(samples[#"starling_messages_received_total{qos="0"}"#] == 1)
            #expect(samples[#"starling_payload_bytes_received_total{qos="1"}"#] == 5)
            #expect(samples[#"starling_messages_sent_total{qos="1"}"#] == 1)
            #expect(samples[#"starling_messages_sent_total{qos="0"}"#] == 1)
            #expect(samples["starling_connections"] == 2)
            #expect(samples["starling_sessions"] == 2)
            #expect(samples["starling_subscriptions"] == 1)
            #expect(samples["starling_retained_messages"] == 1)
            #expect(samples["starling_retained_bytes"] == 5)
            #expect(samples[#"starling_session_events_total{event="created"}"#] == 2)
            #expect(samples[#"starling_listener_connections{listener="mqtt://127.0.0.1:0"}"#] == 2)
            #expect(samples[#"starling_messages_dropped_total{reason="queue_full"}"#] == 0)
            #expect((samples["starling_connections_accepted_total"] ?? 0) >= 2)
            #expect(scrape.body.contains(#"starling_build_info{version="\#(MQTTBroker.version)"} 1"#))
            // No label holds a client identifier or a topic.
            #expect(!scrape.body.contains("metrics-subscriber"))
            #expect(!scrape.body.contains("m/1"))

            // A second scrape adds only what happened since.
            try await publisher.publish("m/0", "abc")
            _ = try await subscriber.expectPublish()
            let again = Self.samples(try await operations.request("/metrics").body)
            #expect(again[#"starling_messages_received_total{qos="0"}"#] == 2)
        }
    }

    @Test func refusedConnectionsAreCountedByReason() async throws {
        let users = PasswordFileAuthenticator(PasswordFile(users: [ExactString("u"): PasswordHash(password: Array("p".utf8), iterations: 1_000)]))
        try await OperationsHarness.with(authenticator: users) { operations in
            let client = try await operations.broker.open(version: .v5)
            try await client.send(.connect(ConnectPacket(
                protocolVersion: .v5, clientIdentifier: "intruder", userName: "u", password: ByteBuffer(string: "wrong"))))
            #expect(try await client.expectConnAck().reasonCode == .badUserNameOrPassword)
            let samples = Self.samples(try await operations.request("/metrics").body)
            #expect(samples[#"starling_connections_refused_total{reason="bad_user_name_or_password",code="0x86"}"#] == 1)
            #expect(samples[#"starling_authentications_total{outcome="failure"}"#] == 1)
            #expect(samples[#"starling_authentications_total{outcome="success"}"#] == 0)
        }
    }

    /// Bridges show in /metrics and in the admin API by their configured names.
    @Test func bridgesAreShown() async throws {
        let bridges: @Sendable () -> [BridgeStatus] = {
            [BridgeStatus(name: "cloud", isUp: true, forwardedOut: 7, forwardedIn: 2), BridgeStatus(name: "backup", isUp: false, forwardedOut: 0, forwardedIn: 0)]
        }
        try await OperationsHarness.with(bridges: bridges) { operations in
            let samples = Self.samples(try await operations.request("/metrics").body)
            #expect(samples[#"starling_bridge_up{bridge="cloud"}"#] == 1)
            #expect(samples[#"starling_bridge_up{bridge="backup"}"#] == 0)
            #expect(samples[#"starling_bridge_messages_total{bridge="cloud",direction="out"}"#] == 7)
            let listed = try await operations.request("/api/v1/bridges").json["bridges"] as? [[String: Any]]
            #expect(listed?.map { $0["name"] as? String } == ["cloud", "backup"])
            #expect(listed?.first?["up"] as? Bool == true)
            #expect(listed?.first?["forwardedIn"] as? Int == 2)
        }
    }

    /// A cluster's nodes show in /metrics and in the admin API; a broker on its own says it is not a cluster.
    @Test func clusterNodesAreShown() async throws {
        let nodes: @Sendable () -> [ClusterMember] = {
            [
                ClusterMember(name: "a", address: "10.0.0.1:1883", isAlive: true, isSelf: true, isLinked: false, routes: 3, forwardedFrom: 0),
                ClusterMember(name: "b", address: "10.0.0.2:1883", isAlive: true, isSelf: false, isLinked: true, routes: 1, forwardedFrom: 42, heldBack: 7),
                ClusterMember(name: "c", address: "10.0.0.3:1883", isAlive: false, isSelf: false, isLinked: false, routes: 0, forwardedFrom: 5),
            ]
        }
        try await OperationsHarness.with(nodes: nodes) { operations in
            let samples = Self.samples(try await operations.request("/metrics").body)
            #expect(samples[#"starling_cluster_nodes{state="alive"}"#] == 2)
            #expect(samples[#"starling_cluster_nodes{state="gone"}"#] == 1)
            #expect(samples[#"starling_cluster_forwarded_messages_total{node="b"}"#] == 42)
            #expect(samples[#"starling_cluster_link_up{node="c"}"#] == 0)
            #expect(samples[#"starling_cluster_link_held_back_total{node="b"}"#] == 7)
            let body = try await operations.request("/api/v1/nodes").json
            #expect(body["clustered"] as? Bool == true)
            let listed = body["nodes"] as? [[String: Any]]
            #expect(listed?.map { $0["name"] as? String } == ["a", "b", "c"])
            #expect(listed?.first?["self"] as? Bool == true)
            #expect(listed?[1]["forwardedFrom"] as? Int == 42)
        }
        try await OperationsHarness.with { operations in
            let body = try await operations.request("/api/v1/nodes").json
            #expect(body["clustered"] as? Bool == false)
            #expect((body["nodes"] as? [Any])?.isEmpty == true)
        }
    }

    /// One message in 64 is timed from its read to the flush after it was written.
    @Test func deliveriesAreTimed() async throws {
        try await OperationsHarness.with { operations in
            let subscriber = try await operations.broker.client("timed-subscriber", version: .v5)
            _ = try await subscriber.subscribe("t", qos: .atMostOnce)
            let publisher = try await operations.broker.client("timed-publisher", version: .v5)
            for _ in 0..<128 {
                try await publisher.publish("t", "x")
                _ = try await subscriber.expectPublish()
            }
            let samples = Self.samples(try await operations.request("/metrics").body)
            let count = try #require(samples["starling_delivery_duration_seconds_count"])
            #expect(count >= 2)
            #expect((samples["starling_delivery_duration_seconds_sum"] ?? 0) > 0)
        }
    }
}
