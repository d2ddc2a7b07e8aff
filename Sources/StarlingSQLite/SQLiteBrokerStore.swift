import Logging
import MQTT
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import SQLiteNIO
import StarlingBroker

#if canImport(Glibc)
import Glibc
private func openForReading(_ path: String) -> Int32 { Glibc.open(path, O_RDONLY) }
private func closeDescriptor(_ descriptor: Int32) { _ = Glibc.close(descriptor) }
#elseif canImport(Musl)
import Musl
private func openForReading(_ path: String) -> Int32 { Musl.open(path, O_RDONLY) }
private func closeDescriptor(_ descriptor: Int32) { _ = Musl.close(descriptor) }
#elseif canImport(Darwin)
import Darwin
private func openForReading(_ path: String) -> Int32 { Darwin.open(path, O_RDONLY) }
private func closeDescriptor(_ descriptor: Int32) { _ = Darwin.close(descriptor) }
#endif

/// The broker's store in an SQLite database: WAL journal, `synchronous = FULL` (a commit is on disk when it
/// returns), incremental vacuum so that deleted messages give their space back, and schema migrations.
///
/// The broker commits one batch at a time; each batch is one transaction of a few multi-row statements, whatever
/// the number of messages in it.
public final class SQLiteBrokerStore: BrokerStore {
    public let path: String
    private let connection: SQLiteConnection
    private let threadPool: NIOThreadPool
    private let logger: Logger
    private let lastVacuum = NIOLockedValueBox(NIODeadline.now())
    private let vacuumInterval: TimeAmount
    /// Rows per multi-row statement, well within SQLite's bound on variables.
    private static let rowsPerStatement = 256

    private init(path: String, connection: SQLiteConnection, threadPool: NIOThreadPool, logger: Logger, vacuumInterval: TimeAmount) {
        self.path = path
        self.vacuumInterval = vacuumInterval
        self.connection = connection
        self.threadPool = threadPool
        self.logger = logger
    }

    /// Opens (creating it and its directory if needed) the database at `path`, checks that it is this broker's and
    /// brings its schema up to date. Every `vacuumInterval` at most, a commit gives freed pages back to the file system.
    public static func open(
        path: String, logger: Logger = Logger(label: "starling.sqlite"), vacuumInterval: TimeAmount = .seconds(5)
    ) async throws -> SQLiteBrokerStore {
        try createParentDirectory(of: path)
        try checkHeader(path)
        // One thread: the broker commits one batch at a time, and SQLite calls never block an event loop.
        let threadPool = NIOThreadPool(numberOfThreads: 1)
        threadPool.start()
        do {
            let connection = try await SQLiteConnection.open(
                storage: .file(path: path), threadPool: threadPool, logger: logger, on: MultiThreadedEventLoopGroup.singleton.any())
            let store = SQLiteBrokerStore(
                path: path, connection: connection, threadPool: threadPool, logger: logger, vacuumInterval: vacuumInterval)
            do {
                try await store.prepare()
            } catch {
                try? await connection.close()
                throw error
            }
            return store
        } catch {
            try? await threadPool.shutdownGracefully()
            if let error = error as? SQLiteStoreError { throw error }
            throw SQLiteStoreError(kind: .unreadable, path: path, detail: "\(error)")
        }
    }

    private static func createParentDirectory(of path: String) throws {
        guard let slash = path.lastIndex(of: "/"), slash != path.startIndex else { return }
        var current = path.hasPrefix("/") ? "/" : ""
        for component in path[..<slash].split(separator: "/") {
            current += current.isEmpty || current.hasSuffix("/") ? String(component) : "/" + component
            if mkdir(current, 0o755) != 0 && errno != EEXIST {
                throw SQLiteStoreError(kind: .unreadable, path: path, detail: "cannot create directory \(current): errno \(errno)")
            }
        }
    }

    /// A file that is there but does not start as an SQLite database is refused before SQLite touches it.
    private static func checkHeader(_ path: String) throws {
        let descriptor = openForReading(path)
        guard descriptor >= 0 else { return }
        defer { closeDescriptor(descriptor) }
        var header = [UInt8](repeating: 0, count: 16)
        let count = header.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, 16) }
        guard count > 0 else { return }
        let magic = Array("SQLite format 3".utf8) + [0]
        guard count == 16, header == magic else {
            throw SQLiteStoreError(kind: .unreadable, path: path, detail: "the file does not start with the SQLite header")
        }
    }

    private func prepare() async throws {
        let applicationID = try await integer("PRAGMA application_id")
        let version = try await integer("PRAGMA user_version")
        let tables = try await integer("SELECT count(*) FROM sqlite_master")
        if applicationID != SQLiteStoreSchema.applicationID && (applicationID != 0 || tables > 0) {
            throw SQLiteStoreError(kind: .foreign, path: path, detail: "application id \(applicationID), \(tables) schema objects")
        }
        if version > SQLiteStoreSchema.version {
            throw SQLiteStoreError(kind: .newerSchema(version), path: path, detail: "")
        }
        if tables == 0 {
            // Only takes effect before the first table is created.
            _ = try await connection.query("PRAGMA auto_vacuum = INCREMENTAL")
        }
        _ = try await connection.query("PRAGMA journal_mode = WAL")
        _ = try await connection.query("PRAGMA synchronous = FULL")
        _ = try await connection.query("PRAGMA journal_size_limit = 67108864")
        guard version < SQLiteStoreSchema.version else { return }
        _ = try await connection.query("BEGIN IMMEDIATE")
        do {
            for migration in SQLiteStoreSchema.migrations[version...] {
                for statement in migration { _ = try await connection.query(statement) }
            }
            _ = try await connection.query("PRAGMA application_id = \(SQLiteStoreSchema.applicationID)")
            _ = try await connection.query("PRAGMA user_version = \(SQLiteStoreSchema.version)")
            _ = try await connection.query("COMMIT")
        } catch {
            _ = try? await connection.query("ROLLBACK")
            throw error
        }
        logger.info("store schema ready", metadata: ["path": "\(path)", "version": "\(SQLiteStoreSchema.version)", "from": "\(version)"])
    }

    private func integer(_ sql: String) async throws -> Int {
        try await connection.query(sql).first?.columns.first?.data.integer.map { Int($0) } ?? 0
    }

    // MARK: BrokerStore

    public func load() async throws -> StoredState {
        // Rows of sessions deleted in a batch committed before rows a slower loop recorded for them.
        for table in ["subscriptions", "deliveries", "received_qos2", "wills"] {
            _ = try await connection.query("DELETE FROM \(table) WHERE client NOT IN (SELECT client FROM sessions)")
        }
        // By bytes, as the database compares them: canonically equivalent identifiers are different clients.
        var sessions: [ExactString: StoredSession] = [:]
        var order: [ExactString] = []
        for row in try await connection.query("SELECT client, expiry_interval, expires_at FROM sessions ORDER BY client") {
            guard let client = row.column("client")?.string, let interval = row.column("expiry_interval")?.integer else { continue }
            sessions[ExactString(client)] = StoredSession(
                clientIdentifier: client, expiryInterval: UInt32(clamping: interval),
                expiresAt: row.column("expires_at")?.integer.map { WallClockTime(millisecondsSinceEpoch: Int64($0)) })
            order.append(ExactString(client))
        }
        for row in try await connection.query("SELECT client, filter, options, identifier FROM subscriptions") {
            guard let client = row.column("client")?.string, let filter = row.column("filter")?.string,
                let options = row.column("options")?.integer
            else { continue }
            sessions[ExactString(client)]?.subscriptions.append(StoredSubscription(
                topicFilter: filter, options: StoredSubscription.options(fromValue: options), identifier: row.column("identifier")?.integer.map { Int($0) }))
        }
        for row in try await connection.query(
            "SELECT client, sequence, message, publisher, expires_at, qos, retain, subscription_identifiers, share, released FROM deliveries ORDER BY client, sequence")
        {
            guard let client = row.column("client")?.string, let sequence = row.column("sequence")?.integer,
                case .blob(let bytes) = row.column("message"), let qos = row.column("qos")?.integer.flatMap({ QoS(rawValue: UInt8(clamping: $0)) })
            else { continue }
            let message = try decode(bytes, row: row)
            let identifiers = row.column("subscription_identifiers")?.string.map { $0.split(separator: ",").compactMap { Int($0) } } ?? []
            sessions[ExactString(client)]?.deliveries.append(StoredDelivery(
                sequence: UInt64(sequence), message: message, qos: qos, retain: row.column("retain")?.integer == 1,
                subscriptionIdentifiers: identifiers, share: row.column("share")?.string, released: row.column("released")?.integer == 1))
        }
        for row in try await connection.query("SELECT client, packet_identifier FROM received_qos2") {
            guard let client = row.column("client")?.string, let identifier = row.column("packet_identifier")?.integer else { continue }
            sessions[ExactString(client)]?.receivedQoS2.append(UInt16(clamping: identifier))
        }
        for row in try await connection.query("SELECT client, message, delay, publish_at FROM wills") {
            guard let client = row.column("client")?.string, case .blob(let bytes) = row.column("message") else { continue }
            sessions[ExactString(client)]?.will = StoredWill(
                storedMessage: try decode(bytes, row: row), delay: row.column("delay")?.integer.map { UInt32(clamping: $0) },
                publishAt: row.column("publish_at")?.integer.map { WallClockTime(millisecondsSinceEpoch: Int64($0)) })
        }
        var retained: [StoredMessage] = []
        for row in try await connection.query("SELECT topic, message, publisher, expires_at FROM retained ORDER BY topic") {
            guard case .blob(let bytes) = row.column("message") else { continue }
            retained.append(try decode(bytes, row: row))
        }
        return StoredState(sessions: order.compactMap { sessions[$0] }, retained: retained)
    }

    private func decode(_ bytes: ByteBuffer, row: SQLiteRow) throws -> StoredMessage {
        do {
            return try StoredMessageCodec.decode(
                bytes, publisher: row.column("publisher")?.string,
                expiresAt: row.column("expires_at")?.integer.map { WallClockTime(millisecondsSinceEpoch: Int64($0)) })
        } catch {
            throw SQLiteStoreError(kind: .corruptRecord, path: path, detail: "a stored message does not decode: \(error)")
        }
    }

    public func commit(_ changes: [StoreChange]) async throws {
        let net = StoreBatch(changes)
        guard !net.isEmpty else { return }
        _ = try await connection.query("BEGIN IMMEDIATE")
        do {
            try await write(net)
            _ = try await connection.query("COMMIT")
        } catch {
            _ = try? await connection.query("ROLLBACK")
            throw error
        }
        try await vacuumIfDue()
    }

    public func close() async throws {
        _ = try? await connection.query("PRAGMA wal_checkpoint(TRUNCATE)")
        try await connection.close()
        try await threadPool.shutdownGracefully()
    }

    /// Gives the pages freed by deleted rows back to the file system, a bounded amount at a time.
    private func vacuumIfDue() async throws {
        let now = NIODeadline.now()
        let due = lastVacuum.withLockedValue { last in
            guard now - last >= vacuumInterval else { return false }
            last = now
            return true
        }
        guard due, try await integer("PRAGMA freelist_count") > 0 else { return }
        _ = try await connection.query("PRAGMA incremental_vacuum(2048)")
    }

    // MARK: Writing a batch

    private func write(_ batch: StoreBatch) async throws {
        let deleted = batch.deletedSessions.map { SQLiteData.text($0.string) }
        if !deleted.isEmpty {
            for table in ["sessions", "subscriptions", "deliveries", "received_qos2", "wills"] {
                try await run(rows: deleted.map { [$0] }, "DELETE FROM \(table) WHERE client IN (", "?", ")", separator: ",")
            }
        }
        try await run(
            rows: batch.sessions.map { client, saved in
                [.text(client.string), .integer(Int(saved.expiryInterval)), saved.expiresAt.map { .integer(Int($0.millisecondsSinceEpoch)) } ?? .null]
            },
            "INSERT INTO sessions (client, expiry_interval, expires_at) VALUES ", "(?, ?, ?)",
            " ON CONFLICT (client) DO UPDATE SET expiry_interval = excluded.expiry_interval, expires_at = excluded.expires_at")
        var savedSubscriptions: [[SQLiteData]] = []
        var deletedSubscriptions: [[SQLiteData]] = []
        for (key, subscription) in batch.subscriptions {
            if let subscription {
                savedSubscriptions.append([
                    .text(key.client.string), .text(key.filter.string), .integer(subscription.optionsValue),
                    subscription.identifier.map { .integer($0) } ?? .null,
                ])
            } else {
                deletedSubscriptions.append([.text(key.client.string), .text(key.filter.string)])
            }
        }
        try await run(rows: deletedSubscriptions, "DELETE FROM subscriptions WHERE (client, filter) IN (VALUES ", "(?, ?)", ")")
        try await run(rows: savedSubscriptions, "INSERT OR REPLACE INTO subscriptions (client, filter, options, identifier) VALUES ", "(?, ?, ?, ?)", "")

        var added: [[SQLiteData]] = []
        var released: [[SQLiteData]] = []
        var removed: [[SQLiteData]] = []
        for (key, change) in batch.deliveries {
            switch change {
            case .added(let delivery):
                let message = delivery.message
                added.append([
                    .text(key.client.string), .integer(Int(delivery.sequence)), .blob(try StoredMessageCodec.encode(message)),
                    message.publisher.map { .text($0) } ?? .null,
                    message.expiresAt.map { .integer(Int($0.millisecondsSinceEpoch)) } ?? .null,
                    .integer(Int(delivery.qos.rawValue)), .integer(delivery.retain ? 1 : 0),
                    delivery.subscriptionIdentifiers.isEmpty ? .null : .text(delivery.subscriptionIdentifiers.map(String.init).joined(separator: ",")),
                    delivery.share.map { .text($0) } ?? .null, .integer(delivery.released ? 1 : 0),
                ])
            case .released:
                released.append([.text(key.client.string), .integer(Int(key.sequence))])
            case .removed:
                removed.append([.text(key.client.string), .integer(Int(key.sequence))])
            }
        }
        try await run(rows: removed, "DELETE FROM deliveries WHERE (client, sequence) IN (VALUES ", "(?, ?)", ")")
        try await run(rows: released, "UPDATE deliveries SET released = 1 WHERE (client, sequence) IN (VALUES ", "(?, ?)", ")")
        try await run(
            rows: added,
            "INSERT OR REPLACE INTO deliveries (client, sequence, message, publisher, expires_at, qos, retain, subscription_identifiers, share, released) VALUES ",
            "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", "")

        var received: [[SQLiteData]] = []
        var releasedQoS2: [[SQLiteData]] = []
        for (key, isReceived) in batch.receivedQoS2 {
            let row: [SQLiteData] = [.text(key.client.string), .integer(Int(key.packetIdentifier))]
            if isReceived { received.append(row) } else { releasedQoS2.append(row) }
        }
        try await run(rows: releasedQoS2, "DELETE FROM received_qos2 WHERE (client, packet_identifier) IN (VALUES ", "(?, ?)", ")")
        try await run(rows: received, "INSERT OR IGNORE INTO received_qos2 (client, packet_identifier) VALUES ", "(?, ?)", "")

        var wills: [[SQLiteData]] = []
        var noWills: [[SQLiteData]] = []
        for (client, will) in batch.wills {
            guard let will else {
                noWills.append([.text(client.string)])
                continue
            }
            let (message, delay) = will.storedMessage
            wills.append([
                .text(client.string), .blob(try StoredMessageCodec.encode(message)), delay.map { .integer(Int($0)) } ?? .null,
                will.publishAt.map { .integer(Int($0.millisecondsSinceEpoch)) } ?? .null,
            ])
        }
        try await run(rows: noWills, "DELETE FROM wills WHERE client IN (", "?", ")", separator: ",")
        try await run(rows: wills, "INSERT OR REPLACE INTO wills (client, message, delay, publish_at) VALUES ", "(?, ?, ?, ?)", "")

        var retained: [[SQLiteData]] = []
        var unretained: [[SQLiteData]] = []
        for (topic, message) in batch.retained {
            if let message {
                retained.append([
                    .text(topic.string), .blob(try StoredMessageCodec.encode(message)), message.publisher.map { .text($0) } ?? .null,
                    message.expiresAt.map { .integer(Int($0.millisecondsSinceEpoch)) } ?? .null,
                ])
            } else {
                unretained.append([.text(topic.string)])
            }
        }
        try await run(rows: unretained, "DELETE FROM retained WHERE topic IN (", "?", ")", separator: ",")
        try await run(rows: retained, "INSERT OR REPLACE INTO retained (topic, message, publisher, expires_at) VALUES ", "(?, ?, ?, ?)", "")
    }

    /// Runs `prefix row, row, ... suffix` for the rows, a bounded number per statement.
    private func run(rows: [[SQLiteData]], _ prefix: String, _ row: String, _ suffix: String, separator: String = ", ") async throws {
        var start = 0
        while start < rows.count {
            let end = min(rows.count, start + Self.rowsPerStatement)
            var sql = prefix
            var binds: [SQLiteData] = []
            binds.reserveCapacity((end - start) * rows[start].count)
            for index in start..<end {
                if index > start { sql += separator }
                sql += row
                binds.append(contentsOf: rows[index])
            }
            sql += suffix
            _ = try await connection.query(sql, binds)
            start = end
        }
    }
}
