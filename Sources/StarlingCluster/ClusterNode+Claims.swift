import Logging
import MQTT
import NIOConcurrencyHelpers
import NIOCore
import PostgresNIO
import StarlingBroker
import StarlingPostgres

/// One session per client identifier in the whole cluster: a CONNECT here claims the identifier in
/// `starling.cluster_clients`; when another node held it, that node hands the session over (told through
/// PostgreSQL's NOTIFY, answered the same way) and its stored rows move here in one transaction, or, when that
/// node is gone, they move without asking it.
extension ClusterNode {
    static let channel = "starling_cluster"
    /// How long a claim waits for the node that holds the session to answer.
    static let releaseTimeout: Duration = .seconds(5)

    public func claim(clientIdentifier: String, cleanStart: Bool) async -> ClusterClaim {
        guard let database = running else { return .granted }
        // Known unreachable: answered at once, as below when a query fails.
        if databaseSilent { return Self.withoutDatabase(cleanStart: cleanStart) }
        let me = configuration.node
        do {
            // The holder is dealt with first (asked to hand the session over, or replaced when gone), and only
            // then is the identifier taken: a claim that cannot finish leaves it where it was, with a node that
            // routes for it. A holder that changed meanwhile is dealt with in turn.
            for attempt in 0..<4 {
                // The first query bounded: a database that went down since the last heartbeat is not waited for.
                let found = attempt == 0
                    ? try await DatabaseSilence.answer { try await self.holder(of: clientIdentifier, database) }
                    : try await holder(of: clientIdentifier, database)
                if let (holder, standing) = found, holder != me {
                    switch standing {
                    case .alive:
                        gate.close()
                        let answered = await askRelease(of: clientIdentifier, from: holder, resume: !cleanStart, database)
                        gate.open()
                        if !answered {
                            guard case .gone = try await status(of: holder, database) else {
                                logger.warning("the node holding a session did not hand it over in time", metadata: [
                                    "client": "\(clientIdentifier)", "peer": "\(holder)",
                                ])
                                return .refused(.serverUnavailable, "the node holding this session does not answer: try again")
                            }
                            try await replace(holder, database)
                            continue
                        }
                    case .gone:
                        // Its sessions are taken up first (here or by another node), so that what the others queued
                        // for it reaches this session once, after it is here; this one then moves from there.
                        try await replace(holder, database)
                        continue
                    case .reaped, .unknown:
                        break
                    }
                }
                guard try await take(clientIdentifier, from: found?.node, database) else { continue }
                if let holder = found?.node, holder != me, let store {
                    gate.close()
                    defer { gate.open() }
                    if let session = try await store.takeSession(clientIdentifier, from: holder, discard: cleanStart), let broker {
                        try await broker.adopt([session])
                    }
                }
                doorbell.ring()
                return .granted
            }
            return .refused(.serverUnavailable, "the session is moving between nodes: try again")
        } catch {
            logger.warning("a session claim could not reach the cluster's database", metadata: [
                "client": "\(clientIdentifier)", "error": "\(PostgresBrokerStore.describe(error))",
            ])
            return Self.withoutDatabase(cleanStart: cleanStart)
        }
    }

    /// The answer to a claim while the database cannot be reached: a clean start needs nothing from another node;
    /// a session to resume may be on another node.
    static func withoutDatabase(cleanStart: Bool) -> ClusterClaim {
        cleanStart ? .granted : .refused(.serverUnavailable, "the cluster's database cannot be reached: sessions cannot be resumed now")
    }

    /// The node that holds the session of `client`, if any, and what the database says of that node: one query,
    /// as a take-over waits for each round trip.
    private func holder(of client: String, _ database: PostgresClient) async throws -> (node: String, standing: Standing)? {
        let timeout = configuration.nodeTimeoutSeconds
        for try await (node, fresh, reaped) in try await database.query(
            """
            SELECT c.node, n.heartbeat_at > now() - make_interval(secs => \(timeout)), n.reaped
            FROM starling.cluster_clients c LEFT JOIN starling.cluster_nodes n ON n.name = c.node WHERE c.client = \(client)
            """, logger: logger
        ).decode((String, Bool?, Bool?).self) {
            return (node, Standing(fresh: fresh, reaped: reaped))
        }
        return nil
    }

    /// Makes this node the holder of `client`, if `expected` still holds it; false when another node does now.
    /// One statement: the upsert locks the row, and its condition is checked against the row as it is then.
    private func take(_ client: String, from expected: String?, _ database: PostgresClient) async throws -> Bool {
        let me = configuration.node
        for try await _ in try await database.query(
            """
            INSERT INTO starling.cluster_clients (client, node, generation) VALUES (\(client), \(me), 1)
            ON CONFLICT (client) DO UPDATE SET node = excluded.node, generation = starling.cluster_clients.generation + 1
            WHERE starling.cluster_clients.node IS NOT DISTINCT FROM \(expected) OR starling.cluster_clients.node = \(me)
            RETURNING node
            """, logger: logger
        ).decode(String.self) {
            return true
        }
        return false
    }

    /// Takes the gone node `name`'s sessions up, here or by whichever node marks it first, and waits until that
    /// is done.
    private func replace(_ name: String, _ database: PostgresClient) async throws {
        if let broker { try await reap(name, database, broker: broker) }
        guard try await waitUntilReaped(name, database) else { throw ClusterError.notReplaced(name) }
    }

    /// What the database says of a node.
    enum Standing {
        case alive, gone, reaped, unknown

        /// From a node's row: whether its heartbeat is fresh and whether it was reaped; unknown when it has no row.
        init(fresh: Bool?, reaped: Bool?) {
            guard let fresh, let reaped else {
                self = .unknown
                return
            }
            self = reaped ? .reaped : fresh ? .alive : .gone
        }
    }

    /// What the database says of the node `name` now.
    func status(of name: String, _ database: PostgresClient) async throws -> Standing {
        let timeout = configuration.nodeTimeoutSeconds
        for try await (fresh, reaped) in try await database.query(
            "SELECT heartbeat_at > now() - make_interval(secs => \(timeout)), reaped FROM starling.cluster_nodes WHERE name = \(name)",
            logger: logger
        ).decode((Bool, Bool).self) {
            return Standing(fresh: fresh, reaped: reaped)
        }
        return .unknown
    }

    private func waitUntilReaped(_ name: String, _ database: PostgresClient) async throws -> Bool {
        let deadline = ContinuousClock.now + configuration.nodeTimeout * 2
        while ContinuousClock.now < deadline {
            if case .reaped = try await status(of: name, database) { return true }
            try await Task.sleep(for: .milliseconds(100))
        }
        return false
    }

    /// Asks `holder` to hand the session over and waits for its answer; false when none came in time.
    private func askRelease(of client: String, from holder: String, resume: Bool, _ database: PostgresClient) async -> Bool {
        let token = UInt64.random(in: 1...UInt64.max)
        let key = "\(token)\t\(client)"
        let answer = AsyncStream<Bool>.makeStream(of: Bool.self)
        releases.withLockedValue { $0[key] = answer.continuation }
        defer { _ = releases.withLockedValue { $0.removeValue(forKey: key) } }
        let request = ["release", holder, configuration.node, resume ? "1" : "0", "\(token)", client].joined(separator: "\t")
        do {
            try await database.query("SELECT pg_notify(\(Self.channel), \(request))", logger: logger)
        } catch {
            return false
        }
        return await withTaskGroup(of: Bool.self) { waiting in
            waiting.addTask {
                for await released in answer.stream { return released }
                return false
            }
            waiting.addTask {
                try? await Task.sleep(for: Self.releaseTimeout)
                return false
            }
            let first = await waiting.next() ?? false
            answer.continuation.finish()
            waiting.cancelAll()
            return first
        }
    }

    /// A notification on the cluster's channel: a request to hand a session over, an answer to one, or word
    /// that routes changed.
    func received(_ payload: String, _ database: PostgresClient) async {
        let fields = payload.split(separator: "\t", maxSplits: 5, omittingEmptySubsequences: false).map(String.init)
        switch fields.first {
        case "release" where fields.count == 6 && fields[1] == configuration.node:
            let (to, resume, token, client) = (fields[2], fields[3] == "1", fields[4], fields[5])
            if resume, let subscriptions = await broker?.client(client)?.subscriptions {
                // Until the other node's routes say so, what is published here for the session goes to it.
                movedRoutes(subscriptions.map(\.topicFilter), to: to)
            }
            _ = await broker?.handOver(clientIdentifier: client, resume: resume)
            doorbell.ring()
            let answer = ["released", to, token, client].joined(separator: "\t")
            _ = try? await database.query("SELECT pg_notify(\(Self.channel), \(answer))", logger: logger)
        case "released" where fields.count == 4 && fields[1] == configuration.node:
            let key = "\(fields[2])\t\(fields[3])"
            _ = releases.withLockedValue { $0[key]?.yield(true) }
        case "routes":
            doorbell.ring()
        default:
            break
        }
    }

    /// Listens on the cluster's channel on a connection of its own, again after each loss, until cancelled.
    func listen(_ database: PostgresClient) async {
        let current = NIOLockedValueBox<PostgresConnection?>(nil)
        await withTaskCancellationHandler {
            while !Task.isCancelled {
                do {
                    let connection = try await PostgresConnection.connect(
                        configuration: try configuration.url.connectionConfiguration(), id: 7, logger: quietLogger)
                    current.withLockedValue { $0 = connection }
                    // Cancelled while connecting: the handler below found no connection to close.
                    if Task.isCancelled {
                        try? await connection.close()
                        return
                    }
                    do {
                        try await connection.listen(on: Self.channel) { notifications in
                            for try await notification in notifications { await received(notification.payload, database) }
                        }
                    } catch {}
                    current.withLockedValue { $0 = nil }
                    try? await connection.close()
                } catch {}
                try? await Task.sleep(for: .milliseconds(500))
            }
        } onCancel: {
            // The notifications end only when their connection does.
            _ = current.withLockedValue { $0 }?.close() as EventLoopFuture<Void>?
        }
    }
}
