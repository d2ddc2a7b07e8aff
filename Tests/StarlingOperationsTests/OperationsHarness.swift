import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import StarlingBroker
import StarlingOperations
import StarlingTesting

/// A `TestBroker` with an `OperationsServer` beside it on a free 127.0.0.1 port, and an HTTP client for it.
struct OperationsHarness: Sendable {
    let broker: TestBroker
    let port: Int
    let http: HTTPClient

    struct Reply: Sendable {
        var status: HTTPResponseStatus
        var headers: HTTPHeaders
        var body: String

        /// The body as JSON.
        var json: [String: Any] {
            get throws {
                guard let object = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any] else {
                    throw RawClient.Failure(description: "not a JSON object: \(body)")
                }
                return object
            }
        }
    }

    static func with<T: Sendable>(
        configuration: OperationsConfiguration = OperationsConfiguration(host: "127.0.0.1", port: 0),
        authenticator: (any ConnectionAuthenticator)? = nil, bridges: @escaping @Sendable () -> [BridgeStatus] = { [] },
        nodes: (@Sendable () -> [ClusterMember])? = nil,
        _ configure: (inout BrokerConfiguration) -> Void = { _ in },
        _ body: (OperationsHarness) async throws -> T
    ) async throws -> T {
        let metrics = OperationsMetrics()
        return try await TestBroker.with(authenticator: authenticator, hooks: BrokerHooks(metrics: metrics.factory), configure) { broker in
            try await run({ running in
                OperationsServer(
                    broker: broker.broker, configuration: configuration, metrics: metrics, bridges: bridges, nodes: nodes, logger: TestBroker.quietLogger,
                    onServerRunning: running)
            }) { port, http in
                try await body(OperationsHarness(broker: broker, port: port, http: http))
            }
        }
    }

    /// Runs `server` until `body` is done with it.
    static func run<T: Sendable>(
        _ make: (@escaping @Sendable (SocketAddress) async -> Void) -> OperationsServer,
        _ body: (Int, HTTPClient) async throws -> T
    ) async throws -> T {
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let server = make { address in continuation.yield(address.port ?? 0) }
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        let result: Result<T, any Error>
        do {
            result = .success(try await withThrowingTaskGroup(of: T?.self) { group in
                group.addTask {
                    try await server.run()
                    return nil
                }
                var iterator = ports.makeAsyncIterator()
                guard let port = await iterator.next() else { throw RawClient.Failure(description: "the server did not start") }
                defer { group.cancelAll() }
                return try await body(port, http)
            })
        } catch {
            result = .failure(error)
        }
        try? await http.shutdown()
        return try result.get()
    }

    func request(_ path: String, headers: [(String, String)] = []) async throws -> Reply {
        try await Self.request(http, port: port, .GET, path, headers: headers)
    }

    func request(_ method: HTTPMethod, _ path: String, body: String? = nil, headers: [(String, String)] = []) async throws -> Reply {
        try await Self.request(http, port: port, method, path, body: body, headers: headers)
    }

    static func request(
        _ http: HTTPClient, port: Int, _ method: HTTPMethod, _ path: String, body: String? = nil, headers: [(String, String)] = []
    ) async throws -> Reply {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await http.execute(request, timeout: .seconds(20))
        let bytes = try await response.body.collect(upTo: 16 << 20)
        return Reply(status: response.status, headers: response.headers, body: String(buffer: bytes))
    }
}
