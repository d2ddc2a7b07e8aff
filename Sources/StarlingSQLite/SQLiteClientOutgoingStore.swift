import Logging
import MQTT
import NIOCore
import NIOPosix
import SQLiteNIO
import StarlingClient

/// A client's `MQTTClientOutgoingStore` in an SQLite file: each QoS 1 and 2 publish is committed (WAL,
/// `synchronous = FULL`) before `MQTTClient.publish` queues it, and deleted once the broker has it, so a
/// program killed with messages unsent sends them when it starts again with the same file.
///
/// Each message is kept as the 5.0 PUBLISH packet that carries it, as the broker's store keeps its messages.
public final class SQLiteClientOutgoingStore: MQTTClientOutgoingStore {
    public let path: String
    private let connection: SQLiteConnection
    private let threadPool: NIOThreadPool

    private init(path: String, connection: SQLiteConnection, threadPool: NIOThreadPool) {
        self.path = path
        self.connection = connection
        self.threadPool = threadPool
    }

    /// Opens (or creates) the store at `path`.
    public static func open(path: String, logger: Logger = Logger(label: "starling.client.store")) async throws -> SQLiteClientOutgoingStore {
        let threadPool = NIOThreadPool(numberOfThreads: 1)
        threadPool.start()
        do {
            let connection = try await SQLiteConnection.open(
                storage: .file(path: path), threadPool: threadPool, logger: logger, on: MultiThreadedEventLoopGroup.singleton.any())
            do {
                _ = try await connection.query("PRAGMA journal_mode = WAL")
                _ = try await connection.query("PRAGMA synchronous = FULL")
                _ = try await connection.query(
                    "CREATE TABLE IF NOT EXISTS outgoing_publishes (key INTEGER PRIMARY KEY AUTOINCREMENT, packet BLOB NOT NULL)")
            } catch {
                try? await connection.close()
                throw error
            }
            return SQLiteClientOutgoingStore(path: path, connection: connection, threadPool: threadPool)
        } catch {
            try? await threadPool.shutdownGracefully()
            throw error
        }
    }

    /// Closes the file; the store cannot be used afterwards.
    public func close() async throws {
        try await connection.close()
        try await threadPool.shutdownGracefully()
    }

    public func add(_ publish: PublishPacket) async throws -> UInt64 {
        var packet = publish
        packet.packetIdentifier = packet.qos == .atMostOnce ? nil : 1
        let bytes = try Packet.publish(packet).encoded(version: .v5)
        let rows = try await connection.query("INSERT INTO outgoing_publishes (packet) VALUES (?) RETURNING key", [.blob(bytes)])
        guard let key = rows.first?.column("key")?.integer else { throw StoreFailure(description: "no key for the stored message") }
        return UInt64(key)
    }

    public func remove(_ key: UInt64) async throws {
        _ = try await connection.query("DELETE FROM outgoing_publishes WHERE key = ?", [.integer(Int(key))])
    }

    public func load() async throws -> [MQTTStoredPublish] {
        var stored: [MQTTStoredPublish] = []
        for row in try await connection.query("SELECT key, packet FROM outgoing_publishes ORDER BY key") {
            guard let key = row.column("key")?.integer, case .blob(var bytes) = row.column("packet") else { continue }
            var decoder = PacketDecoder(version: .v5, options: DecodingOptions(utf8Policy: .wellFormed))
            guard case .publish(var publish) = try decoder.decode(buffer: &bytes) else { continue }
            publish.packetIdentifier = nil
            stored.append(MQTTStoredPublish(key: UInt64(key), publish: publish))
        }
        return stored
    }

    struct StoreFailure: Error, CustomStringConvertible {
        let description: String
    }
}
