import Logging
import MQTT
import NIOCore
import ServiceLifecycle
import StarlingBroker
import StarlingCluster
import StarlingPostgres
import StarlingTesting

/// Nodes of one cluster in this process, each a `TestBroker` with its sessions in the test database and a
/// `ClusterNode` beside it, on 127.0.0.1 and free ports.
final class TestCluster: Sendable {
    struct Node: Sendable {
        let name: String
        let broker: TestBroker
        let cluster: ClusterNode
        let task: Task<Void, any Error>
    }

    let url: PostgresURL
    let nodes: [Node]

    private init(url: PostgresURL, nodes: [Node]) {
        self.url = url
        self.nodes = nodes
    }

    static func with<T>(
        _ url: PostgresURL, nodes count: Int, _ configure: @escaping @Sendable (inout BrokerConfiguration) -> Void = { _ in },
        _ body: (TestCluster) async throws -> T
    ) async throws -> T {
        var nodes: [Node] = []
        for index in 1...count {
            nodes.append(try await start(url, name: "n\(index)", configure))
        }
        let cluster = TestCluster(url: url, nodes: nodes)
        let result: Result<T, any Error>
        do {
            result = .success(try await body(cluster))
        } catch {
            result = .failure(error)
        }
        for node in cluster.nodes { await stop(node) }
        return try result.get()
    }

    static func start(_ url: PostgresURL, name: String, _ configure: (inout BrokerConfiguration) -> Void = { _ in }) async throws -> Node {
        var configuration = ClusterConfiguration(url: url, node: name, address: "127.0.0.1:0")
        configuration.heartbeat = .milliseconds(100)
        configuration.nodeTimeout = .seconds(5)
        let cluster = ClusterNode(configuration: configuration, logger: TestBroker.quietLogger)
        var brokerConfiguration = TestBroker.defaultConfiguration
        configure(&brokerConfiguration)
        let store = try await PostgresBrokerStore.open(url: url, node: name)
        let broker = try await TestBroker(configuration: brokerConfiguration, store: store, hooks: BrokerHooks(cluster: cluster))
        cluster.attach(broker.broker, store: store, address: "127.0.0.1:\(broker.port)")
        let task = Task { try await cluster.run() }
        return Node(name: name, broker: broker, cluster: cluster, task: task)
    }

    static func stop(_ node: Node) async {
        node.task.cancel()
        _ = try? await node.task.value
        await node.broker.shutdown()
    }

    /// Ends node `index` as if its process were killed: the database keeps its routes, and says it did not leave,
    /// so that the others go on queueing for it until its heartbeat is older than the node timeout. Returns once
    /// every other node sees it with its routes again.
    func die(_ index: Int) async throws {
        let node = nodes[index]
        let routes = node.cluster.nodes().first { $0.isSelf }?.routes ?? 0
        let filters = try await PostgresTestDatabase.strings(
            url, "SELECT filter FROM starling.cluster_routes WHERE node = '\(node.name)'")
        await Self.stop(node)
        // Leaving said so and took the routes away; a killed node does neither.
        try await PostgresTestDatabase.run(url, "UPDATE starling.cluster_nodes SET leaving = false WHERE name = '\(node.name)'")
        for filter in filters {
            try await PostgresTestDatabase.run(
                url, "INSERT INTO starling.cluster_routes (node, filter) VALUES ('\(node.name)', '\(filter)')")
        }
        try await Self.waitUntil("the others see \(node.name) with its routes") {
            nodes.allSatisfy { other in
                other.name == node.name
                    || other.cluster.nodes().first { $0.name == node.name }.map { $0.isAlive && $0.routes == routes } == true
            }
        }
    }

    subscript(_ index: Int) -> TestBroker { nodes[index].broker }

    /// Waits until every node sees every other alive and linked, and sees at least `routes` filters of the node
    /// `index`'s clients.
    func waitUntilLinked(routesOf index: Int? = nil, atLeast routes: Int = 1, timeout: Duration = .seconds(20)) async throws {
        try await Self.waitUntil("the nodes linked", timeout: timeout) {
            nodes.allSatisfy { node in
                let seen = node.cluster.nodes().filter { !$0.isSelf }
                return seen.count == nodes.count - 1 && seen.allSatisfy { $0.isAlive && $0.isLinked }
                    && (index == nil || node.name == nodes[index!].name
                        || seen.first { $0.name == nodes[index!].name }.map { $0.routes >= routes } == true)
            }
        }
    }

    /// Polls `condition` every 20 ms until it holds; fails after `timeout`, naming `what`.
    static func waitUntil(_ what: String, timeout: Duration = .seconds(20), _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while !(try await condition()) {
            guard ContinuousClock.now < deadline else { throw RawClient.Failure(description: "\(what): not within \(timeout)") }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}
