import Logging
import NIOCore
import NIOPosix

/// Connects a new client to the broker at `url` (see `MQTTURL`), runs `body`, and disconnects.
///
///     try await withMQTTClient(url: "mqtt://localhost:1883") { client in
///         try await client.publish(topic: "test", payload: "Hello mqtt")
///     }
@discardableResult
public func withMQTTClient<Value>(
    url: String, eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
    logger: Logger = Logger(label: "starling.client"), isolation: isolated (any Actor)? = #isolation,
    _ body: (MQTTClient) async throws -> Value
) async throws -> Value {
    let configuration = try MQTTClientConfiguration(url: url)
    return try await withMQTTClient(configuration: configuration, eventLoopGroup: eventLoopGroup, logger: logger, isolation: isolation, body)
}

/// Connects a new client configured by `configuration`, runs `body`, and disconnects.
@discardableResult
public func withMQTTClient<Value>(
    configuration: MQTTClientConfiguration, eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
    logger: Logger = Logger(label: "starling.client"), isolation: isolated (any Actor)? = #isolation,
    _ body: (MQTTClient) async throws -> Value
) async throws -> Value {
    let client = MQTTClient(configuration: configuration, eventLoopGroup: eventLoopGroup, logger: logger)
    return try await client.withConnection(isolation: isolation, body)
}
