import StarlingBroker

// A broker inside your own program: serve MQTT on 1883 and watch what clients do.
let broker = MQTTBroker(onServerRunning: { addresses in print("listening on \(addresses)") })
try await withThrowingDiscardingTaskGroup { group in
    group.addTask { try await broker.run() }
    for await event in broker.events() {
        print(event)
        if case .published(_, "hello", _, _, _) = event {
            await broker.publish(topic: "hello/reply", payload: "hi from the embedded broker")
        }
    }
}
