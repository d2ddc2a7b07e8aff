import Logging
import MQTT
import NIOCore
import StarlingBridge
import NIOSSL
import StarlingBroker
import StarlingClient
import StarlingTesting

/// A bridge from a local `TestBroker` to a remote, run for the length of a test.
enum BridgeHarness {
    static let logger: Logger = {
        var logger = Logger(label: "bridge-test")
        logger.logLevel = .critical
        return logger
    }()

    /// Runs `bridge` until `body` returns, having waited for its link to come up.
    static func run<T: Sendable>(
        _ bridge: MQTTBridge, local: TestBroker, _ body: () async throws -> T
    ) async throws -> T {
        // The state is retained: a subscriber sees it whenever it subscribes.
        let watcher = try await local.client("watch-\(bridge.name)", version: .v5)
        _ = try await watcher.subscribe(bridge.stateTopic, qos: .atMostOnce)
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                try await bridge.run()
                return nil
            }
            defer { group.cancelAll() }
            while true {
                let state = try await watcher.expectPublish()
                if state.payloadString == "1" { break }
            }
            return try await body()
        }
    }

    static func bridge(
        _ name: String = "cloud", local: TestBroker, remote: String, version: ProtocolVersion = .v5, topics: [BridgeTopicRule],
        tls: TLSConfiguration? = nil, cleanStart: Bool = false
    ) throws -> MQTTBridge {
        let configuration = BridgeConfiguration(
            addresses: [try MQTTURL(remote)], clientIdentifier: "edge-\(name)", tls: tls, protocolVersion: version,
            cleanStart: cleanStart, topics: topics, retryDelay: .milliseconds(50), maximumRetryDelay: .milliseconds(400))
        let port = local.port
        return MQTTBridge(name: name, configuration: configuration, broker: local.broker, local: { ("127.0.0.1", port) }, logger: logger)
    }
}
