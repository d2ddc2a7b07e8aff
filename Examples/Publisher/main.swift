import Foundation
import StarlingClient

let url = ProcessInfo.processInfo.environment["MQTT_URL"] ?? "mqtt://localhost:1883"
let interval = Int(ProcessInfo.processInfo.environment["PUB_INTERVAL_MS"] ?? "") ?? 3000

// Like MQTT.js, wait for a broker that is not up yet rather than fail at the first refusal.
var configuration = try MQTTClientConfiguration(url: url)
configuration.reconnect.retriesFirstConnection = true

do {
    try await withMQTTClient(configuration: configuration) { client in
        print("connected!")
        while true {
            try await client.publish(topic: "test", payload: "Hello mqtt \(Int(Date().timeIntervalSince1970 * 1000))")
            try await Task.sleep(for: .milliseconds(interval))
        }
    }
} catch {
    print(error)
    exit(1)
}
