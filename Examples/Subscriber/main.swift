import Foundation
import StarlingClient

let url = ProcessInfo.processInfo.environment["MQTT_URL"] ?? "mqtt://localhost:1883"

do {
    try await withMQTTClient(url: url) { client in
        print("connected!")
        for try await message in try await client.subscribe(to: "test") {
            print(message.topic)
            print(message.payloadString)
        }
    }
} catch {
    print(error)
}
