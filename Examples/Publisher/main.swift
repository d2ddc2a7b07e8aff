import Foundation
import StarlingClient

let url = ProcessInfo.processInfo.environment["MQTT_URL"] ?? "mqtt://localhost:1883"
let interval = Int(ProcessInfo.processInfo.environment["PUB_INTERVAL_MS"] ?? "") ?? 3000

do {
    try await withMQTTClient(url: url) { client in
        print("connected!")
        while true {
            try await client.publish(topic: "test", payload: "Hello mqtt \(Int(Date().timeIntervalSince1970 * 1000))")
            try await Task.sleep(for: .milliseconds(interval))
        }
    }
} catch {
    print(error)
}
