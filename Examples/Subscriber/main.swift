import Foundation
import StarlingClient

let url = ProcessInfo.processInfo.environment["MQTT_URL"] ?? "mqtt://localhost:1883"

// Like MQTT.js, wait for a broker that is not up yet rather than fail at the first refusal.
var configuration = try MQTTClientConfiguration(url: url)
configuration.reconnect.retriesFirstConnection = true

do {
    try await withMQTTClient(configuration: configuration) { client in
        print("connected!")
        for try await message in try await client.subscribe(to: "test") {
            print(message.topic)
            print(message.payloadString)
        }
    }
} catch {
    print(error)
    exit(1)
}
