import Logging
import MQTT
import NIOCore
import PostgresNIO
import StarlingBroker
@testable import StarlingPostgres
import StarlingTesting
import Testing

@Suite(.enabled(if: PostgresTestDatabase.available, "needs STARLING_TEST_POSTGRES_URL (Scripts/postgres-server.sh start)"))
struct PostgresBrokerStoreTests {
    /// What every store must do, on a new database each time.
    @Test func keepsWhatTheBrokerCommits() async throws {
        for check in [
            BrokerStoreConformance.everythingCommittedIsLoaded, BrokerStoreConformance.aBatchIsAppliedInOrder,
            BrokerStoreConformance.equivalentSpellingsAreDifferentKeys, BrokerStoreConformance.willsRoundTrip,
        ] {
            try await PostgresTestDatabase.withDatabase { url in
                try await check { try await PostgresBrokerStore.open(url: url) }
            }
        }
    }

    /// A node records the deliveries it took from another node's link session in that node's name, in the commit
    /// that publishes them; the record goes with the delivery, even one added and removed within one batch, and
    /// with the link's session.
    @Test func takenLinkDeliveriesAreRecordedUntilTheDeliveryGoes() async throws {
        try await PostgresTestDatabase.withDatabase { url in
            let a = try await PostgresBrokerStore.open(url: url, node: "a")
            let b = try await PostgresBrokerStore.open(url: url, node: "b")
            let link = clusterLinkPrefix + "b"
            let message = StoredMessage(topic: "t", payload: ByteBuffer(string: "m"), qos: .exactlyOnce, retain: false)
            func delivery(_ sequence: UInt64) -> StoreChange {
                .deliveryAdded(clientIdentifier: link, StoredDelivery(sequence: sequence, message: message, qos: .exactlyOnce, retain: false))
            }
            let taken = "SELECT sequence FROM starling.cluster_taken WHERE node = 'a' AND client = '\(link)' ORDER BY sequence"
            try await a.commit([.sessionSaved(clientIdentifier: link, expiryInterval: 60, expiresAt: nil), delivery(1), delivery(2)])
            try await b.commit([.clusterDeliveryTaken(node: "a", sequence: 1), .clusterDeliveryTaken(node: "a", sequence: 2)])
            try await b.commit([.clusterDeliveryTaken(node: "a", sequence: 3)])
            #expect(try await PostgresTestDatabase.integers(url, taken) == [1, 2, 3])

            try await a.commit([.deliveryRemoved(clientIdentifier: link, sequence: 1)])
            try await a.commit([delivery(3), .deliveryRemoved(clientIdentifier: link, sequence: 3)])
            #expect(try await PostgresTestDatabase.integers(url, taken) == [2])

            try await a.commit([.sessionDeleted(clientIdentifier: link)])
            #expect(try await PostgresTestDatabase.integers(url, taken) == [])
            try await a.close()
            try await b.close()
        }
    }

    /// A session taken from another node comes with everything that node kept for it, as that node would have
    /// loaded it; what the taking node still had for the client goes, and other clients' rows stay. A clean start
    /// deletes both nodes' rows.
    @Test func aSessionTakenFromAnotherNodeComesWithEverythingItHad() async throws {
        try await PostgresTestDatabase.withDatabase { url in
            let a = try await PostgresBrokerStore.open(url: url, node: "a")
            let b = try await PostgresBrokerStore.open(url: url, node: "b")
            let client = "mover"
            let expiresAt = WallClockTime(millisecondsSinceEpoch: 1_900_000_000_000)
            func message(_ text: String, publisher: String?, expiresAt: WallClockTime?) -> StoredMessage {
                StoredMessage(topic: "m/\(text)", payload: ByteBuffer(string: text), qos: .exactlyOnce, retain: false, publisher: publisher, expiresAt: expiresAt)
            }
            try await a.commit([
                .sessionSaved(clientIdentifier: client, expiryInterval: 3_600, expiresAt: expiresAt),
                .subscriptionSaved(clientIdentifier: client, StoredSubscription(topicFilter: "m/#", options: SubscriptionOptions(qos: .exactlyOnce), identifier: 7)),
                .subscriptionSaved(clientIdentifier: client, StoredSubscription(topicFilter: "n/+", options: SubscriptionOptions(qos: .atLeastOnce, noLocal: true))),
                .deliveryAdded(clientIdentifier: client, StoredDelivery(sequence: 5, message: message("one", publisher: "p", expiresAt: expiresAt), qos: .exactlyOnce, retain: true, subscriptionIdentifiers: [7])),
                .deliveryAdded(clientIdentifier: client, StoredDelivery(sequence: 3, message: message("two", publisher: nil, expiresAt: nil), qos: .atLeastOnce, retain: false, share: "$share/g/m/#")),
                .deliveryReleased(clientIdentifier: client, sequence: 5),
                .qos2Received(clientIdentifier: client, packetIdentifier: 11),
                .qos2Received(clientIdentifier: client, packetIdentifier: 12),
                .willSaved(clientIdentifier: client, StoredWill(topic: "will", payload: ByteBuffer(string: "gone"), qos: .atLeastOnce, properties: [.willDelayInterval(30)], publishAt: expiresAt)),
                .sessionSaved(clientIdentifier: "stays", expiryInterval: 60, expiresAt: nil),
            ])
            try await b.commit([
                .sessionSaved(clientIdentifier: client, expiryInterval: 1, expiresAt: nil),
                .subscriptionSaved(clientIdentifier: client, StoredSubscription(topicFilter: "stale/#", options: SubscriptionOptions())),
            ])
            func normalised(_ session: StoredSession?) -> StoredSession? {
                guard var session else { return nil }
                session.subscriptions.sort { $0.topicFilter < $1.topicFilter }
                session.receivedQoS2.sort()
                return session
            }
            let kept = try #require(try await a.load().sessions.first { $0.clientIdentifier == client })
            #expect(kept.deliveries.map(\.sequence) == [3, 5])

            let moved = try await b.takeSession(client, from: "a")
            #expect(normalised(moved) == normalised(kept))
            #expect(normalised(try await b.load().sessions.first { $0.clientIdentifier == client }) == normalised(kept))
            #expect(try await a.load().sessions.map(\.clientIdentifier) == ["stays"])

            try await a.commit([.sessionSaved(clientIdentifier: client, expiryInterval: 60, expiresAt: nil)])
            #expect(try await b.takeSession(client, from: "a", discard: true) == nil)
            #expect(try await a.load().sessions.map(\.clientIdentifier) == ["stays"])
            #expect(try await b.load().sessions.isEmpty)
            #expect(try await b.takeSession("nobody", from: "a") == nil)
            try await a.close()
            try await b.close()
        }
    }

    /// A batch of deliveries, records of taken ones and retained messages goes as one statement, a commit's one
    /// round trip, and writes what the statements one by one would.
    @Test func deliveriesAndRetainedMessagesAreWrittenInOneStatement() async throws {
        try await PostgresTestDatabase.withDatabase { url in
            let a = try await PostgresBrokerStore.open(url: url, node: "a")
            let link = clusterLinkPrefix + "b"
            let message = StoredMessage(topic: "t", payload: ByteBuffer(string: "m"), qos: .atLeastOnce, retain: false)
            func delivery(_ sequence: UInt64) -> StoreChange {
                .deliveryAdded(clientIdentifier: link, StoredDelivery(sequence: sequence, message: message, qos: .exactlyOnce, retain: false))
            }
            let retained = StoredMessage(topic: "kept", payload: ByteBuffer(string: "r"), qos: .atMostOnce, retain: true)
            let gone = StoredMessage(topic: "gone", payload: ByteBuffer(string: "g"), qos: .atMostOnce, retain: true)
            try await a.commit([.sessionSaved(clientIdentifier: link, expiryInterval: 60, expiresAt: nil), delivery(1), delivery(2), .retainedSaved(gone)])
            try await PostgresTestDatabase.run(url, "INSERT INTO starling.cluster_taken (node, client, sequence) VALUES ('a', '\(link)', 1)")

            let changes: [StoreChange] = [
                .deliveryRemoved(clientIdentifier: link, sequence: 1), .deliveryReleased(clientIdentifier: link, sequence: 2),
                delivery(3), .clusterDeliveryTaken(node: "c", sequence: 9), .retainedSaved(retained), .retainedDeleted(topic: "gone"),
            ]
            #expect(try PostgresBrokerStore.statements(for: StoreBatch(changes), node: "a").count == 1)
            try await a.commit(changes)

            #expect(try await PostgresTestDatabase.integers(url, "SELECT sequence FROM starling.deliveries ORDER BY sequence") == [2, 3])
            #expect(try await PostgresTestDatabase.integers(url, "SELECT sequence FROM starling.deliveries WHERE released") == [2])
            #expect(try await PostgresTestDatabase.integers(url, "SELECT sequence FROM starling.cluster_taken WHERE node = 'a'") == [])
            #expect(try await PostgresTestDatabase.integers(url, "SELECT sequence FROM starling.cluster_taken WHERE node = 'c'") == [9])
            #expect(try await PostgresTestDatabase.column(url, "SELECT topic FROM starling.retained", as: String.self) == ["kept"])
            // A session's own rows go statement by statement, in a transaction, as before.
            #expect(try PostgresBrokerStore.statements(
                for: StoreBatch([.sessionSaved(clientIdentifier: "s", expiryInterval: 1, expiresAt: nil), delivery(4)]), node: "a").count == 2)
            try await a.close()
        }
    }

    /// A delivery's optional values (publisher, expiry, subscription identifiers, shared subscription) come back as
    /// committed, present or not, and an empty publisher is told apart from none.
    @Test func deliveriesWithAndWithoutOptionalValuesComeBackAsCommitted() async throws {
        try await PostgresTestDatabase.withDatabase { url in
            let store = try await PostgresBrokerStore.open(url: url)
            let expiresAt = WallClockTime.now().adding(milliseconds: 60_000)
            func message(publisher: String?, expiresAt: WallClockTime?) -> StoredMessage {
                StoredMessage(
                    topic: "t", payload: ByteBuffer(string: "m"), qos: .atLeastOnce, retain: false, publisher: publisher,
                    expiresAt: expiresAt)
            }
            let deliveries = [
                StoredDelivery(sequence: 1, message: message(publisher: nil, expiresAt: nil), qos: .atLeastOnce, retain: false),
                StoredDelivery(sequence: 2, message: message(publisher: "", expiresAt: expiresAt), qos: .atMostOnce, retain: true),
                StoredDelivery(
                    sequence: 3, message: message(publisher: "p", expiresAt: nil), qos: .exactlyOnce, retain: false,
                    subscriptionIdentifiers: [1, 268_435_455], share: "$share/g/t"),
            ]
            try await store.commit(
                [.sessionSaved(clientIdentifier: "a", expiryInterval: 60, expiresAt: nil)]
                    + deliveries.map { .deliveryAdded(clientIdentifier: "a", $0) })
            try await store.commit([.deliveryReleased(clientIdentifier: "a", sequence: 3)])
            var state = try await store.load()
            var released = deliveries
            released[2].released = true
            #expect(state.sessions.first?.deliveries == released)

            try await store.commit([.deliveryRemoved(clientIdentifier: "a", sequence: 1), .deliveryRemoved(clientIdentifier: "a", sequence: 3)])
            state = try await store.load()
            try await store.close()
            #expect(state.sessions.first?.deliveries == [deliveries[1]])
        }
    }

    /// A batch larger than one statement's bound on parameters is split and still applied whole.
    @Test func aLargeBatchIsWrittenWhole() async throws {
        try await PostgresTestDatabase.withDatabase { url in
            let store = try await PostgresBrokerStore.open(url: url)
            var changes: [StoreChange] = [.sessionSaved(clientIdentifier: "a", expiryInterval: 60, expiresAt: nil)]
            for sequence in 1...5_000 {
                let message = StoredMessage(topic: "t/\(sequence)", payload: ByteBuffer(string: "\(sequence)"), qos: .atLeastOnce, retain: false)
                changes.append(.deliveryAdded(clientIdentifier: "a", StoredDelivery(sequence: UInt64(sequence), message: message, qos: .atLeastOnce, retain: false)))
            }
            try await store.commit(changes)
            let state = try await store.load()
            try await store.close()
            #expect(state.sessions.first?.deliveries.map(\.sequence) == (1...5_000).map { UInt64($0) })
            #expect(state.sessions.first?.deliveries.last?.message.payload == ByteBuffer(string: "5000"))
        }
    }

    /// The schema is versioned: a second open of the same database migrates nothing and keeps what is there, and
    /// a database whose schema is newer than this broker's is refused with a clear error.
    @Test func theSchemaIsVersioned() async throws {
        try await PostgresTestDatabase.withDatabase { url in
            let store = try await PostgresBrokerStore.open(url: url)
            try await store.commit([.sessionSaved(clientIdentifier: "a", expiryInterval: 60, expiresAt: nil)])
            try await store.close()
            let again = try await PostgresBrokerStore.open(url: url)
            #expect(try await again.load().sessions.map(\.clientIdentifier) == ["a"])
            try await again.close()

            try await PostgresTestDatabase.run(url, "UPDATE starling.schema_version SET version = \(PostgresStoreSchema.version + 1)")
            let error = await #expect(throws: PostgresStoreError.self) { try await PostgresBrokerStore.open(url: url) }
            #expect(error?.kind == .newerSchema(PostgresStoreSchema.version + 1))
            #expect(error?.description.contains("newer") == true)
        }
    }

    /// Brokers starting together on one new database: the migration runs once, and each of them opens.
    @Test func storesOpeningTogetherMigrateOnce() async throws {
        try await PostgresTestDatabase.withDatabase { url in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<4 {
                    group.addTask {
                        let store = try await PostgresBrokerStore.open(url: url)
                        try await store.close()
                    }
                }
                try await group.waitForAll()
            }
        }
    }

    /// A server that is not there is a clear error at open, not a hang.
    @Test func anUnreachableServerIsAClearError() async throws {
        let url = try PostgresURL("postgres://nobody:secret@127.0.0.1:1/none?sslmode=disable")
        let error = await #expect(throws: PostgresStoreError.self) { try await PostgresBrokerStore.open(url: url) }
        #expect(error?.kind == .unreachable)
        #expect(error?.description.contains("127.0.0.1:1") == true)
        #expect(error?.description.contains("secret") == false)
    }

    /// Persistent sessions and retained messages kept in PostgreSQL outlive the broker: a queued QoS 1 message
    /// and a retained one are delivered by the next broker on the same database.
    @Test func aBrokerOnPostgreSQLKeepsSessionsAcrossRestarts() async throws {
        try await PostgresTestDatabase.withDatabase { url in
            let sessionExpiry: Properties = [.sessionExpiryInterval(3_600)]
            try await TestBroker.with(store: try await PostgresBrokerStore.open(url: url)) { broker in
                let subscriber = try await broker.client("keeper", cleanStart: false, properties: sessionExpiry)
                try await subscriber.subscribe("kept/#", qos: .atLeastOnce)
                try await subscriber.disconnect()
                let publisher = try await broker.client("publisher")
                for index in 1...3 {
                    try await publisher.publishQoS1("kept/\(index)", "message \(index)", packetIdentifier: UInt16(index))
                }
                _ = try await publisher.publishQoS1("retained", "kept", packetIdentifier: 9, retain: true)
            }
            try await TestBroker.with(store: try await PostgresBrokerStore.open(url: url)) { broker in
                let (subscriber, connAck) = try await broker.connect("keeper", cleanStart: false, properties: sessionExpiry)
                #expect(connAck.sessionPresent)
                for index in 1...3 {
                    let delivered = try await subscriber.expectPublish()
                    #expect(delivered.payloadString == "message \(index)")
                    try await subscriber.send(.pubAck(AcknowledgementPacket(packetIdentifier: delivered.packetIdentifier!)))
                }
                let late = try await broker.client("late")
                try await late.subscribe("retained")
                #expect(try await late.expectPublish().payloadString == "kept")
            }
        }
    }

    @Test func urlsAreReadAsLibpqReadsThem() throws {
        let full = try PostgresURL("postgresql://user:p%40ss@db.example:6543/mqtt?sslmode=require")
        #expect(full.host == "db.example")
        #expect(full.port == 6543)
        #expect(full.username == "user")
        #expect(full.password == "p@ss")
        #expect(full.database == "mqtt")
        #expect(full.sslMode == .require)
        #expect(full.description == "postgres://user@db.example:6543/mqtt")
        let plain = try PostgresURL("postgres://127.0.0.1")
        #expect(plain.port == 5432)
        #expect(plain.username == "postgres")
        #expect(plain.sslMode == .prefer)
        #expect(plain.database == nil)
        let socket = try PostgresURL("postgres:///starling?host=/run/postgresql")
        #expect(socket.socketFolder == "/run/postgresql")
        #expect(throws: PostgresURL.Invalid.self) { try PostgresURL("mysql://localhost/x") }
        #expect(throws: PostgresURL.Invalid.self) { try PostgresURL("postgres://h/db?sslmode=verify-full") }
    }
}
