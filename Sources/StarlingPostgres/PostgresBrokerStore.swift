import Logging
import MQTT
import NIOConcurrencyHelpers
import NIOCore
import PostgresNIO
import StarlingBroker

/// The broker's store in a PostgreSQL database: each batch one transaction of a few multi-row statements, durable
/// when PostgreSQL's COMMIT returns (with the server's default `synchronous_commit = on`), so that a broker killed
/// at any moment loses nothing it acknowledged. The tables live in the `starling` schema; migrations are versioned
/// and applied under an advisory lock, so that brokers starting together do not race.
///
/// The client reconnects by itself: while the server is unreachable, commits fail (the broker refuses the
/// acknowledgements waiting for them, so that publishers send again) and the next batch tries again. A commit
/// that no connection begins within `connectionLimit`, or that does not end within as long again, fails too,
/// and the pool is replaced by a new one: after the server restarts, a pool can be left waiting on connections
/// that will never answer.
public final class PostgresBrokerStore: BrokerStore {
    public let url: PostgresURL
    /// The cluster node whose sessions this store keeps; "" for a broker on its own.
    public let node: String
    private let pool: NIOLockedValueBox<Pool>
    private let logger: Logger
    /// How long a commit waits for a connection to begin it.
    static let connectionLimit: Duration = .seconds(5)
    /// Bind parameters per statement, within PostgreSQL's bound of 65,535.
    private static let bindsPerStatement = 16_384
    /// Taken by the transaction that migrates the schema: "STRL".
    private static let migrationLock: Int64 = 0x5354_524C

    /// A connection pool and the task that runs it.
    private struct Pool: Sendable {
        let client: PostgresClient
        let running: Task<Void, Never>

        init(url: PostgresURL, logger: Logger) {
            var configuration = url.clientConfiguration
            // The writer commits one batch at a time; loading and the cluster's session moves may use a second.
            configuration.options.maximumConnections = 2
            configuration.options.connectTimeout = .seconds(5)
            // The pool's own notices (a lease asked for before run() began, each failed reconnection) are not the
            // operator's business: the store logs what fails in its own words.
            var background = logger
            background.logLevel = max(logger.logLevel, .error)
            let client = PostgresClient(configuration: configuration, backgroundLogger: background)
            self.client = client
            // Detached: a pool made while a service group runs (a replacement, say) must not inherit its graceful
            // shutdown, which would end the pool before the broker's last commits.
            self.running = Task.detached { await client.run() }
        }
    }

    /// The connection pool.
    public var client: PostgresClient { pool.withLockedValue { $0.client } }

    private init(url: PostgresURL, node: String, logger: Logger) {
        self.url = url
        self.node = node
        self.pool = NIOLockedValueBox(Pool(url: url, logger: logger))
        self.logger = logger
    }

    /// Connects to the database at `url` and brings the store's schema up to date; throws `PostgresStoreError`
    /// with the server's own words when it cannot. `node` names the cluster node whose sessions it keeps: nodes
    /// share the database and keep their sessions apart; retained messages are one set for all of them.
    public static func open(
        url: PostgresURL, node: String = "", logger: Logger = Logger(label: "starling.postgres")
    ) async throws -> PostgresBrokerStore {
        try await prepareSchema(url: url, logger: logger)
        return PostgresBrokerStore(url: url, node: node, logger: logger)
    }

    /// An error's own words: `PSQLError`'s description hides the server's message.
    public static func describe(_ error: any Error) -> String {
        if let error = error as? PostgresTransactionError {
            return (error.closureError ?? error.beginError ?? error.commitError).map(describe) ?? "\(error)"
        }
        if let error = error as? PSQLError {
            if let message = error.serverInfo?[.message] { return message }
            if let underlying = error.underlying { return "\(underlying)" }
            return "\(error.code)"
        }
        return "\(error)"
    }

    /// Creates or migrates the store's and the cluster's tables; throws `PostgresStoreError`.
    public static func prepareSchema(url: PostgresURL, logger: Logger) async throws {
        do {
            try await migrate(url, logger: logger)
        } catch let error as PostgresStoreError {
            throw error
        } catch {
            throw PostgresStoreError(kind: .unreachable, url: url, detail: describe(error))
        }
    }

    /// Creates or migrates the schema on a connection of its own, so that a server that cannot be used is an
    /// error at once rather than a pool trying again forever.
    private static func migrate(_ url: PostgresURL, logger: Logger) async throws {
        let connection = try await PostgresConnection.connect(configuration: try url.connectionConfiguration(), id: 0, logger: logger)
        do {
            try await connection.query("BEGIN", logger: logger)
            try await connection.query("SELECT pg_advisory_xact_lock(\(migrationLock))", logger: logger)
            try await connection.query("CREATE SCHEMA IF NOT EXISTS starling", logger: logger)
            try await connection.query("CREATE TABLE IF NOT EXISTS starling.schema_version (version integer NOT NULL)", logger: logger)
            var version = 0
            for try await stored in try await connection.query("SELECT max(version) FROM starling.schema_version", logger: logger).decode(Int?.self) {
                version = stored ?? 0
            }
            if version > PostgresStoreSchema.version {
                throw PostgresStoreError(kind: .newerSchema(version), url: url, detail: "")
            }
            if version < PostgresStoreSchema.version {
                for migration in PostgresStoreSchema.migrations[version...] {
                    for statement in migration { try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger) }
                }
                try await connection.query("DELETE FROM starling.schema_version", logger: logger)
                try await connection.query("INSERT INTO starling.schema_version (version) VALUES (\(PostgresStoreSchema.version))", logger: logger)
                logger.info("store schema ready", metadata: ["url": "\(url)", "version": "\(PostgresStoreSchema.version)", "from": "\(version)"])
            }
            try await connection.query("COMMIT", logger: logger)
            try await connection.close()
        } catch {
            try? await connection.close()
            throw error
        }
    }

    // MARK: BrokerStore

    public func load() async throws -> StoredState {
        do {
            return try await client.withTransaction(logger: logger) { connection in try await load(connection) }
        } catch let error as PostgresTransactionError {
            if let stored = error.closureError as? PostgresStoreError { throw stored }
            throw PostgresStoreError(kind: .unreachable, url: url, detail: Self.describe(error))
        } catch {
            throw PostgresStoreError(kind: .unreachable, url: url, detail: Self.describe(error))
        }
    }

    private var nodeBinding: PostgresBindings {
        var bindings = PostgresBindings()
        bindings.append(node)
        return bindings
    }

    private func load(_ connection: PostgresConnection) async throws -> StoredState {
        // Rows of sessions deleted in a batch committed before rows a slower loop recorded for them.
        for table in ["subscriptions", "deliveries", "received_qos2", "wills"] {
            try await connection.query(
                PostgresQuery(
                    unsafeSQL: """
                        DELETE FROM starling.\(table) t WHERE t.node = $1
                        AND NOT EXISTS (SELECT 1 FROM starling.sessions s WHERE s.node = t.node AND s.client = t.client)
                        """, binds: nodeBinding), logger: logger)
        }
        var sessions: [ExactString: StoredSession] = [:]
        var order: [ExactString] = []
        let sessionRows = try await connection.query(
            "SELECT client, expiry_interval, expires_at FROM starling.sessions WHERE node = \(node) ORDER BY client COLLATE \"C\"",
            logger: logger)
        for try await (client, interval, expiresAt) in sessionRows.decode((String, Int64, Int64?).self) {
            sessions[ExactString(client)] = StoredSession(
                clientIdentifier: client, expiryInterval: UInt32(clamping: interval), expiresAt: expiresAt.map { WallClockTime(millisecondsSinceEpoch: $0) })
            order.append(ExactString(client))
        }
        let subscriptionRows = try await connection.query(
            "SELECT client, filter, options, identifier FROM starling.subscriptions WHERE node = \(node)",
            logger: logger)
        for try await (client, filter, options, identifier) in subscriptionRows.decode((String, String, Int32, Int32?).self) {
            sessions[ExactString(client)]?.subscriptions.append(Self.subscription(filter: filter, options: options, identifier: identifier))
        }
        let deliveryRows = try await connection.query(
            """
            SELECT client, sequence, message, publisher, expires_at, qos, retain, subscription_identifiers, share, released
            FROM starling.deliveries WHERE node = \(node) ORDER BY client, sequence
            """, logger: logger)
        for try await (client, sequence, bytes, publisher, expiresAt, qos, retain, identifiers, share, released) in deliveryRows.decode(
            (String, Int64, ByteBuffer, String?, Int64?, Int16, Bool, [Int32]?, String?, Bool).self)
        {
            sessions[ExactString(client)]?.deliveries.append(try delivery(
                sequence: sequence, message: bytes, publisher: publisher, expiresAt: expiresAt, qos: Int32(qos), retain: retain,
                identifiers: identifiers, share: share, released: released))
        }
        let receivedRows = try await connection.query("SELECT client, packet_identifier FROM starling.received_qos2 WHERE node = \(node)",
            logger: logger)
        for try await (client, identifier) in receivedRows.decode((String, Int32).self) {
            sessions[ExactString(client)]?.receivedQoS2.append(UInt16(clamping: identifier))
        }
        let willRows = try await connection.query("SELECT client, message, delay, publish_at FROM starling.wills WHERE node = \(node)",
            logger: logger)
        for try await (client, bytes, delay, publishAt) in willRows.decode((String, ByteBuffer, Int64?, Int64?).self) {
            sessions[ExactString(client)]?.will = try will(message: bytes, delay: delay, publishAt: publishAt)
        }
        var retained: [StoredMessage] = []
        let retainedRows = try await connection.query(
            "SELECT message, publisher, expires_at FROM starling.retained ORDER BY topic COLLATE \"C\"", logger: logger)
        for try await (bytes, publisher, expiresAt) in retainedRows.decode((ByteBuffer, String?, Int64?).self) {
            retained.append(try decode(bytes, publisher: publisher, expiresAt: expiresAt))
        }
        return StoredState(sessions: order.compactMap { sessions[$0] }, retained: retained)
    }

    // Rows into values, as `load` and `takeSession` read them.

    private static func subscription(filter: String, options: Int32, identifier: Int32?) -> StoredSubscription {
        StoredSubscription(topicFilter: filter, options: StoredSubscription.options(fromValue: Int(options)), identifier: identifier.map { Int($0) })
    }

    private func delivery(
        sequence: Int64, message: ByteBuffer, publisher: String?, expiresAt: Int64?, qos: Int32, retain: Bool, identifiers: [Int32]?,
        share: String?, released: Bool
    ) throws -> StoredDelivery {
        StoredDelivery(
            sequence: UInt64(sequence), message: try decode(message, publisher: publisher, expiresAt: expiresAt),
            qos: QoS(rawValue: UInt8(clamping: qos)) ?? .atLeastOnce, retain: retain,
            subscriptionIdentifiers: (identifiers ?? []).map { Int($0) }, share: share, released: released)
    }

    private func will(message: ByteBuffer, delay: Int64?, publishAt: Int64?) throws -> StoredWill {
        StoredWill(
            storedMessage: try decode(message, publisher: nil, expiresAt: nil), delay: delay.map { UInt32(clamping: $0) },
            publishAt: publishAt.map { WallClockTime(millisecondsSinceEpoch: $0) })
    }

    private func decode(_ bytes: ByteBuffer, publisher: String?, expiresAt: Int64?) throws -> StoredMessage {
        do {
            return try StoredMessageCodec.decode(bytes, publisher: publisher, expiresAt: expiresAt.map { WallClockTime(millisecondsSinceEpoch: $0) })
        } catch {
            throw PostgresStoreError(kind: .corruptRecord, url: url, detail: "a stored message does not decode: \(error)")
        }
    }

    /// Moves the session of `client` that the node `other` kept to this store's node (any rows this node still had
    /// for it go first) and returns it as moved; nil when `other` kept none. With `discard`, the other node's rows
    /// are deleted instead and nil returned: a clean start.
    ///
    /// Two statements, each a transaction of its own: a take-over waits for each round trip, and under load each
    /// one queues behind the traffic's commits. Between them only this node's leftovers are gone.
    public func takeSession(_ client: String, from other: String, discard: Bool = false) async throws -> StoredSession? {
        do {
            guard !discard else {
                try await self.client.query(
                    PostgresQuery(unsafeSQL: Self.sessionTables(Self.deleteRowsOfEither), binds: Self.bindings(node, client, other)),
                    logger: logger)
                return nil
            }
            // One connection for both: the pool's others may be busy with the traffic's commits.
            return try await self.client.withConnection { connection -> StoredSession? in
                try await connection.query(
                    PostgresQuery(unsafeSQL: Self.sessionTables(Self.deleteRows), binds: Self.bindings(node, client)), logger: logger)
                let rows = try await connection.query(
                    PostgresQuery(unsafeSQL: Self.moveAndReturnRows, binds: Self.bindings(other, client, node)), logger: logger)
                var session: StoredSession?
                var subscriptions: [StoredSubscription] = []
                var deliveries: [StoredDelivery] = []
                var receivedQoS2: [UInt16] = []
                var will: StoredWill?
                for try await (kind, text, share, first, second, number, identifier, bytes, retain, released, identifiers) in rows.decode(
                    (Int32, String?, String?, Int64?, Int64?, Int32?, Int32?, ByteBuffer?, Bool?, Bool?, [Int32]?).self)
                {
                    switch kind {
                    case 0:
                        session = StoredSession(
                            clientIdentifier: client, expiryInterval: UInt32(clamping: first ?? 0),
                            expiresAt: second.map { WallClockTime(millisecondsSinceEpoch: $0) })
                    case 1:
                        subscriptions.append(Self.subscription(filter: text ?? "", options: number ?? 0, identifier: identifier))
                    case 2:
                        deliveries.append(try delivery(
                            sequence: first ?? 0, message: bytes ?? ByteBuffer(), publisher: text, expiresAt: second, qos: number ?? 1,
                            retain: retain ?? false, identifiers: identifiers, share: share, released: released ?? false))
                    case 3:
                        receivedQoS2.append(UInt16(clamping: number ?? 0))
                    default:
                        will = try self.will(message: bytes ?? ByteBuffer(), delay: first, publishAt: second)
                    }
                }
                session?.subscriptions = subscriptions
                session?.deliveries = deliveries
                session?.receivedQoS2 = receivedQoS2
                session?.will = will
                return session
            }
        } catch let error as PostgresStoreError {
            throw error
        } catch {
            throw PostgresStoreError(kind: .commitFailed, url: url, detail: Self.describe(error))
        }
    }

    /// Gives the rows of client `$2` on node `$1` in every table of `sessionRowTables` to node `$3`, and returns
    /// them in one shape: the kind of row (0 the session, 1 a subscription, 2 a delivery, 3 a received QoS 2
    /// identifier, 4 the will), then text, share, two big integers, two integers, the message, two flags and the
    /// subscription identifiers, each row using those it needs. Deliveries come in their order.
    static let moveAndReturnRows = """
        WITH s AS (\(moveRows("sessions")) RETURNING expiry_interval, expires_at),
        f AS (\(moveRows("subscriptions")) RETURNING filter, options, identifier),
        d AS (\(moveRows("deliveries")) RETURNING sequence, message, publisher, expires_at, qos, retain, subscription_identifiers, share, released),
        q AS (\(moveRows("received_qos2")) RETURNING packet_identifier),
        w AS (\(moveRows("wills")) RETURNING message, delay, publish_at)
        SELECT 0 AS kind, NULL::text AS text, NULL::text AS share, expiry_interval::bigint AS first, expires_at::bigint AS second,
          NULL::integer AS number, NULL::integer AS identifier, NULL::bytea AS message, NULL::boolean AS retain, NULL::boolean AS released,
          NULL::integer[] AS identifiers FROM s
        UNION ALL SELECT 1, filter, NULL, NULL, NULL, options, identifier, NULL, NULL, NULL, NULL FROM f
        UNION ALL SELECT 2, publisher, share, sequence, expires_at, qos, NULL, message, retain, released, subscription_identifiers FROM d
        UNION ALL SELECT 3, NULL, NULL, NULL, NULL, packet_identifier, NULL, NULL, NULL, NULL, NULL FROM q
        UNION ALL SELECT 4, NULL, NULL, delay, publish_at, NULL, NULL, message, NULL, NULL, NULL FROM w
        ORDER BY kind, first
        """

    /// The tables that hold a session's rows, each keyed by node and client.
    static let sessionRowTables = ["sessions", "subscriptions", "deliveries", "received_qos2", "wills"]

    /// `statement` applied to every table of `sessionRowTables` in one statement: all but the last as
    /// data-modifying `WITH` queries, which PostgreSQL runs whether or not their results are read.
    static func sessionTables(_ statement: (String) -> String) -> String {
        let tables = sessionRowTables
        let earlier = tables.dropLast().enumerated().map { "t\($0.offset) AS (\(statement($0.element)))" }
        return "WITH " + earlier.joined(separator: ", ") + " " + statement(tables[tables.count - 1])
    }

    /// Removes the rows of client `$2` on node `$1` from `table`.
    static func deleteRows(_ table: String) -> String {
        "DELETE FROM starling.\(table) WHERE node = $1 AND client = $2"
    }

    /// Removes the rows of client `$2` on nodes `$1` and `$3` from `table`.
    static func deleteRowsOfEither(_ table: String) -> String {
        "DELETE FROM starling.\(table) WHERE client = $2 AND node IN ($1, $3)"
    }

    /// Gives the rows of client `$2` on node `$1` in `table` to node `$3`.
    static func moveRows(_ table: String) -> String {
        "UPDATE starling.\(table) SET node = $3 WHERE node = $1 AND client = $2"
    }

    private static func bindings(_ values: String...) -> PostgresBindings {
        var bindings = PostgresBindings(capacity: values.count)
        for value in values { bindings.append(value) }
        return bindings
    }

    public func commit(_ changes: [StoreChange]) async throws {
        let batch = StoreBatch(changes)
        guard !batch.isEmpty else { return }
        let statements = try Self.statements(for: batch, node: node)
        let (client, logger) = (self.client, self.logger)
        let outcome = CommitOutcome()
        let transaction = Task {
            do {
                if statements.count == 1 {
                    // One statement is a transaction of its own.
                    try await client.withConnection { connection in
                        guard outcome.begin() else { throw CancellationError() }
                        try await connection.query(statements[0], logger: logger)
                    }
                } else {
                    try await client.withTransaction(logger: logger) { connection in
                        // Given up on before it began: nothing of it is written.
                        guard outcome.begin() else { throw CancellationError() }
                        for statement in statements { try await connection.query(statement, logger: logger) }
                    }
                }
                outcome.finish(nil)
            } catch {
                outcome.finish(error)
            }
        }
        let timer = Task {
            // First for a connection to begin it, then for it to end: a commit takes milliseconds.
            for evenBegun in [false, true] {
                guard (try? await Task.sleep(for: Self.connectionLimit)) != nil else { return }
                if outcome.abandon(evenBegun: evenBegun) {
                    // The task waits on the old pool until it is gone, and ends with it.
                    transaction.cancel()
                    replacePool(client)
                    return
                }
            }
        }
        defer { timer.cancel() }
        if let error = await outcome.result() {
            throw PostgresStoreError(kind: .commitFailed, url: url, detail: Self.describe(error))
        }
    }

    /// Replaces the pool `stuck`, if it is still the current one, by a new one, and shuts it down.
    private func replacePool(_ stuck: PostgresClient) {
        let old = pool.withLockedValue { pool -> Pool? in
            guard pool.client === stuck else { return nil }
            let old = pool
            pool = Pool(url: url, logger: logger)
            return old
        }
        guard let old else { return }
        logger.warning("the database did not take a commit within \(Self.connectionLimit): new connections replace the pool's")
        old.running.cancel()
    }

    public func close() async throws {
        let running = pool.withLockedValue { $0.running }
        running.cancel()
        await running.value
    }

    // MARK: Writing a batch

    /// The statements that write `batch`, in the order that keeps it right: deleted sessions first, then removals
    /// before additions.
    static func statements(for batch: StoreBatch, node: String) throws -> [PostgresQuery] {
        var statements = StatementList()
        let linkOfNode = Value.text(clusterLinkPrefix + node)
        let node = Value.text(node)
        let deleted = batch.deletedSessions.map { [node, Value.text($0.string)] }
        for table in sessionRowTables {
            statements.add(rows: deleted, "DELETE FROM starling.\(table) WHERE (node, client) IN (VALUES ", ")")
        }
        // Only link sessions have deliveries another node takes.
        statements.add(
            rows: batch.deletedSessions.filter { $0.string.isClusterLink }.map { [node, Value.text($0.string)] },
            "DELETE FROM starling.cluster_taken WHERE (node, client) IN (VALUES ", ")")
        statements.add(
            rows: batch.sessions.map { client, saved in
                [node, .text(client.string), .bigint(Int64(saved.expiryInterval)), .bigint(saved.expiresAt?.millisecondsSinceEpoch)]
            },
            "INSERT INTO starling.sessions (node, client, expiry_interval, expires_at) VALUES ",
            " ON CONFLICT (node, client) DO UPDATE SET expiry_interval = excluded.expiry_interval, expires_at = excluded.expires_at")

        var savedSubscriptions: [[Value]] = []
        var deletedSubscriptions: [[Value]] = []
        for (key, subscription) in batch.subscriptions {
            if let subscription {
                savedSubscriptions.append([
                    node, .text(key.client.string), .text(key.filter.string), .integer(Int32(subscription.optionsValue)),
                    .integer(subscription.identifier.map { Int32(clamping: $0) }),
                ])
            } else {
                deletedSubscriptions.append([node, .text(key.client.string), .text(key.filter.string)])
            }
        }
        statements.add(rows: deletedSubscriptions, "DELETE FROM starling.subscriptions WHERE (node, client, filter) IN (VALUES ", ")")
        statements.add(
            rows: savedSubscriptions, "INSERT INTO starling.subscriptions (node, client, filter, options, identifier) VALUES ",
            " ON CONFLICT (node, client, filter) DO UPDATE SET options = excluded.options, identifier = excluded.identifier")

        var added: [[Value]] = []
        var released: [[Value]] = []
        var removed: [[Value]] = []
        var removedFromLinks: [[Value]] = []
        for (key, change) in batch.deliveries {
            switch change {
            case .added(let delivery):
                let message = delivery.message
                added.append([
                    node, .text(key.client.string), .bigint(Int64(delivery.sequence)), .bytea(try StoredMessageCodec.encode(message)),
                    .text(message.publisher), .bigint(message.expiresAt?.millisecondsSinceEpoch), .smallint(Int16(delivery.qos.rawValue)),
                    .boolean(delivery.retain),
                    .integers(delivery.subscriptionIdentifiers.isEmpty ? nil : delivery.subscriptionIdentifiers.map { Int32(clamping: $0) }),
                    .text(delivery.share), .boolean(delivery.released),
                ])
            case .released:
                released.append([node, .text(key.client.string), .bigint(Int64(key.sequence))])
            case .removed:
                removed.append([node, .text(key.client.string), .bigint(Int64(key.sequence))])
                if key.client.string.isClusterLink { removedFromLinks.append(removed[removed.count - 1]) }
            }
        }
        statements.add(rows: removed, "DELETE FROM starling.deliveries WHERE (node, client, sequence) IN (VALUES ", ")")
        statements.add(
            rows: removedFromLinks, "DELETE FROM starling.cluster_taken WHERE (node, client, sequence) IN (VALUES ", ")")
        statements.add(
            rows: batch.clusterTaken.map { [.text($0.node), linkOfNode, .bigint(Int64(bitPattern: $0.sequence))] },
            "INSERT INTO starling.cluster_taken (node, client, sequence) VALUES ", " ON CONFLICT DO NOTHING")
        statements.add(rows: released, "UPDATE starling.deliveries SET released = true WHERE (node, client, sequence) IN (VALUES ", ")")
        statements.add(
            rows: added,
            "INSERT INTO starling.deliveries (node, client, sequence, message, publisher, expires_at, qos, retain, subscription_identifiers, share, released) VALUES ",
            """
             ON CONFLICT (node, client, sequence) DO UPDATE SET message = excluded.message, publisher = excluded.publisher,
             expires_at = excluded.expires_at, qos = excluded.qos, retain = excluded.retain,
             subscription_identifiers = excluded.subscription_identifiers, share = excluded.share, released = excluded.released
            """)

        var received: [[Value]] = []
        var releasedQoS2: [[Value]] = []
        for (key, isReceived) in batch.receivedQoS2 {
            let row: [Value] = [node, .text(key.client.string), .integer(Int32(key.packetIdentifier))]
            if isReceived { received.append(row) } else { releasedQoS2.append(row) }
        }
        statements.add(rows: releasedQoS2, "DELETE FROM starling.received_qos2 WHERE (node, client, packet_identifier) IN (VALUES ", ")")
        statements.add(rows: received, "INSERT INTO starling.received_qos2 (node, client, packet_identifier) VALUES ", " ON CONFLICT DO NOTHING")

        var wills: [[Value]] = []
        var noWills: [[Value]] = []
        for (client, will) in batch.wills {
            guard let will else {
                noWills.append([node, .text(client.string)])
                continue
            }
            let (message, delay) = will.storedMessage
            wills.append([
                node, .text(client.string), .bytea(try StoredMessageCodec.encode(message)), .bigint(delay.map { Int64($0) }),
                .bigint(will.publishAt?.millisecondsSinceEpoch),
            ])
        }
        statements.add(rows: noWills, "DELETE FROM starling.wills WHERE (node, client) IN (VALUES ", ")")
        statements.add(
            rows: wills, "INSERT INTO starling.wills (node, client, message, delay, publish_at) VALUES ",
            " ON CONFLICT (node, client) DO UPDATE SET message = excluded.message, delay = excluded.delay, publish_at = excluded.publish_at")

        var retained: [[Value]] = []
        var unretained: [[Value]] = []
        for (topic, message) in batch.retained {
            if let message {
                retained.append([
                    .text(topic.string), .bytea(try StoredMessageCodec.encode(message)), .text(message.publisher),
                    .bigint(message.expiresAt?.millisecondsSinceEpoch),
                ])
            } else {
                unretained.append([.text(topic.string)])
            }
        }
        statements.add(rows: unretained, "DELETE FROM starling.retained WHERE topic IN (", ")", single: true)
        statements.add(
            rows: retained, "INSERT INTO starling.retained (topic, message, publisher, expires_at) VALUES ",
            " ON CONFLICT (topic) DO UPDATE SET message = excluded.message, publisher = excluded.publisher, expires_at = excluded.expires_at")
        // Deliveries, the records of taken ones and retained messages only: no two statements can touch one row (a
        // delivery is added, released or removed, a retained message saved or deleted; the taken records this node
        // deletes are its own, those it adds another node's), so they go as one, a commit's one round trip.
        if batch.changesOnlyMessages, let combined = statements.combined { return [combined] }
        return statements.queries
    }

    /// A bound value, typed so that a NULL has its column's type.
    enum Value {
        case text(String?)
        case bigint(Int64?)
        case integer(Int32?)
        case smallint(Int16)
        case boolean(Bool)
        case bytea(ByteBuffer)
        case integers([Int32]?)

        func append(to bindings: inout PostgresBindings) {
            switch self {
            case .text(let value): bindings.append(value)
            case .bigint(let value): bindings.append(value)
            case .integer(let value): bindings.append(value)
            case .smallint(let value): bindings.append(value)
            case .boolean(let value): bindings.append(value)
            case .bytea(let value): bindings.append(value)
            case .integers(let value): bindings.append(value)
            }
        }
    }

    /// Multi-row statements, each within the bound on bind parameters.
    struct StatementList {
        /// `prefix row, row, … suffix`: one statement's worth of rows.
        private struct Part {
            var rows: ArraySlice<[Value]>
            var prefix: String
            var suffix: String
            var single: Bool
            var binds: Int { rows.reduce(0) { $0 + $1.count } }
        }

        private var parts: [Part] = []

        /// `prefix row, row, … suffix` for `rows`: each row `($1, $2, …)`, or `$n` for `single` values.
        mutating func add(rows: [[Value]], _ prefix: String, _ suffix: String, single: Bool = false) {
            guard let width = rows.first?.count else { return }
            let perStatement = max(1, PostgresBrokerStore.bindsPerStatement / width)
            var start = 0
            while start < rows.count {
                let end = min(rows.count, start + perStatement)
                parts.append(Part(rows: rows[start..<end], prefix: prefix, suffix: suffix, single: single))
                start = end
            }
        }

        /// One statement per part, in order.
        var queries: [PostgresQuery] {
            parts.map { part in
                var bindings = PostgresBindings(capacity: part.binds)
                var parameter = 0
                let sql = Self.render(part, parameter: &parameter, bindings: &bindings)
                return PostgresQuery(unsafeSQL: sql, binds: bindings)
            }
        }

        /// Every part in one statement, all but the last as data-modifying `WITH` queries, when their binds fit in
        /// one; nil otherwise. PostgreSQL runs them in no set order, on one snapshot: only for parts whose rows
        /// cannot touch one another's.
        var combined: PostgresQuery? {
            guard let last = parts.last, parts.reduce(0, { $0 + $1.binds }) <= PostgresBrokerStore.bindsPerStatement else { return nil }
            var bindings = PostgresBindings(capacity: parts.reduce(0) { $0 + $1.binds })
            var parameter = 0
            var sql = ""
            for (index, part) in parts.dropLast().enumerated() {
                sql += index == 0 ? "WITH " : ", "
                sql += "s\(index) AS (" + Self.render(part, parameter: &parameter, bindings: &bindings) + ")"
            }
            if parts.count > 1 { sql += " " }
            sql += Self.render(last, parameter: &parameter, bindings: &bindings)
            return PostgresQuery(unsafeSQL: sql, binds: bindings)
        }

        private static func render(_ part: Part, parameter: inout Int, bindings: inout PostgresBindings) -> String {
            var sql = part.prefix
            for (index, row) in part.rows.enumerated() {
                if index > 0 { sql += ", " }
                if !part.single { sql += "(" }
                for (column, value) in row.enumerated() {
                    parameter += 1
                    if column > 0 { sql += ", " }
                    sql += "$\(parameter)"
                    value.append(to: &bindings)
                }
                if !part.single { sql += ")" }
            }
            return sql + part.suffix
        }
    }
}
