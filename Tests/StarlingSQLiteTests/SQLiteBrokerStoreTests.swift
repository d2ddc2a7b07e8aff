import Foundation
import MQTT
import NIOCore
import SQLiteNIO
import StarlingBroker
@testable import StarlingSQLite
import Testing

@Suite struct SQLiteBrokerStoreTests {
    /// A fresh directory per test, removed afterwards.
    static func withDirectory<T>(_ body: (String) async throws -> T) async throws -> T {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("starling-sqlite-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        return try await body(directory)
    }

    static func message(_ topic: String, _ payload: String, qos: QoS = .atLeastOnce, expiresAt: WallClockTime? = nil) -> StoredMessage {
        StoredMessage(
            topic: topic, payload: ByteBuffer(string: payload), qos: qos, retain: false,
            properties: [.userProperty("k", "v"), .contentType("text/plain"), .messageExpiryInterval(60)],
            publisher: "publisher", expiresAt: expiresAt)
    }

    static func delivery(_ sequence: UInt64, _ payload: String) -> StoredDelivery {
        StoredDelivery(
            sequence: sequence, message: message("t/\(sequence)", payload), qos: .exactlyOnce, retain: true,
            subscriptionIdentifiers: [3, 7], share: "$share/g/t/#")
    }

    @Test func everythingCommittedIsLoadedAfterReopening() async throws {
        try await Self.withDirectory { directory in
            let path = directory + "/nested/starling.db"
            let expiresAt = WallClockTime.now().adding(milliseconds: 60_000)
            let subscription = StoredSubscription(
                topicFilter: "t/#", options: SubscriptionOptions(qos: .exactlyOnce, noLocal: true, retainAsPublished: true, retainHandling: .doNotSend),
                identifier: 3)
            let retained = StoredMessage(topic: "r", payload: ByteBuffer(string: "kept"), qos: .atMostOnce, retain: true, expiresAt: expiresAt)
            let store = try await SQLiteBrokerStore.open(path: path)
            try await store.commit([
                .sessionSaved(clientIdentifier: "a", expiryInterval: 60, expiresAt: expiresAt),
                .subscriptionSaved(clientIdentifier: "a", subscription),
                .deliveryAdded(clientIdentifier: "a", Self.delivery(1, "one")),
                .deliveryAdded(clientIdentifier: "a", Self.delivery(2, "two")),
                .qos2Received(clientIdentifier: "a", packetIdentifier: 12),
                .retainedSaved(retained),
            ])
            try await store.commit([.deliveryReleased(clientIdentifier: "a", sequence: 2)])
            try await store.close()

            let reopened = try await SQLiteBrokerStore.open(path: path)
            let state = try await reopened.load()
            try await reopened.close()
            var released = Self.delivery(2, "two")
            released.released = true
            #expect(state == StoredState(
                sessions: [StoredSession(
                    clientIdentifier: "a", expiryInterval: 60, expiresAt: expiresAt, subscriptions: [subscription],
                    deliveries: [Self.delivery(1, "one"), released], receivedQoS2: [12])],
                retained: [retained]))
        }
    }

    /// A batch is applied in order: what is added and removed within it, or recorded for a session deleted later in
    /// it, leaves nothing; what follows a deletion stays.
    @Test func aBatchIsAppliedInOrder() async throws {
        try await Self.withDirectory { directory in
            let store = try await SQLiteBrokerStore.open(path: directory + "/starling.db")
            try await store.commit([
                .sessionSaved(clientIdentifier: "gone", expiryInterval: 60, expiresAt: nil),
                .deliveryAdded(clientIdentifier: "gone", Self.delivery(1, "one")),
                .sessionSaved(clientIdentifier: "kept", expiryInterval: 60, expiresAt: nil),
                .deliveryAdded(clientIdentifier: "kept", Self.delivery(1, "one")),
                .deliveryAdded(clientIdentifier: "kept", Self.delivery(2, "two")),
                .qos2Received(clientIdentifier: "kept", packetIdentifier: 5),
            ])
            try await store.commit([
                .deliveryAdded(clientIdentifier: "kept", Self.delivery(3, "three")),
                .deliveryRemoved(clientIdentifier: "kept", sequence: 3),
                .deliveryRemoved(clientIdentifier: "kept", sequence: 1),
                .qos2Released(clientIdentifier: "kept", packetIdentifier: 5),
                .sessionDeleted(clientIdentifier: "gone"),
                .sessionSaved(clientIdentifier: "gone", expiryInterval: 30, expiresAt: nil),
                .subscriptionSaved(clientIdentifier: "gone", StoredSubscription(topicFilter: "x", options: SubscriptionOptions(qos: .atLeastOnce))),
            ])
            let state = try await store.load()
            try await store.close()
            #expect(state.sessions.map(\.clientIdentifier) == ["gone", "kept"])
            #expect(state.sessions[0].expiryInterval == 30)
            #expect(state.sessions[0].deliveries.isEmpty)
            #expect(state.sessions[0].subscriptions.map(\.topicFilter) == ["x"])
            #expect(state.sessions[1].deliveries.map(\.sequence) == [2])
            #expect(state.sessions[1].receivedQoS2.isEmpty)
        }
    }

    /// Client identifiers, filters and topics are stored by their bytes: canonically equivalent spellings
    /// ("caf\u{e9}", "cafe\u{301}") are two sessions, two subscriptions and two retained messages, and
    /// deleting one within a batch leaves the other.
    @Test func equivalentSpellingsAreDifferentKeys() async throws {
        try await Self.withDirectory { directory in
            let precomposed = "caf\u{e9}"
            let decomposed = "cafe\u{301}"
            let store = try await SQLiteBrokerStore.open(path: directory + "/starling.db")
            func subscription(_ filter: String) -> StoredSubscription {
                StoredSubscription(topicFilter: filter, options: SubscriptionOptions(qos: .atLeastOnce))
            }
            try await store.commit([
                .sessionSaved(clientIdentifier: precomposed, expiryInterval: 60, expiresAt: nil),
                .sessionSaved(clientIdentifier: decomposed, expiryInterval: 60, expiresAt: nil),
                .subscriptionSaved(clientIdentifier: precomposed, subscription(precomposed)),
                .subscriptionSaved(clientIdentifier: precomposed, subscription(decomposed)),
                .retainedSaved(StoredMessage(topic: precomposed, payload: ByteBuffer(string: "1"), qos: .atMostOnce, retain: true)),
                .retainedSaved(StoredMessage(topic: decomposed, payload: ByteBuffer(string: "2"), qos: .atMostOnce, retain: true)),
                .sessionDeleted(clientIdentifier: decomposed),
            ])
            let state = try await store.load()
            try await store.close()
            #expect(state.sessions.map { Array($0.clientIdentifier.utf8) } == [Array(precomposed.utf8)])
            #expect(Set(state.sessions[0].subscriptions.map { ExactString($0.topicFilter) }) == [ExactString(precomposed), ExactString(decomposed)])
            #expect(Set(state.retained.map { ExactString($0.topic) }) == [ExactString(precomposed), ExactString(decomposed)])
        }
    }

    static func will(delay: UInt32?, publishAt: WallClockTime?) -> StoredWill {
        var properties: Properties = [.userProperty("k", "v"), .contentType("text/plain"), .messageExpiryInterval(60)]
        if let delay { properties.append(.willDelayInterval(delay)) }
        return StoredWill(
            topic: "wills/a", payload: ByteBuffer(string: "gone"), qos: .exactlyOnce, retain: true, properties: properties,
            publishAt: publishAt)
    }

    /// A pending will comes back as stored, Will Delay Interval and due time included; a deleted one, or one of a
    /// deleted session, does not.
    @Test func willsRoundTrip() async throws {
        try await Self.withDirectory { directory in
            let path = directory + "/starling.db"
            let due = WallClockTime.now().adding(milliseconds: 5_000)
            let store = try await SQLiteBrokerStore.open(path: path)
            try await store.commit([
                .sessionSaved(clientIdentifier: "connected", expiryInterval: 60, expiresAt: nil),
                .willSaved(clientIdentifier: "connected", Self.will(delay: nil, publishAt: nil)),
                .sessionSaved(clientIdentifier: "dropped", expiryInterval: 60, expiresAt: due),
                .willSaved(clientIdentifier: "dropped", Self.will(delay: nil, publishAt: nil)),
                .sessionSaved(clientIdentifier: "cleared", expiryInterval: 60, expiresAt: nil),
                .willSaved(clientIdentifier: "cleared", Self.will(delay: nil, publishAt: nil)),
                .sessionSaved(clientIdentifier: "ended", expiryInterval: 60, expiresAt: nil),
                .willSaved(clientIdentifier: "ended", Self.will(delay: 5, publishAt: nil)),
            ])
            try await store.commit([
                .willSaved(clientIdentifier: "dropped", Self.will(delay: 5, publishAt: due)),
                .willDeleted(clientIdentifier: "cleared"),
                .sessionDeleted(clientIdentifier: "ended"),
                .sessionSaved(clientIdentifier: "ended", expiryInterval: 60, expiresAt: nil),
            ])
            try await store.close()

            let reopened = try await SQLiteBrokerStore.open(path: path)
            let state = try await reopened.load()
            try await reopened.close()
            let wills = Dictionary(uniqueKeysWithValues: state.sessions.map { ($0.clientIdentifier, $0.will) })
            #expect(wills.count == 4)
            #expect(wills["connected"] == .some(Self.will(delay: nil, publishAt: nil)))
            #expect(wills["dropped"] == .some(Self.will(delay: 5, publishAt: due)))
            #expect(wills["cleared"] == .some(nil))
            #expect(wills["ended"] == .some(nil))
        }
    }

    /// A database of schema version 1 (before wills were stored) is migrated in place: what it held is still
    /// there, and wills can be stored.
    @Test func aVersion1DatabaseIsMigrated() async throws {
        try await Self.withDirectory { directory in
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let path = directory + "/starling.db"
            let old = try await SQLiteConnection.open(storage: .file(path: path))
            for statement in SQLiteStoreSchema.migrations[0] { _ = try await old.query(statement) }
            _ = try await old.query("PRAGMA application_id = \(SQLiteStoreSchema.applicationID)")
            _ = try await old.query("PRAGMA user_version = 1")
            _ = try await old.query("INSERT INTO sessions (client, expiry_interval, expires_at) VALUES ('a', 60, NULL)")
            try await old.close()
            #expect(SQLiteStoreSchema.version > 1)

            let store = try await SQLiteBrokerStore.open(path: path)
            #expect(try await store.load().sessions == [StoredSession(clientIdentifier: "a", expiryInterval: 60)])
            try await store.commit([.willSaved(clientIdentifier: "a", Self.will(delay: 5, publishAt: nil))])
            try await store.close()

            let check = try await SQLiteConnection.open(storage: .file(path: path))
            let version = try await check.query("PRAGMA user_version").first?.columns.first?.data.integer
            try await check.close()
            #expect(version == SQLiteStoreSchema.version)
            let reopened = try await SQLiteBrokerStore.open(path: path)
            let state = try await reopened.load()
            try await reopened.close()
            #expect(state.sessions.first?.will == Self.will(delay: 5, publishAt: nil))
        }
    }

    @Test func aFileThatIsNotADatabaseIsRefusedWithAClearError() async throws {
        try await Self.withDirectory { directory in
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let path = directory + "/starling.db"
            try Data("this is not a database, just some text that is long enough".utf8).write(to: URL(fileURLWithPath: path))
            let error = await #expect(throws: SQLiteStoreError.self) { try await SQLiteBrokerStore.open(path: path) }
            #expect(error?.kind == .unreadable)
            #expect(error?.description.contains(path) == true)
        }
    }

    @Test func aDamagedDatabaseIsRefusedWithAClearError() async throws {
        try await Self.withDirectory { directory in
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let path = directory + "/starling.db"
            // The SQLite header followed by garbage where the schema should be.
            var bytes = Array("SQLite format 3".utf8) + [0]
            bytes += (0..<8_192).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            let error = await #expect(throws: SQLiteStoreError.self) { try await SQLiteBrokerStore.open(path: path) }
            #expect(error?.kind == .unreadable)
        }
    }

    @Test func anotherApplicationsDatabaseIsRefused() async throws {
        try await Self.withDirectory { directory in
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let path = directory + "/starling.db"
            let other = try await SQLiteConnection.open(storage: .file(path: path))
            _ = try await other.query("CREATE TABLE invoices (id INTEGER PRIMARY KEY, amount REAL)")
            try await other.close()
            let error = await #expect(throws: SQLiteStoreError.self) { try await SQLiteBrokerStore.open(path: path) }
            #expect(error?.kind == .foreign)
        }
    }

    @Test func aNewerSchemaIsRefused() async throws {
        try await Self.withDirectory { directory in
            let path = directory + "/starling.db"
            try await SQLiteBrokerStore.open(path: path).close()
            let connection = try await SQLiteConnection.open(storage: .file(path: path))
            _ = try await connection.query("PRAGMA user_version = 99")
            try await connection.close()
            let error = await #expect(throws: SQLiteStoreError.self) { try await SQLiteBrokerStore.open(path: path) }
            #expect(error?.kind == .newerSchema(99))
        }
    }

    /// Deleted messages give their space back: the file does not keep the size of the largest backlog.
    @Test func deletedDataIsReclaimed() async throws {
        try await Self.withDirectory { directory in
            let path = directory + "/starling.db"
            let store = try await SQLiteBrokerStore.open(path: path, vacuumInterval: .zero)
            let payload = String(repeating: "x", count: 16_384)
            var changes: [StoreChange] = [.sessionSaved(clientIdentifier: "a", expiryInterval: 60, expiresAt: nil)]
            for sequence in 1...200 { changes.append(.deliveryAdded(clientIdentifier: "a", Self.delivery(UInt64(sequence), payload))) }
            try await store.commit(changes)
            try await store.close()
            let full = try Self.size(of: path)
            #expect(full > 3_000_000)

            let again = try await SQLiteBrokerStore.open(path: path, vacuumInterval: .zero)
            try await again.commit((1...200).map { .deliveryRemoved(clientIdentifier: "a", sequence: UInt64($0)) })
            try await again.commit([.sessionSaved(clientIdentifier: "a", expiryInterval: 61, expiresAt: nil)])
            try await again.close()
            #expect(try Self.size(of: path) < full / 4)
        }
    }

    static func size(of path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue ?? 0
    }
}
