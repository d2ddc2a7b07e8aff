import Atomics
import Logging
import MQTT
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import PostgresNIO
import ServiceLifecycle
import StarlingBroker
import StarlingClient
import StarlingPostgres

/// This broker as one node of a cluster on PostgreSQL, run as a `Service` beside its `MQTTBroker` (given to the
/// broker as `BrokerHooks.cluster`, then `attach`ed to it).
///
/// Every `heartbeat` the node says it is alive (`starling.cluster_nodes`), writes the topic filters its clients
/// subscribe to (`starling.cluster_routes`, its own rows only) and reads the other nodes' rows. To each other
/// node that is alive it keeps a link: a client of that node's broker, identified as `$cluster/` and this node's
/// name, with a persistent session subscribed to `#`. That node delivers to the link only the messages whose
/// topics this node's clients subscribe to (`ClusterRouting.forwarding`), durably queued in the link's session
/// until this node has them; this node publishes each to its own subscribers and acknowledges it once it is as
/// safe here as a client's PUBACK says. So a message crosses at most one link, and a QoS 1 or 2 message
/// acknowledged to its publisher is either delivered or durably queued for every node that wants it.
public final class ClusterNode: ClusterRouting, Service {
    public let configuration: ClusterConfiguration
    let logger: Logger
    /// For the pool and the listener, whose own notices are not the operator's business.
    let quietLogger: Logger
    private let group: any EventLoopGroup
    private let state: NIOLockedValueBox<State>
    /// Rung when the routes should be written or read before the next heartbeat.
    let doorbell = Doorbell()
    let gate = LinkGate()
    /// What the links brought in, so that nothing they send again is published twice.
    let taken = TakenDeliveries()
    /// Claims waiting for another node to hand a session over, by generation and client identifier.
    let releases = NIOLockedValueBox<[String: AsyncStream<Bool>.Continuation]>([:])

    struct State {
        var broker: MQTTBroker?
        var store: PostgresBrokerStore?
        /// The database while the node runs.
        var database: PostgresClient?
        /// Filters of sessions handed over to a node, forwarded to it until its own routes say so.
        var moved: [String: (filters: Set<String>, routes: RouteSet, until: ContinuousClock.Instant)] = [:]
        /// Where other nodes reach this one: the configuration's, unless `attach` gave one.
        var address: String
        /// What the links prove: read from the database at start.
        var secret: [UInt8]?
        var peers: [String: Peer] = [:]
        /// The filters this node last wrote as its routes.
        var written: Set<String> = []
        var links: [String: Task<Void, Never>] = [:]
        /// The node that took this one as gone, once this one learns of it.
        var replacedBy: String?
        /// Since when this node's heartbeats have been reaching the database without a break; nil while they fail.
        var healthySince: ContinuousClock.Instant?
        /// The last heartbeat failed or went unanswered: claims answer at once rather than wait for the database.
        var databaseSilent = false
        /// Gone nodes whose queues this node has sent on.
        var redirected: Set<String> = []
        /// Which of the nodes with members of a shared subscription's group gets the next message, in turn.
        var shareTurn = 0
    }

    struct Peer {
        /// The client identifier of its link to this node.
        let link: String
        var address: String
        var alive: Bool
        /// Gone, and its sessions taken up by another node: nothing is queued for it any more.
        var reaped = false
        var routes: RouteSet
        var linked = false
        var forwardedFrom = ManagedAtomic<UInt64>(0)
        var heldBack = ManagedAtomic<UInt64>(0)
    }

    public init(configuration: ClusterConfiguration, eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "starling.cluster")) {
        self.configuration = configuration
        self.state = NIOLockedValueBox(State(address: configuration.address))
        self.group = eventLoopGroup
        var logger = logger
        logger[metadataKey: "node"] = "\(configuration.node)"
        self.logger = logger
        var quiet = logger
        quiet.logLevel = max(logger.logLevel, .error)
        self.quietLogger = quiet
    }

    /// The broker this node serves, before `run()`; `address`, when given, replaces the configuration's (a
    /// listener bound to port 0 is known only once it runs).
    ///
    /// `store`, the broker's store when it keeps its sessions in the cluster's database, is where sessions move
    /// between nodes; without it, a session does not follow its client to another node.
    public func attach(_ broker: MQTTBroker, store: PostgresBrokerStore?, address: String? = nil) {
        state.withLockedValue { state in
            state.broker = broker
            state.store = store
            if let address { state.address = address }
        }
    }

    /// Where other nodes reach this one.
    public var address: String { state.withLockedValue { $0.address } }

    /// Whether this node may take another as gone: only once its own heartbeats have reached the database for a
    /// whole node timeout, so that after the database comes back the others have had time to say they are alive.
    var judgesOthers: Bool {
        state.withLockedValue { state in
            state.healthySince.map { ContinuousClock.now - $0 >= configuration.nodeTimeout } ?? false
        }
    }
    /// Whether the last heartbeat failed or went unanswered.
    var databaseSilent: Bool { state.withLockedValue { $0.databaseSilent } }
    var broker: MQTTBroker? { state.withLockedValue { $0.broker } }
    var store: PostgresBrokerStore? { state.withLockedValue { $0.store } }
    var running: PostgresClient? { state.withLockedValue { $0.database } }

    /// Sends what is published here to `filters` to the node `name` for a while, whatever its routes say.
    func movedRoutes(_ filters: [String], to name: String) {
        let until = ContinuousClock.now + configuration.nodeTimeout
        state.withLockedValue { state in
            var moved = state.moved[name]?.filters ?? []
            moved.formUnion(filters)
            state.moved[name] = (moved, RouteSet(moved), until)
        }
    }

    /// The link client identifier of the node `name`.
    public static func linkClientIdentifier(of name: String) -> String { clusterLinkPrefix + name }

    // MARK: ClusterRouting

    public func forwarding(topic: String, retain: Bool, localShares: [String]) -> ClusterForwarding {
        state.withLockedValue { state in
            var links: [ClusterForwarding.Link] = []
            // The nodes with members of each shared group that has no connected member here.
            var candidates: [String: [(name: String, alive: Bool)]] = [:]
            for (name, peer) in state.peers {
                // A node that stopped answering still gets what it wants, queued here for it until another node
                // has taken its sessions up; then this node sends the queue on to where they are.
                guard !peer.reaped else { continue }
                let moved = state.moved[name]?.routes
                // Every node keeps every retained message, so that its own subscribers get them when they subscribe.
                if retain || peer.routes.matches(topic) || moved?.matches(topic) == true {
                    links.append(ClusterForwarding.Link(clientIdentifier: peer.link))
                }
                for share in peer.routes.shares(matching: topic) + (moved?.shares(matching: topic) ?? [])
                where !localShares.contains(where: { $0.hasSameBytes(as: share) }) {
                    candidates[share, default: []].append((name, peer.alive))
                }
            }
            for (share, nodes) in candidates {
                // A node that is alive rather than one whose sessions wait to be taken up, in turn.
                let alive = nodes.filter(\.alive)
                let pool = Set((alive.isEmpty ? nodes : alive).map(\.name)).sorted()
                let chosen = pool[state.shareTurn % pool.count]
                state.shareTurn &+= 1
                guard let link = state.peers[chosen]?.link else { continue }
                if let index = links.firstIndex(where: { $0.clientIdentifier == link }) {
                    links[index].shares.append(share)
                } else {
                    links.append(ClusterForwarding.Link(clientIdentifier: link, shares: [share]))
                }
            }
            return ClusterForwarding(links: links)
        }
    }

    public func admitsLink(clientIdentifier: String, userName: String?, password: [UInt8]?) -> Bool {
        guard userName == "$cluster", let password, let secret = state.withLockedValue({ $0.secret }), password.count == secret.count else {
            return false
        }
        // Compared in constant time.
        var difference: UInt8 = 0
        for (a, b) in zip(password, secret) { difference |= a ^ b }
        return difference == 0
    }

    // MARK: What the node sees

    /// Every node of the cluster, this one first.
    public func nodes() -> [ClusterMember] {
        state.withLockedValue { state in
            var nodes = [ClusterMember(
                name: configuration.node, address: state.address, isAlive: true, isSelf: true, isLinked: false,
                routes: state.written.count, forwardedFrom: 0)]
            for (name, peer) in state.peers.sorted(by: { $0.key < $1.key }) {
                nodes.append(ClusterMember(
                    name: name, address: peer.address, isAlive: peer.alive, isSelf: false, isLinked: peer.linked, routes: peer.routes.count,
                    forwardedFrom: peer.forwardedFrom.load(ordering: .relaxed), heldBack: peer.heldBack.load(ordering: .relaxed)))
            }
            return nodes
        }
    }

    // MARK: Running

    public func run() async throws {
        guard let broker = state.withLockedValue({ $0.broker }) else {
            throw ClusterError.notAttached
        }
        try await PostgresBrokerStore.prepareSchema(url: configuration.url, logger: logger)
        var clientConfiguration = configuration.url.clientConfiguration
        clientConfiguration.options.maximumConnections = 3
        let database = PostgresClient(configuration: clientConfiguration, backgroundLogger: quietLogger)
        // The pool outlives everything below, leaving included, whatever cancels the node: it ends last. Detached,
        // so that it does not inherit the service group's graceful shutdown, which would shut it down at once, before
        // the node could say it leaves.
        let pool = Task.detached { await database.run() }
        defer { pool.cancel() }
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { await self.listen(database) }
            // A subscription made here is written at once rather than at the next heartbeat.
            tasks.addTask { [doorbell] in
                // Without `published`: one event per message routed, which this loop would only skip.
                for await event in broker.events(includingPublications: false) {
                    switch event {
                    case .subscribed, .unsubscribed, .clientDisconnected: doorbell.ring()
                    default: break
                    }
                }
            }
            defer {
                tasks.cancelAll()
                for link in state.withLockedValue({ $0.links.values }) { link.cancel() }
            }
            try await join(database)
            // Its own task, so that nothing a beat waits for (a gone node's sessions, a slow query) delays it.
            tasks.addTask { try await self.keepAlive(database) }
            state.withLockedValue { $0.database = database }
            defer { state.withLockedValue { $0.database = nil } }
            logger.notice("joined the cluster", metadata: ["address": "\(address)"])
            do {
                try await cancelWhenGracefulShutdown { try await self.keepUp(database, broker: broker) }
            } catch let error as ClusterError {
                throw error
            } catch {}
            // Not cancelled with the node: the others hear at once that it left.
            await Task { await self.leave(database) }.value
        }
    }

    private func join(_ database: PostgresClient) async throws {
        var secret = [UInt8](repeating: 0, count: 32)
        var generator = SystemRandomNumberGenerator()
        for index in secret.indices { secret[index] = generator.next() }
        let made = secret.map { String($0, radix: 16) }.joined()
        try await database.query("INSERT INTO starling.cluster_secret (secret) VALUES (\(made)) ON CONFLICT DO NOTHING", logger: logger)
        var stored: String?
        for try await value in try await database.query("SELECT secret FROM starling.cluster_secret", logger: logger).decode(String.self) {
            stored = value
        }
        guard let stored else { throw ClusterError.noSecret }
        state.withLockedValue { $0.secret = Array(stored.utf8) }
        let incarnation = WallClockTime.now().millisecondsSinceEpoch
        try await database.query(
            """
            INSERT INTO starling.cluster_nodes (name, address, incarnation) VALUES (\(configuration.node), \(address), \(incarnation))
            ON CONFLICT (name) DO UPDATE SET address = excluded.address, incarnation = excluded.incarnation,
            started_at = now(), heartbeat_at = now(), leaving = false, reaped_by = NULL, reaped = false
            """, logger: logger)
    }

    /// Says this node is alive every heartbeat. A node that finds it was taken as gone (its heartbeat stalled
    /// beyond the node timeout, and another node took its sessions up) stops: the sessions it still holds are
    /// another node's now, and it must not write them. `ClusterError.replaced` ends `run()`.
    private func keepAlive(_ database: PostgresClient) async throws {
        let (node, logger) = (configuration.node, logger)
        while !Task.isCancelled {
            do {
                // Bounded, so that a database gone silent is known within a beat or two (`databaseSilent`).
                // The row's reaped_by, nil when there is no row.
                let row: String?? = try await DatabaseSilence.answer {
                    for try await reapedBy in try await database.query(
                        "UPDATE starling.cluster_nodes SET heartbeat_at = now() WHERE name = \(node) RETURNING reaped_by",
                        logger: logger
                    ).decode(String?.self) {
                        return .some(reapedBy)
                    }
                    return nil
                }
                state.withLockedValue { $0.databaseSilent = false }
                if let reapedBy = row {
                    state.withLockedValue { $0.healthySince = $0.healthySince ?? .now }
                    if let reapedBy {
                        logger.critical("this node was taken as gone and its sessions taken up by another node: stopping", metadata: ["by": "\(reapedBy)"])
                        state.withLockedValue { $0.replacedBy = reapedBy }
                        doorbell.ring()
                        throw ClusterError.replaced(reapedBy)
                    }
                }
            } catch let error as ClusterError {
                throw error
            } catch {
                if Task.isCancelled { return }
                state.withLockedValue {
                    $0.healthySince = nil
                    $0.databaseSilent = true
                }
            }
            try? await Task.sleep(for: configuration.heartbeat)
        }
    }

    private func keepUp(_ database: PostgresClient, broker: MQTTBroker) async throws {
        var failing = false
        while !Task.isCancelled {
            if let replacedBy = state.withLockedValue({ $0.replacedBy }) { throw ClusterError.replaced(replacedBy) }
            do {
                // Abandoned when the node stops, even while it waits for a connection the pool does not give.
                try await DatabaseSilence.answer(within: nil) { try await self.beat(database, broker: broker) }
                if failing {
                    logger.notice("the cluster's database is back")
                    failing = false
                }
            } catch {
                if Task.isCancelled { return }
                if !failing {
                    // Said once per outage: local traffic goes on, forwarding follows the last routes known.
                    logger.error("the cluster's database cannot be reached", metadata: ["error": "\(PostgresBrokerStore.describe(error))"])
                    failing = true
                }
            }
            // The next heartbeat, or sooner when a local subscription changed; a storm of subscriptions is taken
            // a few at a time rather than one beat each.
            try? await Task.sleep(for: .milliseconds(5))
            await doorbell.wait(upTo: configuration.heartbeat)
        }
    }

    /// One heartbeat: alive, own routes written, the others' read, links started and stopped.
    private func beat(_ database: PostgresClient, broker: MQTTBroker) async throws {
        try await writeRoutes(database, broker: broker)
        let timeout = configuration.nodeTimeoutSeconds
        var seen: [String: (address: String, alive: Bool, reaped: Bool)] = [:]
        var routes: [String: [String]] = [:]
        // One snapshot: a node's being gone and the routes of the node that took its sessions up are seen together.
        try await database.withTransaction(logger: logger) { connection in
            try await connection.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ", logger: logger)
            let nodeRows = try await connection.query(
                """
                SELECT name, address, NOT leaving AND heartbeat_at > now() - make_interval(secs => \(timeout)), reaped
                FROM starling.cluster_nodes WHERE name <> \(configuration.node)
                """, logger: logger)
            for try await (name, address, alive, isReaped) in nodeRows.decode((String, String, Bool, Bool).self) {
                seen[name] = (address, alive, isReaped)
            }
            for try await (node, filter) in try await connection.query(
                "SELECT node, filter FROM starling.cluster_routes WHERE node <> \(configuration.node)", logger: logger
            ).decode((String, String).self) {
                routes[node, default: []].append(filter)
            }
        }
        let dead = seen.filter { !$0.value.alive && !$0.value.reaped }.map(\.key)
        let reaped = seen.filter { $0.value.reaped }.map(\.key)
        let (start, stop) = state.withLockedValue { state -> ([(String, String)], [Task<Void, Never>]) in
            for (name, node) in seen {
                let routeSet = RouteSet(routes[name] ?? [])
                if state.peers[name] == nil {
                    state.peers[name] = Peer(link: Self.linkClientIdentifier(of: name), address: node.address, alive: node.alive, reaped: node.reaped, routes: routeSet)
                } else {
                    state.peers[name]!.address = node.address
                    state.peers[name]!.alive = node.alive
                    state.peers[name]!.reaped = node.reaped
                    state.peers[name]!.routes = routeSet
                }
            }
            for name in state.peers.keys where seen[name] == nil { state.peers.removeValue(forKey: name) }
            let now = ContinuousClock.now
            state.moved = state.moved.filter { $0.value.until > now }
            var start: [(String, String)] = []
            var stop: [Task<Void, Never>] = []
            for (name, peer) in state.peers where peer.alive && state.links[name] == nil { start.append((name, peer.address)) }
            for (name, link) in state.links where state.peers[name]?.alive != true {
                stop.append(link)
                state.links.removeValue(forKey: name)
            }
            return (start, stop)
        }
        for link in stop { link.cancel() }
        for (name, address) in start {
            let link = Task { await self.keepLinked(to: name, address: address, broker: broker) }
            state.withLockedValue { $0.links[name] = link }
        }
        for name in dead { try await reap(name, database, broker: broker) }
        // Read after the routes the reaping node wrote: what was queued here for a node that is gone goes where its
        // sessions are now.
        let redirect = state.withLockedValue { state -> [String] in
            state.redirected.formIntersection(reaped)
            return reaped.filter { !state.redirected.contains($0) }
        }
        for name in redirect {
            try await redirectQueues(of: name, database, broker: broker)
            state.withLockedValue { _ = $0.redirected.insert(name) }
        }
    }

    /// Writes the filters this node's clients subscribe to as its routes, when they changed, and tells the others.
    ///
    /// `with`, when given, is run in the same transaction, whether the routes changed or not.
    func writeRoutes(_ database: PostgresClient, broker: MQTTBroker, with also: PostgresQuery? = nil) async throws {
        var filters = Set<String>()
        for client in await broker.clients() where !client.clientIdentifier.isClusterLink {
            for subscription in client.subscriptions { filters.insert(subscription.topicFilter) }
        }
        let written = state.withLockedValue { $0.written }
        let added = filters.subtracting(written)
        let removed = written.subtracting(filters)
        if !added.isEmpty || !removed.isEmpty || also != nil {
            try await database.withTransaction(logger: logger) { connection in
                if let also { try await connection.query(also, logger: logger) }
                if !removed.isEmpty {
                    try await connection.query(
                        "DELETE FROM starling.cluster_routes WHERE node = \(configuration.node) AND filter = ANY(\(Array(removed)))", logger: logger)
                }
                if !added.isEmpty {
                    try await connection.query(
                        """
                        INSERT INTO starling.cluster_routes (node, filter) SELECT \(configuration.node), unnest(\(Array(added)))
                        ON CONFLICT DO NOTHING
                        """, logger: logger)
                }
            }
            state.withLockedValue { $0.written = filters }
            // The other nodes read the routes now rather than at their next heartbeat.
            _ = try? await database.query("SELECT pg_notify(\(Self.channel), 'routes')", logger: logger)
        }
    }

    private func leave(_ database: PostgresClient) async {
        let (node, logger) = (configuration.node, logger)
        do {
            // Bounded: a node told to stop stops, whatever the database does. The others then see it gone after
            // the node timeout instead of at once.
            try await DatabaseSilence.answer(within: .seconds(5)) {
                // Another node's links stop at once rather than after the node timeout.
                try await database.query("UPDATE starling.cluster_nodes SET leaving = true WHERE name = \(node)", logger: logger)
                try await database.query("DELETE FROM starling.cluster_routes WHERE node = \(node)", logger: logger)
            }
            logger.notice("left the cluster")
        } catch {
            logger.warning("left the cluster without telling the others", metadata: ["error": "\(PostgresBrokerStore.describe(error))"])
        }
    }

    // MARK: Links

    /// Keeps this node's link to the node `name` up until cancelled, connecting again after a delay that grows.
    private func keepLinked(to name: String, address: String, broker: MQTTBroker) async {
        var failures = 0
        var generator = SystemRandomNumberGenerator()
        let retry = ReconnectPolicy(initialDelay: .milliseconds(100), maximumDelay: .seconds(5), multiplier: 2, jitter: 0.25)
        while !Task.isCancelled {
            do {
                try await link(to: name, address: address, broker: broker)
                failures = 0
            } catch is CancellationError {
                break
            } catch {
                failures += 1
                if failures == 1 { logger.warning("link to node down", metadata: ["peer": "\(name)", "error": "\(error)"]) }
            }
            state.withLockedValue { $0.peers[name]?.linked = false }
            guard !Task.isCancelled else { break }
            try? await Task.sleep(nanoseconds: UInt64(retry.delay(beforeAttempt: max(1, failures), using: &generator).nanoseconds))
        }
    }

    private func link(to name: String, address: String, broker: MQTTBroker) async throws {
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]) else {
            throw ClusterError.badAddress(address)
        }
        let host = String(address[..<colon]).trimmingCharacters(in: ["[", "]"])
        let secret = String(decoding: state.withLockedValue { $0.secret } ?? [], as: UTF8.self)
        var settings = MQTTClientConfiguration(
            host: host, port: port, protocolVersion: .v5, clientIdentifier: Self.linkClientIdentifier(of: configuration.node),
            cleanStart: false, sessionExpiryInterval: 86_400, keepAlive: 30, userName: "$cluster",
            password: secret)
        settings.reconnect = .disabled
        settings.acknowledgesManually = true
        settings.receiveMaximum = 1_000
        settings.messageBufferLimit = 2_000
        let client = MQTTClient(configuration: settings, eventLoopGroup: group.next(), logger: logger)
        let events = client.connectionEvents()
        // Made before connecting, so that what the resumed session sends right after CONNACK is not missed.
        let pending = client.makeSubscription(
            to: [SubscribePacket.Subscription(
                topicFilter: "#", options: SubscriptionOptions(qos: .exactlyOnce, retainAsPublished: true, retainHandling: .doNotSend))],
            receivingUnclaimed: true)
        let (counter, heldBack) = state.withLockedValue { ($0.peers[name]?.forwardedFrom, $0.peers[name]?.heldBack) }
        let logger = self.logger
        let taken = self.taken
        // What this node took from the link before it last stopped: the other node may send it again.
        if let database = running {
            for sequence in try await takenSequences(node: name, client: Self.linkClientIdentifier(of: configuration.node), database) {
                _ = taken.take(sequence, from: name)
            }
        }
        try await withTaskCancellationHandler {
            try await client.withConnection { client in
                let messages = try await pending.acknowledged()
                state.withLockedValue { $0.peers[name]?.linked = true }
                logger.notice("linked to node", metadata: ["peer": "\(name)", "address": "\(address)"])
                // Read by a task that the link's cancellation does not reach: a subscription whose reader is
                // cancelled unsubscribes, and the other node would stop queueing for this one while it is down. It
                // ends after the client.
                let inbox: ClusterInbox<LinkDelivery> = broker.clusterInbox(fromNode: name, limit: configuration.linkInboxLimit) { deliveries, result in
                    switch result {
                    case .success:
                        client.acknowledge(deliveries.map(\.message))
                        counter?.wrappingIncrement(by: UInt64(deliveries.count), ordering: .relaxed)
                    case .failure(let error):
                        for delivery in deliveries { if let sequence = delivery.sequence { taken.forget(sequence, from: name) } }
                        // Not acknowledged: the link starts again and the other node sends them again.
                        logger.warning("forwarded messages not stored; relinking", metadata: ["peer": "\(name)", "error": "\(error)"])
                        client.beginDisconnect()
                    }
                }
                let reader = Task {
                    defer { client.beginDisconnect() }
                    for try await message in messages {
                        await self.gate.pass()
                        var properties = message.properties
                        let stamps = LinkStamps(taking: &properties)
                        let sequence = stamps.sequence
                        if let sequence, !taken.take(sequence, from: name) {
                            // Taken here already: the other node had not heard so when its link dropped.
                            client.acknowledge(message)
                            continue
                        }
                        let expiry = properties.messageExpiryInterval.map { NIODeadline.now() + .seconds(Int64($0)) }
                        let forwarded = Message(
                            topic: message.topic, payload: message.payload, qos: message.qos, retain: message.retain,
                            properties: properties, expiry: expiry)
                        if !inbox.forward(forwarded, sequence: sequence, shares: stamps.shares, token: LinkDelivery(message: message, sequence: sequence)) {
                            // This node routes more slowly than the other sends: the link's socket waits, not memory.
                            heldBack?.wrappingIncrement(ordering: .relaxed)
                            await inbox.waitForRoom()
                        }
                    }
                }
                for await event in events { if case .disconnected = event { break } }
                await client.disconnect()
                // Ended now, so that nothing it waits for keeps the link; the client sends nothing more.
                reader.cancel()
                _ = await reader.result
            }
        } onCancel: {
            client.beginDisconnect()
        }
        throw ClusterError.linkLost(name)
    }
}

/// A message a link brought, until it is acknowledged.
private struct LinkDelivery: Sendable {
    let message: MQTTMessage
    let sequence: UInt64?
}

/// Why a node stops or relinks.
public enum ClusterError: Error, Sendable, Hashable, CustomStringConvertible {
    /// `run()` before `attach(_:)`.
    case notAttached
    /// The cluster's secret could not be read.
    case noSecret
    /// A node's address is not `host:port`.
    case badAddress(String)
    /// The link to a node was lost; the node links again.
    case linkLost(String)
    /// This node was taken as gone by the named node, which took its sessions up.
    case replaced(String)
    /// A gone node's sessions were not taken up in time.
    case notReplaced(String)

    public var description: String {
        switch self {
        case .notAttached: "the cluster node was run before a broker was attached to it"
        case .noSecret: "the cluster's secret could not be read from the database"
        case .badAddress(let address): "a node's address, \(address), is not host:port"
        case .linkLost(let name): "the link to node \(name) was lost"
        case .replaced(let name): "this node was taken as gone by node \(name), which took its sessions up"
        case .notReplaced(let name): "the sessions of node \(name), which is gone, were not taken up in time"
        }
    }
}
