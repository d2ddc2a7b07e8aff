import Logging
import NIOCore
import MQTT
import PostgresNIO
import StarlingBroker
import StarlingPostgres

/// A node that dies (no heartbeat for `nodeTimeout`, and it did not leave): one surviving node, the first to mark
/// it, takes its persistent sessions up as the dead node's own restart would (their wills due as for a connection
/// lost, their expiry counting from now), so that their subscriptions keep attracting messages and their clients
/// resume them on any node; then each node publishes again what it had queued for the dead node's link, which
/// now goes where those sessions are.
extension ClusterNode {
    func reap(_ name: String, _ database: PostgresClient, broker: MQTTBroker) async throws {
        guard judgesOthers else { return }
        let timeout = configuration.nodeTimeoutSeconds
        var won = false
        for try await _ in try await database.query(
            """
            UPDATE starling.cluster_nodes SET reaped_by = \(configuration.node)
            WHERE name = \(name) AND reaped_by IS NULL AND heartbeat_at < now() - make_interval(secs => \(timeout))
            RETURNING name
            """, logger: logger
        ).decode(String.self) {
            won = true
        }
        guard won else { return }
        logger.warning("a node is gone: taking its sessions up", metadata: ["peer": "\(name)"])
        var clients: [String] = []
        for try await client in try await database.query(
            "SELECT client FROM starling.sessions WHERE node = \(name)", logger: logger
        ).decode(String.self) where !client.isClusterLink {
            // Its links' sessions are each for the node they name, which takes what is queued in it.
            clients.append(client)
        }
        var sessions: [StoredSession] = []
        if let store {
            for client in clients {
                // A client that reconnected elsewhere meanwhile has claimed its session there: that node takes it.
                var owned = false
                for try await _ in try await database.query(
                    """
                    INSERT INTO starling.cluster_clients (client, node, generation) VALUES (\(client), \(configuration.node), 1)
                    ON CONFLICT (client) DO UPDATE SET node = excluded.node, generation = starling.cluster_clients.generation + 1
                    WHERE starling.cluster_clients.node = \(name)
                    RETURNING generation
                    """, logger: logger
                ).decode(Int64.self) {
                    owned = true
                }
                guard owned else { continue }
                if let session = try await store.takeSession(client, from: name) { sessions.append(session) }
            }
            // All at once, as the gone node's link here stops taking what they now take: a message published
            // meanwhile reaches them either directly or, later, from the link's queue, not both ways.
            try await broker.adopt(sessions, closingLink: Self.linkClientIdentifier(of: name))
        }
        try await database.query("DELETE FROM starling.cluster_routes WHERE node = \(name)", logger: logger)
        // The routes of the sessions taken up and the word that the node is gone in one transaction: a node that
        // sees the one sees the other, and sends its queue for the gone node on to where the sessions are.
        try await writeRoutes(
            database, broker: broker, with: "UPDATE starling.cluster_nodes SET reaped = true WHERE name = \(name)")
        _ = try? await database.query("SELECT pg_notify(\(Self.channel), 'routes')", logger: logger)
        logger.notice("took a gone node's sessions up", metadata: ["peer": "\(name)", "sessions": "\(sessions.count)"])
    }

    /// Once the gone node `name` is taken care of: publishes again what this node's broker had queued for its
    /// link, and takes what the gone node had queued for this node's link (those it had not yet had word of)
    /// as if the link had brought it.
    ///
    /// Neither publishes again what the other node had taken (`starling.cluster_taken`): committed there, though
    /// its acknowledgement had not come back.
    func redirectQueues(of name: String, _ database: PostgresClient, broker: MQTTBroker) async throws {
        let link = Self.linkClientIdentifier(of: name)
        if await broker.client(link) != nil {
            let takenThere = try await takenSequences(node: configuration.node, client: link, database)
            let count = try await broker.republishUndelivered(ofSession: link, excluding: takenThere)
            if count > 0 { logger.notice("sent on what was queued for a gone node", metadata: ["peer": "\(name)", "messages": "\(count)"]) }
        }
        guard let store else { return }
        let own = Self.linkClientIdentifier(of: configuration.node)
        let takenHere = try await takenSequences(node: name, client: own, database).union(taken.sequences(of: name))
        guard let left = try await store.takeSession(own, from: name) else { return }
        let now = NIODeadline.now()
        let wallNow = WallClockTime.now()
        var sent = 0
        for delivery in left.deliveries.sorted(by: { $0.sequence < $1.sequence }) where !delivery.released && !takenHere.contains(delivery.sequence) {
            var message = delivery.message
            message.qos = delivery.qos
            let expiry = message.expiresAt.map { now + .milliseconds($0.millisecondsSinceEpoch - wallNow.millisecondsSinceEpoch) }
            var properties = message.properties
            let stamps = LinkStamps(taking: &properties)
            try await broker.forward(
                Message(topic: message.topic, payload: message.payload, qos: message.qos, retain: message.retain,
                    properties: properties, publisher: message.publisher, expiry: expiry),
                fromClusterNode: name, shares: stamps.shares
            ).get()
            sent += 1
        }
        _ = try await store.takeSession(own, from: configuration.node, discard: true)
        try await database.query("DELETE FROM starling.cluster_taken WHERE node = \(name) AND client = \(own)", logger: logger)
        if sent > 0 { logger.notice("took what a gone node had queued for this one", metadata: ["peer": "\(name)", "messages": "\(sent)"]) }
    }

    /// The sequence numbers of the deliveries of `node` to its link session `client` that the link's node took.
    func takenSequences(node: String, client: String, _ database: PostgresClient) async throws -> Set<UInt64> {
        var sequences = Set<UInt64>()
        for try await sequence in try await database.query(
            "SELECT sequence FROM starling.cluster_taken WHERE node = \(node) AND client = \(client)", logger: logger
        ).decode(Int64.self) {
            sequences.insert(UInt64(sequence))
        }
        return sequences
    }
}
