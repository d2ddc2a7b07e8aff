import MQTT
import NIOCore
import StarlingBroker
import StarlingCluster
import StarlingPostgres
import StarlingTesting
import Testing

/// Serialized: each test runs three nodes, each with its own connections to the database.
@Suite(.serialized, .enabled(if: PostgresTestDatabase.available, "needs STARLING_TEST_POSTGRES_URL (Scripts/postgres-server.sh start)"))
struct ClusterTests {
    /// Any client, any node: a message published on one node reaches the matching subscribers of every node,
    /// exactly once each, at the QoS of each subscription, and nothing comes back over another link.
    @Test(arguments: [QoS.atMostOnce, .atLeastOnce, .exactlyOnce])
    func aMessageReachesSubscribersOnEveryNode(qos: QoS) async throws {
        try await PostgresTestDatabase.withDatabase { url in
            try await TestCluster.with(url, nodes: 3) { cluster in
                var subscribers: [RawClient] = []
                for index in 0..<3 {
                    let subscriber = try await cluster[index].client("sub\(index)")
                    _ = try await subscriber.subscribe("room/+/temperature", qos: qos)
                    subscribers.append(subscriber)
                }
                for index in 0..<3 { try await cluster.waitUntilLinked(routesOf: index) }
                let publisher = try await cluster[0].client("publisher")
                for sequence in 1...20 {
                    try await publisher.send(.publish(PublishPacket(
                        topic: "room/\(sequence)/temperature", payload: ByteBuffer(string: "\(sequence)"), qos: qos,
                        packetIdentifier: qos == .atMostOnce ? nil : UInt16(sequence))))
                    switch qos {
                    case .atMostOnce: break
                    case .atLeastOnce: _ = try await publisher.expectPubAck()
                    case .exactlyOnce:
                        _ = try await publisher.expectPubRec()
                        try await publisher.send(.pubRel(AcknowledgementPacket(packetIdentifier: UInt16(sequence))))
                        _ = try await publisher.expectPubComp()
                    }
                }
                for (index, subscriber) in subscribers.enumerated() {
                    let received = try await Self.receive(20, from: subscriber)
                    #expect(received.allSatisfy { $0.qos == qos }, "node \(index)")
                    // In order per publisher and topic, each once.
                    #expect(received.map(\.payloadString) == (1...20).map { "\($0)" }, "node \(index)")
                }
                // Nothing more: no copy came back over a link.
                let marker = try await cluster[1].client("marker")
                try await marker.publish("room/end/temperature", "end")
                for subscriber in subscribers {
                    // A PUBREL of the last message may come first.
                    let last = try await Self.receive(1, from: subscriber)
                    #expect(last.map(\.payloadString) == ["end"])
                }
            }
        }
    }

    /// Reads `count` PUBLISH packets, acknowledging each as its QoS asks (PUBACK; PUBREC, then PUBCOMP for the
    /// PUBREL that follows, whenever it comes).
    static func receive(_ count: Int, from client: RawClient) async throws -> [PublishPacket] {
        var received: [PublishPacket] = []
        while received.count < count {
            switch try await client.nextPacket() {
            case .publish(let publish):
                received.append(publish)
                switch publish.qos {
                case .atMostOnce: break
                case .atLeastOnce: try await client.send(.pubAck(AcknowledgementPacket(packetIdentifier: publish.packetIdentifier!)))
                case .exactlyOnce: try await client.send(.pubRec(AcknowledgementPacket(packetIdentifier: publish.packetIdentifier!)))
                }
            case .pubRel(let release):
                try await client.send(.pubComp(AcknowledgementPacket(packetIdentifier: release.packetIdentifier)))
            case let other:
                throw RawClient.Failure(description: "expected PUBLISH or PUBREL, got \(other)")
            }
        }
        return received
    }

    /// Two nodes keep their sessions apart in one database: each loads only its own.
    @Test func nodesKeepTheirSessionsApart() async throws {
        try await PostgresTestDatabase.withDatabase { url in
            let a = try await PostgresBrokerStore.open(url: url, node: "a")
            let b = try await PostgresBrokerStore.open(url: url, node: "b")
            try await a.commit([.sessionSaved(clientIdentifier: "same", expiryInterval: 60, expiresAt: nil)])
            try await b.commit([.sessionSaved(clientIdentifier: "same", expiryInterval: 30, expiresAt: nil)])
            try await b.commit([.sessionSaved(clientIdentifier: "only-b", expiryInterval: 30, expiresAt: nil)])
            #expect(try await a.load().sessions.map(\.expiryInterval) == [60])
            #expect(try await b.load().sessions.map(\.clientIdentifier) == ["only-b", "same"])
            try await a.close()
            try await b.close()
        }
    }

    /// `$cluster/` client identifiers belong to the nodes' links: a client without the cluster's secret is refused.
    @Test func aClientCannotPoseAsALink() async throws {
        try await PostgresTestDatabase.withDatabase { url in
            try await TestCluster.with(url, nodes: 1) { cluster in
                let client = try await cluster[0].open()
                try await client.send(.connect(ConnectPacket(
                    protocolVersion: .v5, clientIdentifier: "$cluster/intruder", userName: "$cluster", password: ByteBuffer(string: "guess"))))
                #expect(try await client.expectConnAck().reasonCode == .clientIdentifierNotValid)
            }
            // A broker on its own refuses them too.
            try await TestBroker.with { broker in
                let client = try await broker.open()
                try await client.send(.connect(ConnectPacket(protocolVersion: .v5, clientIdentifier: "$cluster/n1")))
                #expect(try await client.expectConnAck().reasonCode == .clientIdentifierNotValid)
            }
        }
    }
}

extension ClusterTests {
    /// A retained message set on one node is served by every node, to subscribers that come later; clearing it
    /// on another node clears it everywhere.
    @Test func retainedMessagesAreServedByEveryNode() async throws {
        try await PostgresTestDatabase.withDatabase { url in
            try await TestCluster.with(url, nodes: 3) { cluster in
                try await cluster.waitUntilLinked()
                let publisher = try await cluster[0].client("publisher")
                _ = try await publisher.publishQoS1("status/door", "open", retain: true)
                for index in 1..<3 {
                    try await TestCluster.waitUntil("node \(index) keeps the retained message") {
                        try cluster[index].broker.retainedMessage(topic: "status/door")?.payload == ByteBuffer(string: "open")
                    }
                    let late = try await cluster[index].client("late\(index)")
                    _ = try await late.subscribe("status/#", qos: .atLeastOnce)
                    let publish = try await late.expectPublish()
                    #expect(publish.payloadString == "open")
                    #expect(publish.retain)
                }
                let clearer = try await cluster[2].client("clearer")
                _ = try await clearer.publishQoS1("status/door", "", retain: true)
                for index in 0..<3 {
                    try await TestCluster.waitUntil("node \(index) forgets the retained message") {
                        try cluster[index].broker.retainedMessage(topic: "status/door") == nil
                    }
                }
            }
        }
    }
}

extension ClusterTests {
    static let persistent: Properties = [.sessionExpiryInterval(3_600)]

    /// One session per client identifier in the cluster: a client that comes back on another node finds its
    /// session there (Session Present), with its subscriptions and the QoS 1 messages queued for it while it was
    /// away, in order; and messages published afterwards reach it on its new node.
    @Test func aSessionFollowsItsClientToAnotherNode() async throws {
        try await PostgresTestDatabase.withDatabase { url in
            try await TestCluster.with(url, nodes: 3) { cluster in
                let first = try await cluster[0].client("roamer", cleanStart: false, properties: Self.persistent)
                _ = try await first.subscribe("alerts/#", qos: .atLeastOnce)
                try await first.disconnect()
                try await cluster.waitUntilLinked(routesOf: 0)
                let publisher = try await cluster[2].client("publisher")
                for sequence in 1...5 {
                    _ = try await publisher.publishQoS1("alerts/\(sequence)", "queued \(sequence)", packetIdentifier: UInt16(sequence))
                }
                let (second, connAck) = try await cluster[1].connect("roamer", cleanStart: false, properties: Self.persistent)
                #expect(connAck.sessionPresent)
                let queued = try await Self.receive(5, from: second)
                #expect(queued.map(\.payloadString) == (1...5).map { "queued \($0)" })
                // The session is on the second node now: the first keeps nothing of it.
                #expect(await cluster[0].broker.client("roamer") == nil)
                try await cluster.waitUntilLinked(routesOf: 1)
                _ = try await publisher.publishQoS1("alerts/after", "after the move", packetIdentifier: 9)
                #expect(try await Self.receive(1, from: second).map(\.payloadString) == ["after the move"])
            }
        }
    }

    /// A client connected to one node that connects to another is taken over: the old connection is told
    /// 0x8E Session taken over and closed, and the new one resumes the session.
    @Test func aConnectionOnAnotherNodeIsTakenOver() async throws {
        try await PostgresTestDatabase.withDatabase { url in
            try await TestCluster.with(url, nodes: 2) { cluster in
                try await cluster.waitUntilLinked()
                let old = try await cluster[0].client("twin", cleanStart: false, properties: Self.persistent)
                _ = try await old.subscribe("twin/#", qos: .atLeastOnce)
                let (new, connAck) = try await cluster[1].connect("twin", cleanStart: false, properties: Self.persistent)
                #expect(connAck.sessionPresent)
                guard case .disconnect(let disconnect) = try await old.nextPacket() else {
                    Issue.record("the old connection was not told")
                    return
                }
                #expect(disconnect.reasonCode == .sessionTakenOver)
                try await old.expectClosed()
                #expect(await cluster[1].broker.client("twin")?.subscriptions.map(\.topicFilter) == ["twin/#"])
                try await new.disconnect()
            }
        }
    }

    /// A clean start on another node discards the session the first node held.
    @Test func aCleanStartOnAnotherNodeDiscardsTheSession() async throws {
        try await PostgresTestDatabase.withDatabase { url in
            try await TestCluster.with(url, nodes: 2) { cluster in
                try await cluster.waitUntilLinked()
                let old = try await cluster[0].client("fresh", cleanStart: false, properties: Self.persistent)
                _ = try await old.subscribe("fresh/#", qos: .atLeastOnce)
                try await old.disconnect()
                let (_, connAck) = try await cluster[1].connect("fresh", cleanStart: true, properties: Self.persistent)
                #expect(!connAck.sessionPresent)
                #expect(await cluster[0].broker.client("fresh") == nil)
                #expect(await cluster[1].broker.client("fresh")?.subscriptions.isEmpty == true)
            }
        }
    }
}

extension ClusterTests {
    /// A node that dies after it took a message from another node's link, before that node heard so: when the
    /// survivor sends on what it had queued for the dead node, it leaves out what the dead node had recorded taken
    /// (the record is written in the commit that publishes the message there), so a QoS 2 message reaches its
    /// subscriber once. The record is made by hand here, as the dead node's commit would have made it.
    @Test func whatADeadNodeTookIsNotSentAgain() async throws {
        try await PostgresTestDatabase.withDatabase { url in
            try await TestCluster.with(url, nodes: 2) { cluster in
                let subscriber = try await cluster[1].client("subscriber", cleanStart: false, properties: Self.persistent)
                _ = try await subscriber.subscribe("work/#", qos: .exactlyOnce)
                try await subscriber.disconnect()
                try await cluster.waitUntilLinked(routesOf: 1)
                try await cluster.die(1)

                let publisher = try await cluster[0].client("publisher")
                for (index, payload) in ["taken there", "not taken"].enumerated() {
                    let packetIdentifier = UInt16(index + 1)
                    try await publisher.send(.publish(PublishPacket(
                        topic: "work/\(index)", payload: ByteBuffer(string: payload), qos: .exactlyOnce, packetIdentifier: packetIdentifier)))
                    _ = try await publisher.expectPubRec()
                    try await publisher.send(.pubRel(AcknowledgementPacket(packetIdentifier: packetIdentifier)))
                    _ = try await publisher.expectPubComp()
                }
                let link = ClusterNode.linkClientIdentifier(of: "n2")
                let queued = try await PostgresTestDatabase.integers(
                    url, "SELECT sequence FROM starling.deliveries WHERE node = 'n1' AND client = '\(link)' ORDER BY sequence")
                try #require(queued.count == 2)
                try await PostgresTestDatabase.run(
                    url, "INSERT INTO starling.cluster_taken (node, client, sequence) VALUES ('n1', '\(link)', \(queued[0]))")

                // n1 takes the dead node's sessions up, then sends on its queue for n2's link.
                try await TestCluster.waitUntil("n1 sends on what it queued for n2", timeout: .seconds(40)) {
                    await cluster[0].broker.client(link) == nil
                }
                let (resumed, connAck) = try await cluster[0].connect("subscriber", cleanStart: false, properties: Self.persistent)
                #expect(connAck.sessionPresent)
                #expect(try await Self.receive(1, from: resumed).map(\.payloadString) == ["not taken"])
                // Nothing more: a marker published now comes next.
                _ = try await publisher.publishQoS1("work/marker", "marker", packetIdentifier: 9)
                #expect(try await Self.receive(1, from: resumed).map(\.payloadString) == ["marker"])
                #expect(try await PostgresTestDatabase.integers(url, "SELECT count(*) FROM starling.cluster_taken") == [0])
            }
        }
    }
}

extension ClusterTests {
    /// Messages published on the node that takes a dead node's sessions up, while it does so, reach each session
    /// once: straight, or later from what this node had queued for the dead node's link, never both ways.
    @Test func whatIsPublishedWhileADeadNodesSessionsAreTakenUpArrivesOnce() async throws {
        try await PostgresTestDatabase.withDatabase { url in
            // Room for every message while the subscriber is away.
            try await TestCluster.with(url, nodes: 2, { $0.limits.maximumQueuedMessages = 100_000 }) { cluster in
                let subscriber = try await cluster[1].client("subscriber", cleanStart: false, properties: Self.persistent)
                _ = try await subscriber.subscribe("flow/#", qos: .exactlyOnce)
                try await subscriber.disconnect()
                try await cluster.waitUntilLinked(routesOf: 1)
                try await cluster.die(1)

                // QoS 2, one at a time, from before n1 takes the session up until well after: the messages
                // published around that moment are the ones at stake.
                let publisher = try await cluster[0].client("publisher")
                var published = 0
                var sinceTakenUp = 0
                while sinceTakenUp < 100 {
                    published += 1
                    let packetIdentifier = UInt16(published % 60_000 + 1)
                    try await publisher.send(.publish(PublishPacket(
                        topic: "flow/\(published % 7)", payload: ByteBuffer(string: "\(published)"), qos: .exactlyOnce,
                        packetIdentifier: packetIdentifier)))
                    _ = try await publisher.expectPubRec()
                    try await publisher.send(.pubRel(AcknowledgementPacket(packetIdentifier: packetIdentifier)))
                    _ = try await publisher.expectPubComp()
                    if await cluster[0].broker.client("subscriber") != nil { sinceTakenUp += 1 }
                }
                let link = ClusterNode.linkClientIdentifier(of: "n2")
                try await TestCluster.waitUntil("n1 sends on what it queued for n2", timeout: .seconds(20)) {
                    await cluster[0].broker.client(link) == nil
                }

                let (resumed, _) = try await cluster[0].connect("subscriber", cleanStart: false, properties: Self.persistent)
                let payloads = try await Self.receive(published, from: resumed).map(\.payloadString)
                let counts = Dictionary(payloads.map { ($0, 1) }, uniquingKeysWith: +)
                let twice = counts.filter { $0.value > 1 }.keys.sorted()
                let missing = (1...published).map(String.init).filter { counts[$0] == nil }
                #expect(twice.isEmpty, "\(twice.count) delivered twice, such as \(twice.prefix(5))")
                #expect(missing.isEmpty, "\(missing.count) not delivered, such as \(missing.prefix(5))")
                _ = try await publisher.publishQoS1("flow/marker", "marker", packetIdentifier: 9)
                #expect(try await Self.receive(1, from: resumed).map(\.payloadString) == ["marker"])
            }
        }
    }
}

extension ClusterTests {
    /// A node that dies with a client connected whose session ends with its connection (Clean Start, no expiry)
    /// leaves that session and its will in the database (as the next test shows it writes them): the node that
    /// takes its sessions up publishes the will, and the session ends. The rows are written here as the dead
    /// node's commit would have (a node stopped in-process publishes its clients' wills itself).
    @Test func theWillOfACleanSessionOnADeadNodeIsPublished() async throws {
        try await PostgresTestDatabase.withDatabase { url in
            try await TestCluster.with(url, nodes: 2) { cluster in
                let watcher = try await cluster[0].client("watcher")
                _ = try await watcher.subscribe("gone/#", qos: .atLeastOnce)
                try await cluster.waitUntilLinked(routesOf: 0)
                try await cluster.die(1)
                let dead = try await PostgresBrokerStore.open(url: url, node: "n2")
                try await dead.commit([
                    .sessionSaved(clientIdentifier: "clean", expiryInterval: 0, expiresAt: nil),
                    .willSaved(clientIdentifier: "clean", StoredWill(topic: "gone/clean", payload: ByteBuffer(string: "n2's client is gone"), qos: .atLeastOnce)),
                ])
                try await dead.close()
                #expect(try await Self.receive(1, from: watcher).map(\.payloadString) == ["n2's client is gone"])
                try await TestCluster.waitUntil("the taken-up session ended") {
                    try await PostgresTestDatabase.integers(url, "SELECT count(*) FROM starling.sessions WHERE client = 'clean'") == [0]
                }
            }
        }
    }

    /// In a cluster, a client whose session ends with its connection has its will stored while it is connected,
    /// and a normal DISCONNECT takes it away again.
    @Test func aCleanSessionsStoredWillGoesWithANormalDisconnect() async throws {
        try await PostgresTestDatabase.withDatabase { url in
            try await TestCluster.with(url, nodes: 1) { cluster in
                let will = ConnectPacket.Will(topic: "gone/clean", payload: ByteBuffer(string: "gone"), qos: .atLeastOnce, retain: false)
                let client = try await cluster[0].client("clean", cleanStart: true, will: will)
                try await TestCluster.waitUntil("the clean session's will stored") {
                    try await PostgresTestDatabase.integers(url, "SELECT count(*) FROM starling.wills WHERE client = 'clean'") == [1]
                }
                try await client.disconnect()
                try await TestCluster.waitUntil("the clean session's rows gone") {
                    try await PostgresTestDatabase.integers(url, "SELECT count(*) FROM starling.sessions WHERE client = 'clean'") == [0]
                }
                #expect(try await PostgresTestDatabase.integers(url, "SELECT count(*) FROM starling.wills WHERE client = 'clean'") == [0])
            }
        }
    }
}
