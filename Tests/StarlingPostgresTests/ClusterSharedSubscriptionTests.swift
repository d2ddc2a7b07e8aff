import MQTT
import NIOCore
import StarlingBroker
@testable import StarlingCluster
import StarlingPostgres
import ServiceLifecycle
import StarlingTesting
import Testing

/// Shared subscriptions whose groups have members on several nodes.
@Suite(.serialized, .enabled(if: PostgresTestDatabase.available, "needs STARLING_TEST_POSTGRES_URL (Scripts/postgres-server.sh start)"))
struct ClusterSharedSubscriptionTests {
    /// A group with members on two other nodes gets each message once in the whole cluster, the nodes taking turns;
    /// once the publisher's node has a member, that member takes every message.
    @Test func aGroupAcrossNodesGetsEachMessageOnce() async throws {
        try await PostgresTestDatabase.withDatabase { url in
            try await TestCluster.with(url, nodes: 3) { cluster in
                var members: [RawClient] = []
                for index in 1...2 {
                    let member = try await cluster[index].client("member\(index)")
                    _ = try await member.subscribe("$share/workers/job/+", qos: .atLeastOnce)
                    members.append(member)
                }
                for index in 1...2 { try await cluster.waitUntilLinked(routesOf: index) }
                let publisher = try await cluster[0].client("publisher")
                for sequence in 1...20 {
                    _ = try await publisher.publishQoS1("job/\(sequence)", "\(sequence)", packetIdentifier: UInt16(sequence))
                }
                let first = try await ClusterTests.receive(10, from: members[0]).map(\.payloadString)
                let second = try await ClusterTests.receive(10, from: members[1]).map(\.payloadString)
                #expect(Set(first + second) == Set((1...20).map(String.init)))

                let local = try await cluster[0].client("member0")
                _ = try await local.subscribe("$share/workers/job/+", qos: .atLeastOnce)
                for sequence in 21...30 {
                    _ = try await publisher.publishQoS1("job/\(sequence)", "\(sequence)", packetIdentifier: UInt16(sequence))
                }
                #expect(try await ClusterTests.receive(10, from: local).map(\.payloadString) == (21...30).map(String.init))
                // Nothing more came to the other members: a marker published on each one's node comes next.
                for (index, member) in members.enumerated() {
                    let marker = try await cluster[index + 1].client("marker\(index)")
                    _ = try await marker.publishQoS1("job/marker", "marker \(index)")
                    #expect(try await ClusterTests.receive(1, from: member).map(\.payloadString) == ["marker \(index)"])
                }
            }
        }
    }

    /// A member's node that goes away: the messages its member had not acknowledged go to a member on another node.
    @Test func whatAGoneMemberLeftGoesToAMemberOnAnotherNode() async throws {
        try await PostgresTestDatabase.withDatabase { url in
            try await TestCluster.with(url, nodes: 2) { cluster in
                let gone = try await cluster[1].client("gone", cleanStart: false, properties: ClusterTests.persistent)
                _ = try await gone.subscribe("$share/workers/task/#", qos: .atLeastOnce)
                try await cluster.waitUntilLinked(routesOf: 1)
                let publisher = try await cluster[0].client("publisher")
                for sequence in 1...3 {
                    _ = try await publisher.publishQoS1("task/\(sequence)", "\(sequence)", packetIdentifier: UInt16(sequence))
                }
                // Received, never acknowledged.
                for sequence in 1...3 {
                    guard case .publish(let publish) = try await gone.nextPacket() else { throw RawClient.Failure(description: "expected PUBLISH") }
                    #expect(publish.payloadString == "\(sequence)")
                }
                let member = try await cluster[0].client("member")
                _ = try await member.subscribe("$share/workers/task/#", qos: .atLeastOnce)
                try await cluster.waitUntilLinked(routesOf: 0)
                try await cluster.die(1)
                // Straight from the node as it stops, or from its stored session once the other takes it up.
                guard case .publish(let first) = try await member.nextPacket(timeout: .seconds(40)) else {
                    throw RawClient.Failure(description: "expected PUBLISH")
                }
                try await member.send(.pubAck(AcknowledgementPacket(packetIdentifier: first.packetIdentifier!)))
                let handed = try await [first.payloadString] + ClusterTests.receive(2, from: member).map(\.payloadString)
                #expect(handed.sorted() == ["1", "2", "3"])
                _ = try await publisher.publishQoS1("task/marker", "marker", packetIdentifier: 9)
                #expect(try await ClusterTests.receive(1, from: member).map(\.payloadString) == ["marker"])
            }
        }
    }
}

/// The link to another node.
@Suite(.serialized, .enabled(if: PostgresTestDatabase.available, "needs STARLING_TEST_POSTGRES_URL (Scripts/postgres-server.sh start)"))
struct ClusterLinkTests {
    /// A link's acknowledgements each wait for a commit on its node: the link takes as many messages in flight as
    /// it can receive (its Receive Maximum, 1,000), not `maximumInflight` (20), which would pace the traffic
    /// between the nodes by the other node's commits.
    @Test func aLinkTakesAsManyMessagesInFlightAsItCanReceive() async throws {
        try await PostgresTestDatabase.withDatabase { url in
            try await TestCluster.with(url, nodes: 2) { cluster in
                let subscriber = try await cluster[1].client("subscriber")
                _ = try await subscriber.subscribe("burst/#", qos: .atLeastOnce)
                try await cluster.waitUntilLinked(routesOf: 1)
                // n2 takes nothing from its link until the gate opens: what n1 sends waits in flight.
                cluster.nodes[1].cluster.gate.close()
                defer { cluster.nodes[1].cluster.gate.open() }
                let publisher = try await cluster[0].client("publisher")
                for sequence in 1...100 {
                    _ = try await publisher.publishQoS1("burst/\(sequence)", "\(sequence)", packetIdentifier: UInt16(sequence))
                }
                let link = ClusterNode.linkClientIdentifier(of: "n2")
                try await TestCluster.waitUntil("100 messages in flight on the link") {
                    await cluster[0].broker.client(link)?.inflight == 100
                }
            }
        }
    }
}

extension ClusterLinkTests {
    /// A node stopped gracefully (SIGTERM, in `starling serve`: its service group's graceful shutdown) says so in
    /// the database before it goes, so that the others stop linking to it at once rather than after the node
    /// timeout. Its connection pool must outlive that shutdown to say it.
    @Test func aNodeThatStopsGracefullySaysItLeaves() async throws {
        try await PostgresTestDatabase.withDatabase { url in
            var configuration = ClusterConfiguration(url: url, node: "n1", address: "127.0.0.1:0")
            configuration.heartbeat = .milliseconds(100)
            let node = ClusterNode(configuration: configuration, logger: TestBroker.quietLogger)
            let store = try await PostgresBrokerStore.open(url: url, node: "n1")
            let broker = try await TestBroker(configuration: TestBroker.defaultConfiguration, store: store, hooks: BrokerHooks(cluster: node))
            node.attach(broker.broker, store: store, address: "127.0.0.1:\(broker.port)")
            let group = ServiceGroup(configuration: .init(services: [node], logger: TestBroker.quietLogger))
            let running = Task { try await group.run() }
            try await TestCluster.waitUntil("n1 joined") {
                try await PostgresTestDatabase.strings(url, "SELECT name FROM starling.cluster_nodes WHERE NOT leaving") == ["n1"]
            }
            await group.triggerGracefulShutdown()
            try await running.value
            #expect(try await PostgresTestDatabase.strings(url, "SELECT name FROM starling.cluster_nodes WHERE leaving") == ["n1"])
            await broker.shutdown()
        }
    }
}
