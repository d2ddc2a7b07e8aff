import Foundation
import MQTT
import NIOCore
import StarlingClient
import StarlingSQLite
import StarlingTesting
import Testing

/// A client's QoS 1 publishes kept in SQLite outlive the client that made them.
@Suite(.timeLimit(.minutes(1)))
struct SQLiteClientOutgoingStoreTests {
    static func temporaryPath() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("starling-outgoing-\(UUID().uuidString).db").path
    }

    /// Runs `body` with the store at `path`, closed afterwards whatever happens (SQLite insists on it).
    static func withStore<T>(_ path: String, _ body: (SQLiteClientOutgoingStore) async throws -> T) async throws -> T {
        let store = try await SQLiteClientOutgoingStore.open(path: path)
        let result: Result<T, any Error>
        do {
            result = .success(try await body(store))
        } catch {
            result = .failure(error)
        }
        try await store.close()
        return try result.get()
    }

    @Test func keepsMessagesInOrderWithTheirPropertiesUntilRemoved() async throws {
        let path = Self.temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let keys = try await Self.withStore(path) { store in
            var keys: [UInt64] = []
            for index in 0..<3 {
                let publish = PublishPacket(
                    topic: "t/\(index)", payload: ByteBuffer(string: "m\(index)"), qos: .atLeastOnce, retain: index == 2,
                    properties: [.userProperty("n", "\(index)"), .contentType("text/plain")])
                keys.append(try await store.add(publish))
            }
            try await store.remove(keys[1])
            return keys
        }
        #expect(keys == keys.sorted() && Set(keys).count == 3)
        let loaded = try await Self.withStore(path) { try await $0.load() }
        #expect(loaded.map(\.key) == [keys[0], keys[2]])
        #expect(loaded.map(\.publish.topic) == ["t/0", "t/2"])
        #expect(loaded.map { String(buffer: $0.publish.payload) } == ["m0", "m2"])
        #expect(loaded.map(\.publish.retain) == [false, true])
        #expect(loaded[1].publish.properties.userProperties.map(\.value) == ["2"])
        #expect(loaded[1].publish.properties.contentType == "text/plain")
    }

    /// Publishes made by a client that never reached the broker are sent by the next client with the same store
    /// file, in order, before what it publishes itself.
    @Test func publishesMadeWhileDisconnectedAreSentByTheNextClient() async throws {
        let path = Self.temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        try await TestBroker.with { broker in
            var configuration = MQTTClientConfiguration(host: "127.0.0.1", port: broker.port)
            configuration.reconnect = .disabled
            var subscriberConfiguration = configuration
            subscriberConfiguration.clientIdentifier = "subscriber"
            try await withMQTTClient(configuration: subscriberConfiguration) { subscriber in
                let subscription = try await subscriber.subscribe(to: "offline/#", qos: .atLeastOnce)

                // The first client never connects: its publishes wait, kept in the store, until it is shut down.
                let count = 5
                try await Self.withStore(path) { first in
                    let added = AsyncStream<Void>.makeStream()
                    var firstConfiguration = configuration
                    firstConfiguration.clientIdentifier = "offline-publisher"
                    firstConfiguration.outgoingStore = AddSignal(base: first, added: added.continuation)
                    let offline = MQTTClient(configuration: firstConfiguration)
                    var signals = added.stream.makeAsyncIterator()
                    var publishes: [Task<Void, Never>] = []
                    for index in 0..<count {
                        // One at a time, each kept before the next is made: the store's order is the publishing order.
                        publishes.append(Task { _ = try? await offline.publish(topic: "offline/\(index)", payload: "kept \(index)", qos: .atLeastOnce) })
                        await signals.next()
                    }
                    await offline.disconnect()
                    for publish in publishes { await publish.value }
                }

                // The next client, with the same file, sends them first.
                try await Self.withStore(path) { second in
                    var secondConfiguration = configuration
                    secondConfiguration.clientIdentifier = "next-publisher"
                    secondConfiguration.outgoingStore = second
                    try await withMQTTClient(configuration: secondConfiguration) { client in
                        try await client.publish(topic: "offline/new", payload: "after", qos: .atLeastOnce)
                    }
                    // Everything was acknowledged, and the client forgot it before its disconnect returned.
                    #expect(try await second.load().isEmpty)
                }
                var messages = subscription.makeAsyncIterator()
                var received: [String] = []
                while received.count < count + 1, let message = try await messages.next() { received.append(String(buffer: message.payload)) }
                #expect(received == (0..<count).map { "kept \($0)" } + ["after"])
            }
        }
    }

    /// Tells the test each time a message is kept.
    struct AddSignal: MQTTClientOutgoingStore {
        let base: SQLiteClientOutgoingStore
        let added: AsyncStream<Void>.Continuation

        func add(_ publish: PublishPacket) async throws -> UInt64 {
            let key = try await base.add(publish)
            added.yield()
            return key
        }

        func remove(_ key: UInt64) async throws { try await base.remove(key) }
        func load() async throws -> [MQTTStoredPublish] { try await base.load() }
    }
}
