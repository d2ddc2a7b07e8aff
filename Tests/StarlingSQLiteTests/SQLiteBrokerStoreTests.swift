import Foundation
import MQTT
import NIOCore
import SQLiteNIO
import StarlingBroker
import StarlingTesting
@testable import StarlingSQLite
import Testing

@Suite struct SQLiteBrokerStoreTests {
    /// A fresh directory per test, removed afterwards.
    static func withDirectory<T>(_ body: (String) async throws -> T) async throws -> T {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("starling-sqlite-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        return try await body(directory)
    }

    /// What every store must do, on a new database file each time.
    @Test func keepsWhatTheBrokerCommits() async throws {
        try await Self.withDirectory { directory in
            var count = 0
            try await BrokerStoreConformance.all {
                count += 1
                let path = "\(directory)/\(count)/starling.db"
                return { try await SQLiteBrokerStore.open(path: path) }
            }
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
            try await store.commit([.willSaved(clientIdentifier: "a", BrokerStoreConformance.will(delay: 5, publishAt: nil))])
            try await store.close()

            let check = try await SQLiteConnection.open(storage: .file(path: path))
            let version = try await check.query("PRAGMA user_version").first?.columns.first?.data.integer
            try await check.close()
            #expect(version == SQLiteStoreSchema.version)
            let reopened = try await SQLiteBrokerStore.open(path: path)
            let state = try await reopened.load()
            try await reopened.close()
            #expect(state.sessions.first?.will == BrokerStoreConformance.will(delay: 5, publishAt: nil))
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
            for sequence in 1...200 {
                let message = StoredMessage(topic: "t", payload: ByteBuffer(string: payload), qos: .atLeastOnce, retain: false)
                changes.append(.deliveryAdded(clientIdentifier: "a", StoredDelivery(sequence: UInt64(sequence), message: message, qos: .atLeastOnce, retain: false)))
            }
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
